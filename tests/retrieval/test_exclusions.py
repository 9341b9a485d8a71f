"""Excluded items are dropped after the Chroma search instead of by a `$nin` filter (which scans the whole
collection): on the real ReDial index the top 10 lists are the same as the filter's."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from retrieval.query import RetrievalQuery
from tailtalk.constraints import Constraints
from retrieval.retriever import ChromaRetriever

pytestmark = pytest.mark.integration

REQUESTS = [
    "a scary horror film",
    "a light romantic comedy from the 90s",
    "something like The Shining",
    "an animated film for my kids",
    "a war film that isn't American",
    "space adventure",
    "a heist thriller",
    "a sad drama about a family",
    "superhero action",
    "a musical",
]


def test_exclusions_after_the_search_give_the_filters_top_10(redial_pipeline):
    dense = redial_pipeline.retriever.dense
    assert isinstance(dense, ChromaRetriever)
    ids = redial_pipeline.catalog.ids()
    rng = random.Random(0)
    for text in REQUESTS:
        vector = dense.query_vector(RetrievalQuery(text))
        shown = [c.item_id for c in dense.search(vector, Constraints(), 8)]
        excluded = frozenset(shown[:6] + rng.sample(ids, 12))  # the picks shown so far, and some far away
        after = [c.item_id for c in dense.search(vector, Constraints(exclude_ids=excluded), 10)]
        filtered = dense.collection.query(
            query_embeddings=[vector.tolist()], n_results=10, where={"item_id": {"$nin": sorted(excluded)}}
        )["ids"][0]
        assert after == filtered and len(after) == 10 and excluded.isdisjoint(after)
        assert after[:2] == shown[6:8]  # the next nearest come up


def test_a_shops_many_exclusions_still_give_the_filters_top_10(redial_pipeline):
    """Past 500 excluded items (a product type rules out most of a shop) the exclusion is a filter again."""
    dense = redial_pipeline.retriever.dense
    excluded = frozenset(random.Random(1).sample(redial_pipeline.catalog.ids(), 3000))
    vector = dense.query_vector(RetrievalQuery("a scary horror film"))
    after = [c.item_id for c in dense.search(vector, Constraints(exclude_ids=excluded), 10)]
    filtered = dense.collection.query(
        query_embeddings=[vector.tolist()], n_results=10, where={"item_id": {"$nin": sorted(excluded)}}
    )["ids"][0]
    assert after == filtered and excluded.isdisjoint(after)


@pytest.mark.parametrize(
    "constraints",
    [
        Constraints(include_categories=frozenset({"family", "animation"})),  # a child's film
        Constraints(exclude_categories=frozenset({"horror", "thriller"})),  # "no horror"
        Constraints(include_categories=frozenset({"family"}), exclude_categories=frozenset({"horror"})),
    ],
)
def test_categories_applied_after_the_search_give_the_filters_top_10(redial_pipeline, constraints):
    """A category constraint that keeps most films is applied in process over an over-fetch (a Chroma filter
    scans every item's metadata); the top 10 is the filter's, for requests near the category and far from it."""
    for text in REQUESTS:
        searched, filtered = _searched_and_filtered(redial_pipeline.retriever.dense, text, constraints, 10)
        assert searched == filtered and len(searched) == 10, text


def test_a_category_too_rare_for_the_over_fetch_is_filtered_by_the_store(redial_pipeline):
    dense = redial_pipeline.retriever.dense
    counts = Counter(c for item in redial_pipeline.catalog for c in item.categories)
    rare = min((c for c in counts if counts[c] >= 60), key=lambda c: counts[c])  # few, but more than 40 to rank
    constraints = Constraints(include_categories=frozenset({rare}))
    searched, filtered = _searched_and_filtered(dense, "a light romantic comedy", constraints, 40)
    assert searched == filtered and len(searched) == 40


def _searched_and_filtered(dense, text: str, constraints: Constraints, k: int) -> tuple[list[str], list[str]]:
    """The served search's top k, and the top k of Chroma's own filter for the same constraints."""
    vector = dense.query_vector(RetrievalQuery(text))
    filtered = dense.collection.query(
        query_embeddings=[vector.tolist()], n_results=k, where=constraints.to_chroma_where()
    )
    return [c.item_id for c in dense.search(vector, constraints, k)], filtered["ids"][0]
