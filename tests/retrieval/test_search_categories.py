"""Category constraints in ``VectorRetriever.search``: over an over-fetch when the catalogue's shares say it
should hold enough admitted items, else (or when it falls short) by the store's own filter. The result is
the k nearest admitted items either way."""

from __future__ import annotations

import numpy as np

from retrieval.embedder import HashingEmbedder
from retrieval.retriever import InMemoryRetriever
from tailtalk.catalog import Catalog, Item
from tailtalk.constraints import Constraints


class CountingRetriever(InMemoryRetriever):
    """Records the constraints each store search was given."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.searched: list[Constraints] = []

    def _nearest(self, vector, constraints, k):
        self.searched.append(constraints)
        return super()._nearest(vector, constraints, k)


def _retriever(dramas: int, comedies: int) -> tuple[CountingRetriever, np.ndarray]:
    """Dramas nearest to the query (in order), comedies further, every item at its own distance."""
    items = [Item(id=f"d{n}", title=f"D{n}", categories=("drama",)) for n in range(dramas)]
    items += [Item(id=f"c{n}", title=f"C{n}", categories=("comedy",)) for n in range(comedies)]
    angles = np.linspace(0.0, 1.5, len(items))
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    return CountingRetriever(Catalog(tuple(items)), HashingEmbedder(), vectors=vectors), np.array([1.0, 0.0])


def _nearest_ids(retriever, query, constraints, k):
    return [c.item_id for c in retriever.search(query, constraints, k)]


def test_a_common_category_kept_is_checked_over_the_over_fetch():
    retriever, query = _retriever(dramas=10, comedies=90)  # "no drama" keeps 90%; 10 of the 20 nearest
    ids = _nearest_ids(retriever, query, Constraints(exclude_categories=frozenset({"drama"})), 5)
    assert ids == ["c0", "c1", "c2", "c3", "c4"]
    assert [c.exclude_categories for c in retriever.searched] == [frozenset()]  # one search, unfiltered


def test_an_over_fetch_short_of_admitted_items_falls_back_to_the_store_filter():
    retriever, query = _retriever(dramas=50, comedies=50)  # "no drama" keeps half; the 20 nearest are dramas
    ids = _nearest_ids(retriever, query, Constraints(exclude_categories=frozenset({"drama"})), 5)
    assert ids == ["c0", "c1", "c2", "c3", "c4"]
    assert [c.exclude_categories for c in retriever.searched] == [frozenset(), frozenset({"drama"})]


def test_a_rare_required_category_goes_to_the_store_filter_at_once():
    retriever, query = _retriever(dramas=90, comedies=10)  # a comedy is 10% of the catalogue
    ids = _nearest_ids(retriever, query, Constraints(include_categories=frozenset({"comedy"})), 5)
    assert ids == ["c0", "c1", "c2", "c3", "c4"]
    assert [c.include_categories for c in retriever.searched] == [frozenset({"comedy"})]
