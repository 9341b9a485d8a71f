"""Concurrency and load (issue 7): simulated users at once through the served app's API, none seeing another's
conversation. ``bench/load_test.py`` is the same code at full size (50 users x 10 turns) with its figures.

The detectors are tested on leaks made on purpose, so a run that reports none means something.
"""

from __future__ import annotations

import time

import pytest

from agent.state import ConversationState
from bench.load_test import (
    CLIENTS,
    AppStartError,
    CallTimer,
    HttpSession,
    PipelineSession,
    SimulatedUser,
    Step,
    Transcript,
    check_all,
    check_transcript,
    compare_with_alone,
    message_of,
    run_load,
    start_apps,
)

USERS, TURNS = 8, 3  # more users than the queue's 4 workers, so turns wait on each other's


@pytest.mark.integration
@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_users_at_once_see_only_their_own_conversation(app_url, redial_pipeline, client):
    report = run_load(
        app_url, USERS, TURNS, deadline_s=120, call_timeout_s=60, reference=redial_pipeline, client=client
    )

    assert report.errors == []
    assert report.leaks == []
    assert report.completed_turns == USERS * TURNS
    assert report.reference == f"{USERS} of {USERS} conversations equal to the same run alone"
    assert report.peak_in_flight > 4  # the users really overlapped
    assert report.latency["turn"]["p95_ms"] >= report.latency["turn"]["p50_ms"] > 0
    first, later = report.latency["first_turn"], report.latency["later_turns"]
    assert (first["n"], later["n"]) == (USERS, USERS * (TURNS - 1))  # each user's first turn, and the rest


@pytest.mark.integration
def test_the_http_clients_session_keeps_its_state_and_reports_an_endpoints_error(app_url):
    session = HttpSession(app_url, deadline=time.monotonic() + 60, call_timeout=30)
    try:
        with pytest.raises(RuntimeError, match=r"/feedback failed: .*no item with id 'nope' in the catalogue"):
            session.feedback("nope", "like")
        # The failed call ends nothing: the same session (its state on the server) answers the next ones.
        turn = session.recommend("a comedy")
        first = turn["items"][0]["id"]
        echo = session.feedback(first, "like")
        assert echo["liked"] == [first] and echo["conversation_id"] == turn["conversation_id"]
    finally:
        session.close()


def test_a_call_after_the_runs_deadline_is_refused_and_a_call_is_cut_to_what_is_left():
    with pytest.raises(TimeoutError, match="deadline passed"):
        CallTimer(deadline=time.monotonic() - 1, call_timeout=30).allowance()
    wait, cause = CallTimer(deadline=time.monotonic() + 5, call_timeout=30).allowance()
    assert 0 < wait <= 5 and cause == "the run's deadline"
    assert CallTimer(deadline=time.monotonic() + 100, call_timeout=30).allowance() == (30, "the call timeout")


@pytest.mark.integration
def test_users_spread_over_two_app_processes_keep_their_conversations(redial_settings, redial_pipeline, tmp_path):
    """The multi-process deployment (docs/deployment.md): each app process holds its own sessions, and a user
    kept on one process (sticky sessions) has the same conversation as alone."""
    overrides = {"home": str(redial_settings.home), "scorer": "baseline", "llm": "none", "ui_host": "127.0.0.1"}
    apps = start_apps(2, overrides, deadline_s=120, logs=tmp_path)
    try:
        assert len({app.url for app in apps}) == 2
        report = run_load([app.url for app in apps], 4, 2, deadline_s=120, call_timeout_s=60, reference=redial_pipeline)
    finally:
        for app in apps:
            app.stop()
    assert report.errors == [] and report.leaks == []
    assert report.reference == "4 of 4 conversations equal to the same run alone"
    assert all(app.process.returncode is not None for app in apps)  # stopped


@pytest.mark.integration
def test_an_app_process_that_cannot_start_is_named_with_its_log(tmp_path):
    with pytest.raises(AppStartError, match=r"exited \(\d+\): see .*app-1\.log"):
        start_apps(1, {"no_such_setting": "1"}, deadline_s=60, logs=tmp_path)
    assert "no_such_setting" in (tmp_path / "app-1.log").read_text()  # the log says why


@pytest.mark.integration
def test_the_scripted_messages_name_no_title(redial_pipeline):
    """The feedback check expects only the user's clicks as likes: a message naming a film would add one."""
    named = {
        message_of(u, t): redial_pipeline.understander.understand(message_of(u, t)).liked_ids
        for u in range(50)
        for t in range(10)
    }
    assert {m: ids for m, ids in named.items() if ids} == {}


@pytest.mark.integration
def test_a_state_shared_between_users_is_caught(redial_pipeline):
    shared = ConversationState()  # the classic bug: one state object behind every session
    leaky = [SimulatedUser(u, TURNS).run(PipelineSession(redial_pipeline, shared)) for u in range(2)]

    leaks = check_all(leaky)
    assert any("share the conversation id" in leak for leak in leaks)
    assert any(leak.startswith("user 1") and "feedback echoed" in leak for leak in leaks)
    alone = SimulatedUser(1, TURNS).run(PipelineSession(redial_pipeline))
    assert "differs from the same conversation run alone" in compare_with_alone(leaky[1], alone)[0]


@pytest.mark.integration
def test_another_users_message_in_the_history_is_caught(redial_pipeline):
    class Eavesdropping(PipelineSession):
        def chat(self, message):
            history, cards = super().chat(message)
            return [{"role": "user", "content": message_of(7, 0)}, *history], cards

    transcript = SimulatedUser(0, TURNS).run(Eavesdropping(redial_pipeline))
    leaks = check_transcript(transcript)
    assert any("another user's words (qzaah)" in leak for leak in leaks)
    assert any("the history is not this conversation's" in leak for leak in leaks)


def test_repeats_and_returning_dislikes_are_caught():
    transcript = Transcript(
        0,
        "qzaaa",
        [
            Step("recommend", "a 90s comedy, qzaaa", items=("1", "2", "3"), conversation_id="c"),
            Step("feedback", "dislike 1", conversation_id="c", disliked=("1",)),
            Step("recommend", "something else, qzaaa", items=("1", "3", "4"), conversation_id="c"),
        ],
    )
    assert check_transcript(transcript) == [
        "user 0, step 3 /recommend: disliked item(s) ['1'] came back",
        "user 0, step 3 /recommend: item(s) ['3'] were shown earlier in this conversation",
    ]


@pytest.mark.parametrize(
    "served, alone, quoted",
    [
        ("Here are 5.\nfor musical", "Here are 5.\nfor songs", "served 'for musical', alone 'for songs'"),
        ("one\n", "one", "served 'one\\n', alone 'one'"),  # line endings only: the whole replies
    ],
)
def test_a_reply_that_differs_from_the_run_alone_is_quoted(served, alone, quoted):
    def run(reply):
        return Transcript(user=3, tag="qzaad", steps=[Step("recommend", "hi", reply=reply, items=("1",))])

    assert compare_with_alone(run(served), run(alone))[0].endswith(f"; reply line {quoted})")
    assert compare_with_alone(run(served), run(served)) == []
