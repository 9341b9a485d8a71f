"""The issue's acceptance checks on the real ReDial catalogue, packaged MiniLM and a real Chroma."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from agent.state import ConversationState
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def test_scary_request_answers_with_five_real_films_not_the_named_ones(redial_pipeline):
    catalog = redial_pipeline.catalog
    result = redial_pipeline.handle(
        ConversationState(), "I loved The Shining and It Follows, something scary but not too gory"
    )
    titles = [p.item.title for p in result.picks]
    assert len(result.picks) >= 5
    assert all(p.item.id in catalog for p in result.picks)
    assert "The Shining" not in titles and "It Follows" not in titles
    assert all(p.reason and len(p.reason) > 20 for p in result.picks)
    assert sum("horror" in p.item.categories or "thriller" in p.item.categories for p in result.picks) >= 4


def test_decade_constraint_holds_on_the_real_index(redial_pipeline):
    result = redial_pipeline.handle(ConversationState(), "a light romantic comedy from the 90s")
    assert len(result.picks) == redial_pipeline.top_k
    assert all(p.item.year is not None and 1990 <= p.item.year <= 1999 for p in result.picks)
    assert all({"comedy", "romance"} & set(p.item.categories) for p in result.picks)


def _cli(settings, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "TAILTALK_HOME": str(settings.home),
        "TAILTALK_DATA_MIRROR": str(settings.data_mirror),
        "TAILTALK_SCORER": settings.scorer,
        "TAILTALK_LLM": settings.llm,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "eval.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO,
        timeout=300,
    )


def test_cli_ask_json_returns_catalogue_items_in_the_decade(redial_settings, redial_pipeline):
    done = _cli(redial_settings, "ask", "--json", "a light romantic comedy from the 90s")
    assert done.returncode == 0, done.stderr
    turn = json.loads(done.stdout)
    assert turn["llm"] == "grounded templates"
    assert turn["reply"].startswith("Here are 5 films for") and "1990–1999" in turn["reply"]
    assert not any(p["reason"] in turn["reply"] for p in turn["items"])  # the reasons are on the cards
    picks = turn["items"]
    assert len(picks) == 5
    assert all(set(p) >= {"id", "title", "score", "reason"} for p in picks)
    assert all(p["id"] in redial_pipeline.catalog and 1990 <= p["year"] <= 1999 for p in picks)


def test_cli_ask_prints_the_reply_then_the_picks_as_lines(redial_settings):
    done = _cli(redial_settings, "ask", "a light romantic comedy from the 90s")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("Here are 5 films") for line in lines)
    assert [line[:3] for line in lines if line[:1].isdigit()] == ["1. ", "2. ", "3. ", "4. ", "5. "]


def test_cli_help_lists_every_command(redial_settings):
    done = _cli(redial_settings, "--help")
    assert done.returncode == 0
    for command in ("data", "index", "ask", "chat"):
        assert command in done.stdout


def test_broken_catalogue_line_is_named_and_no_index_is_left(redial_settings, tmp_path):
    catalogue = tmp_path / "broken.jsonl"
    catalogue.write_text('{"id": "1", "title": "Fine"}\n{"id": "2", "title": "Bad", "year": "soon"}\n')
    home = tmp_path / "home"
    done = _cli(redial_settings, "--set", f"catalog={catalogue}", "--home", str(home), "index")
    assert done.returncode == 2
    assert f"{catalogue}:2" in done.stderr and "year" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (home / "indexes").exists()


def test_bad_setting_is_a_clear_error(redial_settings):
    done = _cli(redial_settings, "--set", "top_k=0", "ask", "anything")
    assert done.returncode == 2
    assert "top_k" in done.stderr and "Traceback" not in done.stderr
