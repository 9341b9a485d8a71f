"""Replay logged turns through the whole turn, language model included, and count what the grounding did.

For each sampled recommending turn of a dialogue log, the earlier turns are folded into a
fresh conversation state (rule path, as :class:`eval.systems.PipelineSystem` does) and
the user's last message goes through ``TurnPipeline.handle``: the same call the UI makes,
with the model's understanding, retrieval, ranking and the streamed, checked reply.

Counted over the turns:

* ``replies_repaired``: replies where the check dropped a sentence or the model added
  nothing usable (``replies_replaced``: the reply is the template lead-in alone);
* ``out_of_list_titles_shipped``: titles outside the list or the catalogue found in the
  shipped generated sentences by a **fresh** checker, independent of the one that
  filtered the stream (must be 0);
* ``misattributions_shipped``: people, years, categories or plots credited to the wrong
  item in the shipped sentences, by the same fresh checker (must be 0);
* ``reasons_citing_the_person``: the share of the cards' reasons that tie the pick to
  the person's words or the items they loved (:func:`explain.templates.cites_the_person`);
  ``..._when_citable``: the same over the turns where the person had stated a wish or a liked
  item, so that there was something to cite;
* the reasons sentences were dropped, the model's failures, and hit@k of the picks
  against the logged targets (the model's understanding against the rules alone).

Outputs in ``out``: ``replies.json`` (counts and per-turn records) and ``replies.md``;
while it runs, ``replies.partial.jsonl`` holds the turns done so far.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tailtalk.dialogues import load_dialogues
from tailtalk.instances import Instance, instances_of
from explain.grounding import GroundingChecker, catalogue_people, misattributions, out_of_list
from explain.templates import cites_the_person
from ui.pipeline import TurnPipeline
from agent.state import ConversationState
from eval.harness import sample
from eval.replay import replay_state
from tailtalk.errors import UserInputError


def _state_before(pipeline: TurnPipeline, instance: Instance) -> tuple[ConversationState, str]:
    """The conversation up to the user's last message, and that message (what the user just said)."""
    context = list(instance.context)
    last = max((i for i, t in enumerate(context) if t.role == "user"), default=None)
    message = context[last].text if last is not None else ""
    before = context[:last] if last is not None else context
    return replay_state(pipeline, before, f"{instance.dialogue_id}:{instance.turn_index}"), message


