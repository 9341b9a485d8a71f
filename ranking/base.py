"""The ranking interface, after Cornac: ``score`` candidates, ``rank`` the top k.

Example::

    >>> from tailtalk.catalog import Catalog, Item
    >>> from retrieval.query import Candidate
    >>> from ranking.base import RankingContext, SimilarityRanker
    >>> cat = Catalog((Item(id="a", title="A"), Item(id="b", title="B")))
    >>> ranked = SimilarityRanker(cat).rank(RankingContext("x"), [Candidate("a", 0.2), Candidate("b", 0.9)], k=1)
    >>> [r.item_id for r in ranked]
    ['b']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from tailtalk.catalog import Catalog
from tailtalk.config import setting_default
from tailtalk.popularity import head_tail_split, log_popularity_prior
from retrieval.query import Candidate


@dataclass(frozen=True)
class RankingContext:
    """What a ranker may know about the turn: the interest text, the dialogue so far, the categories
    the person wished for (a wish is a score, not a filter) and the items named so far."""

    query_text: str
    dialogue_text: str = ""
    wished_categories: frozenset[str] = frozenset()
    bounded_fields: frozenset[str] = frozenset()  # "year", "price": an item missing one comes after those that have it
    # The items the conversation has named that may steer it (not the disliked ones): ranking favours picks
    # that share their people or their era.
    named_ids: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()  # what the films should be about, in the person's words ("christmas", "zombie")


@dataclass(frozen=True)
class RankOptions:
    """Per-call options of :meth:`Ranker.rank`; a ranker ignores those it has no use for. ``diversity``
    overrides the long-tail/diversity knob for this call (this person's slider, "less mainstream")."""

    diversity: float | None = None


@dataclass(frozen=True)
class RankedItem:
    item_id: str
    score: float
    similarity: float
    is_tail: bool


@runtime_checkable
class Ranker(Protocol):
    name: str

    def score(self, context: RankingContext, candidates: list[Candidate]) -> np.ndarray: ...

    def rank(
        self, context: RankingContext, candidates: list[Candidate], k: int, options: RankOptions = RankOptions()
    ) -> list[RankedItem]: ...

    def describe(self) -> str: ...

    @property
    def tunes_diversity(self) -> bool:
        """Whether ``RankOptions.diversity`` changes anything."""
        ...


class ScoringRanker:
    """Ranks by ``score``; subclasses define the score. Ties keep retrieval order."""

    name = "scoring"

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.head = head_tail_split({i.id: float(i.popularity or 0.0) for i in catalog})

    @property
    def has_long_tail(self) -> bool:
        """Whether the catalogue's popularity splits it into head and tail (a new shop's does not)."""
        return bool(self.head)

    def score(self, context: RankingContext, candidates: list[Candidate]) -> np.ndarray:
        raise NotImplementedError

    tunes_diversity = False

    def rank(
        self, context: RankingContext, candidates: list[Candidate], k: int, options: RankOptions = RankOptions()
    ) -> list[RankedItem]:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if not candidates:
            return []
        scores = self.score(context, candidates)
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            # Without popularity (a new shop) nothing is known to be long-tail: no item is badged as such.
            RankedItem(
                candidates[i].item_id,
                float(scores[i]),
                candidates[i].similarity,
                self.has_long_tail and candidates[i].item_id not in self.head,
            )
            for i in order
        ]

    def describe(self) -> str:
        return self.name


class SimilarityRanker(ScoringRanker):
    """Dense retrieval order alone: the fast fake, and the 'dense' baseline of the harness."""

    name = "dense"

    def score(self, context: RankingContext, candidates: list[Candidate]) -> np.ndarray:
        return np.array([c.similarity for c in candidates], dtype=np.float64)


class PopularityPriorRanker(ScoringRanker):
    """Baseline scorer: s(i) = cos(q, i) + w * log(1 + pop_i) / log(1 + max_pop).

    The log keeps a blockbuster with 500 mentions from drowning a well-matched film with
    5; ``w`` (``popularity_weight``) sets how much popularity may break near-ties.
    """

    name = "baseline"

    def __init__(
        self, catalog: Catalog, weight: float = setting_default("popularity_weight"), description: str | None = None
    ):
        super().__init__(catalog)
        self.weight = weight
        self.description = description
        self._prior = log_popularity_prior({i.id: float(i.popularity or 0.0) for i in catalog})

    def score(self, context: RankingContext, candidates: list[Candidate]) -> np.ndarray:
        prior = np.fromiter((self._prior[c.item_id] for c in candidates), dtype=np.float64, count=len(candidates))
        similarity = np.fromiter((c.similarity for c in candidates), dtype=np.float64, count=len(candidates))
        return similarity + self.weight * prior

    def describe(self) -> str:
        return self.description or f"baseline scorer (similarity + {self.weight:g} x log-popularity)"
