"""Interactive evaluation: a simulated user who knows one target item talks with a recommender until it is
shown, or until the turns run out (the iEvaLM-CRS protocol, Wang et al. 2023).

The user is given the target's catalogue facts and never its title. It opens with a vague request (one
category), then reveals one more fact a turn: another category, the era, a keyword of the plot, a person,
a price bound. It answers a clarifying question with the next fact, rejects wrong picks with it ("Not
quite. Something older, from the 1980s"), and presses like and dislike as a person would: a dislike on a
pick that shares no category with the target, a like on one that shares most of them and the decade, and a
like on the target once it is shown.

:class:`LeakGuard` checks every message: the user never names the target, a value of its facts that no
other item has (its only director, say), or five words in a row of its description.

Example::

    >>> from tailtalk.catalog import Catalog, Item
    >>> catalog = Catalog((
    ...     Item(id="1", title="Alien", year=1979, categories=("horror", "sci-fi"), popularity=9),
    ...     Item(id="2", title="The Thing", year=1982, categories=("horror",), popularity=5),
    ...     Item(id="3", title="Heat", year=1995, categories=("crime",), popularity=7),
    ... ))
    >>> user = TemplateUser(catalog.get("2"), LeakGuard(catalog), domain="films", seed=0)
    >>> user.opening()
    "I'm in the mood for a horror movie."
    >>> user.reply(["3"], clarifying=False, catalog=catalog)
    'Hmm, none of those. Something older, from the 1980s.'
    >>> user.feedback(["3"], catalog)
    {'3': False}
"""

from __future__ import annotations

import json
import math
import random
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from agent.state import ConversationState
from eval.systems import EvalSystem
from tailtalk.catalog import Catalog, Item
from tailtalk.errors import UserInputError
from tailtalk.dialogues import Turn
from tailtalk.instances import Instance
from tailtalk.popularity import head_tail_split
from tailtalk.titles import normalise
from tailtalk.words import stems, words
from ui.pipeline import TurnPipeline

if TYPE_CHECKING:  # a model is only loaded for --user llm
    from tailtalk.llm import LLMBackend

_DESCRIPTION_SPAN = 5  # this many words in a row of the target's description would identify it
_KEYWORD_MIN_CHARS = 5
_KEYWORD_MAX_SHARE = 0.02  # a word in more than 2% of the items says nothing about this one
_HEAD_SHARE, _TORSO_SHARE = 0.5, 0.8  # popularity buckets: the items holding 50% / the next 30% of mentions
_NAMED_ROLES = {"director": "directed by {}", "stars": "with {}", "writer": "written by {}", "author": "by {}"}

_OPENINGS = {
    "films": ("Hi! Can you recommend {} film?", "I'm in the mood for {} movie.", "Looking for a good {} film."),
    "products": ("Hi, I'm looking for something in {}.", "Can you help me find {}?", "I need some {}."),
}
_OPENING_BLANK = {"films": "Hi! Can you recommend a movie?", "products": "Hi, can you recommend something?"}
_REJECTIONS = ("Not quite. {}.", "Hmm, none of those. {}.", "No, not those. {}.")
_ANSWERS = ("{}.", "Well, {}.")
_NOTHING_LEFT = "None of those, sorry. Anything else?"
_DOMAIN_NOUN = {"films": "film", "products": "shop"}
_HINT_FRAMES = (
    "it should be a an too something older more recent from the under about and ideally directed by with written it's"
)
_RAMBLE_WORDS = 30
_FRAME_WORDS = stems(
    " ".join(
        [
            *[t for openings in _OPENINGS.values() for t in openings],
            *_OPENING_BLANK.values(),
            *_REJECTIONS,
            *_ANSWERS,
            _NOTHING_LEFT,
            _HINT_FRAMES,
            "movie film",
        ]
    )
)
_REWORDED_TOKENS = 60


