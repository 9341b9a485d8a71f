"""Find catalogue titles written in free text, tolerating typos and a missing year.

Matching is fuzzy (rapidfuzz's partial ratio, which finds the best-aligned substring)
over the titles that share at least half their character trigrams with the text (a
blocking index, so a million titles cost milliseconds, not seconds), and then greedy:
longer titles claim their span of the text first, so "It Follows" is found and "It"
inside it is not. Very short titles ("Up", "Her") only count when
written exactly with a year or in quotes, because as plain words they are everywhere. A one-word
title ("Heat"), or one made only of the ``everyday_words`` a request is written in ("Scary Movie",
"The Heist", "Game Night"), counts only when written as a title, capitalised: "a good scary movie for
a sleepover" names no film.

Example::

    >>> from tailtalk.titles import TitleMatcher
    >>> m = TitleMatcher([("1", "The Shining", 1980), ("2", "It Follows", 2014), ("3", "It", 2017)])
    >>> [hit.item_id for hit in m.find("I loved the shinning and It Follows")]
    ['1', '2']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cached_property
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

_SHORT_TITLE_CHARS = 4
ARTICLES = frozenset({"the", "a", "an"})
# A title is scored only when the text holds this share of its distinct character trigrams. A title written
# with a typo or two keeps most of them ("shinning" keeps 4 of "shining"'s 5). On INSPIRED's and MG-ShopDial's
# logs the matches are the same as scoring every title; on 30,000 ReDial messages 4 differ, each a false match
# of the full scan ("the owners" as The Sowers; tests/unit/test_titles.py, docs/performance.md).
_BLOCKING_SHARE = 0.5
_YEAR_SUFFIX = re.compile(r"\s*\((\d{4})\)\s*$")


def normalise(text: str) -> str:
    """Lower case, accents and punctuation gone, spaces single.

    >>> normalise("Amélie (2001)!"), normalise("What About  Bob?")
    ('amelie 2001', 'what about bob')
    """
    if not text.isascii():  # ASCII has no accents to strip: most catalogue text skips the per-character pass
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower()
    text = re.sub(r"[^\w\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class TitleHit:
    item_id: str
    title: str
    start: int  # span in the normalised text
    end: int
    score: float


class TitleMatcher:
    """Index of ``(item_id, title, year)`` triples; ``popularity`` breaks ties between remakes."""

    def __init__(
        self,
        entries: Iterable[tuple[str, str, int | None]],
        popularity: dict[str, float] | None = None,
        min_score: float = 90.0,
        everyday_words: frozenset[str] = frozenset(),
    ):
        self.min_score = min_score
        popularity = popularity or {}
        entries_list = list(entries)
        best: dict[str, tuple[str, float, int | None]] = {}
        self._by_title_year: dict[tuple[str, int], str] = {}
        self._ids_by_title: dict[str, list[str]] = {}
        for item_id, title, year in entries_list:
            key = normalise(title)
            if not key:
                continue
            self._ids_by_title.setdefault(key, []).append(item_id)
            if year is not None:
                self._by_title_year[(key, year)] = item_id
            score = popularity.get(item_id, 0.0)
            if key not in best or score > best[key][1]:
                best[key] = (item_id, score, year)
        self._title_to_id = {key: value[0] for key, value in best.items()}
        self._original = {normalise(title): title for _, title, _ in entries_list}
        self._titles = list(self._title_to_id)
        # Titles a request could say in passing: one word, or every word an everyday one.
        self._everyday = everyday_words
        self._plain_words = {t for t in self._titles if " " not in t or set(t.split()) <= everyday_words}
        self._blocking = _TrigramBlocking(self._titles)

    def namesakes(self, title: str) -> list[str]:
        """The ids of every item with this title (as written or normalised): remakes and films of the same name.

        >>> TitleMatcher([("t1", "Titanic", 1997), ("t2", "Titanic", 2012), ("r", "Ray", 2004)]).namesakes("Titanic")
        ['t1', 't2']
        """
        return self._ids_by_title.get(normalise(title), [])

    def original_title(self, normalised_title: str) -> str:
        """The title as the catalogue writes it, for a normalised one from a :class:`TitleHit`."""
        return self._original.get(normalised_title, normalised_title)

    def find(self, text: str, limit: int = 10) -> list[TitleHit]:
        norm = normalise(text)
        if not norm:
            return []
        candidates = process.extract(
            norm, self._blocking.candidates(norm), scorer=fuzz.partial_ratio, score_cutoff=self.min_score, limit=200
        )
        hits: list[TitleHit] = []
        for title, score, _ in candidates:
            if len(title) < _SHORT_TITLE_CHARS:
                hit = self._exact_short_title(text, norm, title)
            elif title in self._plain_words and not re.search(
                rf"\b{re.escape(fold(self._original[title]))}\b", fold(text)
            ):
                # A title of plain words ("Loved", "Heat", "Scary Movie") counts only when written as a title.
                hit = None
            else:
                hit = self._aligned(norm, title, score)
                if hit is not None and self._said_in_passing(text, norm, hit):
                    # "scary movie" is Scary Movie 3 at 92, but written in lower case it asks for horror.
                    hit = None
            if hit is not None:
                hits.append(hit)
        # The hit covering more of the text first ("It Follows" before "It"), then the closer match: "I loved
        # Scary Movie" is Scary Movie, not Scary Movie 3, which matches the same words at 92.
        hits.sort(key=lambda h: (h.start - h.end, -h.score, -len(h.title)))
        chosen: list[TitleHit] = []
        for hit in hits:
            if all(hit.end <= c.start or hit.start >= c.end for c in chosen):
                chosen.append(self._with_year(norm, hit))
        chosen.sort(key=lambda h: h.start)
        return chosen[:limit]

    def _aligned(self, norm: str, title: str, score: float) -> TitleHit | None:
        alignment = fuzz.partial_ratio_alignment(title, norm)
        if alignment is None or alignment.score < self.min_score:
            return None
        start, end = _expand_to_words(norm, alignment.dest_start, alignment.dest_end)
        first = norm[start:end].split(" ", 1)[0]
        if len(first) == 1 and len(title.split(" ", 1)[0]) > 1 and " " in norm[start:end]:
            # A stray letter is no word of the title: the "t" of "isn t american" is not the "the" of The
            # American (and a title claiming it would swallow the negation).
            start += len(first) + 1
        # Re-score on whole words, so "it" inside "italy" is no mention but "shinning" still is.
        whole_word_score = fuzz.ratio(title, norm[start:end])
        if whole_word_score < self.min_score:
            return None
        return TitleHit(self._title_to_id[title], title, start, end, whole_word_score)

    def _said_in_passing(self, raw: str, norm: str, hit: TitleHit) -> bool:
        """Whether the words a hit covers are all everyday ones, none of the longer ones capitalised."""
        if not set(norm[hit.start : hit.end].split()) <= self._everyday:
            return False
        cased = fold(raw)
        if len(cased) != len(norm):  # a character whose lower case is longer: spans do not line up, keep the hit
            return False
        return not any(word[0].isupper() for word in cased[hit.start : hit.end].split() if len(word) > 3)

    def _exact_short_title(self, raw: str, norm: str, title: str) -> TitleHit | None:
        quoted = re.search(r"[\"'“‘]" + re.escape(title) + r"[\"'”’]", raw, flags=re.IGNORECASE)
        with_year = re.search(r"\b" + re.escape(title) + r" \d{4}\b", norm)
        if not (quoted or with_year):
            return None
        span = _word_bounded(norm, title)
        if span is None:
            return None
        return TitleHit(self._title_to_id[title], title, span[0], span[1], 100.0)

    def _with_year(self, norm: str, hit: TitleHit) -> TitleHit:
        """Prefer the edition whose year follows the title in the text ("It (1990)")."""
        match = re.match(r"\s*(\d{4})\b", norm[hit.end :])
        if match:
            item_id = self._by_title_year.get((hit.title, int(match.group(1))))
            if item_id is not None:
                return TitleHit(item_id, hit.title, hit.start, hit.end + match.end(), hit.score)
        return hit


def _trigrams(text: str) -> set[str]:
    return {text[n : n + 3] for n in range(len(text) - 2)}


class _TrigramBlocking:
    """Which titles could match a text: those sharing at least half their distinct character trigrams with it.

    Titles under three characters have no trigram and are always candidates (they match only when written
    exactly, see ``TitleMatcher._exact_short_title``).

        >>> blocking = _TrigramBlocking(["the shining", "it follows", "up"])
        >>> blocking.candidates("i loved the shinning")
        ['the shining', 'up']
    """

    def __init__(self, titles: list[str]):
        self.titles = titles
        postings: dict[str, list[int]] = {}
        need = np.empty(len(titles), dtype=np.int32)
        for row, title in enumerate(titles):
            grams = _trigrams(title)
            need[row] = max(1, int(np.ceil(_BLOCKING_SHARE * len(grams)))) if grams else 0
            for gram in grams:
                postings.setdefault(gram, []).append(row)
        self._postings = {gram: np.asarray(rows, dtype=np.int32) for gram, rows in postings.items()}
        self._need = need

    def candidates(self, text: str) -> list[str]:
        found = [self._postings[g] for g in _trigrams(text) if g in self._postings]
        shared = np.bincount(np.concatenate(found), minlength=len(self.titles)) if found else 0
        return [self.titles[row] for row in np.flatnonzero(shared >= self._need)]


def fold(text: str) -> str:
    """Accents and punctuation off, case kept: for the capitalisation check of titles made of everyday words."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text)).strip()


