"""Every Ranker honours the same contract."""

from __future__ import annotations

import pytest

from retrieval.query import Candidate
from retrieval.embedder import HashingEmbedder
from retrieval.retriever import InMemoryRetriever
from ranking.base import PopularityPriorRanker, Ranker, RankingContext, SimilarityRanker
from ranking.diversity import DiversityReranker


@pytest.fixture(params=["dense", "baseline", "reranked"])
def ranker(request, small_catalog) -> Ranker:
    if request.param == "dense":
        return SimilarityRanker(small_catalog)
    if request.param == "baseline":
        return PopularityPriorRanker(small_catalog, 0.05)
    vectors = InMemoryRetriever(small_catalog, HashingEmbedder()).vectors
    return DiversityReranker(PopularityPriorRanker(small_catalog, 0.05), vectors, 0.5)


CANDIDATES = [Candidate("c3", 0.31), Candidate("h1", 0.30), Candidate("c2", 0.10), Candidate("s1", 0.05)]


def test_is_a_ranker(ranker):
    assert isinstance(ranker, Ranker)


def test_ranks_a_subset_of_candidates_best_first(ranker):
    ranked = ranker.rank(RankingContext("q"), CANDIDATES, k=3)
    assert len(ranked) == 3
    assert {r.item_id for r in ranked} <= {c.item_id for c in CANDIDATES}
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)


def test_deterministic_and_empty_safe(ranker):
    context = RankingContext("q")
    assert ranker.rank(context, CANDIDATES, k=4) == ranker.rank(context, CANDIDATES, k=4)
    assert ranker.rank(context, [], k=4) == []


def test_tail_flags_follow_the_80_percent_split(ranker):
    # popularity: s1 50, h1 40, c1 30 (total 131 incl. others): head = s1, h1, c1 reach 120/131 >= 80%
    flags = {r.item_id: r.is_tail for r in ranker.rank(RankingContext("q"), CANDIDATES, k=4)}
    assert flags == {"c3": True, "h1": False, "c2": True, "s1": False}


def test_popularity_prior_breaks_near_ties(small_catalog):
    dense = [r.item_id for r in SimilarityRanker(small_catalog).rank(RankingContext("q"), CANDIDATES, k=2)]
    prior = [r.item_id for r in PopularityPriorRanker(small_catalog, 0.05).rank(RankingContext("q"), CANDIDATES, k=2)]
    assert dense == ["c3", "h1"]
    assert prior == ["h1", "c3"]  # h1: 0.30 + 0.05*log(41)/log(51) = 0.3472 > c3: 0.31