class SimulationConfig(BaseModel):
    """How a simulation runs. Validated when built.

    >>> SimulationConfig(turns=3, limit=300, seed=0).turns
    3
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    turns: int = Field(ge=1, le=20, description="Messages a user sends before giving up.")
    limit: int = Field(ge=1, description="Target items sampled from the split.")
    seed: int = Field(description="Seed of the target sample and of the user's wording.")
    user: Literal["template", "llm"] = "template"  # llm: the template's facts in a language model's words


class LeakGuard:
    """What a message may not say about a target: its title, a fact value only it has, a span of its plot."""

    def __init__(self, catalog: Catalog):
        self._holders: Counter[str] = Counter()
        for item in catalog:
            self._holders.update({normalise(v) for v in _fact_values(item)})
        self._document_frequency: Counter[str] = Counter()
        for item in catalog:
            self._document_frequency.update(set(words(f"{item.title} {item.description}")))
        self._size = len(catalog)

    def shared(self, value: str) -> bool:
        """Whether another item has this fact value too (a director of several films, a common category)."""
        return self._holders[normalise(value)] > 1

    def keywords(self, item: Item) -> list[str]:
        """Words of the item's plot that a few other items share: describing, not identifying."""
        ceiling = max(2, int(_KEYWORD_MAX_SHARE * self._size))
        title_words = set(words(item.title))
        found = [
            w
            for w in dict.fromkeys(words(item.description))
            if len(w) >= _KEYWORD_MIN_CHARS and w not in title_words and 2 <= self._document_frequency[w] <= ceiling
        ]
        return sorted(found, key=lambda w: (self._document_frequency[w], found.index(w)))

    def leaks(self, message: str, target: Item) -> list[str]:
        """What ``message`` gives away about ``target`` (empty when nothing)."""
        said = f" {normalise(message)} "
        found = []
        title = normalise(target.title)
        if title and (f" {title} " in said if len(title.split()) > 1 else _cased_word(message, target.title)):
            found.append(f"the title {target.title!r}")
        found += [
            f"{value!r}, which only the target has"
            for value in dict.fromkeys(_fact_values(target))
            if not self.shared(value) and len(normalise(value)) > 2 and f" {normalise(value)} " in said
        ]
        plot = words(target.description)
        spans = {" ".join(plot[i : i + _DESCRIPTION_SPAN]) for i in range(len(plot) - _DESCRIPTION_SPAN + 1)}
        written = " ".join(words(message))
        found += [f"the plot words {span!r}" for span in sorted(spans) if span in written]
        return found


