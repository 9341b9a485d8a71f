"""The people a catalogue credits, and the items a person said not to want ("no Jennifer Aniston").

"a romantic comedy but no Jennifer Aniston" leaves the words "jennifer aniston" to avoid. The dense query
reads the whole message and cannot tell "no" from "with", and the name tier puts every item whose people
the dialogue names in full first, so before this index her films led the list. A person named in full
under a negation is an explicit constraint, like "no horror": :meth:`PeopleIndex.ids_named` gives the items
that credit them, which the turn pipeline excludes. Only full names count (two or more words, as the name
tier reads them): "no Aniston" or "not Cruise" alone could be any word.

Example::

    >>> from tailtalk.catalog import Catalog, Item
    >>> from agent.people import PeopleIndex
    >>> people = PeopleIndex(Catalog((Item(id="1", title="Friends Forever", attributes={"stars": ["Jennifer Aniston"]}),
    ...                               Item(id="2", title="Top Gun", attributes={"stars": ["Tom Cruise"]}))))
    >>> sorted(people.ids_named(["romantic", "jennifer", "aniston"]))
    ['1']
    >>> people.ids_named(["aniston"])
    frozenset()
    >>> people.names_in(["no", "tom", "cruise", "or", "jennifer", "aniston"])
    ['Tom Cruise', 'Jennifer Aniston']
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import cached_property

from tailtalk.catalog import Catalog
from tailtalk.titles import normalise


class PeopleIndex:
    """Each credited person's full name (normalised: two or more words in a list attribute such as
    ``director``, ``stars``, ``writer`` or ``author``), and the items that credit them. Built on the first
    words to look up (about 0.2 s for ReDial's 6,834 films), not at start-up: most conversations avoid no one.
    """

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    @cached_property
    def _index(self) -> tuple[dict[tuple[str, ...], frozenset[str]], dict[tuple[str, ...], str], int]:
        """Each full name's items, the name as the catalogue first writes it (for replies), the longest name."""
        items: dict[tuple[str, ...], set[str]] = defaultdict(set)
        written: dict[tuple[str, ...], str] = {}
        for item in self.catalog:
            for key, name in item.credited_people().items():
                words = tuple(key.split())
                items[words].add(item.id)
                written.setdefault(words, name)
        return {name: frozenset(ids) for name, ids in items.items()}, written, max(map(len, items), default=0)

    def names_in(self, terms: Sequence[str]) -> list[str]:
        """The credited people whose full names run, in order, in ``terms`` (such as a conversation's words
        to avoid: the rule reader's single words, or a language model's "jennifer aniston"), as the
        catalogue writes them, in the order said."""
        return [self._index[1][name] for name in self.full_names_in(terms)]

    def ids_named(self, terms: Sequence[str]) -> frozenset[str]:
        """The items crediting any person :meth:`names_in` finds in ``terms``."""
        return frozenset().union(*(self._index[0][name] for name in self.full_names_in(terms)))

    def full_names_in(self, terms: Sequence[str]) -> list[tuple[str, ...]]:
        """The full names (normalised words) that run in ``terms``, once each, in the order said.

        >>> from tailtalk.catalog import Item
        >>> shining = Item(id="1", title="The Shining", attributes={"stars": ["Jack Nicholson"]})
        >>> PeopleIndex(Catalog((shining,))).full_names_in(["with", "Jack", "Nicholson"])
        [('jack', 'nicholson')]
        """
        words = [word for term in terms for word in normalise(term).split()]
        if len(words) < 2:
            return []
        items, _, longest = self._index
        found = [
            name
            for start in range(len(words))
            for length in range(2, min(longest, len(words) - start) + 1)
            if (name := tuple(words[start : start + length])) in items
        ]
        return list(dict.fromkeys(found))
