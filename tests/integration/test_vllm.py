"""The vLLM launcher against a real vLLM server on the CPU (about 2 minutes, most of it one cold start).

The module-scoped ``vllm_server`` fixture starts the server the way ``tailtalk serve-llm``
does: through :class:`ui.vllm_server.VLLMServer`, with the packaged SmolLM2 converted under the test home,
on a free loopback port. These tests run last; on a clean clone ``.venv-vllm`` is created in the background
from the start of the session, and the server is launched as soon as it is ready (tests/conftest.py).
Tests that need a live server take ``vllm_server``; none of them stops it (the stop test starts its own),
so tests can be added in any order.

Run: ``.venv/bin/python -m pytest tests/integration/test_vllm.py -m vllm``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from tailtalk.config import Settings
from tailtalk.llm import endpoint_backend
from ui.vllm_server import VLLMServer, port_is_free
from tests.conftest import TEST_HOME, VLLM_VENV, free_port, started_vllm_server, vllm_env

pytestmark = [pytest.mark.integration, pytest.mark.vllm]


def _group_pids(pgid: int) -> list[int]:
    """Live processes of a process group, read from /proc independently of the launcher's own helper."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, pgrp = stat.read_text(errors="replace").rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(pgrp) == pgid and state not in ("Z", "X"):
            pids.append(int(stat.parent.name))
    return pids


def _assert_stopped(server: VLLMServer) -> None:
    assert server.process is not None
    assert server.process.poll() is not None, "the API server process is still running"
    assert _group_pids(server.process.pid) == [], "a child of the vLLM server (engine core, worker) outlived stop()"
    assert port_is_free(server.port), f"port {server.port} is still taken after stop()"


@pytest.fixture(scope="module")
def vllm_server() -> Iterator[VLLMServer]:
    """A healthy vLLM server serving the packaged SmolLM2 as ``smollm2``; stopped (and checked) at module end."""
    server = started_vllm_server()  # launched in the background as soon as vLLM was installed (tests/conftest.py)
    with server:  # waits until it is healthy
        print(f"\nvLLM healthy at {server.base_url} after {server.startup_seconds:.0f} s")
        yield server
    _assert_stopped(server)  # stop() of a serving server, checked as the last step of the module


def _endpoint_settings(server: VLLMServer) -> Settings:
    return Settings(llm="openai", llm_base_url=server.base_url, home=TEST_HOME)


def test_endpoint_backend_answers_and_streams(vllm_server: VLLMServer) -> None:
    backend = endpoint_backend(_endpoint_settings(vllm_server))
    assert backend.kind == "endpoint" and backend.name == f"smollm2 at {vllm_server.base_url}"
    model = backend.chat_model.bind(max_tokens=32)

    reply = model.invoke("Name one film that is good on a rainy day.")
    assert reply.text.strip()

    chunks = [chunk.text for chunk in model.stream("Describe the film Alien (1979) in two sentences.")]
    assert sum(1 for text in chunks if text) > 1, f"streaming gave {chunks!r}"
    assert "".join(chunks).strip()


