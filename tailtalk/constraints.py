"""The one schema of what a conversation rules in and out: categories, a year range and a price range.

The rule reader and the language model's reading produce it for one message, the conversation state
folds each message's into its own (:meth:`Constraints.followed_by`), and retrieval filters by it, with the
items a turn excludes. In the conversation, ``include_categories`` are the categories wished for, which
ranking scores and never filters by; the turn pipeline hands retrieval the one wish that is hard (a child's
film must be family or animation).

For retrieval, ``include_categories`` means "at least one of these"; the others are conjunctive. A missing
field never excludes an item: one with no year (or price) passes a year (or price) bound, and the ranker
puts it after every item known to meet the bound.

Example::

    >>> from tailtalk.catalog import Item
    >>> from tailtalk.constraints import Constraints
    >>> c = Constraints(year_min=1990, year_max=1999).with_excluded({"horror"})
    >>> c.to_chroma_where()
    {'categories': {'$not_contains': 'horror'}}
    >>> [c.admits(Item(id="1", title="Scream", year=1996, categories=["horror"])),
    ...  c.admits(Item(id="2", title="Clueless", year=1995)), c.admits(Item(id="3", title="Undated"))]
    [False, True, True]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tailtalk.catalog import Item


@dataclass(frozen=True)
class Constraints:
    """Hard constraints: an item that breaks one is never retrieved (see the module docstring)."""

    include_categories: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()
    year_min: int | None = None
    year_max: int | None = None
    price_min: float | None = None
    price_max: float | None = None
    exclude_ids: frozenset[str] = frozenset()

    @property
    def years(self) -> tuple[int | None, int | None]:
        return self.year_min, self.year_max

    @property
    def prices(self) -> tuple[float | None, float | None]:
        return self.price_min, self.price_max

    @property
    def bounded_fields(self) -> frozenset[str]:
        """The fields a bound is set on ("year", "price")."""
        return frozenset(
            name
            for name, (low, high) in (("year", self.years), ("price", self.prices))
            if low is not None or high is not None
        )

    def with_years(self, year_min: int | None, year_max: int | None) -> Constraints:
        return replace(self, year_min=year_min, year_max=year_max)

    def with_prices(self, price_min: float | None, price_max: float | None) -> Constraints:
        return replace(self, price_min=price_min, price_max=price_max)

    def with_included(self, categories: Iterable[str]) -> Constraints:
        """These categories wanted too (one of the wanted ones must match)."""
        return replace(self, include_categories=self.include_categories | frozenset(categories))

    def with_excluded(self, categories: Iterable[str]) -> Constraints:
        """These categories ruled out too."""
        return replace(self, exclude_categories=self.exclude_categories | frozenset(categories))

    def settled(self) -> Constraints:
        """A category both wanted and ruled out is ruled out ("a comedy, but no comedies")."""
        return replace(self, include_categories=self.include_categories - self.exclude_categories)

    def followed_by(self, newer: Constraints, *, adds_categories: bool = False) -> Constraints:
        """What holds after a message that said ``newer``: how a conversation folds its messages together.

        Wanted categories are replaced by newly wanted ones, or joined when the message adds to them ("a
        drama too"); ruled-out ones accumulate, and a category wanted again is no longer ruled out; a stated
        year range replaces the last one; each side of a price range is replaced on its own ("over $20" keeps
        "under $70").

        >>> before = Constraints(frozenset({"horror"}), frozenset({"war"}), 1990, 1999, None, 70.0)
        >>> after = before.followed_by(Constraints(frozenset({"war"}), price_min=20.0))
        >>> sorted(after.include_categories), sorted(after.exclude_categories), after.years, after.prices
        (['war'], [], (1990, 1999), (20.0, 70.0))
        """
        include = self.include_categories
        if newer.include_categories:
            include = include | newer.include_categories if adds_categories else newer.include_categories
        years = newer.years if "year" in newer.bounded_fields else self.years
        return Constraints(
            include_categories=include - newer.exclude_categories,
            exclude_categories=(self.exclude_categories | newer.exclude_categories) - newer.include_categories,
            year_min=years[0],
            year_max=years[1],
            price_min=newer.price_min if newer.price_min is not None else self.price_min,
            price_max=newer.price_max if newer.price_max is not None else self.price_max,
            exclude_ids=self.exclude_ids,
        )

    def admits(self, item: Item) -> bool:
        categories = set(item.categories)
        if self.include_categories and not categories & self.include_categories:
            return False
        if categories & self.exclude_categories:
            return False
        if item.id in self.exclude_ids:
            return False
        for value, (low, high) in ((item.year, self.years), (item.price, self.prices)):
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


class AdmissionMasks:
    """:meth:`Constraints.admits` for every item of a catalogue at once, as a boolean array in its order.

    Checking items one by one cost a turn tens of milliseconds when a bound rejects most of a source's best
    items (a decade admits about one film in ten); the arrays cost a few milliseconds at a million items.

    >>> from tailtalk.catalog import Item
    >>> items = [Item(id="1", title="Scream", year=1996, categories=["horror"]), Item(id="2", title="Up", year=2009),
    ...          Item(id="3", title="Undated")]
    >>> AdmissionMasks(items).admitted(Constraints(year_min=1990, year_max=1999)).tolist()
    [True, False, True]
    """

    def __init__(self, items: Sequence[Item]):
        self._items = items
        self._row = {item.id: row for row, item in enumerate(items)}
        self._years = np.array([np.nan if i.year is None else i.year for i in items], dtype=np.float64)
        self._prices = np.array([np.nan if i.price is None else i.price for i in items], dtype=np.float64)
        self._in_category: dict[str, np.ndarray] = {}

    def admitted(self, constraints: Constraints) -> np.ndarray:
        mask = np.ones(len(self._items), dtype=bool)
        if constraints.include_categories:
            mask &= np.logical_or.reduce([self._category(c) for c in constraints.include_categories])
        for category in constraints.exclude_categories:
            mask &= ~self._category(category)
        for values, low, high in (
            (self._years, constraints.year_min, constraints.year_max),
            (self._prices, constraints.price_min, constraints.price_max),
        ):
            with np.errstate(invalid="ignore"):  # a missing value (nan) passes any bound, as in admits()
                if low is not None:
                    mask &= (values >= low) | np.isnan(values)
                if high is not None:
                    mask &= (values <= high) | np.isnan(values)
        mask[[self._row[i] for i in constraints.exclude_ids if i in self._row]] = False
        return mask

    def _category(self, category: str) -> np.ndarray:
        if category not in self._in_category:  # built on first use: a turn names few categories
            self._in_category[category] = np.array([category in i.categories for i in self._items])
        return self._in_category[category]