def replay_replies(
    pipeline: TurnPipeline,
    rules_pipeline: TurnPipeline,
    log_path: Path,
    out: Path,
    *,
    limit: int | None = 200,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the sampled turns through ``pipeline`` (with a model) and ``rules_pipeline`` (without); write the report."""
    instances = sample(instances_of(load_dialogues(log_path), pipeline.catalog), limit, seed)
    if not instances:
        raise UserInputError(f"{log_path} has no assistant turn that names a catalogue item; nothing to replay")
    records: list[dict[str, Any]] = []
    out.mkdir(parents=True, exist_ok=True)
    partial = out / "replies.partial.jsonl"  # a long replay that is interrupted keeps the turns it finished
    partial.write_text("", encoding="utf-8")
    people = catalogue_people(pipeline.catalog)
    for instance in tqdm(instances, desc="replay replies", unit="turn", disable=not progress):
        state, message = _state_before(rules_pipeline, instance)
        started = time.perf_counter()
        result = pipeline.handle(state, message)
        seconds = time.perf_counter() - started
        rules_state, _ = _state_before(rules_pipeline, instance)
        rules_result = rules_pipeline.handle(rules_state, message)
        grounding = result.grounding
        released = grounding.released if grounding else []
        fresh = GroundingChecker(
            pipeline.titles,
            [p.item for p in result.picks],
            [pipeline.catalog.get(i) for i in state.mentioned if i in pipeline.catalog],
            # The request text the live check read (the message and the wishes), so the two checks differ
            # only in what they are for, never in what the person asked.
            request=grounding.request if grounding else message,
            categories=pipeline.catalog.categories(),
            people=people,
        )
        records.append(
            {
                "turn": state.conversation_id,
                "message": message[:300],
                "seconds": round(seconds, 2),
                "picks": [p.item.id for p in result.picks],
                "targets": sorted(instance.targets),
                "rules_picks": [p.item.id for p in rules_result.picks],
                "clarifying": result.clarifying,
                "generated": result.generated,
                "repaired": bool(grounding and grounding.repaired),
                "replaced": bool(grounding and grounding.fell_back),
                "reasons_citing_the_person": sum(cites_the_person(p.reason) for p in result.picks),
                # Whether the person had said anything a reason could cite: a wish or a liked item ("Yes!" or
                # "Hello, I'm open to any movie" leaves nothing).
                "person_said_something": bool(state.wishes or state.liked),
                "dropped": [{"sentence": s[:300], "why": why} for s, why in (grounding.dropped if grounding else [])],
                "released_sentences": len(released),
                "out_of_list_shipped": out_of_list(fresh, released),
                "misattributions_shipped": misattributions(fresh, released),
                "notices": result.notices,
                "reply": result.reply,
            }
        )
        with partial.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(records[-1], ensure_ascii=False) + "\n")
    report = summarise(records)
    report.update({"log": str(log_path), "limit": limit, "seed": seed, "llm": pipeline.llm_name})
    (out / "replies.json").write_text(
        json.dumps({**report, "turns": records}, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    (out / "replies.md").write_text(markdown(report), encoding="utf-8")
    partial.unlink()
    return report


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    answered = [r for r in records if not r["clarifying"]]
    reasons = Counter(_reason_kind(why) for r in records for d in r["dropped"] for why in d["why"])
    return {
        "turns": len(records),
        "clarifying_turns": len(records) - len(answered),
        "replies_with_generated_text": sum(r["generated"] for r in records),
        "replies_repaired": sum(r["repaired"] for r in records),
        "replies_replaced": sum(r["replaced"] for r in records),
        "repair_share": round(sum(r["repaired"] for r in records) / max(1, len(records)), 4),
        "sentences_shipped": sum(r["released_sentences"] for r in records),
        "sentences_dropped": sum(len(r["dropped"]) for r in records),
        "out_of_list_titles_shipped": sum(len(r["out_of_list_shipped"]) for r in records),
        "misattributions_shipped": sum(len(r["misattributions_shipped"]) for r in records),
        "reasons_citing_the_person": _citing_share(records),
        "reasons_citing_the_person_when_citable": _citing_share([r for r in records if r["person_said_something"]]),
        "drop_reasons": dict(reasons.most_common()),
        "turns_with_llm_notice": sum(any("language model" in n for n in r["notices"]) for r in records),
        "hit@5": _hit_rate(answered, "picks"),
        "hit@5_rules_only": _hit_rate(answered, "rules_picks"),
        "median_turn_seconds": round(statistics.median(r["seconds"] for r in records), 2),
    }


def _citing_share(records: Sequence[dict[str, Any]]) -> float:
    return round(
        sum(r["reasons_citing_the_person"] for r in records) / max(1, sum(len(r["picks"]) for r in records)), 4
    )


def _hit_rate(records: Sequence[dict[str, Any]], key: str) -> float:
    """Share of (turn, target) pairs whose target is among the turn's picks."""
    pairs = [(t, r[key]) for r in records for t in r["targets"]]
    return round(sum(t in picks for t, picks in pairs) / max(1, len(pairs)), 4)


def _reason_kind(why: str) -> str:
    for marker in (
        "not in the list",
        "not in the catalogue",
        "example title",
        "recites",
        "unsupported",
        "another listed item",
        "wrong item",
        "not a category",
        "no listed item",
        "repeats",
        "unfinished",
        "echoes the request",
    ):
        if marker in why:
            return marker
    return why


def markdown(report: dict[str, Any]) -> str:
    rows = [
        (k, report[k])
        for k in (
            "turns",
            "clarifying_turns",
            "replies_with_generated_text",
            "replies_repaired",
            "replies_replaced",
            "repair_share",
            "sentences_shipped",
            "sentences_dropped",
            "out_of_list_titles_shipped",
            "misattributions_shipped",
            "reasons_citing_the_person",
            "reasons_citing_the_person_when_citable",
            "turns_with_llm_notice",
            "hit@5",
            "hit@5_rules_only",
            "median_turn_seconds",
        )
    ]
    lines = [
        f"### Replies with {report['llm']} ({report['log']}, {report['turns']} turns, seed {report['seed']})",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in rows),
        "",
        "Dropped sentences by reason: " + (", ".join(f"{k} {v}" for k, v in report["drop_reasons"].items()) or "none"),
    ]
    return "\n".join(lines) + "\n"