class FilmPick(BaseModel):
    """A schema with the constructs the agent's extraction uses: bounds, an enum, a list cap, a nullable field."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=80)
    year: int = Field(ge=1900, le=2030)
    mood: Literal["funny", "scary", "sad", "exciting"]
    similar_titles: list[str] = Field(max_length=3)
    rating: float | None = Field(ge=0, le=10)


def test_json_schema_response_format_is_enforced(vllm_server: VLLMServer) -> None:
    # The request shape agent/llm_understand.py sends: response_format bound on the ChatOpenAI model.
    backend = endpoint_backend(_endpoint_settings(vllm_server))
    schema = FilmPick.model_json_schema()
    model = backend.chat_model.bind(
        max_tokens=120, response_format={"type": "json_schema", "json_schema": {"name": "film_pick", "schema": schema}}
    )
    # A tiny model asked without the schema in the prompt: only constrained decoding makes this valid JSON.
    reply = model.invoke("Recommend one scary film.")
    FilmPick.model_validate_json(reply.text)


def test_stop_ends_the_whole_process_tree() -> None:
    # A second server, stopped while its engine is still compiling: the moment when the API server, the
    # engine core and the worker all run and none of them is listening yet, so only the process group
    # signal can reach them all. stop() of a serving server, and the port it frees, are checked by the
    # vllm_server fixture's teardown; waiting for a second server to listen would double the module's time.
    vllm_env()
    server = VLLMServer.from_settings(Settings(home=TEST_HOME), port=free_port(), venv=VLLM_VENV)
    server.start()
    try:
        assert server.process is not None
        deadline = time.monotonic() + 120
        while len(_group_pids(server.process.pid)) < 4:  # API server, resource tracker, engine core, worker
            assert server.process.poll() is None, f"vLLM exited while starting:\n{server.log_tail()}"
            assert time.monotonic() < deadline, f"vLLM's processes did not all start:\n{server.log_tail()}"
            time.sleep(0.25)
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 25, "stop() took longer than its grace period"
        _assert_stopped(server)
    finally:
        server.stop()


def test_a_chat_turn_through_vllm_explains_listed_films_only(vllm_server, redial_settings):
    """The whole turn with the launcher's server as the LLM: JSON-schema understanding, a streamed, checked reply."""
    from ui.assemble import build_pipeline
    from agent.state import ConversationState
    from explain.grounding import GroundingChecker, out_of_list

    pipeline = build_pipeline(
        redial_settings.model_copy(
            update={
                "llm": "auto",
                "llm_base_url": vllm_server.base_url,
                "llm_model": vllm_server.served_model_name,
                "llm_timeout": 120.0,
            }
        )
    )
    assert f"at {vllm_server.base_url}" in pipeline.describe()  # auto found the server
    state = ConversationState()
    results = list(pipeline.stream(state, "something funny and short for tonight, not another superhero film"))
    final = results[-1]
    assert final.complete and len(final.picks) == 5 and not any("language model" in n for n in final.notices)
    assert pipeline.understander.log.fell_back_to_rules == 0  # the schema-constrained JSON validated
    assert "Here are 5 films" in final.reply  # the lead-in (after the runtime notice); the model may add a word
    checker = GroundingChecker(pipeline.titles, [p.item for p in final.picks])
    assert out_of_list(checker, final.grounding.released) == []


def test_the_llm_user_talks_with_the_product_through_vllm(vllm_server: VLLMServer, redial_pipeline) -> None:
    """Issue 16's LLM user: 8 simulated conversations whose messages a real OpenAI-compatible server words;
    no message leaks the target, and every one sent in the model's words kept the template's facts."""
    from eval.simulator import (
        LeakGuard,
        PipelineConversation,
        SimulationConfig,
        facts_kept,
        run_simulations,
        sample_targets,
    )
    from tailtalk.dialogues import load_dialogues
    from tailtalk.instances import instances_of

    catalog = redial_pipeline.catalog
    targets = sample_targets(instances_of(load_dialogues(TEST_HOME / "datasets/redial/test.jsonl"), catalog), 8, 0)
    config = SimulationConfig(turns=3, limit=8, seed=0, user="llm")
    results = run_simulations(
        {"pipeline": lambda: PipelineConversation(redial_pipeline, 0.3)},
        catalog,
        targets,
        config,
        domain="films",
        llm=endpoint_backend(_endpoint_settings(vllm_server)),
        progress=False,
    )
    records = results["pipeline"]
    guard = LeakGuard(catalog)
    turns = [(turn, catalog.get(r.target)) for r in records for turn in r.transcript]
    assert len(records) == 8 and all(guard.leaks(turn["user"], target) == [] for turn, target in turns)
    reworded = [turn for turn, _ in turns if "template" in turn]  # the model's words, in place of the template's
    assert all(facts_kept(turn["template"], turn["user"]) for turn in reworded)
    print(f"\n{len(reworded)} of {len(turns)} messages in the model's words")
