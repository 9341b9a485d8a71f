"""The embedded SmolLM2 (the packaged model, run by transformers in process) through the real turn pipeline."""

from __future__ import annotations

import time

import pytest

from ui.assemble import build_pipeline
from agent.state import ConversationState
from explain.grounding import GroundingChecker, out_of_list

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def embedded_pipeline(redial_settings):
    # 80 tokens keep these turns short on a CPU while still asking the model for a sentence per pick.
    return build_pipeline(
        redial_settings.model_copy(update={"llm": "embedded", "llm_timeout": 120.0, "llm_max_tokens": 80})
    )


def test_the_packaged_model_streams_text(embedded_pipeline):
    chunks = [c.text for c in embedded_pipeline.responder.backend.chat_model.stream("Say hello to a film fan.")]
    assert len(chunks) > 1 and "".join(chunks).strip()


def test_a_turn_with_the_embedded_model_names_only_listed_films(embedded_pipeline):
    state = ConversationState()
    results = list(embedded_pipeline.stream(state, "I loved The Shining, something scary but not too gory"))
    final = results[-1]
    assert final.complete and len(final.picks) == 5
    assert "embedded SmolLM2-135M-Instruct" in embedded_pipeline.describe()
    assert final.grounding is not None and final.grounding.shipped_out_of_list == []
    # The reply opens with the lead-in; each pick's reason is on its card, not repeated in the reply.
    assert final.reply.startswith("Here are 5 films") and all(
        p.reason and p.reason not in final.reply for p in final.picks
    )
    # An independent check of every sentence the model wrote that reached the user.
    checker = GroundingChecker(
        embedded_pipeline.titles, [p.item for p in final.picks], [embedded_pipeline.catalog.get(i) for i in state.liked]
    )
    assert out_of_list(checker, final.grounding.released) == []
    assert all(sentence in final.reply for sentence in final.grounding.released)


def test_a_vague_opening_gets_a_question_without_titles(embedded_pipeline):
    result = embedded_pipeline.handle(ConversationState(), "hi there")
    assert result.clarifying and not result.picks and "?" in result.reply
    assert not embedded_pipeline.titles.find(result.reply) or not result.generated


def test_a_model_busy_with_other_conversations_costs_a_turn_its_budget_not_more(embedded_pipeline):
    """Generation is one at a time; a turn that cannot get the model within its budget answers without it."""
    budget = 3.0
    lock = embedded_pipeline.responder.backend.chat_model._lock
    assert lock.acquire(timeout=60)  # another conversation is generating
    try:
        started = time.monotonic()
        result = embedded_pipeline.replacing(turn_timeout=budget).handle(
            ConversationState(), "a scary film with ghosts"
        )
        took = time.monotonic() - started
    finally:
        lock.release()
    assert took < budget + 2.0, f"the turn took {took:.1f} s on a {budget:g} s budget"
    assert len(result.picks) == 5 and "Here are 5 films" in result.reply  # after the notice
    assert not result.generated and any("time budget" in n or "in time" in n for n in result.notices)


def test_a_turn_past_its_time_budget_answers_from_templates(redial_settings, embedded_pipeline):
    hurried = build_pipeline(redial_settings.model_copy(update={"llm": "embedded", "llm_timeout": 0.05}))
    result = hurried.handle(ConversationState(), "a light romantic comedy from the 90s")
    assert len(result.picks) == 5
    assert "Here are 5 films" in result.reply
