"""The Chroma index: manifest checks, incremental upserts and crash safety."""

from __future__ import annotations

import numpy as np
import pytest

from tailtalk.catalog import Catalog, Item
from tailtalk.config import Settings
from retrieval.embedder import CachedEmbedder, HashingEmbedder
from retrieval.index import IndexMismatchError, IndexMissingError, build_index, index_folder, open_index


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, dataset="small")


@pytest.fixture
def counting() -> tuple[type[HashingEmbedder], list[int]]:
    """A hashing embedder class whose instances log the batch sizes they embed into one shared list."""
    calls: list[int] = []

    class CountingEmbedder(HashingEmbedder):
        def embed(self, texts, *, progress=False):
            calls.append(len(texts))
            return super().embed(texts)

    return CountingEmbedder, calls


def test_missing_index_says_how_to_build_it(small_catalog, settings):
    with pytest.raises(IndexMissingError, match="tailtalk index"):
        open_index(settings, small_catalog, HashingEmbedder())


def test_refuses_other_embedding_model(small_catalog, settings):
    build_index(small_catalog, HashingEmbedder(64), settings, progress=False)
    # Same folder name on purpose: simulate a folder built by another model.
    other = HashingEmbedder(64)
    other.name = "some-other-model"
    index_folder(settings, "hashing-64").rename(index_folder(settings, other.name))
    with pytest.raises(IndexMismatchError, match="embedding model 'hashing-64'"):
        open_index(settings, small_catalog, other)


def test_refuses_changed_catalogue_until_updated(small_catalog, settings):
    embedder = HashingEmbedder()
    build_index(small_catalog, embedder, settings, progress=False)
    grown = Catalog(small_catalog.items + (Item(id="n1", title="New Film", categories=["drama"]),))
    with pytest.raises(IndexMismatchError, match=r"run `tailtalk --dataset \S+ index`"):
        open_index(settings, grown, embedder)
    report = build_index(grown, embedder, settings, progress=False)
    assert (report.added, report.updated, report.removed, report.unchanged, report.rebuilt) == (1, 0, 0, 8, False)
    assert open_index(settings, grown, embedder).count() == 9


def test_upsert_reembeds_only_changed_items(small_catalog, settings, counting):
    CountingEmbedder, calls = counting
    build_index(small_catalog, CountingEmbedder(), settings, progress=False)
    changed = Catalog(
        tuple(
            i.model_copy(update={"description": "Changed."}) if i.id == "c1" else i
            for i in small_catalog.items
            if i.id != "b2"
        )
    )
    calls.clear()
    report = build_index(changed, CountingEmbedder(), settings, progress=False)
    assert (report.added, report.updated, report.removed) == (0, 1, 1)
    assert calls == [1]


def test_interrupted_first_build_leaves_no_index(small_catalog, settings):
    class DyingEmbedder(HashingEmbedder):
        def embed(self, texts, *, progress=False):
            raise KeyboardInterrupt  # what a Ctrl-C or kill half-way looks like from inside

    with pytest.raises(KeyboardInterrupt):
        build_index(small_catalog, DyingEmbedder(), settings, progress=False)
    assert not index_folder(settings, "hashing-256").exists()
    with pytest.raises(IndexMissingError):
        open_index(settings, small_catalog, HashingEmbedder())


def test_interrupted_rebuild_keeps_previous_index(small_catalog, settings):
    build_index(small_catalog, HashingEmbedder(), settings, progress=False)

    class DyingEmbedder(HashingEmbedder):
        def embed(self, texts, *, progress=False):
            raise KeyboardInterrupt

    changed = Catalog(tuple(i.model_copy(update={"description": "New text."}) for i in small_catalog.items))
    with pytest.raises(KeyboardInterrupt):  # new texts are not in the embedding cache, so it must embed
        build_index(changed, DyingEmbedder(), settings, progress=False, rebuild=True)
    assert open_index(settings, small_catalog, HashingEmbedder()).count() == len(small_catalog)


def test_embedding_cache_reuses_vectors(tmp_path, counting):
    CountingEmbedder, calls = counting
    first = CachedEmbedder(CountingEmbedder(), tmp_path).embed(["a b", "c d"])
    second = CachedEmbedder(CountingEmbedder(), tmp_path).embed(["c d", "a b", "e f"])
    assert calls == [2, 1]
    np.testing.assert_allclose(second[1], first[0])


def test_memory_only_cache_embeds_each_text_once(tmp_path, monkeypatch, counting):
    CountingEmbedder, calls = counting
    monkeypatch.chdir(tmp_path)
    cached = CachedEmbedder(CountingEmbedder())
    cached.embed(["a b", "c d"])
    again = cached.embed(["c d", "a b"])
    assert calls == [2] and cached.path is None and not list(tmp_path.iterdir())
    np.testing.assert_allclose(again[0], HashingEmbedder().embed(["c d"])[0])


def test_the_embedding_cache_file_is_not_rewritten_for_every_batch(tmp_path, counting, monkeypatch):
    """Indexing embeds in batches: a write of the whole cache after each one made a large catalogue's
    build quadratic. The first addition writes, later ones within the interval wait for flush()."""
    embedder_class, calls = counting
    writes: list[int] = []
    real_savez = np.savez
    monkeypatch.setattr(np, "savez", lambda *args, **kw: (writes.append(1), real_savez(*args, **kw)))
    cached = CachedEmbedder(embedder_class(), tmp_path)
    for n in range(5):
        cached.embed([f"text {n}"])
    assert len(writes) == 1
    cached.flush()
    embedded = len(calls)
    CachedEmbedder(embedder_class(), tmp_path).embed(["text 4"])  # a new process reads the flushed vectors
    assert len(writes) == 2 and len(calls) == embedded
    cached.flush()
    assert len(writes) == 2  # nothing new: nothing written


@pytest.mark.parametrize("capacity", [0, 2, 100])
def test_the_vector_cache_reads_each_vector_from_chroma_once(small_catalog, settings, monkeypatch, capacity):
    import retrieval.retriever as retriever_module
    from retrieval.retriever import ChromaRetriever

    build_index(small_catalog, HashingEmbedder(), settings, progress=False)
    retriever = ChromaRetriever(
        small_catalog, HashingEmbedder(), settings.model_copy(update={"vector_cache_items": capacity})
    )
    ids = small_catalog.ids()[:3]
    read: list[str] = []
    reads_from_chroma = retriever_module.vectors_of
    monkeypatch.setattr(
        retriever_module, "vectors_of", lambda c, wanted: read.extend(wanted) or reads_from_chroma(c, wanted)
    )

    first, again = retriever.vectors(ids), retriever.vectors(ids)

    assert sorted(first) == sorted(again) == sorted(ids)
    assert all(np.array_equal(first[i], again[i]) for i in ids)
    # Unbounded enough: read once. Too small: the oldest fell out and was read again. None: read every time.
    assert len(read) == {0: 6, 2: 4, 100: 3}[capacity]
