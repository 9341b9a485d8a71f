"""Rule-based interest extraction: the no-LLM baseline of the *understand* step.

It reads one user message and returns :class:`Interests`: what to search for, what to
avoid, categories to include or exclude (from the catalogue's own vocabulary plus a few
everyday synonyms), year and price bounds, and catalogue titles the user names.
A clause after a negation cue ("not", "no", "without", "hate", ...) is negated.

Example::

    >>> from agent.understand import RuleBasedUnderstander
    >>> u = RuleBasedUnderstander(categories=["horror", "comedy", "romance"])
    >>> i = u.understand("a light romantic comedy from the 90s, no horror")
    >>> sorted(i.include_categories), sorted(i.exclude_categories), (i.year_min, i.year_max)
    (['comedy', 'romance'], ['horror'], (1990, 1999))
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from tailtalk.titles import TitleMatcher, normalise

# Everyday words for catalogue categories; a synonym is used only if its target exists.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "horror": ("scary", "scare", "scares", "frightening", "creepy", "spooky", "terrifying"),
    "comedy": ("funny", "hilarious", "comedic", "laugh", "laughs", "humor", "humour", "lighthearted"),
    "romance": ("romantic", "love story", "romcom", "rom com"),
    "animation": ("animated", "cartoon", "cartoons", "pixar", "anime"),
    "family": ("kids", "children", "family friendly", "family-friendly"),
    "sci-fi": ("science fiction", "scifi", "sci fi", "space", "futuristic"),
    "thriller": ("suspense", "suspenseful", "tense", "thrillers"),
    "action": ("explosions", "fights", "fighting"),
    "documentary": ("documentaries", "true story", "real events"),
    "crime": ("heist", "gangster", "mafia", "detective"),
    "war": ("military", "soldiers"),
    "musical": ("singing", "songs"),
    "biography": ("biopic", "biographical"),
    "sport": ("sports",),
    "mystery": ("whodunit", "mysteries"),
    "fantasy": ("magic", "magical", "wizards", "dragons"),
    "western": ("cowboy", "cowboys", "westerns"),
    "drama": ("dramatic", "dramas"),
    "history": ("historical", "period piece"),
}

_NEGATION = re.compile(
    r"\b(?:not|no|nothing|without|never|hate|hated|dislike|disliked|avoid|except|skip|none of|rather not|"
    r"(?:do|does|did|is|are|was|were|wo|would|could|should|ca)n'?t)\b",
    re.IGNORECASE,
)
_CLAUSE_SPLIT = re.compile(r"[.;!?\n]|,|\bbut\b|\bhowever\b|\balthough\b", re.IGNORECASE)
STOPWORDS = frozenset(
    "a an the and or of to for in on at is are be it its i me my we you your something anything some any "
    "too very really quite so that this these those like want looking look watch see film films movie movies "
    "show please can could would should maybe just tonight today another other more one ones kind sort thing "
    "things with from by about as if im i'm get got give me recommend recommendation suggest good great nice "
    "hi hello hey hiya yo there thanks thank yes ok okay sure well also again much many lot lots what how who which "
    "morning evening afternoon everyone "
    "short long loved love liked enjoyed else instead different".split()
)
_DECADE_WORDS = {"sixties": 1960, "seventies": 1970, "eighties": 1980, "nineties": 1990}
_YEAR = r"(1[89]\d\d|20\d\d)"
_PRICE = r"\$?\s?(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+[.,]\d{1,2}(?!\d)|\d+)\s?(?:\$|dollars?|usd|bucks)?"
_MONEY = re.compile(r"\$|dollar|usd|\bbucks?\b|price|cost|budget|spend|pay\b", re.IGNORECASE)


@dataclass
class Interests:
    """What one message asks for. Empty fields mean "not stated in this message"."""

    query_text: str = ""
    avoid_terms: list[str] = field(default_factory=list)
    include_categories: set[str] = field(default_factory=set)
    exclude_categories: set[str] = field(default_factory=set)
    year_min: int | None = None
    year_max: int | None = None
    price_min: float | None = None
    price_max: float | None = None
    liked_ids: list[str] = field(default_factory=list)
    disliked_ids: list[str] = field(default_factory=list)
    wishes: list[str] = field(default_factory=list)  # the user's own words, for explanations
    # Runs of consecutive content words in the wishes ("running shoes" in "running shoes under $70"):
    # candidate product types, which agent.product_types matches against the catalogue's titles.
    phrases: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # for the user, e.g. "the language model was unreachable"

    @property
    def is_vague(self) -> bool:
        return not (self.query_text or self.include_categories or self.exclude_categories or self.liked_ids
                    or self.year_min or self.year_max or self.price_min is not None or self.price_max is not None
                    or self.avoid_terms)


class Understander(Protocol):
    def understand(self, message: str, *, deadline: float | None = None) -> Interests:
        """What the message asks for; ``deadline`` (a ``time.monotonic()`` value) bounds any model call."""
        ...


def _category_pattern(word: str) -> re.Pattern[str]:
    escaped = re.escape(word).replace(r"\-", r"[-\s]?").replace(r"\ ", r"\s+")
    plural = r"(?:s|es)?" if not word.endswith("y") else ""
    if word.endswith("y"):
        escaped = escaped[:-1] + r"(?:y|ies)"
    return re.compile(rf"\b{escaped}{plural}\b", re.IGNORECASE)


class RuleBasedUnderstander:
    def __init__(self, categories: Iterable[str], titles: TitleMatcher | None = None):
        vocabulary = {c.lower() for c in categories}
        self.categories = frozenset(vocabulary)
        self._patterns: list[tuple[re.Pattern[str], str, str]] = []
        for category in sorted(vocabulary, key=len, reverse=True):
            self._patterns.append((_category_pattern(category), category, category))
        for target, words in SYNONYMS.items():
            if target in vocabulary:
                for word in words:
                    self._patterns.append((_category_pattern(word), target, word))
        self.titles = titles

    def understand(self, message: str, *, deadline: float | None = None) -> Interests:
        interests = Interests()
        text = message.strip()
        if not text:
            return interests
        text = self._years(text, interests)
        text = self._prices(text, interests)
        positive_words: list[str] = []
        for raw_clause in _CLAUSE_SPLIT.split(text):
            if not raw_clause or not raw_clause.strip():
                continue
            negated = bool(_NEGATION.search(raw_clause))
            clause = self._titles(raw_clause, interests, negated)
            found = self._categories(clause)
            found_words = {c for c, _ in found} | {w for _, w in found}
            for category, word in found:
                (interests.exclude_categories if negated else interests.include_categories).add(category)
                if not negated:
                    interests.wishes.append(word)
            content = _content_words(_NEGATION.sub(" ", clause))
            if negated:
                interests.avoid_terms.extend(w for w in content if w not in found_words)
            else:
                positive_words.extend(content)
                interests.phrases.extend(_runs(_NEGATION.sub(" ", clause)))
                interests.wishes.extend(w for w in content if w not in interests.wishes and len(w) > 3)
        interests.include_categories -= interests.exclude_categories
        interests.query_text = " ".join(positive_words)
        interests.wishes = list(dict.fromkeys(interests.wishes))[:6]
        return interests

    def _titles(self, clause: str, interests: Interests, negated: bool) -> str:
        """Record titles named in one clause as liked (disliked if negated); return the rest of it."""
        if self.titles is None:
            return clause
        hits = self.titles.find(clause)
        if not hits:
            return clause
        (interests.disliked_ids if negated else interests.liked_ids).extend(h.item_id for h in hits)
        norm = normalise(clause)
        pieces, cursor = [], 0
        for hit in hits:
            pieces.append(norm[cursor : hit.start])
            cursor = hit.end
        pieces.append(norm[cursor:])
        return " ".join(pieces)

    def _categories(self, clause: str) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for pattern, category, word in self._patterns:
            if pattern.search(clause) and all(category != c for c, _ in found):
                found.append((category, word))
        return found

    @staticmethod
    def _years(text: str, interests: Interests) -> str:
        """Read year bounds; return the text without the phrases that stated them."""
        lowered = text.lower()
        spans: list[tuple[int, int]] = []
        if m := re.search(rf"\bbetween {_YEAR} and {_YEAR}\b", lowered):
            interests.year_min, interests.year_max = sorted((int(m.group(1)), int(m.group(2))))
            return _blank(text, [m.span()])
        if m := re.search(r"\b(?:the\s+)?(?:(19|20)?(\d)0)'?s\b", lowered):
            century = int(m.group(1)) * 100 if m.group(1) else (1900 if int(m.group(2)) >= 3 else 2000)
            start = century + int(m.group(2)) * 10
            interests.year_min, interests.year_max = start, start + 9
            spans.append(m.span())
        for word, start in _DECADE_WORDS.items():
            if m := re.search(rf"\b{word}\b", lowered):
                interests.year_min, interests.year_max = start, start + 9
                spans.append(m.span())
        if m := re.search(rf"\b(?:before|older than|earlier than|prior to)\s+{_YEAR}\b", lowered):
            interests.year_max = int(m.group(1)) - 1
            spans.append(m.span())
        if m := re.search(rf"\b(?:after|newer than|later than|since)\s+{_YEAR}\b", lowered):
            interests.year_min = int(m.group(1)) + (0 if "since" in m.group(0) else 1)
            spans.append(m.span())
        if m := re.search(rf"\b(?:from|in|released in|made in)\s+{_YEAR}\b(?!\s*(?:and|-|to))", lowered):
            if interests.year_min is None and interests.year_max is None:
                interests.year_min = interests.year_max = int(m.group(1))
                spans.append(m.span())
        return _blank(text, spans)

    @staticmethod
    def _prices(text: str, interests: Interests) -> str:
        """Read price bounds (only where money is mentioned); return the text without those phrases."""
        if not _MONEY.search(text):
            return text
        lowered = text.lower()
        spans: list[tuple[int, int]] = []
        upper = rf"\b(?:under|below|less than|cheaper than|at most|max(?:imum)?|up to|no more than)\s+{_PRICE}"
        if m := re.search(upper, lowered):
            interests.price_max = _number(m.group(1))
            spans.append(m.span())
        if m := re.search(rf"(?<!no )\b(?:over|above|more than|at least|min(?:imum)?)\s+{_PRICE}", lowered):
            interests.price_min = _number(m.group(1))
            spans.append(m.span())
        return _blank(text, spans)


def _number(text: str) -> float:
    if re.fullmatch(r"\d+,\d{1,2}", text):  # a decimal comma: "12,50"
        return float(text.replace(",", "."))
    return float(text.replace(",", ""))


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + " " + text[end:]
    return text


def _runs(clause: str) -> list[str]:
    """Runs of consecutive content words: a stopword or a number ends one.

    >>> _runs("a comfortable running shoe for my son")
    ['comfortable running shoe', 'son']
    """
    runs: list[list[str]] = [[]]
    for word in re.findall(r"[\w'-]+", clause.lower()):
        if word in STOPWORDS or len(word) < 2 or not re.match(r"[^\W\d_]", word):
            runs.append([])
        else:
            runs[-1].append(word)
    return [" ".join(run) for run in runs if run]


def _content_words(clause: str) -> list[str]:
    words = re.findall(r"[^\W\d_][\w'-]*", clause.lower())
    return [w for w in words if w not in STOPWORDS and len(w) > 1]
