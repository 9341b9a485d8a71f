"""The Gradio app served on 127.0.0.1 with the real pipeline, driven through gradio_client."""

from __future__ import annotations

import concurrent.futures

import pytest

pytestmark = pytest.mark.integration  # app_url: tests/conftest.py


def test_binds_to_loopback(app_url):
    assert app_url.startswith("http://127.0.0.1:")


def test_recommend_endpoint_returns_grounded_json(app_url, redial_pipeline):
    from gradio_client import Client

    result = Client(app_url, verbose=False).predict(
        "I loved The Shining and It Follows, something scary but not too gory", api_name="/recommend"
    )
    assert len(result["items"]) >= 5
    assert all(i["id"] in redial_pipeline.catalog and i["reason"] for i in result["items"])
    assert {"The Shining", "It Follows"}.isdisjoint(i["title"] for i in result["items"])


def test_chat_endpoint_replies_and_keeps_history(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    history, cards = client.predict("a 90s comedy", api_name="/chat")
    assert len(history) == 2 and "Here are 5 films" in str(history[1]["content"])
    assert cards.count('class="tt-card"') == 5


def test_chat_streams_an_update_only_when_the_page_would_change(app_url):
    import httpx

    api = app_url + "gradio_api"
    sent = httpx.post(f"{api}/call/chat", json={"data": ["a 90s comedy"], "session_hash": "stream-count"}, timeout=30)
    sent.raise_for_status()
    events = []
    with httpx.stream("GET", f"{api}/call/chat/{sent.json()['event_id']}", timeout=60) as stream:
        events = [line.removeprefix("event:").strip() for line in stream.iter_lines() if line.startswith("event:")]
    # The message queued at once, then the template reply with its cards: it comes whole, so the complete
    # result repeats nothing (each repeat had sent the whole history and the cards' HTML again).
    assert events.count("generating") == 2 and events[-1] == "complete"


def test_two_sessions_never_share_a_conversation(app_url):
    from gradio_client import Client

    def converse(first: str) -> tuple[str, list[str], list[str]]:
        client = Client(app_url, verbose=False)
        one = client.predict(first, api_name="/recommend")
        two = client.predict("something else", api_name="/recommend")
        return one["conversation_id"], [i["id"] for i in one["items"]], [i["id"] for i in two["items"]]

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        a, b = pool.map(converse, ["a scary horror film", "a cartoon for kids"])
    assert a[0] != b[0]
    # Within a session the second turn excludes what that session was shown; across sessions nothing leaks.
    assert not set(a[1]) & set(a[2]) and not set(b[1]) & set(b[2])
    assert not set(a[1]) & set(b[1])


def test_the_long_tail_knob_is_per_session(app_url, redial_pipeline):
    from gradio_client import Client

    def picks(knob: float | None) -> list[str]:
        client = Client(app_url, verbose=False)
        if knob is not None:
            client.predict(knob, api_name="/set_diversity")
        return [i["id"] for i in client.predict("a scary film with ghosts", api_name="/recommend")["items"]]

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        relevance_only, varied = pool.map(picks, [0.0, 1.0])
    assert relevance_only != varied  # each session ranks with its own knob, at the same time
    assert picks(None) == picks(redial_pipeline.ranker.diversity)  # untouched sessions keep the default


def test_gradio_monitoring_is_off_and_its_summary_is_not_rebuilt_every_event(app_url):
    import os

    import httpx

    # Gradio's default would serve every endpoint's timings to anyone, and rebuild them (pandas, up to
    # 10,000 events) after every event: 9 ms an event on a long-running server.
    assert httpx.get(app_url + "monitoring/summary", trust_env=False, timeout=10).status_code == 403
    assert int(os.environ["GRADIO_ANALYTICS_CACHE_FREQUENCY"]) >= 10**9


def test_what_gradios_first_event_imports_is_imported_at_launch():
    import subprocess
    import sys

    from tests.conftest import REPO

    # In a fresh process: Gradio's first event imports pyplot (half a second holding the interpreter) unless
    # `launch` did it already.
    probe = (
        "import sys, ui.app as app; before = 'matplotlib.pyplot' in sys.modules; "
        "app.import_what_events_import(); print(before, 'matplotlib.pyplot' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
