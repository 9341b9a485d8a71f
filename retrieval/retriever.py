"""Retrievers: one interface, a Chroma-backed implementation and an in-memory fake.

Both compose the query vector the same way (:func:`retrieval.query.compose_query_vector`)
and differ only in how they find nearest neighbours under constraints, so the shared
conformance test in ``tests/retrieval`` holds them to the same behaviour.

Example::

    >>> from tailtalk.catalog import Catalog, Item
    >>> from retrieval.embedder import HashingEmbedder
    >>> from retrieval.retriever import InMemoryRetriever
    >>> from retrieval.query import RetrievalQuery
    >>> cat = Catalog((Item(id="1", title="Space opera", description="stars and ships"),
    ...                Item(id="2", title="Cooking show", description="recipes and kitchens")))
    >>> r = InMemoryRetriever(cat, HashingEmbedder())
    >>> r.retrieve(RetrievalQuery(text="ships among the stars", k=1))[0].item_id
    '1'
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import cached_property
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from tailtalk.catalog import Catalog
from tailtalk.config import setting_default
from retrieval.embedder import Embedder
from retrieval.index import open_index, store_failure, vectors_of
from retrieval.query import (
    Candidate,
    RetrievalQuery,
    compose_query_vector,
    encoded_texts,
    most_popular,
    without_words,
)
from tailtalk.constraints import AdmissionMasks, Constraints


class QueryVectors(NamedTuple):
    composed: np.ndarray | None  # the text, the liked items and what to avoid (:func:`compose_query_vector`)
    text: np.ndarray | None  # the text alone, pushed away from what to avoid
    ruled_out: np.ndarray | None  # what the person firmly ruled out, alone


@runtime_checkable
class Retriever(Protocol):
    catalog: Catalog

    def retrieve(self, query: RetrievalQuery) -> list[Candidate]: ...

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]: ...

    def describe(self) -> str: ...

    def reads(self, language: str) -> bool:
        """Whether a request in ``language`` is read by an index made for it."""
        ...

    def evidence(self, item_id: str, liked: Sequence[str]) -> str | None:
        """The liked item beside which people most often named ``item_id``, where the retriever knows."""
        ...


_BOUND_OVERFETCH = 4
# More excluded items than this (a shop's "only this product type") go into a `$nin` filter instead of the
# over-fetch, which would otherwise ask Chroma for nearly the whole collection.
_EXCLUDED_AFTER_SEARCH = 500


class VectorRetriever(ABC):
    """Shared query shaping; subclasses supply nearest-neighbour search and stored vectors."""

    def __init__(
        self,
        catalog: Catalog,
        embedder: Embedder,
        *,
        liked_weight: float = setting_default("liked_weight"),
        avoid_weight: float = setting_default("avoid_weight"),
    ):
        self.catalog = catalog
        self.embedder = embedder
        self.liked_weight = liked_weight
        self.avoid_weight = avoid_weight

    @abstractmethod
    def describe(self) -> str: ...

    def reads(self, language: str) -> bool:
        """A dense index of one embedding model reads English (the multilingual one is wrapped by the hybrid)."""
        return language == "en"

    def evidence(self, item_id: str, liked: Sequence[str]) -> str | None:
        """No collaborative evidence: a dense index knows texts, not who named what beside what."""
        return None

    def retrieve(self, query: RetrievalQuery) -> list[Candidate]:
        return self.search(self.query_vector(query), query.constraints, query.k)

    def search(self, vector: np.ndarray | None, constraints: Constraints, k: int) -> list[Candidate]:
        """The k nearest admissible items to ``vector``; the most popular ones when there is no vector."""
        if vector is None:
            return most_popular(self.catalog.items, constraints, k)
        if not (constraints.bounded_fields or constraints.include_categories or constraints.exclude_categories):
            return self._nearest(vector, constraints, k)
        # Bounds are applied here, over an over-fetch: Chroma cannot say "a missing year passes". So are
        # categories when the over-fetch should hold k admissible items ("no horror" keeps 90% of films): a
        # category filter in the store scans every item's metadata (docs/performance.md). A rare required
        # category (a child's film), or an over-fetch that falls short, is filtered by the store.
        unfiltered = replace(constraints, include_categories=frozenset(), exclude_categories=frozenset())
        no_categories = unfiltered == constraints
        if no_categories or self._admitted_share(constraints) * _BOUND_OVERFETCH >= 2:
            admitted = self._only_admitted(constraints, self._nearest(vector, unfiltered, k * _BOUND_OVERFETCH))
            if no_categories or len(admitted) >= k:
                return admitted[:k]
        fetch = k * _BOUND_OVERFETCH if constraints.bounded_fields else k
        return self._only_admitted(constraints, self._nearest(vector, constraints, fetch))[:k]

    def _only_admitted(self, constraints: Constraints, found: list[Candidate]) -> list[Candidate]:
        return [c for c in found if constraints.admits(self.catalog.get(c.item_id))]

    def _admitted_share(self, constraints: Constraints) -> float:
        """About what share of the catalogue the category constraints admit (categories counted once)."""
        share = self._category_share
        wanted = min(1.0, sum(share.get(c, 0.0) for c in constraints.include_categories))
        kept = max(0.0, 1.0 - sum(share.get(c, 0.0) for c in constraints.exclude_categories))
        return (wanted if constraints.include_categories else 1.0) * kept

    @cached_property
    def _category_share(self) -> dict[str, float]:
        counts = Counter(c for item in self.catalog for c in item.categories)
        return {c: n / max(len(self.catalog), 1) for c, n in counts.items()}

    def query_vector(self, query: RetrievalQuery) -> np.ndarray | None:
        """The composed, normalised query vector; None when the query states no direction."""
        return self.query_vectors(query).composed

    def query_vectors(self, query: RetrievalQuery) -> QueryVectors:
        """The composed query vector (:meth:`query_vector`), the vector of the query's text alone (less the words
        to avoid, and pushed away from them as the composed one is), and the vector of what was ruled out, from
        one call to the encoder (each None when there is nothing to encode)."""
        texts = encoded_texts(query)
        encoded = dict(zip(texts, self.embedder.embed(texts))) if texts else {}
        liked = self.vectors(query.like_ids)
        text_vector = encoded.get(query.text.strip())
        avoid_vector = encoded.get(query.avoid_text.strip())
        composed = compose_query_vector(
            text_vector,
            np.stack(list(liked.values())) if liked else None,
            avoid_vector,
            liked_weight=self.liked_weight,
            avoid_weight=self.avoid_weight,
        )
        # "an action movie but nothing with superheroes" asks for action films: the text alone is read without
        # the words to avoid, or it reads like the conversations that asked for superhero films.
        text_alone = compose_query_vector(
            encoded.get(without_words(query.text, query.avoid_text).strip()),
            None,
            avoid_vector,
            liked_weight=self.liked_weight,
            avoid_weight=self.avoid_weight,
        )
        return QueryVectors(composed, text_alone, encoded.get(query.ruled_out_text.strip()))

    @abstractmethod
    def _nearest(self, vector: np.ndarray, constraints: Constraints, k: int) -> list[Candidate]: ...

    @abstractmethod
    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]: ...


class VectorCache:
    """Item vectors kept in memory, at most ``capacity`` of them; the oldest read goes first when full.

    Shared by a process's sessions (Gradio runs turns on worker threads), hence the lock.

        >>> cache = VectorCache(2)
        >>> cache.keep({"a": np.ones(2), "b": np.zeros(2), "c": np.ones(2)})
        >>> found, missing = cache.lookup(["a", "b", "c"])
        >>> sorted(found), missing
        (['b', 'c'], ['a'])
    """

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def lookup(self, ids: Iterable[str]) -> tuple[dict[str, np.ndarray], list[str]]:
        """The cached vectors of ``ids``, and the ids not cached, in their order."""
        found, missing = {}, []
        with self._lock:
            for item_id in ids:
                vector = self._vectors.get(item_id)
                if vector is None:
                    missing.append(item_id)
                else:
                    found[item_id] = vector
        return found, missing

    def keep(self, vectors: dict[str, np.ndarray]) -> None:
        if not self.capacity:
            return
        with self._lock:
            self._vectors.update(vectors)
            while len(self._vectors) > self.capacity:  # dicts keep insertion order: the first is the oldest
                del self._vectors[next(iter(self._vectors))]


class ChromaRetriever(VectorRetriever):
    """Nearest neighbours from the Chroma index, with constraints as ``where`` filters.

    The index may hold items this process's catalogue lacks (upserted while it serves): they
    are skipped, since they can be neither ranked nor described. A Chroma failure while
    serving (its folder removed, its database damaged) is an :class:`IndexUnavailableError`
    saying what to do, not an internal fault.
    """

    def __init__(self, catalog: Catalog, embedder: Embedder, settings, **weights: float):
        super().__init__(catalog, embedder, **weights)
        self.settings = settings
        self.collection = open_index(settings, catalog, embedder)
        # Read once, kept for the process's life, as the catalogue it serves is (read at start).
        self._cached = VectorCache(settings.vector_cache_items)

    def _nearest(self, vector: np.ndarray, constraints: Constraints, k: int) -> list[Candidate]:
        # Excluded items (shown, disliked, named) are dropped after the search, not by a `$nin` filter:
        # Chroma scans the whole collection for a `where` (534 ms at 300k items), while fetching k + their
        # number more neighbours costs next to nothing. Past _EXCLUDED_AFTER_SEARCH of them the filter is cheaper.
        excluded = constraints.exclude_ids
        where = constraints.to_chroma_where()
        extra = len(excluded)
        if extra > _EXCLUDED_AFTER_SEARCH:  # a shop's "not of this product type" excludes most items: filter
            nin = {"item_id": {"$nin": sorted(excluded)}}
            where, extra = ({"$and": [where, nin]} if where else nin), 0
        with self._store():
            result = self.collection.query(
                query_embeddings=[vector.tolist()],
                n_results=k + extra,
                where=where,
                include=["distances"],
            )
        return [
            Candidate(i, 1.0 - float(d))
            for i, d in zip(result["ids"][0], result["distances"][0])
            if i in self.catalog and i not in excluded
        ][:k]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        found, missing = self._cached.lookup(i for i in ids if i in self.catalog)
        if missing:
            with self._store():
                read = vectors_of(self.collection, missing)
            self._cached.keep(read)
            found |= read
        return found

    @contextmanager
    def _store(self) -> Iterator[None]:
        from chromadb.errors import ChromaError

        try:
            yield
        except ChromaError as exc:
            raise store_failure(self.settings, self.embedder.name, exc) from exc

    def describe(self) -> str:
        return f"Chroma index '{self.collection.name}' ({self.collection.count()} items, {self.embedder.name})"


class InMemoryRetriever(VectorRetriever):
    """Exact search over vectors held in memory; the fake for unit tests, and exact by construction."""

    def __init__(self, catalog: Catalog, embedder: Embedder, vectors: np.ndarray | None = None, **weights: float):
        super().__init__(catalog, embedder, **weights)
        self._ids = catalog.ids()
        self._matrix = vectors if vectors is not None else embedder.embed([i.embedding_text() for i in catalog])
        self._row = {item_id: row for row, item_id in enumerate(self._ids)}
        self._masks = AdmissionMasks(catalog.items)

    def _nearest(self, vector: np.ndarray, constraints: Constraints, k: int) -> list[Candidate]:
        scores = self._matrix @ vector
        admitted = self._masks.admitted(constraints)
        order = np.flatnonzero(admitted)
        order = order[top_rows(scores[order], k)]
        return [Candidate(self._ids[row], float(scores[row])) for row in order]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return {i: self._matrix[self._row[i]] for i in ids if i in self._row}

    def describe(self) -> str:
        return f"in-memory vectors ({len(self._ids)} items, {self.embedder.name})"


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """The rows of the ``k`` highest scores, best first, ties in row order: exactly
    ``np.argsort(-scores, kind="stable")[:k]``, without sorting every row (a partition finds the k-th best).

    >>> top_rows(np.array([0.1, 0.9, 0.5, 0.9, 0.2]), 3).tolist()
    [1, 3, 2]
    """
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    kth_best = -np.partition(-scores, k - 1)[k - 1]
    if np.isnan(kth_best):  # NaN scores sort last in argsort: let it place them
        return np.argsort(-scores, kind="stable")[:k]
    rows = np.flatnonzero(scores >= kth_best)  # every tie of the k-th best, in row order
    return rows[np.argsort(-scores[rows], kind="stable")][:k]
