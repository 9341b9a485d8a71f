"""The conversation suite: realistic multi-turn requests, as data, each turn with checkable expectations.

A case is one conversation for one domain ("films" or "products"); every turn says a
message and may expect things of the turn that answers it. The suite runs each case in a
fresh :class:`~agent.state.ConversationState` through ``TurnPipeline.handle``, the call the
chat UI makes, and reports every expectation that failed, with the turn's reply and picks.

Expectations (all optional; years and prices are checked on the picks that have them)::

    min_picks: 3                         at least this many picks
    no_picks: true                       nothing shown (an impossible request)
    categories_none: [horror, thriller]  no pick has any of these
    categories_each_any: [family]        every pick has at least one of these
    top_categories_any: [war]            the first pick has one of these
    year_max: 1989 / year_min: 2000      every dated pick is inside the bound
    older_than_before: true              every dated pick is older than the previous list's oldest
    newer_than_before: true              every dated pick is newer than the previous list's newest
    price_max: 70                        every priced pick costs at most this
    answered: true                       a question answered: no new picks, the cards stay
    asked_back: true                     "Which one do you mean?"
    clarifying: true                     a clarifying question, no picks
    not_picked: [The Shining]            none of these titles is picked (whole titles)
    people_none: [Tom Cruise]            no pick credits any of these people (a list attribute's value)
    picked_any: [Toy Story]              a pick's title holds one of these (case-insensitive)
    titles_each_have: [running shoe]     every pick's title holds one of these
    reply_has: [director] / reply_lacks: [Error]   substrings of the reply (case-insensitive)
    notice_has: [no running times]       substrings of the turn's notices
    reply_language: zh                   the reply is written in this language (Chinese: CJK characters)

Example::

    >>> case = Case.model_validate({"id": "kid", "domain": "films",
    ...                             "turns": [{"say": "a film for my 8-year-old", "expect": {"min_picks": 3}}]})
    >>> case.turns[0].expect.min_picks
    3
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ui.pipeline import TurnPipeline, TurnResult
from agent.state import ConversationState
from tailtalk.errors import UserInputError

Domain = Literal["films", "products"]
_CJK = re.compile(r"[\u4e00-\u9fff]")


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt expectation must fail loudly, not pass silently

    min_picks: int | None = None
    no_picks: bool = False
    categories_none: list[str] = Field(default_factory=list)
    categories_each_any: list[str] = Field(default_factory=list)
    top_categories_any: list[str] = Field(default_factory=list)
    year_max: int | None = None
    year_min: int | None = None
    older_than_before: bool = False
    newer_than_before: bool = False
    price_max: float | None = None
    answered: bool = False
    asked_back: bool = False
    clarifying: bool = False
    not_picked: list[str] = Field(default_factory=list)
    people_none: list[str] = Field(default_factory=list)
    picked_any: list[str] = Field(default_factory=list)
    titles_each_have: list[str] = Field(default_factory=list)
    reply_has: list[str] = Field(default_factory=list)
    reply_lacks: list[str] = Field(default_factory=list)
    notice_has: list[str] = Field(default_factory=list)
    reply_language: Literal["en", "zh"] | None = None


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    say: str
    expect: Expect = Field(default_factory=Expect)


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    domain: Domain
    language: Literal["en", "zh"] = "en"
    # "multilingual": the case reads a request by its meaning in another language, which only the
    # multilingual index can (a Chinese request without category words).
    needs: list[Literal["multilingual"]] = Field(default_factory=list)
    turns: list[Turn] = Field(min_length=1)


CASES_DIR = Path(__file__).resolve().parent / "cases" / "conversations"  # the suite, shipped with the package


def load_cases(folder: Path = CASES_DIR) -> list[Case]:
    """Every case of every ``*.json`` file in ``folder`` (a file holds a list of cases); ids are unique."""
    files = sorted(folder.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no conversation files (*.json) in {folder}")
    cases: list[Case] = []
    for path in files:
        try:
            cases += [Case.model_validate(raw) for raw in json.loads(path.read_text(encoding="utf-8"))]
        except (json.JSONDecodeError, ValidationError) as exc:
            raise UserInputError(f"{path} is not a valid conversation file: {exc}") from exc
    repeated = sorted({c.id for c in cases if sum(d.id == c.id for d in cases) > 1})
    if repeated:
        raise UserInputError(f"conversation ids must be unique; repeated: {', '.join(repeated)}")
    return cases


def check_turn(
    expect: Expect, result: TurnResult, state: ConversationState, previous: Sequence[Any], cards_before: tuple[str, ...]
) -> list[str]:
    """Every expectation of one turn that ``result`` fails, in words."""
    picks = [p.item for p in result.picks]
    titles = [i.title for i in picks]
    reply = result.reply.lower()
    failures = []

    def fail(what: str) -> None:
        failures.append(what)

    if expect.min_picks is not None and len(picks) < expect.min_picks:
        fail(f"{len(picks)} picks, expected at least {expect.min_picks}")
    if expect.no_picks and picks:
        fail(f"expected no picks, got {titles}")
    for item in picks:
        if set(item.categories) & set(expect.categories_none):
            fail(f"{item.label} is {', '.join(sorted(set(item.categories) & set(expect.categories_none)))}")
        if expect.categories_each_any and not set(item.categories) & set(expect.categories_each_any):
            fail(
                f"{item.label} ({', '.join(item.categories) or 'no categories'}) is none of "
                f"{expect.categories_each_any}"
            )
        if item.year is not None and expect.year_max is not None and item.year > expect.year_max:
            fail(f"{item.label} is after {expect.year_max}")
        if item.year is not None and expect.year_min is not None and item.year < expect.year_min:
            fail(f"{item.label} is before {expect.year_min}")
        if item.price is not None and expect.price_max is not None and item.price > expect.price_max:
            fail(f"{item.title} costs ${item.price:.2f}, over ${expect.price_max:.2f}")
        credited = {
            str(v).lower() for value in item.attributes.values() if isinstance(value, list | tuple) for v in value
        }
        if unwanted := [name for name in expect.people_none if name.lower() in credited]:
            fail(f"{item.label} credits {', '.join(unwanted)}")
    if expect.top_categories_any and (not picks or not set(picks[0].categories) & set(expect.top_categories_any)):
        fail(f"the first pick {titles[:1]} is none of {expect.top_categories_any}")
    before_years = [i.year for i in previous if i.year]
    if expect.older_than_before or expect.newer_than_before:
        years = [i.year for i in picks if i.year]
        if not picks or not before_years:
            fail("no picks or no dated earlier picks to compare with")
        elif expect.older_than_before and max(years, default=0) >= min(before_years):
            fail(f"picks {years} are not all older than the last list's oldest, {min(before_years)}")
        elif expect.newer_than_before and min(years, default=9999) <= max(before_years):
            fail(f"picks {years} are not all newer than the last list's newest, {max(before_years)}")
    if expect.answered and (picks or result.clarifying or state.last_picks != cards_before):
        fail("expected an answer about a shown item with the cards kept")
    if expect.asked_back and not (result.clarifying and result.reply.startswith("Which one do you mean?")):
        fail("expected 'Which one do you mean?'")
    if expect.clarifying and (picks or not result.clarifying):
        fail("expected a clarifying question")
    named = {t.lower() for t in titles}
    fail_titles = [t for t in expect.not_picked if t.lower() in named]
    if fail_titles:
        fail(f"picked {fail_titles}")
    if expect.picked_any and not any(w.lower() in t for w in expect.picked_any for t in named):
        fail(f"none of {expect.picked_any} picked (got {titles})")
    for title in titles:
        if expect.titles_each_have and not any(w.lower() in title.lower() for w in expect.titles_each_have):
            fail(f"{title} holds none of {expect.titles_each_have}")
    failures += [f"the reply lacks {s!r}" for s in expect.reply_has if s.lower() not in reply]
    failures += [f"the reply has {s!r}" for s in expect.reply_lacks if s.lower() in reply]
    notices = " ".join(result.notices).lower()
    failures += [f"no notice says {s!r}" for s in expect.notice_has if s.lower() not in notices]
    if expect.reply_language == "zh" and not _CJK.search(result.reply):
        fail("the reply is not in Chinese")
    return failures


def run_case(pipeline: TurnPipeline, case: Case) -> list[dict[str, Any]]:
    """Play one case in a fresh conversation; one record per turn that failed an expectation."""
    state = ConversationState(conversation_id=case.id)
    previous: list[Any] = []
    failed = []
    for n, turn in enumerate(case.turns, start=1):
        cards_before = state.last_picks
        result = pipeline.handle(state, turn.say)
        problems = check_turn(turn.expect, result, state, previous, cards_before)
        if problems:
            failed.append(
                {
                    "case": case.id,
                    "turn": n,
                    "said": turn.say,
                    "failures": problems,
                    "reply": result.reply[:500],
                    "picks": [p.item.label for p in result.picks],
                }
            )
        if result.picks:
            previous = [p.item for p in result.picks]
    return failed


def run_suite(pipelines: dict[str, TurnPipeline], cases: Iterable[Case]) -> dict[str, Any]:
    """Run every case with the pipeline of its domain; count cases, turns and expectations that failed."""
    cases = list(cases)
    missing = sorted({c.domain for c in cases} - set(pipelines))
    if missing:
        raise UserInputError(f"no pipeline for the domain(s) {', '.join(missing)}")
    failed = [record for case in cases for record in run_case(pipelines[case.domain], case)]
    return {
        "cases": len(cases),
        "turns": sum(len(c.turns) for c in cases),
        "by_language": {lang: sum(c.language == lang for c in cases) for lang in sorted({c.language for c in cases})},
        "cases_failed": len({r["case"] for r in failed}),
        "failed_turns": failed,
    }
