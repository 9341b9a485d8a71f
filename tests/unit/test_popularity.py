"""tailtalk.popularity: the 80% head / long-tail split and popularity shares."""

from __future__ import annotations

import pytest

from tailtalk.popularity import head_tail_split, popularity_shares


@pytest.mark.parametrize(
    "popularity, share, head",
    [
        # total 10, target 8: a (6) -> 6 < 8, b (3) -> 9 >= 8 stop
        ({"a": 6, "b": 3, "c": 1, "d": 0}, 0.8, {"a", "b"}),
        # reaching the target exactly stops: a alone is 8 of 10
        ({"a": 8, "b": 1, "c": 1}, 0.8, {"a"}),
        # ties break by id: a and b tie at 5, a first; 5 >= 0.5 * 10
        ({"b": 5, "a": 5}, 0.5, {"a"}),
        ({"b": 5, "a": 5}, 0.51, {"a", "b"}),
        # uniform 4 x 1, target 3.2: needs four items
        ({"d": 1, "c": 1, "b": 1, "a": 1}, 0.8, {"a", "b", "c", "d"}),
        ({"d": 1, "c": 1, "b": 1, "a": 1}, 0.75, {"a", "b", "c"}),
        # share 1: every mentioned item, never a zero
        ({"a": 1, "b": 1, "z": 0}, 1.0, {"a", "b"}),
        # the small catalogue of tests/conftest.py: 120 of 131 >= 104.8 after three
        ({"s1": 50, "h1": 40, "c1": 30, "h2": 5, "b1": 3, "c2": 2, "b2": 1, "c3": 0}, 0.8, {"s1", "h1", "c1"}),
        ({"x": 2.5, "y": 0.5}, 0.8, {"x"}),
    ],
)
def test_head_tail_split(popularity, share, head):
    assert head_tail_split(popularity, share) == frozenset(head)


@pytest.mark.parametrize("popularity", [{}, {"a": 0, "b": 0}, {"a": -1.0}])
def test_nothing_mentioned_means_no_head(popularity):
    assert head_tail_split(popularity) == frozenset()


def test_split_is_independent_of_input_order():
    forward = {"a": 3, "b": 3, "c": 3, "d": 1}
    backward = dict(reversed(list(forward.items())))
    assert head_tail_split(forward) == head_tail_split(backward) == frozenset({"a", "b", "c"})


@pytest.mark.parametrize("share", [0, -0.1, 1.0001, 2])
def test_invalid_share(share):
    with pytest.raises(ValueError, match=r"share must be in \(0, 1\]"):
        head_tail_split({"a": 1}, share)


def test_popularity_shares():
    assert popularity_shares({"a": 3, "b": 1, "c": 0}) == {"a": 0.75, "b": 0.25, "c": 0.0}
    assert popularity_shares({"a": 0, "b": 0}) == {"a": 0.0, "b": 0.0}
    assert popularity_shares({}) == {}