class TemplateUser:
    """A deterministic simulated user (same target and seed, same words) who reveals one fact a turn."""

    fallbacks = 0  # messages an LLM user sent in the template's words (see LLMUser)
    last_template: str | None = None  # what an LLM user reworded last

    def __init__(self, target: Item, guard: LeakGuard, *, domain: Literal["films", "products"], seed: int):
        self.target = target
        self.domain = domain
        self._guard = guard
        self._random = random.Random(f"{seed}:{target.id}")
        categories = [c for c in target.categories if guard.shared(c)]
        self._opening_category = categories[0] if categories else None
        # One fact a turn, broadest first. None stands for the era, which is said against the picks shown.
        self._hints: list[str | None] = [f"it should be {_article(c)} {c} too" for c in categories[1:3]]
        if target.price is not None:
            self._hints.insert(0, f"something under ${10 * (math.floor(target.price / 10) + 1)}")
        if target.year:
            self._hints.insert(min(1, len(self._hints)), None)
        keywords = guard.keywords(target)
        if len(keywords) >= 2:
            self._hints.append(f"something about {keywords[0]} and {keywords[1]}")
        for role, phrase in _NAMED_ROLES.items():
            names = [n for n in target.attributes.get(role, []) if isinstance(n, str) and guard.shared(n)]
            if names:
                self._hints.append(f"ideally {phrase.format(names[0])}")
                break
        if len(keywords) >= 4:
            self._hints.append(f"it's about {keywords[2]} and {keywords[3]}")

    @property
    def opening_names_a_category(self) -> bool:
        return self._opening_category is not None

    @property
    def facts_left(self) -> int:
        """Facts the user has not said yet: each reply says one."""
        return len(self._hints)

    def opening(self) -> str:
        if self._opening_category is None:
            return self._checked(_OPENING_BLANK[self.domain])
        category = self._opening_category
        template = self._random.choice(_OPENINGS[self.domain])
        # "a horror film", "an adventure film", but "a good adventure film"
        wording = category if "good {}" in template or self.domain == "products" else f"{_article(category)} {category}"
        return self._checked(template.format(wording))

    def reply(self, shown: Sequence[str], *, clarifying: bool, catalog: Catalog | None = None) -> str:
        """The next message after a turn that did not show the target: the next fact, as an answer to a
        clarifying question or as the reason to reject the picks."""
        if not self._hints:
            return _NOTHING_LEFT
        items = [catalog.get(i) for i in shown if i in catalog] if catalog is not None else []
        hint = self._hints.pop(0) or self._era(items)
        template = self._random.choice(_ANSWERS if clarifying or not shown else _REJECTIONS)
        before = template.split("{}")[0].rstrip()
        sentence_start = not before or before[-1] in ".!?"
        return self._checked(template.format(hint[0].upper() + hint[1:] if sentence_start else hint))

    def feedback(self, shown: Sequence[str], catalog: Catalog | None = None) -> dict[str, bool]:
        """Likes and dislikes on the shown picks, as a person presses them: at most one of each a turn.

        Without the catalogue the user knows nothing of the picks but that they are not the target, and
        dislikes the first of them.
        """
        if not shown:
            return {}
        if catalog is None:
            return {shown[0]: False}
        wanted = set(self.target.categories)
        decade = (self.target.year or 0) // 10
        picks = [catalog.get(i) for i in shown if i in catalog]
        verdict: dict[str, bool] = {}
        unlike = [p for p in picks if not wanted.intersection(p.categories)]
        if unlike:
            verdict[unlike[0].id] = False
        close = [
            p
            for p in picks
            if wanted and len(wanted.intersection(p.categories)) * 2 >= len(wanted) and (p.year or 0) // 10 == decade
        ]
        if close:
            verdict[close[0].id] = True
        return verdict

    def _era(self, shown: Sequence[Item]) -> str:
        assert self.target.year is not None
        decade = self.target.year // 10 * 10
        years = [i.year for i in shown if i.year]
        if years and statistics.median(years) >= decade + 10:
            return f"something older, from the {decade}s"
        if years and statistics.median(years) < decade:
            return f"something more recent, from the {decade}s"
        return f"something from the {decade}s"

    def _checked(self, message: str) -> str:
        leaked = self._guard.leaks(message, self.target)
        if leaked:  # a bug in the hints, never a message to send: the measurement would be void
            raise AssertionError(f"the simulated user would give away {'; '.join(leaked)}: {message!r}")
        return message


def facts_kept(template: str, reworded: str) -> bool:
    """Whether ``reworded`` still says every fact of the template message (its words outside the template
    frames: categories, decades, prices, plot words, names) and does not ramble on past them.

    >>> facts_kept("Not quite. Something older, from the 1980s.", "nah, older stuff pls, like 1980s")
    True
    >>> facts_kept("Not quite. Something older, from the 1980s.", "I'm sorry, as a film recommender I can't")
    False
    """
    facts = stems(template) - _FRAME_WORDS
    return facts <= stems(reworded) and len(words(reworded)) <= max(_RAMBLE_WORDS, 2 * len(words(template)))


