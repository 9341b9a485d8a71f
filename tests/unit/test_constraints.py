"""tailtalk.constraints: what an item must meet, the Chroma filter, and how a conversation folds them."""

from __future__ import annotations

import random

import pytest

from tailtalk.catalog import Item
from tailtalk.constraints import AdmissionMasks, Constraints

F = frozenset

FILM = Item(id="f", title="Film", categories=["horror", "thriller"], year=1995)
BOOK = Item(id="b", title="Book", categories=["office"], price=14.99)
BARE = Item(id="x", title="Bare")


@pytest.mark.parametrize(
    "constraints, item, admitted",
    [
        (Constraints(), BARE, True),
        (Constraints(include_categories=F({"horror"})), FILM, True),
        (Constraints(include_categories=F({"comedy", "thriller"})), FILM, True),  # at least one
        (Constraints(include_categories=F({"comedy"})), FILM, False),
        (Constraints(include_categories=F({"comedy"})), BARE, False),
        (Constraints(exclude_categories=F({"thriller"})), FILM, False),
        (Constraints(exclude_categories=F({"comedy"})), FILM, True),
        (Constraints(include_categories=F({"horror"}), exclude_categories=F({"thriller"})), FILM, False),
        (Constraints(exclude_ids=F({"f"})), FILM, False),
        (Constraints(exclude_ids=F({"g"})), FILM, True),
        (Constraints(year_min=1995, year_max=1995), FILM, True),  # bounds are inclusive
        (Constraints(year_min=1996), FILM, False),
        (Constraints(year_max=1994), FILM, False),
        (Constraints(year_min=1990), BOOK, True),  # a missing year never excludes: the ranker puts it last
        (Constraints(year_max=2100), BARE, True),
        (Constraints(price_max=14.99), BOOK, True),
        (Constraints(price_max=14.98), BOOK, False),
        (Constraints(price_min=15), BOOK, False),
        (Constraints(price_min=0), FILM, True),  # nor does a missing price
        (Constraints(price_max=0), Item(id="z", title="Free", price=0.0), True),
        (Constraints(year_min=1990, price_max=20), FILM, True),
        (Constraints(year_min=1996, price_max=20), FILM, False),
    ],
)
def test_admits(constraints, item, admitted):
    assert constraints.admits(item) is admitted


@pytest.mark.parametrize(
    "constraints, where",
    [
        (Constraints(), None),
        (Constraints(include_categories=F({"horror"})), {"categories": {"$contains": "horror"}}),
        (
            Constraints(include_categories=F({"b", "a"})),
            {"$or": [{"categories": {"$contains": "a"}}, {"categories": {"$contains": "b"}}]},
        ),
        (Constraints(exclude_categories=F({"war"})), {"categories": {"$not_contains": "war"}}),
        (Constraints(year_min=1990), None),  # bounds are applied after the query: a missing year passes them
        (Constraints(price_min=0.0), None),
        (Constraints(exclude_ids=F({"z", "y"})), None),  # dropped after the search: a $nin scans the collection
        (
            Constraints(year_min=1990, year_max=1999, exclude_categories=F({"horror"})),
            {"categories": {"$not_contains": "horror"}},
        ),
        (
            Constraints(F({"b", "a"}), F({"d", "c"}), 1990, 1999, 1.5, 20.0, F({"i2", "i1"})),
            {
                "$and": [
                    {"$or": [{"categories": {"$contains": "a"}}, {"categories": {"$contains": "b"}}]},
                    {"categories": {"$not_contains": "c"}},
                    {"categories": {"$not_contains": "d"}},
                ]
            },
        ),
    ],
)
def test_to_chroma_where(constraints, where):
    assert constraints.to_chroma_where() == where


def test_bounded_fields():
    assert Constraints(year_min=1990, price_max=0.0).bounded_fields == {"year", "price"}
    assert Constraints(exclude_ids=F({"x"})).bounded_fields == frozenset()


def test_a_new_wish_replaces_the_last_unless_it_adds():
    before = Constraints(include_categories=F({"horror", "comedy"}))
    assert before.followed_by(Constraints(include_categories=F({"drama"}))).include_categories == {"drama"}
    added = before.followed_by(Constraints(include_categories=F({"drama"})), adds_categories=True)
    assert added.include_categories == {"horror", "comedy", "drama"}
    assert before.followed_by(Constraints()).include_categories == {"horror", "comedy"}  # nothing said: it stands


def test_ruled_out_categories_accumulate_until_wished_again():
    c = Constraints(include_categories=F({"horror", "comedy"}))
    c = c.followed_by(Constraints(exclude_categories=F({"horror"}))).followed_by(
        Constraints(exclude_categories=F({"war"}))
    )
    assert (c.include_categories, c.exclude_categories) == ({"comedy"}, {"horror", "war"})
    c = c.followed_by(Constraints(include_categories=F({"horror"})))
    assert (c.include_categories, c.exclude_categories) == ({"horror"}, {"war"})


def test_a_year_range_is_replaced_whole_and_each_price_side_on_its_own():
    c = Constraints().followed_by(Constraints(year_min=1990, year_max=1999))
    assert c.followed_by(Constraints(year_min=2001)).years == (2001, None)
    c = Constraints().followed_by(Constraints(price_max=20.0)).followed_by(Constraints(price_min=5.0))
    assert c.prices == (5.0, 20.0)
    assert c.followed_by(Constraints(price_max=10.0)).prices == (5.0, 10.0)


def test_settled_rules_out_what_is_both_wanted_and_ruled_out():
    c = Constraints().with_included({"comedy", "horror"}).with_excluded({"horror"}).settled()
    assert (c.include_categories, c.exclude_categories) == ({"comedy"}, {"horror"})


def test_constraints_are_immutable():
    c = Constraints()
    with pytest.raises(AttributeError):
        c.year_min = 1990  # type: ignore[misc]
    assert c.with_years(1990, None).years == (1990, None) and c.years == (None, None)


@pytest.mark.parametrize("seed", range(30))
def test_the_masks_admit_exactly_what_admits_admits(seed):
    rng = random.Random(seed)
    categories = ["comedy", "horror", "family", "drama"]
    items = [
        Item(
            id=str(n),
            title=f"Film {n}",
            categories=rng.sample(categories, rng.randint(0, 2)),
            year=rng.choice([None, 1985, 1990, 1995, 1999, 2005]),
            price=rng.choice([None, 5.0, 20.0, 45.0]),
        )
        for n in range(60)
    ]
    constraints = Constraints(
        include_categories=frozenset(rng.sample(categories, rng.randint(0, 2))),
        exclude_categories=frozenset(rng.sample(categories, rng.randint(0, 1))),
        year_min=rng.choice([None, 1990]),
        year_max=rng.choice([None, 1999]),
        price_min=rng.choice([None, 10.0]),
        price_max=rng.choice([None, 45.0]),
        exclude_ids=frozenset(rng.sample([i.id for i in items], 5)),
    )
    masks = AdmissionMasks(items)
    assert masks.admitted(constraints).tolist() == [constraints.admits(i) for i in items]
