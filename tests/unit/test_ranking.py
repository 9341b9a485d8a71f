"""ranking.base: score formula, rank contract, tail flags."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ranking.base import PopularityPriorRanker, RankedItem, RankingContext, ScoringRanker, SimilarityRanker
from retrieval.query import Candidate
from tailtalk.catalog import Catalog, Item

CTX = RankingContext("q")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    # total 131; the 80% head is s1 (50), h1 (40), c1 (30): 120 >= 104.8
    pops = {"s1": 50, "h1": 40, "c1": 30, "h2": 5, "b1": 3, "c2": 2, "b2": 1, "c3": 0}
    return Catalog(tuple(Item(id=i, title=i.upper(), popularity=p) for i, p in pops.items()))


def test_prior_score_by_hand(catalog):
    ranker = PopularityPriorRanker(catalog, weight=0.05)
    scores = ranker.score(CTX, [Candidate("h1", 0.30), Candidate("c3", 0.31), Candidate("s1", 0.0)])
    # h1: 0.30 + 0.05 * ln(41) / ln(51); c3 has popularity 0; s1 is the most popular -> + w exactly
    np.testing.assert_allclose(scores, [0.3472245263853576, 0.31, 0.05], rtol=1e-12)
    assert scores[0] == pytest.approx(0.30 + 0.05 * math.log1p(40) / math.log1p(50), abs=1e-15)


def test_prior_weight_zero_is_pure_similarity(catalog):
    ranker = PopularityPriorRanker(catalog, weight=0.0)
    np.testing.assert_array_equal(ranker.score(CTX, [Candidate("s1", 0.2), Candidate("c3", 0.7)]), [0.2, 0.7])


def test_prior_with_no_popularity_at_all_does_not_divide_by_zero():
    cat = Catalog((Item(id="a", title="A"), Item(id="b", title="B", popularity=0)))
    ranker = PopularityPriorRanker(cat, weight=0.5)
    np.testing.assert_array_equal(ranker.score(CTX, [Candidate("a", 0.4), Candidate("b", 0.1)]), [0.4, 0.1])


def test_prior_breaks_near_ties_dense_does_not(catalog):
    candidates = [Candidate("c3", 0.31), Candidate("h1", 0.30), Candidate("c2", 0.10), Candidate("s1", 0.05)]
    assert [r.item_id for r in SimilarityRanker(catalog).rank(CTX, candidates, k=2)] == ["c3", "h1"]
    assert [r.item_id for r in PopularityPriorRanker(catalog, 0.05).rank(CTX, candidates, k=2)] == ["h1", "c3"]


def test_rank_returns_at_most_k_sorted_with_tail_flags(catalog):
    candidates = [
        Candidate("c3", 0.9),
        Candidate("h1", 0.3),
        Candidate("c2", 0.5),
        Candidate("s1", 0.1),
        Candidate("c1", 0.7),
    ]
    ranked = SimilarityRanker(catalog).rank(CTX, candidates, k=4)
    assert ranked == [
        RankedItem("c3", 0.9, 0.9, True),
        RankedItem("c1", 0.7, 0.7, False),
        RankedItem("c2", 0.5, 0.5, True),
        RankedItem("h1", 0.3, 0.3, False),
    ]
    assert len(SimilarityRanker(catalog).rank(CTX, candidates, k=50)) == 5


def test_prior_rank_keeps_similarity_and_returns_scores(catalog):
    (top,) = PopularityPriorRanker(catalog, 0.05).rank(CTX, [Candidate("h1", 0.30), Candidate("c3", 0.31)], k=1)
    assert top.item_id == "h1" and top.similarity == 0.30 and not top.is_tail
    assert top.score == pytest.approx(0.3472245263853576, rel=1e-12)


def test_head_is_the_80_percent_split(catalog):
    assert SimilarityRanker(catalog).head == frozenset({"s1", "h1", "c1"})


def test_ties_keep_retrieval_order(catalog):
    candidates = [Candidate("c3", 0.5), Candidate("b2", 0.5), Candidate("c2", 0.5)]
    assert [r.item_id for r in SimilarityRanker(catalog).rank(CTX, candidates, k=3)] == ["c3", "b2", "c2"]


@pytest.mark.parametrize("k", [0, -1])
def test_k_below_one_raises(catalog, k):
    with pytest.raises(ValueError, match=f"k must be at least 1, got {k}"):
        SimilarityRanker(catalog).rank(CTX, [Candidate("c3", 0.5)], k=k)


def test_empty_candidates(catalog):
    assert PopularityPriorRanker(catalog).rank(CTX, [], k=3) == []


def test_scoring_ranker_is_abstract(catalog):
    with pytest.raises(NotImplementedError):
        ScoringRanker(catalog).rank(CTX, [Candidate("c3", 0.5)], k=1)


def test_describe(catalog):
    assert SimilarityRanker(catalog).describe() == "dense"
    assert PopularityPriorRanker(catalog, 0.05).describe() == "baseline scorer (similarity + 0.05 x log-popularity)"
    assert PopularityPriorRanker(catalog, 0.05, "trained scorer").describe() == "trained scorer"