class LLMUser(TemplateUser):
    """The template user's facts in a language model's words: each message is the template one reworded by
    the model (``prompts/simulated_user.toml``) and checked again: a rewording that leaks, drops a fact or
    rambles, or a model that fails, sends the template message instead (``fallbacks`` counts them). A small
    model mostly falls back: SmolLM2-135M tends to answer as an assistant rather than reword."""

    def __init__(
        self,
        target: Item,
        guard: LeakGuard,
        *,
        domain: Literal["films", "products"],
        seed: int,
        backend: LLMBackend,
    ):
        super().__init__(target, guard, domain=domain, seed=seed)
        self._backend = backend

    def opening(self) -> str:
        return self._reworded(super().opening())

    def reply(self, shown: Sequence[str], *, clarifying: bool, catalog: Catalog | None = None) -> str:
        return self._reworded(super().reply(shown, clarifying=clarifying, catalog=catalog))

    def _reworded(self, message: str) -> str:
        from prompts import load_prompt
        from tailtalk.llm import llm_failures

        prompt = load_prompt("simulated_user").format_messages(domain=_DOMAIN_NOUN[self.domain], message=message)
        try:
            text = " ".join(self._backend.within(None, max_tokens=_REWORDED_TOKENS).invoke(prompt).text.split())
        except llm_failures():
            text = ""
        # The paraphrase, without the quotes a small model puts around it or the comment it adds after them.
        text = (text.split('"')[1] if text.startswith('"') and text.count('"') > 1 else text.split('"')[0]).strip()
        self.last_template = message
        if not text or self._guard.leaks(text, self.target) or not facts_kept(message, text):
            self.fallbacks += 1
            return message
        return text


# --- the systems a simulated user talks to ----------------------------------------------------------------


@dataclass
class Shown:
    """What one turn showed: the ranked item ids, and whether the turn asked a question instead."""

    ids: list[str]
    clarifying: bool = False


class Conversation(Protocol):
    def say(self, message: str) -> Shown: ...

    def feedback(self, item_id: str, liked: bool) -> None: ...


class PipelineConversation:
    """The product itself, through the chat UI's entry point: ``TurnPipeline.handle`` on a session state,
    with the UI's like and dislike buttons."""

    def __init__(self, pipeline: TurnPipeline, diversity: float):
        self._pipeline = pipeline
        self._state = ConversationState(diversity=diversity)

    def say(self, message: str) -> Shown:
        result = self._pipeline.handle(self._state, message)
        return Shown([p.item.id for p in result.picks], result.clarifying)

    def feedback(self, item_id: str, liked: bool) -> None:
        self._pipeline.feedback(self._state, item_id, liked=liked)


class ApiConversation:
    """The product through a running app's API (``tailtalk chat``), as a program would use it: one
    ``gradio_client`` session per conversation, ``/recommend`` for a turn and ``/feedback`` for a like."""

    def __init__(self, url: str):
        from gradio_client import Client

        self._client = Client(url, verbose=False, analytics_enabled=False, download_files=False)

    def say(self, message: str) -> Shown:
        turn = self._client.predict(message, api_name="/recommend")
        return Shown([item["id"] for item in turn["items"]], bool(turn["clarifying"]))

    def feedback(self, item_id: str, liked: bool) -> None:
        self._client.predict(item_id, "like" if liked else "dislike", api_name="/feedback")


class LogSystemConversation:
    """A replay baseline (dense, popularity, ...) asked for a list after every user message; it never
    shows an item twice, as the product does not."""

    def __init__(self, system: EvalSystem, k: int):
        self._system = system
        self._k = k
        self._turns: list[Turn] = []
        self._shown: set[str] = set()

    def say(self, message: str) -> Shown:
        self._turns.append(Turn(role="user", text=message))
        instance = Instance("simulated", len(self._turns), tuple(self._turns), (), (), frozenset())
        ids = self._system.rank(instance, exclude=frozenset(self._shown), k=self._k)
        self._shown.update(ids)
        self._turns.append(Turn(role="assistant", text="", items=tuple(ids)))
        return Shown(ids)

    def feedback(self, item_id: str, liked: bool) -> None:
        """A log baseline reads only the words: feedback is not one of its inputs."""


@dataclass
class Simulated:
    """One simulated conversation: its target, the turn that showed it (None: never) and the transcript."""

    target: str
    bucket: str
    success_turn: int | None
    transcript: list[dict[str, Any]] = field(default_factory=list)
    fallbacks: int = 0  # an LLM user's messages sent in the template's words


