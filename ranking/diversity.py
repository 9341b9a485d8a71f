"""Long-tail and diversity re-ranking: one knob, ``diversity`` (lambda in [0, 1]).

Greedy selection in the spirit of MMR (Carbonell & Goldstein 1998) and xQuAD (Santos et
al. 2010): from the inner ranker's best ``pool`` candidates, repeatedly take ::

    argmax_i  (1 - lambda) * rel_i  +  lambda * ( 1/2 * (1 - max_{j in S} cos(v_i, v_j))  +  1/2 * tail_i )

where ``rel_i`` is the inner score min-max normalised over the pool, ``S`` the items
already chosen, ``v`` the item embeddings and ``tail_i`` is 1 for a long-tail item
(outside the head that holds 80% of training mentions), else 0. ``lambda = 0`` keeps
the inner order exactly; larger values buy intra-list diversity and tail exposure with
relevance. The Pareto table in docs/ranking.md shows what each setting costs.

Example::

    >>> import numpy as np
    >>> from tailtalk.catalog import Catalog, Item
    >>> from retrieval.query import Candidate
    >>> from ranking.base import RankingContext, SimilarityRanker
    >>> from ranking.diversity import DiversityReranker
    >>> cat = Catalog((Item(id="a", title="A", popularity=9), Item(id="b", title="B", popularity=0),
    ...                Item(id="c", title="C", popularity=1)))
    >>> vecs = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0]), "c": np.array([1.0, 0.0])}
    >>> lookup = lambda ids: {i: vecs[i] for i in ids}
    >>> cands = [Candidate("a", .9), Candidate("c", .8), Candidate("b", .5)]
    >>> [x.item_id for x in DiversityReranker(SimilarityRanker(cat), lookup, 0.0).rank(RankingContext("q"), cands, 2)]
    ['a', 'c']
    >>> [x.item_id for x in DiversityReranker(SimilarityRanker(cat), lookup, 0.9).rank(RankingContext("q"), cands, 2)]
    ['c', 'b']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from retrieval.query import Candidate
from ranking.base import RankedItem, Ranker, RankingContext, RankOptions, ScoringRanker

VectorLookup = Callable[[Sequence[str]], dict[str, np.ndarray]]


class DiversityReranker:
    """Wraps any ranker; re-orders its top ``pool`` by the formula above. Scores become the selection gains."""

    def __init__(self, inner: Ranker, vectors: VectorLookup, diversity: float, *, pool: int = 50):
        if not 0.0 <= diversity <= 1.0:
            raise ValueError(f"diversity must be between 0 and 1, got {diversity}")
        self.inner = inner
        self.vectors = vectors
        self.diversity = diversity
        self.pool = pool
        self.name = inner.name

    @property
    def applies(self) -> bool:
        """Whether re-ranking changes anything. Not at 0, and not over a catalogue without popularity (a new
        shop): it has no long tail to expose, and the diversity term alone cost MG-ShopDial 3 points of
        Recall@10 (docs/ranking.md)."""
        has_tail = self.inner.has_long_tail if isinstance(self.inner, ScoringRanker) else True
        return self.diversity > 0 and has_tail

    def with_diversity(self, diversity: float) -> DiversityReranker:
        return DiversityReranker(self.inner, self.vectors, diversity, pool=self.pool)

    def with_inner(self, inner: Ranker) -> DiversityReranker:
        return DiversityReranker(inner, self.vectors, self.diversity, pool=self.pool)

    def with_vectors(self, vectors: VectorLookup) -> DiversityReranker:
        """The same re-ranker reading item vectors elsewhere (the harness's in-memory copy of the index)."""
        return DiversityReranker(self.inner, vectors, self.diversity, pool=self.pool)

    def score(self, context: RankingContext, candidates: list[Candidate]) -> np.ndarray:
        return self.inner.score(context, candidates)

    tunes_diversity = True

    def rank(
        self, context: RankingContext, candidates: list[Candidate], k: int, options: RankOptions = RankOptions()
    ) -> list[RankedItem]:
        if options.diversity is not None and options.diversity != self.diversity:
            return self.with_diversity(options.diversity).rank(context, candidates, k)
        if not self.applies:
            return self.inner.rank(context, candidates, k)
        ranked = self.inner.rank(context, candidates, max(k, self.pool))
        if len(ranked) <= 1:
            return ranked[:k]
        return select(ranked, self.vectors([r.item_id for r in ranked]), self.diversity, k)

    def describe(self) -> str:
        return f"{self.inner.describe()}; long-tail/diversity re-ranking {self.diversity:g}"


def select(ranked: Sequence[RankedItem], vectors: dict[str, np.ndarray], diversity: float, k: int) -> list[RankedItem]:
    """Greedy MMR/xQuAD-style selection of ``k`` items (pure; see the module formula)."""
    scores = np.array([r.score for r in ranked], dtype=np.float64)
    spread = scores.max() - scores.min()
    relevance = (scores - scores.min()) / spread if spread > 0 else np.ones_like(scores)
    tail = np.array([1.0 if r.is_tail else 0.0 for r in ranked])
    dim = len(next(iter(vectors.values()))) if vectors else 1
    matrix = np.stack([vectors.get(r.item_id, np.zeros(dim)) for r in ranked])
    max_similarity = np.zeros(len(ranked))  # to the chosen set; an empty set is maximally novel
    chosen: list[tuple[int, float]] = []
    available = np.ones(len(ranked), dtype=bool)
    while len(chosen) < min(k, len(ranked)):
        gain = (1 - diversity) * relevance + diversity * (0.5 * (1 - max_similarity) + 0.5 * tail)
        gain[~available] = -np.inf
        best = int(np.argmax(gain))
        chosen.append((best, float(gain[best])))
        available[best] = False
        max_similarity = np.maximum(max_similarity, matrix @ matrix[best])
    # The selected gains never increase (the chosen set only grows), so the score keeps "best first".
    return [replace(ranked[i], score=g) for i, g in chosen]
