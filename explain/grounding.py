"""The grounding guarantee: a generated reply may name only the items it was given, with their real facts.

:class:`GroundingChecker` judges one sentence at a time, so a streamed reply is checked
before any of it reaches the user. A sentence is rejected when it

* names a catalogue item that is not in the ranked list (nor one the user named),
* names a title the catalogue does not know (a quoted or italic title, or ``Name (1999)``),
* states a year or a price that none of the items it may talk about has, or
* recites the instructions (a reply must never echo its system prompt).

Example::

    >>> from tailtalk.catalog import Item
    >>> from tailtalk.titles import TitleMatcher
    >>> from explain.grounding import GroundingChecker
    >>> items = [Item(id="1", title="Alien", year=1979), Item(id="2", title="Heat", year=1995)]
    >>> checker = GroundingChecker(TitleMatcher([(i.id, i.title, i.year) for i in items]), items[:1])
    >>> checker.violations("Alien (1979) is a tense sci-fi horror.")
    []
    >>> checker.violations("Or try Heat, a crime classic.")
    ['Heat (not in the list)']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from tailtalk.catalog import Item
from tailtalk.titles import TitleMatcher, normalise

# A title written as a title: in quotes or asterisks, or capitalised words followed by "(1999)".
_QUOTED = re.compile(r"[\"“*_]([A-Z0-9][^\"”*_\n]{1,80}?)[\"”*_]")
_WITH_YEAR = re.compile(r"((?:[A-Z0-9][\w'’:&,-]*\s+){0,7}[A-Z0-9][\w'’:&-]*)\s*\((1[89]\d\d|20\d\d)\)")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_PRICE = re.compile(r"\$\s?(\d{1,3}(?:,\d{3})*(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)")
_SAME_TITLE = 90.0
_ECHO_NGRAM = 8  # this many words in a row from the instructions count as reciting them


@dataclass
class GroundingReport:
    """What the check did to one reply. ``shipped_out_of_list`` is an independent re-check of the final text."""

    dropped: list[tuple[str, list[str]]] = field(default_factory=list)  # (sentence, why)
    completed_ids: list[str] = field(default_factory=list)  # picks the model skipped, explained from templates
    fell_back: bool = False  # the whole reply is the template one
    shipped_out_of_list: list[str] = field(default_factory=list)

    @property
    def repaired(self) -> bool:
        return bool(self.dropped or self.completed_ids or self.fell_back)


class GroundingChecker:
    """Checks generated sentences against the ranked list and the catalogue.

    ``allowed`` are the items the reply may present; ``user_named`` are items the user
    brought up themselves, which the reply may refer to ("like Alien, which you loved")
    but whose facts it may not state.
    """

    def __init__(self, titles: TitleMatcher, allowed: Sequence[Item], user_named: Iterable[Item] = (),
                 instructions: str = ""):
        self.titles = titles
        self.allowed = list(allowed)
        self.allowed_ids = {i.id for i in self.allowed}
        self.user_named_ids = {i.id for i in user_named} - self.allowed_ids
        self._allowed_titles = [normalise(i.title) for i in self.allowed]
        self._user_titles = [normalise(i.title) for i in user_named]
        self._years = {i.year for i in self.allowed if i.year}
        self._prices = {round(i.price, 2) for i in self.allowed if i.price is not None}
        self._instruction_ngrams = _ngrams(_words(instructions), _ECHO_NGRAM)

    def mentioned_ids(self, sentence: str) -> list[str]:
        """Allowed items this sentence names."""
        named = {hit.item_id for hit in self.titles.find(sentence)} & self.allowed_ids
        named |= {item.id for item, title in zip(self.allowed, self._allowed_titles)
                  if title and re.search(rf"(?<!\w){re.escape(title)}(?!\w)", normalise(sentence))}
        return [i.id for i in self.allowed if i.id in named]

    def violations(self, sentence: str) -> list[str]:
        problems: list[str] = []
        for hit in self.titles.find(sentence):
            if hit.item_id not in self.allowed_ids and hit.item_id not in self.user_named_ids \
                    and not self._is_allowed_title(hit.title):
                problems.append(f"{self.titles.original_title(hit.title)} (not in the list)")
        for written in self._written_titles(sentence):
            if not self._is_allowed_title(written) and not self.titles.find(written):
                problems.append(f"{written} (not in the catalogue)")
        for year in _YEAR.findall(sentence):
            if int(year) not in self._years and not self._inside_a_title(sentence, year):
                problems.append(f"year {year} (no listed item has it)")
        for price in _PRICE.findall(sentence):
            if round(float(price.replace(",", "")), 2) not in self._prices:
                problems.append(f"price ${price} (no listed item has it)")
        if self._recites_instructions(sentence):
            problems.append("recites the instructions")
        return list(dict.fromkeys(problems))

    def _is_allowed_title(self, title: str) -> bool:
        norm = normalise(title)
        return any(fuzz.ratio(norm, t) >= _SAME_TITLE for t in [*self._allowed_titles, *self._user_titles] if t)

    def _written_titles(self, sentence: str) -> list[str]:
        found = [m.group(1).strip() for m in _QUOTED.finditer(sentence)]
        for match in _WITH_YEAR.finditer(sentence):
            words = match.group(1).split()
            # "Watch Alien (1979)": try the longest tail of the capitalised run that is a known title.
            tails = [" ".join(words[i:]) for i in range(len(words))]
            if not any(self._is_allowed_title(t) or self.titles.find(f"{t} ({match.group(2)})") for t in tails):
                found.append(match.group(1).strip())
        return found

    def _inside_a_title(self, sentence: str, year: str) -> bool:
        return any(year in normalise(t) for t in self._allowed_titles + self._user_titles)

    def _recites_instructions(self, sentence: str) -> bool:
        return not _ngrams(_words(sentence), _ECHO_NGRAM).isdisjoint(self._instruction_ngrams)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}
