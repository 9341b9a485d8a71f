"""The long-tail/diversity re-ranker: hand-computed selections and the knob's direction."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.query import Candidate
from ranking.base import RankedItem, RankingContext, SimilarityRanker
from ranking.diversity import DiversityReranker, select


def _item(item_id: str, score: float, tail: bool) -> RankedItem:
    return RankedItem(item_id, score, score, tail)


def test_zero_keeps_the_inner_order_and_scores():
    ranked = [_item("a", 0.9, False), _item("b", 0.5, True)]
    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([1.0, 0.0])}
    assert [r.item_id for r in select(ranked, vectors, 0.0, 2)] == ["a", "b"]


def test_selection_by_hand():
    # relevance after min-max: a 1, b 0.5, c 0;  a and b identical vectors, c orthogonal; only c is tail.
    ranked = [_item("a", 0.9, False), _item("b", 0.7, False), _item("c", 0.5, True)]
    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([1.0, 0.0]), "c": np.array([0.0, 1.0])}
    # lambda 0.4, step 1: a .6*1+.4*.5 = .8; b .6*.5+.4*.5 = .5; c 0+.4*(.5+.5) = .4  -> a (gain .8)
    # step 2: b .3+.4*(.5*0) = .3; c .4*(.5*1+.5) = .4                                   -> c (gain .4)
    chosen = select(ranked, vectors, 0.4, 2)
    assert [r.item_id for r in chosen] == ["a", "c"]
    assert [r.score for r in chosen] == pytest.approx([0.8, 0.4])


def test_more_diversity_means_more_tail_items(small_catalog):
    candidates = [
        Candidate(i.id, 1.0 - n * 0.05) for n, i in enumerate(sorted(small_catalog, key=lambda i: -(i.popularity or 0)))
    ]
    vectors = {i.id: np.eye(8)[n] for n, i in enumerate(small_catalog)}
    tail_share = []
    for knob in (0.0, 0.5, 1.0):
        ranked = DiversityReranker(
            SimilarityRanker(small_catalog), lambda ids: {i: vectors[i] for i in ids}, knob
        ).rank(RankingContext("q"), candidates, 3)
        tail_share.append(sum(r.is_tail for r in ranked) / 3)
    assert tail_share[0] < tail_share[1] <= tail_share[2] and tail_share[2] == 1.0


def test_knob_out_of_range_is_refused(small_catalog):
    with pytest.raises(ValueError, match="between 0 and 1"):
        DiversityReranker(SimilarityRanker(small_catalog), lambda ids: {}, 1.5)


def test_a_catalogue_without_popularity_is_left_in_relevance_order():
    """A new shop has no long tail to expose: the knob must not trade relevance for diversity alone."""
    import numpy as np

    from tailtalk.catalog import Catalog, Item
    from retrieval.query import Candidate
    from ranking.base import RankingContext, SimilarityRanker
    from ranking.diversity import DiversityReranker

    shop = Catalog((Item(id="a", title="A"), Item(id="b", title="B"), Item(id="c", title="C")))
    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([1.0, 0.0]), "c": np.array([0.0, 1.0])}
    reranker = DiversityReranker(SimilarityRanker(shop), lambda ids: {i: vectors[i] for i in ids}, 0.9)
    ranked = reranker.rank(RankingContext("q"), [Candidate("a", 0.9), Candidate("b", 0.8), Candidate("c", 0.1)], 2)
    assert not reranker.applies and [r.item_id for r in ranked] == ["a", "b"]
    assert not any(r.is_tail for r in ranked)  # nothing is known to be long-tail, so nothing is badged
