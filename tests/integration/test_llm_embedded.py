"""The embedded SmolLM2 (the packaged GGUF, served by llama.cpp in process) through the real turn pipeline."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlparse

import httpx
import pytest
from openai import OpenAI

from tailtalk.embedded_llm import EmbeddedServer
from tailtalk.llm import LLMError, embedded_server_for
from ui.assemble import build_pipeline
from agent.state import ConversationState
from explain.grounding import GroundingChecker, out_of_list

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def embedded_settings(redial_settings):
    # 80 tokens keep these turns short on a CPU while still asking the model for a sentence per pick.
    return redial_settings.model_copy(update={"llm": "embedded", "llm_timeout": 120.0, "llm_max_tokens": 80})


@pytest.fixture(scope="module")
def embedded_pipeline(embedded_settings):
    return build_pipeline(embedded_settings)


@pytest.fixture(scope="module")
def server(embedded_settings, embedded_pipeline) -> EmbeddedServer:
    """The server the pipeline talks to (one per process and configuration, so this is the same one)."""
    return embedded_server_for(embedded_settings)


def test_the_server_listens_on_loopback_and_answers_only_this_process(server):
    assert urlparse(server.base_url).hostname == "127.0.0.1"
    models = httpx.get(server.base_url + "/models", headers={"Authorization": f"Bearer {server.api_key}"}, timeout=10)
    assert models.status_code == 200
    stranger = httpx.get(server.base_url + "/models", headers={"Authorization": "Bearer guessed"}, timeout=10)
    assert stranger.status_code == 401
    assert httpx.get(server.base_url.removesuffix("/v1") + "/", timeout=10).status_code != 200  # no web page


def test_text_is_clipped_by_the_models_own_tokens(server):
    message = "a scary film from the eighties " * 50
    clipped = server.clip(message, 12)
    assert message.startswith(clipped.strip()) and len(server.tokenize(clipped)) <= 12
    assert server.clip("short", 12) == "short"


def test_a_file_that_is_not_gguf_is_refused_with_what_to_do(tmp_path):
    folder_file = tmp_path / "config.json"
    folder_file.write_text("{}")
    with pytest.raises(LLMError, match="not a GGUF model file.*serve-llm"):
        EmbeddedServer(folder_file, threads=1, slots=1, context_tokens=512)


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


def test_a_model_busy_with_other_conversations_costs_a_turn_its_budget_not_more(
    embedded_settings, embedded_pipeline, server
):
    """Every slot is generating for other conversations; a turn that cannot get one within its budget answers
    without the model."""
    client = OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
    busy, started = threading.Event(), threading.Barrier(embedded_settings.embedded_llm_slots + 1)

    def keep_a_slot_busy() -> None:
        stream = client.chat.completions.create(
            model=server.model_name,
            messages=[{"role": "user", "content": "Count from one to a thousand in words."}],
            max_tokens=4000,
            stream=True,
            extra_body={"ignore_eos": True},  # generates until max_tokens: minutes on this CPU
        )
        next(iter(stream))  # the slot has started generating
        started.wait()
        busy.wait()
        stream.close()  # the server stops a generation whose caller hung up

    others = [
        threading.Thread(target=keep_a_slot_busy, daemon=True) for _ in range(embedded_settings.embedded_llm_slots)
    ]
    for other in others:
        other.start()
    budget = 3.0
    try:
        started.wait(timeout=120)
        began = time.monotonic()
        result = embedded_pipeline.replacing(turn_timeout=budget).handle(
            ConversationState(), "a scary film with ghosts"
        )
        took = time.monotonic() - began
    finally:
        busy.set()
        for other in others:
            other.join(timeout=30)
    assert took < budget + 2.0, f"the turn took {took:.1f} s on a {budget:g} s budget"
    assert len(result.picks) == 5 and "Here are 5 films" in result.reply  # after the notice
    assert not result.generated and any("time budget" in n or "in time" in n for n in result.notices)


def test_a_turn_past_its_time_budget_answers_from_templates(redial_settings, embedded_pipeline):
    hurried = build_pipeline(redial_settings.model_copy(update={"llm": "embedded", "llm_timeout": 0.05}))
    result = hurried.handle(ConversationState(), "a light romantic comedy from the 90s")
    assert len(result.picks) == 5
    assert "Here are 5 films" in result.reply