def simulate_one(
    conversation: Conversation, user: TemplateUser, catalog: Catalog, bucket: str, turns: int
) -> Simulated:
    """Talk until the target is shown or ``turns`` messages have been sent."""
    record = Simulated(user.target.id, bucket, None)
    message = user.opening()
    for turn in range(1, turns + 1):
        shown = conversation.say(message)
        verdict = {} if user.target.id in shown.ids else user.feedback(shown.ids, catalog)
        record.transcript.append({"user": message, "shown": shown.ids, "clarifying": shown.clarifying})
        if user.last_template is not None and user.last_template != message:
            record.transcript[-1]["template"] = user.last_template  # what the LLM user reworded
        if verdict:
            record.transcript[-1]["feedback"] = {i: ("like" if v else "dislike") for i, v in verdict.items()}
        if user.target.id in shown.ids:
            record.success_turn = turn
            conversation.feedback(user.target.id, True)  # found: a person presses like on it
            record.transcript[-1]["feedback"] = {user.target.id: "like"}
            break
        for item_id, liked in verdict.items():
            conversation.feedback(item_id, liked)
        if turn == turns:  # out of turns: nothing more is said
            break
        message = user.reply(shown.ids, clarifying=shown.clarifying, catalog=catalog)
    record.fallbacks = user.fallbacks
    return record


def popularity_buckets(catalog: Catalog) -> Callable[[str], str]:
    """head (the items holding half of all mentions), torso (the next 30%) or tail (the rest, as in APLT)."""
    popularity = {i.id: i.popularity or 0.0 for i in catalog}
    head, head_and_torso = head_tail_split(popularity, _HEAD_SHARE), head_tail_split(popularity, _TORSO_SHARE)
    return lambda item_id: "head" if item_id in head else "torso" if item_id in head_and_torso else "tail"


def sample_targets(instances: Sequence[Instance], limit: int, seed: int) -> list[str]:
    """A seeded sample of the split's new target mentions (an item asked for twice can be drawn twice)."""
    mentions = [t for instance in instances for t in instance.new_targets]
    if len(mentions) <= limit:
        return mentions
    return [mentions[i] for i in sorted(random.Random(seed).sample(range(len(mentions)), limit))]


def run_simulations(
    systems: Mapping[str, Callable[[], Conversation]],
    catalog: Catalog,
    targets: Sequence[str],
    config: SimulationConfig,
    *,
    domain: Literal["films", "products"],
    llm: LLMBackend | None = None,
    progress: bool = True,
) -> dict[str, list[Simulated]]:
    """Every system talks with one simulated user per target; the users are the same for every system.
    ``llm`` words the LLM user's messages (``config.user == "llm"``)."""
    if config.user == "llm" and llm is None:
        raise UserInputError("the LLM user needs a language model: set llm to embedded or openai (tailtalk serve-llm)")
    guard = LeakGuard(catalog)
    bucket_of = popularity_buckets(catalog)

    def user(target: str) -> TemplateUser:
        if config.user == "llm" and llm is not None:
            return LLMUser(catalog.get(target), guard, domain=domain, seed=config.seed, backend=llm)
        return TemplateUser(catalog.get(target), guard, domain=domain, seed=config.seed)

    results: dict[str, list[Simulated]] = {}
    for name, start in systems.items():
        results[name] = [
            simulate_one(
                start(),
                user(target),
                catalog,
                bucket_of(target),
                config.turns,
            )
            for target in tqdm(targets, desc=f"simulate {name}", unit="user", disable=not progress)
        ]
    return results


def interactive_metrics(records: Sequence[Simulated], turns: int) -> dict[str, Any]:
    """success within N turns (N = 1, 3, 5 and ``turns``, up to ``turns``), mean turns to success, and the same
    by bucket."""
    cuts = sorted({n for n in (1, 3, 5) if n <= turns} | {turns})

    def summary(part: Sequence[Simulated]) -> dict[str, Any]:
        won = [r.success_turn for r in part if r.success_turn is not None]
        out: dict[str, Any] = {"conversations": len(part)}
        out.update({f"success@{n}turns": (sum(t <= n for t in won) / len(part) if part else 0.0) for n in cuts})
        out["mean_turns_to_success"] = statistics.fmean(won) if won else None
        return out

    report = summary(records)
    report["llm_user_fallbacks"] = sum(r.fallbacks for r in records)
    report["by_bucket"] = {
        bucket: summary([r for r in records if r.bucket == bucket]) for bucket in ("head", "torso", "tail")
    }
    return report


