"""retrieval.query: query shaping and the popularity fallback."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retrieval.query import Candidate, compose_query_vector, most_popular
from tailtalk.constraints import Constraints
from tailtalk.catalog import Item

F = frozenset

# --- compose_query_vector -------------------------------------------------------------------


def compose(text, liked, avoid, liked_weight=0.5, avoid_weight=0.5):
    as_array = lambda v: None if v is None else np.asarray(v, dtype=np.float64)  # noqa: E731
    return compose_query_vector(
        as_array(text), as_array(liked), as_array(avoid), liked_weight=liked_weight, avoid_weight=avoid_weight
    )


def test_compose_text_only_is_normalised_float32():
    q = compose([3.0, 4.0], None, None)
    assert q.dtype == np.float32
    np.testing.assert_allclose(q, [0.6, 0.8], rtol=1e-6)


def test_compose_rocchio_by_hand():
    # t + 0.5 * mean([0,1,0],[0,0,1]) - 0.5 * [1,1,0] = [0.5, -0.25, 0.25]; norm sqrt(0.375)
    q = compose([1.0, 0.0, 0.0], [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [1.0, 1.0, 0.0])
    n = math.sqrt(0.375)
    np.testing.assert_allclose(q, [0.5 / n, -0.25 / n, 0.25 / n], rtol=1e-6)


def test_compose_liked_only_uses_the_weighted_mean_direction():
    q = compose(None, [[2.0, 0.0], [0.0, 2.0]], None, liked_weight=0.3)
    np.testing.assert_allclose(q, [math.sqrt(0.5), math.sqrt(0.5)], rtol=1e-6)


def test_compose_weights_matter():
    # [1,0] + 2 * [0,1] - 1 * [1,1] = [0, 1]
    np.testing.assert_allclose(
        compose([1.0, 0.0], [[0.0, 1.0]], [1.0, 1.0], liked_weight=2.0, avoid_weight=1.0), [0.0, 1.0], atol=1e-7
    )


@pytest.mark.parametrize(
    "text, liked, avoid",
    [
        (None, None, None),
        (None, np.zeros((0, 3)), [1.0, 0.0, 0.0]),  # avoiding alone gives no direction
        (None, None, [1.0, 0.0]),
        ([1.0, 0.0], None, [2.0, 0.0]),  # cancels out exactly
        ([0.0, 0.0], None, None),
    ],
)
def test_compose_returns_none_without_a_direction(text, liked, avoid):
    assert compose(text, liked, avoid) is None


# --- most_popular ---------------------------------------------------------------------------

ITEMS = [
    Item(id="b", title="B", popularity=5),
    Item(id="a", title="A", popularity=5),
    Item(id="c", title="C"),
    Item(id="d", title="D", popularity=9, categories=["war"]),
    Item(id="e", title="E", popularity=0),
]


def test_most_popular_orders_by_popularity_then_id():
    assert most_popular(ITEMS, Constraints(), 10) == [
        Candidate("d", 0.0),
        Candidate("a", 0.0),
        Candidate("b", 0.0),
        Candidate("c", 0.0),
        Candidate("e", 0.0),
    ]


def test_most_popular_respects_constraints_and_k():
    assert [c.item_id for c in most_popular(ITEMS, Constraints(exclude_categories=F({"war"})), 2)] == ["a", "b"]
    assert [c.item_id for c in most_popular(tuple(ITEMS), Constraints(exclude_ids=F({"a"})), 2)] == ["d", "b"]
    assert most_popular(ITEMS, Constraints(), 0) == []
    # None of these has a year, and a missing year never excludes.
    assert most_popular(ITEMS, Constraints(year_min=2100), 5) == most_popular(ITEMS, Constraints(), 5)
