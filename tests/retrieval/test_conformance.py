"""One conformance suite that every Retriever passes: the in-memory fake and real Chroma."""

from __future__ import annotations

import numpy as np
import pytest

from tailtalk.config import Settings
from retrieval.embedder import HashingEmbedder
from retrieval.index import build_index
from retrieval.query import RetrievalQuery
from tailtalk.constraints import Constraints
from retrieval.retriever import ChromaRetriever, InMemoryRetriever, Retriever, top_rows


@pytest.fixture(params=["memory", "chroma"])
def retriever(request, small_catalog, tmp_path) -> Retriever:
    embedder = HashingEmbedder()
    if request.param == "memory":
        return InMemoryRetriever(small_catalog, embedder)
    settings = Settings(home=tmp_path, dataset="small")
    build_index(small_catalog, embedder, settings, progress=False)
    return ChromaRetriever(small_catalog, embedder, settings)


def ids(candidates) -> list[str]:
    return [c.item_id for c in candidates]


def test_is_a_retriever(retriever):
    assert isinstance(retriever, Retriever)


def test_returns_at_most_k_sorted_by_similarity(retriever):
    found = retriever.retrieve(RetrievalQuery(text="funny comedy", k=3))
    assert len(found) == 3
    sims = [c.similarity for c in found]
    assert sims == sorted(sims, reverse=True)


def test_best_match_first(retriever):
    assert ids(retriever.retrieve(RetrievalQuery(text="ships fight among the stars in space", k=1))) == ["s1"]


@pytest.mark.parametrize(
    ("constraints", "allowed"),
    [
        (Constraints(include_categories=frozenset({"comedy"})), {"c1", "c2", "c3"}),
        (Constraints(exclude_categories=frozenset({"horror", "comedy"})), {"s1", "b1", "b2"}),
        # A missing year or price never excludes (b1, b2 have no year; only b1, b2 have a price).
        (Constraints(year_min=1990, year_max=1999), {"h2", "c1", "c2", "b1", "b2"}),
        (Constraints(price_max=20.0), {"b1", "h1", "h2", "c1", "c2", "c3", "s1"}),
        (Constraints(exclude_ids=frozenset({"h1", "h2", "c1"})), {"c2", "c3", "s1", "b1", "b2"}),
    ],
)
def test_constraints_are_hard(retriever, small_catalog, constraints, allowed):
    found = set(ids(retriever.retrieve(RetrievalQuery(text="a haunted house comedy", constraints=constraints, k=8))))
    assert found == allowed
    assert all(constraints.admits(small_catalog.get(i)) for i in found)


def test_liked_items_pull_the_query(retriever):
    plain = ids(retriever.retrieve(RetrievalQuery(text="a film", k=8)))
    liked = ids(retriever.retrieve(RetrievalQuery(text="a film", like_ids=("s1",), k=8)))
    assert liked[0] == "s1"
    assert plain != liked


def test_avoid_text_pushes_away(retriever):
    base = retriever.retrieve(RetrievalQuery(text="funny comedy wedding", k=8))
    avoided = retriever.retrieve(
        RetrievalQuery(text="funny comedy wedding", avoid_text="romantic wedding planner", k=8)
    )
    assert ids(base).index("c2") < ids(avoided).index("c2")


def test_no_direction_falls_back_to_popularity(retriever):
    assert ids(retriever.retrieve(RetrievalQuery(text="", k=3))) == ["s1", "h1", "c1"]


def test_vectors_are_unit_length(retriever):
    vectors = retriever.vectors(["h1", "unknown"])
    assert set(vectors) == {"h1"}
    assert abs(float((vectors["h1"] ** 2).sum()) - 1.0) < 1e-5


@pytest.mark.parametrize("seed", range(5))
def test_top_rows_is_the_stable_full_sort_cut(seed):
    """The partial sort behind exact search gives exactly the full stable sort's first k, ties included."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 20, size=500).astype(np.float64)  # many ties
    for k in (0, 1, 7, 50, 499, 500, 600):
        assert top_rows(scores, k).tolist() == np.argsort(-scores, kind="stable")[:k].tolist()
