"""What the agent asks retrieval for, and what retrieval hands to ranking.

Example::

    >>> from retrieval.query import Constraints
    >>> Constraints(year_min=1990, year_max=1999, exclude_categories=frozenset({"horror"})).to_chroma_where()
    {'categories': {'$not_contains': 'horror'}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tailtalk.catalog import Item


@dataclass(frozen=True)
class Constraints:
    """Hard constraints: an item that breaks one is never retrieved.

    ``include_categories`` means "at least one of these"; the others are conjunctive.
    A missing field never excludes an item: one with no year (or price) passes a year (or
    price) bound, and the ranker puts it after every item known to meet the bound.
    """

    include_categories: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()
    year_min: int | None = None
    year_max: int | None = None
    price_min: float | None = None
    price_max: float | None = None
    exclude_ids: frozenset[str] = frozenset()

    def admits(self, item: Item) -> bool:
        categories = set(item.categories)
        if self.include_categories and not categories & self.include_categories:
            return False
        if categories & self.exclude_categories:
            return False
        if item.id in self.exclude_ids:
            return False
        for value, low, high in (
            (item.year, self.year_min, self.year_max),
            (item.price, self.price_min, self.price_max),
        ):
            if value is None:
                continue
            if low is not None and value < low:
                return False
            if high is not None and value > high:
                return False
        return True

    def to_chroma_where(self) -> dict[str, Any] | None:
        """The category filters as a Chroma ``where``. Excluded ids are no filter: a retriever drops them
        from a search that fetched that many more (a `$nin` scans the whole collection)."""
        clauses: list[dict[str, Any]] = []
        if len(self.include_categories) == 1:
            clauses.append({"categories": {"$contains": next(iter(self.include_categories))}})
        elif self.include_categories:
            clauses.append({"$or": [{"categories": {"$contains": c}} for c in sorted(self.include_categories)]})
        clauses += [{"categories": {"$not_contains": c}} for c in sorted(self.exclude_categories)]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    @property
    def bounded_fields(self) -> frozenset[str]:
        """The fields a bound is set on ("year", "price")."""
        return frozenset(
            name
            for name, low, high in (("year", self.year_min, self.year_max), ("price", self.price_min, self.price_max))
            if low is not None or high is not None
        )


@dataclass(frozen=True)
class RetrievalQuery:
    """``text`` says what is wanted; ``like_ids`` pull towards items, ``avoid_text`` pushes away.

    ``seed_ids`` are the items the conversation has named, oldest first, and ``disliked_ids`` those of
    them the person rejected: the collaborative source finds what people name beside them.
    """

    text: str
    constraints: Constraints = field(default_factory=Constraints)
    like_ids: tuple[str, ...] = ()
    avoid_text: str = ""
    k: int = 50
    seed_ids: tuple[str, ...] = ()
    disliked_ids: tuple[str, ...] = ()
    language: str = "en"  # of the person's latest message: "zh" is read by the multilingual index


@dataclass(frozen=True)
class Candidate:
    item_id: str
    similarity: float  # cosine similarity between the composed query vector and the item
    lexical: float = 0.0  # BM25 of the item's whole text for the query text (hybrid retrieval)
    collaborative: float = 0.0  # how often people name it beside the conversation's items (hybrid retrieval)


def compose_query_vector(
    text_vector: np.ndarray | None,
    liked_vectors: np.ndarray | None,
    avoid_vector: np.ndarray | None,
    *,
    liked_weight: float,
    avoid_weight: float,
) -> np.ndarray | None:
    """q = normalise(t + w_like * mean(liked) - w_avoid * a): Rocchio-style query shaping.

    Returns None when nothing positive was stated (no text, no liked items): there is
    then no direction to search in, and retrieval falls back to popularity.
    """
    parts = []
    if text_vector is not None:
        parts.append(text_vector)
    if liked_vectors is not None and len(liked_vectors):
        parts.append(liked_weight * liked_vectors.mean(axis=0))
    if not parts:
        return None
    query = np.sum(parts, axis=0)
    if avoid_vector is not None:
        query = query - avoid_weight * avoid_vector
    norm = float(np.linalg.norm(query))
    return (query / norm).astype(np.float32) if norm > 0 else None


def most_popular(items: list[Item] | tuple[Item, ...], constraints: Constraints, k: int) -> list[Candidate]:
    """The k most popular admissible items, for a query with no direction yet."""
    admitted = [item for item in items if constraints.admits(item)]
    admitted.sort(key=lambda item: (-(item.popularity or 0.0), item.id))
    return [Candidate(item.id, 0.0) for item in admitted[:k]]
