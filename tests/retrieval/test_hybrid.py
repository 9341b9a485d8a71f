"""Hybrid retrieval's pooling: the partial sort that picks each source's best items."""

from __future__ import annotations

from itertools import islice

import numpy as np
import pytest

from retrieval.hybrid import best_rows


def full_sort(scores: np.ndarray) -> list[int]:
    """What pooling did before: every row sorted, best first and ties in row order, positive scores only."""
    return [int(r) for r in np.argsort(-scores, kind="stable") if scores[r] > 0]


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("first", [1, 5, 37])
def test_the_partial_sort_reads_the_rows_a_full_sort_gives(seed, first):
    rng = np.random.default_rng(seed)
    # Few distinct values, zeros and negatives: ties across every slice boundary.
    scores = rng.integers(-3, 8, size=500).astype(float)
    assert list(best_rows(scores, first)) == full_sort(scores)
    assert list(islice(best_rows(scores, first), 60)) == full_sort(scores)[:60]


def test_no_positive_score_gives_no_row():
    assert list(best_rows(np.array([0.0, -1.0, 0.0]), 3)) == []


def test_the_neighbours_pool_what_people_answered_and_every_candidate_carries_their_score(small_catalog):
    from retrieval.embedder import HashingEmbedder
    from retrieval.neighbours import ConversationNeighbours, NeighbourConfig
    from retrieval.query import RetrievalQuery
    from retrieval.retriever import InMemoryRetriever
    from retrieval.hybrid import HybridRetriever

    embedder = HashingEmbedder()
    request = "something to watch with friends tonight"
    # One training turn whose context is this very request, answered with Office Jokes (never mentioned in
    # the logs): no word of the request is in its text, so only the neighbours find it.
    neighbours = ConversationNeighbours(NeighbourConfig(k=1)).fit(embedder.embed([request]), [("c3",)], ["c3"])
    dense = InMemoryRetriever(small_catalog, embedder)
    query = RetrievalQuery(request, k=1)
    without = HybridRetriever(dense, None, None, pool=1)
    found = HybridRetriever(dense, None, None, pool=1, neighbours=neighbours)
    assert "c3" not in [c.item_id for c in without.retrieve(query)]
    pooled = {c.item_id: c for c in found.retrieve(query)}
    assert pooled["c3"].neighbours == pytest.approx(1.0)
    assert all(c.neighbours == 0.0 for i, c in pooled.items() if i != "c3")
    assert "neighbours" in found.describe() and "neighbours" not in found.without("neighbours").describe()
    # A request read by another index (another language) is not in the neighbours' space: no score.
    multilingual = InMemoryRetriever(small_catalog, HashingEmbedder(dimension=64))
    other = HybridRetriever(dense, None, None, pool=1, neighbours=neighbours, multilingual=multilingual)
    assert all(c.neighbours == 0.0 for c in other.retrieve(RetrievalQuery(request, k=1, language="zh")))


def test_what_the_conversations_name_for_what_to_avoid_is_marked_avoided(small_catalog):
    """ "a funny film, no superhero films please": no item's text says superhero, but the conversation that asked
    for superhero films was answered with Star Voyage, so it is marked for the ranker to put last."""
    from retrieval.embedder import HashingEmbedder
    from retrieval.neighbours import ConversationNeighbours
    from retrieval.query import RetrievalQuery
    from retrieval.retriever import InMemoryRetriever
    from retrieval.hybrid import HybridRetriever

    embedder = HashingEmbedder()
    asked = ["superhero films please", "a funny film"]
    neighbours = ConversationNeighbours().fit(embedder.embed(asked), [("s1",), ("c1", "c3")], small_catalog.ids())
    found = HybridRetriever(InMemoryRetriever(small_catalog, embedder), None, None, pool=8, neighbours=neighbours)
    query = RetrievalQuery("a funny film", avoid_text="superhero", ruled_out_text="superhero films please", k=8)
    assert {c.item_id for c in found.retrieve(query) if c.avoided} == {"s1"}
    assert not any(c.avoided for c in found.retrieve(RetrievalQuery("a funny film", k=8)))
    # A matter of degree ("not too ..."): avoided words, but nothing ruled out, so nothing is pushed last.
    assert not any(c.avoided for c in found.retrieve(RetrievalQuery("a funny film", avoid_text="superhero", k=8)))
    # What the request itself asks for is not avoided: "superhero films, none of them funny" keeps Star Voyage.
    wanted = RetrievalQuery("superhero films please", avoid_text="funny", ruled_out_text="a funny film", k=8)
    assert {c.item_id for c in found.retrieve(wanted) if c.avoided} == {"c1", "c3"}
    switched_off = HybridRetriever(
        InMemoryRetriever(small_catalog, embedder), None, None, pool=8, neighbours=neighbours, avoid_share=1.0
    )
    assert not any(c.avoided for c in switched_off.retrieve(query))
    # What no training conversation talked about marks nothing: here the nearest contexts' mean cosine is below 1.
    unheard = HybridRetriever(
        InMemoryRetriever(small_catalog, embedder), None, None, pool=8, neighbours=neighbours, avoid_closeness=1.0
    )
    assert not any(c.avoided for c in unheard.retrieve(query))