def write_report(
    out: Path, results: dict[str, list[Simulated]], config: SimulationConfig, about: dict[str, Any], seconds: float
) -> dict[str, Any]:
    """metrics.json, metrics.md, success_by_turn.png and every transcript (transcripts.jsonl)."""
    out.mkdir(parents=True, exist_ok=True)
    metrics = {name: interactive_metrics(records, config.turns) for name, records in results.items()}
    report = {**about, "config": config.model_dump(), "seconds": round(seconds, 1), "systems": metrics}
    (out / "metrics.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / "metrics.md").write_text(markdown(report), encoding="utf-8")
    with (out / "transcripts.jsonl").open("w", encoding="utf-8") as handle:
        for name, records in results.items():
            for r in records:
                line = {"system": name, "target": r.target, "bucket": r.bucket, "success_turn": r.success_turn}
                handle.write(json.dumps({**line, "turns": r.transcript}, ensure_ascii=False) + "\n")
    _plot(out, results, config.turns)
    return report


def markdown(report: dict[str, Any]) -> str:
    systems = report["systems"]
    first = next(iter(systems.values()))
    cuts = [k for k in first if k.startswith("success@")]
    lines = [
        f"# Simulated users: {report['dataset']} {report['split']} ({report['catalog']})",
        "",
        f"{first['conversations']} target items, {report['config']['user']} user, at most "
        f"{report['config']['turns']} turns, {report['shown']} items shown a turn, seed {report['config']['seed']}.",
        "",
        "| system | "
        + " | ".join(cuts)
        + " | mean turns to success | "
        + " | ".join(
            f"{b} ({first['by_bucket'][b]['conversations']}) success@{report['config']['turns']}turns"
            for b in ("head", "torso", "tail")
        )
        + " |",
        "|---" * (len(cuts) + 5) + "|",
    ]
    last = f"success@{report['config']['turns']}turns"  # what the bucket columns' header names
    for name, m in systems.items():
        turns = "–" if m["mean_turns_to_success"] is None else f"{m['mean_turns_to_success']:.2f}"
        buckets = " | ".join(
            f"{m['by_bucket'][b][last]:.3f}" if m["by_bucket"][b]["conversations"] else "–"
            for b in ("head", "torso", "tail")
        )
        lines.append(f"| {name} | " + " | ".join(f"{m[c]:.3f}" for c in cuts) + f" | {turns} | {buckets} |")
    return "\n".join(lines) + "\n"


def _plot(out: Path, results: dict[str, list[Simulated]], turns: int) -> None:
    from eval.harness import line_plot

    xs = list(range(1, turns + 1))
    curves = {
        name: (
            xs,
            [sum(r.success_turn is not None and r.success_turn <= n for r in records) / len(records) for n in xs],
        )
        for name, records in results.items()
        if records
    }
    line_plot(
        out / "success_by_turn.png",
        curves,
        xlabel="turns",
        ylabel="share of users shown their target",
        title="Success within N turns",
    )


def _fact_values(item: Item) -> Iterable[str]:
    yield from item.categories
    for value in item.attributes.values():
        for v in value if isinstance(value, list | tuple) else [value]:
            if isinstance(v, str) and v.strip():
                yield v


def _cased_word(message: str, title: str) -> bool:
    """A one-word title counts as named only with its capital, past a sentence's start ("It" vs "it")."""
    for match in re.finditer(rf"(?<!\w){re.escape(title)}(?!\w)", message):
        before = message[: match.start()].rstrip()
        if before and not before.endswith((".", "!", "?")):
            return True
    return False


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"
