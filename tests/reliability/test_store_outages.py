"""Store and ranker outages (issue 7): what the user sees when the Chroma index is missing, locked by another
process, damaged or built with another embedding model, and when the trained scorer's checkpoint is missing
or torn. Each case is checked in the library (the error, or the notice on a served turn) and, where a person
would meet it, through ``tailtalk ask``: one ``error: ...`` line naming the fix, exit status 2, no traceback.

CLI runs over a small index use the hashing embedder (``embedding_model=hashing-256``): it starts in about
2 s instead of 8 s with MiniLM, and no case here depends on the model. The missing index and the mismatched
model are run with the real packaged MiniLM, as a person would meet them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tailtalk.catalog import Catalog, write_jsonl_atomic
from tailtalk.config import Settings
from retrieval.embedder import HashingEmbedder, SentenceTransformerEmbedder, packaged_model_path
from retrieval.index import (
    IndexMismatchError,
    IndexMissingError,
    IndexUnavailableError,
    build_index,
    collection_name,
    index_folder,
    make_client,
    open_index,
)
from ranking.scorer import CheckpointError, TextScorer
from ranking.train import SCORER_META
from tests.reliability.test_integrity import assert_cli_error, run_cli

pytestmark = pytest.mark.integration


def small_index(tmp_path: Path, catalog: Catalog, embedder=None) -> Settings:
    """``catalog`` written to a file, and its index built in a fresh home (hashing embedder unless one is given)."""
    path = tmp_path / "small.jsonl"
    write_jsonl_atomic(path, catalog)
    embedder = embedder or HashingEmbedder()
    settings = Settings(
        home=tmp_path / "home", catalog=path, embedding_model=embedder.name, scorer="baseline", llm="none"
    )
    build_index(catalog, embedder, settings, progress=False)
    return settings


def ask(settings: Settings, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_cli(
        settings.home,
        "--set",
        f"catalog={settings.catalog}",
        "--set",
        f"embedding_model={settings.embedding_model}",
        "ask",
        "a scary horror film",
        timeout=timeout,
    )


# --- the Chroma index ------------------------------------------------------------------------


def test_a_missing_index_names_the_command_that_builds_it(redial_settings, redial_pipeline, tmp_path):
    """A prepared dataset that was never indexed: the first thing a person meets after `data prepare`."""
    home = tmp_path / "home"
    catalog_path = home / "datasets" / "redial" / "catalog.jsonl"
    catalog_path.parent.mkdir(parents=True)
    shutil.copyfile(redial_settings.catalog_path, catalog_path)
    settings = redial_settings.model_copy(update={"home": home})
    build = "`tailtalk --dataset redial index`"
    folder = index_folder(settings, redial_pipeline.retriever.embedder.name)
    expected = f"no complete tailtalk index at {folder}; build it with {build}"
    with pytest.raises(IndexMissingError, match=re.escape(expected)):
        open_index(settings, redial_pipeline.catalog, redial_pipeline.retriever.embedder)
    assert_cli_error(run_cli(home, "ask", "a scary horror film"), "no complete tailtalk index", build)


HOLD_WRITE_LOCK = """
import sqlite3, sys, time
database = sqlite3.connect(sys.argv[1], isolation_level=None)
database.execute("BEGIN IMMEDIATE")  # what a writer does, here held until this process is killed
print("locked", flush=True)
time.sleep(600)
"""


def test_an_index_locked_by_another_process_is_reported_instead_of_hanging(tmp_path, small_catalog, monkeypatch):
    """Chroma itself waits forever to open a database another process is writing (a suspended `tailtalk index`)."""
    settings = small_index(tmp_path, small_catalog)
    database = index_folder(settings, "hashing-256") / "chroma.sqlite3"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_WRITE_LOCK, str(database)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        assert_cli_error(ask(settings, timeout=60), "is locked by another process", "then try again")
        assert time.monotonic() - started < 30
        monkeypatch.setattr("retrieval.index.LOCK_WAIT_S", 0.2)
        with pytest.raises(IndexUnavailableError, match="locked by another process"):
            open_index(settings, small_catalog, HashingEmbedder())
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert open_index(settings, small_catalog, HashingEmbedder()).count() == len(small_catalog)  # lock gone: serves


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_index_names_the_rebuild_command(tmp_path, small_catalog, damage):
    settings = small_index(tmp_path, small_catalog)
    database = index_folder(settings, "hashing-256") / "chroma.sqlite3"
    data = database.read_bytes()
    database.write_bytes(b"not a database " * 1000 if damage == "garbage" else data[: len(data) // 3])
    rebuild = f"`tailtalk --set catalog={settings.catalog} index --rebuild`"
    with pytest.raises(IndexUnavailableError, match=f"damaged and cannot be read .*{re.escape(rebuild)}"):
        open_index(settings, small_catalog, HashingEmbedder())
    if damage == "garbage":
        assert_cli_error(ask(settings), "damaged and cannot be read", rebuild)
    build_index(small_catalog, HashingEmbedder(), settings, progress=False, rebuild=True)
    assert open_index(settings, small_catalog, HashingEmbedder()).count() == len(small_catalog)


def test_an_index_of_another_embedding_model_names_the_command_that_rebuilds_it(
    redial_pipeline, small_catalog, tmp_path
):
    """A local model folder named like the packaged one maps to the packaged model's index folder."""
    packaged = redial_pipeline.retriever.embedder
    settings = small_index(tmp_path, small_catalog, packaged)
    local = tmp_path / "models" / packaged.name
    local.parent.mkdir()
    local.symlink_to(packaged_model_path(), target_is_directory=True)
    configured = SentenceTransformerEmbedder(str(local))
    build = f"`tailtalk --set catalog={settings.catalog} index`"
    expected = f"built with embedding model '{packaged.name}', but '{local}' is configured; run {build} to rebuild it"
    with pytest.raises(IndexMismatchError, match=re.escape(expected)):
        open_index(settings, small_catalog, configured)
    assert_cli_error(
        run_cli(
            settings.home,
            "--set",
            f"catalog={settings.catalog}",
            "--set",
            f"embedding_model={local}",
            "ask",
            "a scary film",
        ),
        "built with embedding model",
        build,
    )
    build_index(small_catalog, configured, settings, progress=False)  # what that command runs
    assert open_index(settings, small_catalog, configured).count() == len(small_catalog)