def _expand_to_words(norm: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and norm[start - 1].isalnum():
        start -= 1
    while end < len(norm) and norm[end].isalnum():
        end += 1
    return start, end


def _word_bounded(norm: str, title: str) -> tuple[int, int] | None:
    match = re.search(r"(?<!\w)" + re.escape(title) + r"(?!\w)", norm)
    return (match.start(), match.end()) if match else None


def split_title_year(name: str) -> tuple[str, int | None]:
    """``"Police Academy  (1984)"`` -> ``("Police Academy", 1984)``."""
    name = re.sub(r"\s+", " ", name).strip()
    match = _YEAR_SUFFIX.search(name)
    if match:
        return name[: match.start()].strip(), int(match.group(1))
    return name, None


class TitleSeries:
    """The items whose title holds another item's whole title: its sequels and spin-offs. "A space movie that
    isn't Star Wars" rules out Rogue One: A Star Wars Story and The Last Jedi as well as Star Wars.

    A title of one word says too little ("It", "Up", "Alien": It Follows, Up in the Air, Alien Nation), and one
    of an article and a word only as the start of another ("The Matrix" in The Matrix Reloaded; "The Heat" is
    not In the Heat of the Night).

    >>> series = TitleSeries([("sw", "Star Wars"), ("r1", "Rogue One: A Star Wars Story"), ("m", "The Matrix"),
    ...                       ("m2", "The Matrix Reloaded"), ("h", "The Heat"), ("n", "In the Heat of the Night"),
    ...                       ("it", "It"), ("itf", "It Follows")])
    >>> sorted(series.of(["sw", "m", "h", "it"]))
    ['m2', 'r1']
    """

    def __init__(self, entries: Iterable[tuple[str, str]]):
        self._entries = entries

    @cached_property
    def _index(self) -> tuple[dict[str, str], dict[str, set[str]]]:
        """Each item's normalised title, and the items with each title word. Built on the first film turned
        down, not at start-up: most conversations turn none down."""
        titles: dict[str, str] = {}
        with_word: dict[str, set[str]] = {}
        for item_id, title in self._entries:
            key = normalise(title)
            titles[item_id] = key
            for word in set(key.split()):
                with_word.setdefault(word, set()).add(item_id)
        return titles, with_word

    def of(self, item_ids: Iterable[str]) -> set[str]:
        """The other items whose title holds the whole title of one of ``item_ids`` (see the class)."""
        found: set[str] = set()
        for item_id in item_ids:
            titles, with_word = self._index
            title = titles.get(item_id, "")
            words = title.split()
            own_words = [w for w in words if w not in ARTICLES]
            if len(own_words) < 1 or len(words) < 2:
                continue
            pattern = re.compile(("^" if len(own_words) < 2 else r"(?<!\w)") + re.escape(title) + r"(?!\w)")
            sharing = set.intersection(*(with_word[w] for w in words))
            found |= {other for other in sharing if other != item_id and pattern.search(titles[other])}
        return found
