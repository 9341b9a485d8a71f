"""Word matching shared by the stages: one crude stemmer, so "animated" meets "animation" everywhere alike.

Example::

    >>> from tailtalk.words import stem, stems
    >>> stem("batteries"), stem("animated") == stem("animation"), stem("friends") == stem("friend")
    ('batte', True, True)
    >>> sorted(stems("Haunted houses"))
    ['haunt', 'house']
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9']+")


def stem(word: str) -> str:
    """Five letters of the singular: "batteries" meets "battery", "haunted" meets "haunting"."""
    word = word.lower()
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif len(word) > 3:
        word = word.rstrip("s")
    return word[:5]


def words(text: str) -> list[str]:
    """A text's lower-cased words, in order."""
    return _WORD.findall(text.lower())


def stems(text: str) -> set[str]:
    """The stems of a text's words."""
    return {stem(w) for w in words(text)}