def test_an_index_deleted_under_a_serving_pipeline_fails_the_turn_with_the_fix(small_catalog, tmp_path):
    """Another client deletes the collection (a rebuild on a shared Chroma server replaces it): the turn says
    what to do instead of failing as an internal error, and the fix serves again."""
    from ui.pipeline import TurnPipeline
    from agent.state import ConversationState
    from retrieval.retriever import ChromaRetriever

    settings = small_index(tmp_path, small_catalog)
    pipeline = TurnPipeline.from_parts(small_catalog, ChromaRetriever(small_catalog, HashingEmbedder(), settings))
    assert pipeline.handle(ConversationState(), "a scary horror film with ghosts").picks
    make_client(settings, index_folder(settings, "hashing-256")).delete_collection(
        collection_name(settings, "hashing-256")
    )
    fix = f"restart tailtalk to open it again, after running `tailtalk --set catalog={settings.catalog} index`"
    with pytest.raises(IndexUnavailableError, match=f"stopped answering .*{re.escape(fix)}"):
        pipeline.handle(ConversationState(), "a scary horror film with ghosts")
    build_index(small_catalog, HashingEmbedder(), settings, progress=False)
    restarted = TurnPipeline.from_parts(small_catalog, ChromaRetriever(small_catalog, HashingEmbedder(), settings))
    assert restarted.handle(ConversationState(), "a scary horror film with ghosts").picks


# --- the trained scorer's checkpoint ---------------------------------------------------------


@pytest.fixture
def torn_checkpoint(tmp_path) -> Path:
    """A checkpoint whose description is intact but whose weights file was cut short (a copy that ran out of disk)."""
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    for source in packaged_model_path().iterdir():
        if source.name != "model.safetensors":
            (checkpoint / source.name).symlink_to(source)
    (checkpoint / "model.safetensors").write_bytes((packaged_model_path() / "model.safetensors").read_bytes()[:4096])
    (checkpoint / SCORER_META).write_text(
        '{"run_id": "r1", "prior_weight": 0.2, "profile": "quick", "trained_at": "2026-11-22T10:00:00"}',
        encoding="utf-8",
    )
    return checkpoint


def test_a_torn_checkpoint_under_auto_serves_the_baseline_with_a_notice_on_every_turn(redial_settings, torn_checkpoint):
    from ui.assemble import build_pipeline
    from agent.state import ConversationState

    pipeline = build_pipeline(redial_settings.model_copy(update={"scorer": "auto", "checkpoint": torn_checkpoint}))
    assert "baseline scorer" in pipeline.describe()
    state = ConversationState()
    for message in ("a scary horror film", "something funnier"):
        result = pipeline.handle(state, message)
        assert result.picks
        assert any(
            f"the trained scorer at {torn_checkpoint} is unreadable" in n
            and "serving the baseline scorer" in n
            and "Run `tailtalk train`" in n
            for n in result.notices
        )


def test_a_named_checkpoint_that_is_missing_is_said_under_auto(redial_settings, tmp_path):
    choice = TextScorer.serving(redial_settings.model_copy(update={"scorer": "auto", "checkpoint": tmp_path / "gone"}))
    assert not choice.trained and "serving the baseline scorer" in choice.warning


@pytest.mark.parametrize("state", ["torn", "missing"])
def test_scorer_trained_with_an_unusable_checkpoint_is_a_clear_error(torn_checkpoint, small_catalog, tmp_path, state):
    checkpoint = torn_checkpoint if state == "torn" else tmp_path / "gone"
    settings = Settings(home=tmp_path / "home", scorer="trained", checkpoint=checkpoint)
    fix = "run `tailtalk train`, or set scorer=baseline"
    with pytest.raises(
        CheckpointError, match=f"{re.escape(f'the trained scorer at {checkpoint} cannot be loaded')} .*{re.escape(fix)}"
    ):
        TextScorer.serving(settings)
    if state == "torn":
        path = tmp_path / "small.jsonl"
        write_jsonl_atomic(path, small_catalog)
        done = run_cli(
            settings.home,
            "--set",
            f"catalog={path}",
            "--set",
            "scorer=trained",
            "--set",
            f"checkpoint={checkpoint}",
            "ask",
            "a scary film",
        )
        assert_cli_error(done, f"the trained scorer at {checkpoint} cannot be loaded", fix)
