"""Product types read from titles: "running shoes" is no category of a shop, but it is in the names.

A shop's catalogue files a running shoe under "sports & outdoors"; what makes it a running
shoe is its name, "Nike Men's Revolution 5 Wide Running Shoe". :class:`ProductTypes` matches
a phrase of the user's ("comfortable running shoes") against the *name parts* of each title
(the words before the first ", ", " with ", " for " or "(", in pieces between " - " and " | ":
"Botas - Attack - Men's Ice Hockey Skates"), where the kind of product is said, rather than
against the whole title, whose tail lists what it is compatible with ("... for iPhone Samsung").

The match is soft, then hard: leading words found in no title or category ("comfortable")
describe rather than name a type and are dropped; if what is left occurs in some item's name,
only such items qualify, and if it occurs in none, nothing is filtered (retrieval still
ranks by meaning). Plurals match singulars.

Example::

    >>> from tailtalk.catalog import Catalog, Item
    >>> from agent.product_types import ProductTypes
    >>> types = ProductTypes(Catalog((Item(id="1", title="Acme Trail Running Shoes, Blue"),
    ...                               Item(id="2", title="Acme Running Socks"))))
    >>> types.match("comfortable running shoe")
    TypeMatch(phrase='running shoe', ids=frozenset({'1'}))
    >>> types.match("phone case") is None
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from tailtalk.catalog import Catalog, Item

# Where a product's name ends and its selling points begin.
# "by" is not an end: a book's name includes its author ("1984 by George Orwell").
_NAME_END = re.compile(r",|\(|\[|\s(?:with|for)\s", re.IGNORECASE)
# Between the pieces of a name: "Google Pixel 6a - 5G Android Phone", "OnePlus 10 Pro | 5G Android Smartphone".
_NAME_PIECE = re.compile(r"\s[-–|:]\s")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SPELLINGS = {"racket": "racquet", "colour": "color", "grey": "gray"}  # one word for what titles spell two ways


def singular(word: str) -> str:
    """A crude singular, enough to match "shoes" with "shoe" and "batteries" with "battery".

    >>> [singular(w) for w in ("shoes", "batteries", "cases", "boxes", "glass", "gps")]
    ['shoe', 'battery', 'case', 'box', 'glass', 'gps']
    """
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "ps")):
        return word[:-1]
    return word


def words_of(text: str) -> list[str]:
    """Lower-case singular words in one spelling, the unit every comparison here uses.

    >>> words_of("Badminton Rackets")
    ['badminton', 'racquet']
    """
    return [_SPELLINGS.get(w, w) for w in map(singular, _WORD.findall(text.lower()))]


def name_parts(title: str) -> list[str]:
    """The pieces of a title that name the product.

    >>> name_parts("PUMA Women's Better Foam Adore Running Shoe, Intense Red Team Gold, 10")
    ["PUMA Women's Better Foam Adore Running Shoe"]
    >>> name_parts("Botas - Attack - Men's Ice Hockey Skates | Made in Europe (Czech Republic)")
    ['Botas', 'Attack', "Men's Ice Hockey Skates", 'Made in Europe']
    """
    head = _NAME_END.split(title, maxsplit=1)[0].strip() or title
    return [piece.strip() for piece in _NAME_PIECE.split(head) if piece.strip()]


@dataclass(frozen=True)
class TypeMatch:
    phrase: str  # the part of the user's phrase that names a type, singular
    ids: frozenset[str]  # the items whose name has it


class ProductTypes:
    """Matches the user's phrases to the items whose names contain them (see the module docstring)."""

    def __init__(self, items: Catalog | Iterable[Item]):
        self._names = {item.id: [words_of(piece) for piece in name_parts(item.title)] for item in items}
        self._name_words = {w for pieces in self._names.values() for words in pieces for w in words}
        self._vocabulary = self._name_words | {w for item in items for c in item.categories for w in words_of(c)}

    def match(self, phrase: str) -> TypeMatch | None:
        """The items named by ``phrase``, None when it names no type the catalogue has."""
        words = words_of(phrase)
        while words and words[0] not in self._vocabulary:  # "comfortable", "cheap": descriptions, not types
            words = words[1:]
        if not words:
            return None
        ids = frozenset(i for i, pieces in self._names.items() if any(_contains(piece, words) for piece in pieces))
        return TypeMatch(" ".join(words), ids) if ids else None

    def names_a_missing_type(self, phrase: str) -> str | None:
        """``phrase`` when it ends in a word that names products ("case") yet no item is one ("phone case")."""
        words = words_of(phrase)
        if words and words[-1] in self._name_words and self.match(phrase) is None:
            return phrase
        return None

    def ids_named(self, phrases: Iterable[str]) -> frozenset[str]:
        """Items whose name contains any of ``phrases`` (used to exclude what the user rejected)."""
        return frozenset().union(*(m.ids for p in phrases if (m := self.match(p)) is not None))


def _contains(name: list[str], words: list[str]) -> bool:
    n = len(words)
    return any(name[i : i + n] == words for i in range(len(name) - n + 1))
