"""Data integrity (issue 7): malformed catalogue and log rows are named by file and line, an index build
killed with SIGKILL never leaves a half index that serves, and items upserted into the live index while
conversations run break none of them.

The kill tests kill a real ``build_index`` subprocess at a known point (its embedder stalls on the third
batch, after two batches were written) and then open the index as the next process would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tailtalk.catalog import Catalog, DataFormatError, Item, load_catalog, write_jsonl_atomic
from tailtalk.config import Settings
from tailtalk.dialogues import load_dialogues
from retrieval.embedder import HashingEmbedder
from retrieval.index import IndexMissingError, build_index, collection_name, index_folder, make_client, open_index
from tests.conftest import REPO

# --- malformed rows ------------------------------------------------------------------------

FIRST_ROW = {
    load_catalog: b'{"id": "1", "title": "Alien", "year": 1979}',
    load_dialogues: b'{"id": "d1", "turns": [{"role": "user", "text": "hi"}]}',
}
PREPARED = "datasets/redial"  # a file `tailtalk data prepare redial` wrote, which it can write again


@pytest.mark.parametrize(
    "load, name, bad, field, problem",
    [
        (load_catalog, "shop.jsonl", b'{"id": "2", "title": "Brazil"', "row", "not valid JSON"),
        (load_catalog, "shop.jsonl", b'{"id": "2"}', "title", "Field required"),
        (load_catalog, "shop.jsonl", b'{"id": "2", "title": "Brazil", "year": "abc"}', "year", "valid integer"),
        (
            load_catalog,
            f"{PREPARED}/catalog.jsonl",
            b'{"id": "2", "title": "Brazil", "price": -3}',
            "price",
            "greater than or equal to 0",
        ),
        (load_catalog, f"{PREPARED}/catalog.jsonl", b'{"id": "2", "title": "Br\xe9sil"}', "row", "not UTF-8"),
        (load_dialogues, "log.jsonl", b'{"id": "d2", "turns": [', "row", "Invalid JSON"),
        (
            load_dialogues,
            f"{PREPARED}/test.jsonl",
            b'{"id": "d2", "turns": [{"role": "user"}]}',
            "turns.0.text",
            "Field required",
        ),
        (
            load_dialogues,
            f"{PREPARED}/test.jsonl",
            b'{"id": "d2", "turns": [{"role": "user", "text": "hi", "items": "12"}]}',
            "turns.0.items",
            "valid array",
        ),
        (
            load_dialogues,
            "log.jsonl",
            b'{"id": "d2", "turns": [{"role": "user", "text": "caf\xe9"}]}',
            "row",
            "not UTF-8",
        ),
    ],
)
def test_a_malformed_row_is_named_by_file_line_and_field_with_the_fix(tmp_path, load, name, bad, field, problem):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(FIRST_ROW[load] + b"\n\n" + bad + b"\n")  # the blank line counts: the bad row is line 3
    with pytest.raises(DataFormatError) as raised:
        load(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:3: field '{field}': ") and problem in message
    fix = (
        "re-run `tailtalk data prepare redial` to write the file again"
        if name.startswith(PREPARED)
        else "correct the file and try again"
    )
    assert message.endswith(fix)


def test_a_malformed_csv_row_is_named_by_the_line_it_is_on(tmp_path):
    path = tmp_path / "shop.csv"
    path.write_bytes(b'id,title,description\n1,Alien,"two\nlines"\n2,Br\xe9sil,x\n')
    with pytest.raises(DataFormatError, match=r"shop\.csv:4: field 'row': is not UTF-8 text"):
        load_catalog(path)


def test_the_cli_reports_a_malformed_catalogue_in_one_line_without_a_traceback(tmp_path):
    path = tmp_path / "shop.jsonl"
    path.write_bytes(FIRST_ROW[load_catalog] + b'\n{"id": "2", "title": "Brazil", "year": "abc"}\n')
    done = run_cli(tmp_path / "home", "--set", f"catalog={path}", "ask", "a space horror film")
    assert_cli_error(done, f"{path}:2: field 'year'", "correct the file")


def run_cli(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``tailtalk`` as a person runs it, on the rule path, in its own home."""
    env = {**os.environ, "TAILTALK_HOME": str(home), "TAILTALK_LLM": "none", "TAILTALK_SCORER": "baseline"}
    return subprocess.run(
        [sys.executable, "-m", "eval.cli", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout
    )


def assert_cli_error(done: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit status 2 and, as the last line, one ``error: ...`` line holding every needle; no traceback."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and all(n in last for n in needles), last
    return last


# --- a build killed half-way -----------------------------------------------------------------

_STALLING_BUILD = """
import sys, time
from tailtalk.catalog import load_catalog
from tailtalk.config import Settings
from retrieval.embedder import HashingEmbedder
from retrieval.index import build_index

class Stalling(HashingEmbedder):
    calls = 0

    def embed(self, texts, *, progress=False):
        Stalling.calls += 1
        if Stalling.calls == 3:  # two batches of 256 are in Chroma; wait here to be killed
            print("stalled", flush=True)
            time.sleep(600)
        return super().embed(texts)

home, catalog, rebuild = sys.argv[1], sys.argv[2], sys.argv[3] == "rebuild"
build_index(load_catalog(catalog), Stalling(), Settings(home=home, dataset="synthetic"), progress=False,
            rebuild=rebuild)
"""


def synthetic(version: str, n: int = 800) -> Catalog:
    """Enough items for several batches of 256; ``version`` changes every item's text."""
    return Catalog(
        tuple(
            Item(
                id=f"i{k}", title=f"Film {k}", description=f"a {version} story, part {k}, w{k % 37}", popularity=k % 13
            )
            for k in range(n)
        )
    )


def kill_build_half_way(settings: Settings, catalog: Catalog, tmp_path: Path, *, rebuild: bool = False) -> None:
    path = tmp_path / f"catalog-{catalog.fingerprint()}.jsonl"
    write_jsonl_atomic(path, catalog)
    build = subprocess.Popen(
        [sys.executable, "-c", _STALLING_BUILD, str(settings.home), str(path), "rebuild" if rebuild else "update"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert build.stdout.readline().strip() == "stalled"
    finally:
        os.kill(build.pid, signal.SIGKILL)
        build.wait(timeout=30)  # reaped: a zombie would still count as a running build
    assert build.returncode == -signal.SIGKILL


def stored_hashes(settings: Settings, ids: list[str] | None = None) -> dict[str, str]:
    """What the index holds (every item, or these ``ids``), read past the manifest check, as a half-done build
    left it: each stored item's content hash."""
    folder = index_folder(settings, "hashing-256")
    collection = make_client(settings, folder).get_collection(collection_name(settings, "hashing-256"))
    got = collection.get(ids=ids, include=["metadatas"]) if ids is not None else collection.get(include=["metadatas"])
    return {i: m["content_hash"] for i, m in zip(got["ids"], got["metadatas"])}


@pytest.fixture
def synthetic_settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", dataset="synthetic")


@pytest.mark.integration
@pytest.mark.parametrize("previous", [False, True], ids=["first build", "rebuild over a complete index"])
def test_a_killed_build_leaves_the_previous_index_or_none_and_a_rerun_completes_it(
    synthetic_settings, tmp_path, previous
):
    old, new = synthetic("old"), synthetic("new", 900)
    if previous:
        build_index(old, HashingEmbedder(), synthetic_settings, progress=False)
    kill_build_half_way(synthetic_settings, new, tmp_path, rebuild=previous)  # `tailtalk index [--rebuild]`
    indexes = synthetic_settings.indexes_dir
    staging = [p for p in indexes.iterdir() if ".building-" in p.name]
    assert len(staging) == 1 and (staging[0] / "chroma.sqlite3").is_file()  # it had started writing

    if previous:
        assert open_index(synthetic_settings, old, HashingEmbedder()).count() == len(old)
    else:
        with pytest.raises(
            IndexMissingError, match=r"no complete tailtalk index .*`tailtalk --dataset synthetic index"
        ):
            open_index(synthetic_settings, new, HashingEmbedder())

    build_index(new, HashingEmbedder(), synthetic_settings, progress=False, rebuild=previous)
    collection = open_index(synthetic_settings, new, HashingEmbedder())
    assert collection.count() == len(new)
    assert [p.name for p in indexes.iterdir()] == ["synthetic-hashing-256"]  # the dead build's staging is gone
    assert stored_hashes(synthetic_settings, ["i0", "i850"]) == {i: new.get(i).content_hash() for i in ("i0", "i850")}
    query = HashingEmbedder().embed([new.get("i850").embedding_text()])[0]
    assert len(collection.query(query_embeddings=[query.tolist()], n_results=5)["ids"][0]) == 5  # it answers


@pytest.mark.integration
def test_a_killed_update_is_refused_until_a_rerun_completes_it(synthetic_settings, tmp_path):
    old, new = synthetic("old"), synthetic("new", 900)
    build_index(old, HashingEmbedder(), synthetic_settings, progress=False)
    kill_build_half_way(synthetic_settings, new, tmp_path)
    # Two batches of 256 carry the new text, the rest the old one (or none yet): exactly what must not serve.
    stored = stored_hashes(synthetic_settings)
    updated = {i for i, h in stored.items() if h == new.get(i).content_hash()}
    assert len(updated) == 512 and {i for i in stored if i not in updated} and set(old.ids()) <= set(stored)
    for catalog in (old, new):
        with pytest.raises(
            IndexMissingError,
            match=r"interrupted.*run `tailtalk --dataset synthetic index` to "
            "complete it",
        ):
            open_index(synthetic_settings, catalog, HashingEmbedder())

    report = build_index(new, HashingEmbedder(), synthetic_settings, progress=False)
    # The rerun resumes: it adds the new items the killed build had not reached, updates the old ones it had
    # not, and leaves the 512 it had.
    unreached = len(new) - len(stored)
    assert (report.rebuilt, report.added, report.updated, report.unchanged) == (
        False,
        unreached,
        len(new) - 512 - unreached,
        512,
    )
    collection = open_index(synthetic_settings, new, HashingEmbedder())
    assert collection.count() == len(new)
    assert stored_hashes(synthetic_settings) == {i.id: i.content_hash() for i in new}


# --- upserts into the live index while conversations run -------------------------------------

MESSAGES = (
    "a scary horror film with ghosts in a haunted house",
    "a funny romantic comedy from the 90s",
    "something like The Shining but less gory",
    "a space adventure with aliens",
    "a heist thriller",
)


def fresh_ghost_films(n: int) -> list[Item]:
    """New items written to match the first message, so the live index returns ids the catalogue lacks."""
    return [
        Item(
            id=f"new-{k}",
            title=f"Ghost Manor {k}",
            year=1990 + k % 10,
            categories=["horror"],
            description=f"A scary horror film: ghosts haunt a family in a haunted house, part {k}.",
        )
        for k in range(n)
    ]


@pytest.mark.integration
def test_upserting_into_the_live_index_breaks_no_running_conversation(redial_settings, redial_pipeline, tmp_path):
    from agent.state import ConversationState
    from ranking.diversity import DiversityReranker
    from retrieval.query import RetrievalQuery
    from retrieval.retriever import ChromaRetriever

    # A copy of the session's index, so the upserts cannot change what other tests see.
    settings = redial_settings.model_copy(update={"home": tmp_path / "home", "catalog": redial_settings.catalog_path})
    embedder = redial_pipeline.retriever.embedder
    shutil.copytree(index_folder(redial_settings, embedder.name), index_folder(settings, embedder.name))
    catalog = redial_pipeline.catalog
    retriever = ChromaRetriever(catalog, embedder, settings)
    ranker = redial_pipeline.ranker
    assert isinstance(ranker, DiversityReranker)
    live = redial_pipeline.replacing(retriever=retriever, ranker=ranker.with_vectors(retriever.vectors))

    changed = {
        item.id: item.model_copy(update={"description": f"{item.description} Restored in 4K."})
        for item in catalog.items[:12]
    }
    grown = Catalog(tuple(changed.get(i.id, i) for i in catalog) + tuple(fresh_ghost_films(12)))
    errors: list[str] = []
    shown: list[str] = []
    turn_times: list[tuple[float, float]] = []
    window: list[float] = []  # when the upserts started and ended
    upserted = threading.Event()

    def converse(offset: int) -> None:
        """Three-turn conversations until the upserts are done, then one more that asks for the new films."""
        while True:
            after = upserted.is_set()
            messages = (MESSAGES[0], "something else") if after else (MESSAGES[offset:] + MESSAGES[:offset])[:3]
            state = ConversationState()
            for message in messages:
                started = time.monotonic()
                try:
                    result = live.handle(state, message)
                except Exception as exc:  # any failure is the finding: recorded, and asserted on below
                    errors.append(repr(exc))
                    return
                turn_times.append((started, time.monotonic()))
                shown.extend(pick.item.id for pick in result.picks)
            if after:
                return

    def upsert() -> None:
        window.append(time.monotonic())
        try:
            build_index(grown, embedder, settings, progress=False)
        except Exception as exc:  # recorded and asserted on, like a failing turn
            errors.append(repr(exc))
        finally:
            window.append(time.monotonic())
            upserted.set()  # the conversations stop after one more

    threads = [threading.Thread(target=converse, args=(n,)) for n in range(2)]
    writer = threading.Thread(target=upsert)
    for thread in [*threads, writer]:
        thread.start()
    for thread in [*threads, writer]:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in [*threads, writer])

    assert errors == []
    assert shown and set(shown) <= set(catalog.ids())
    assert any(start < window[1] and end > window[0] for start, end in turn_times)  # turns overlapped the upserts
    # The live index now returns the new films, which the serving catalogue lacks: the retriever skips them.
    query_vector = embedder.embed([MESSAGES[0]])[0].tolist()
    raw = retriever.collection.query(query_embeddings=[query_vector], n_results=50)["ids"][0]
    assert any(i.startswith("new-") for i in raw)
    assert all(c.item_id in catalog for c in retriever.retrieve(RetrievalQuery(text=MESSAGES[0], k=50)))
    # After the update the index matches the grown catalogue: a restart serves it without a rebuild.
    assert open_index(settings, grown, embedder).count() == len(grown)
