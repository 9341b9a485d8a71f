"""Questions about a shown item ("is it hardcover?", "how much is the Nike one?"): which item, and about what.

After a list of picks, a customer asks about one of them. :class:`QuestionReader` decides
whether a message is such a question rather than a new wish (it asks; it states no new
constraint nor asks for other items) and which item it means:

1. an ordinal into the latest list ("the second one", "number 2", "#2", "the last one");
2. the item whose title shares the most *distinctive* words with the message, fuzzily
   ("the Nike one", "the adidas"): words every shown title has ("running shoe") pick nothing;
3. the one item being discussed ("it", or a question with no reference at all), when there is one.

When several items fit equally, the question is kept with no target and the candidates, so
the reply can ask which one is meant; the answer to that ("the second one") then takes the
topic from the open question (``ConversationState.open_question``).

Example::

    >>> from tailtalk.catalog import Catalog, Item
    >>> from agent.questions import QuestionReader
    >>> from agent.state import ConversationState
    >>> cat = Catalog((Item(id="n", title="Nike Revolution 5 Running Shoe", price=59.99),
    ...                Item(id="a", title="adidas Kaptir 2.0 Running Shoe", price=65.0)))
    >>> state = ConversationState(last_picks=("n", "a"), shown=["n", "a"])
    >>> q = QuestionReader(cat).read("how much is the Nike one?", state)
    >>> q.item_id
    'n'
    >>> q = QuestionReader(cat).read("the second one, is it light?", state)
    >>> q.item_id, q.topic
    ('a', ['light'])
    >>> QuestionReader(cat).read("show me other running shoes", state) is None
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from tailtalk.catalog import Catalog
from tailtalk.titles import TitleMatcher
from agent.product_types import words_of
from agent.state import ConversationState
from agent.understand import STOPWORDS

_ASKS = re.compile(
    r"\?\s*$|^\s*(?:is|are|was|were|does|do|did|can|could|will|would|has|have|how|what|what's|which|"
    r"who|where|when|why|tell me|and the|what about)\b",
    re.IGNORECASE,
)
# Cues of a new wish rather than a question about a shown item: it asks for other or more items, or a bound.
_NEW_WISH = re.compile(
    r"\b(?:another|other|others|else|instead|alternatives?|recommend|suggest|show me|find me|looking for|want|"
    r"something|anything|any|do you have|have you got|is there|are there|cheaper|pricier|under|below|less than|"
    r"more than|over|budget|between)\b",
    re.IGNORECASE,
)
_ORDINALS = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "sixth": 6,
    "6th": 6,
    "seventh": 7,
    "7th": 7,
    "eighth": 8,
    "8th": 8,
    "ninth": 9,
    "9th": 9,
    "tenth": 10,
    "10th": 10,
    "last": -1,
}
_ORDINAL = re.compile(
    rf"\bthe\s+({'|'.join(_ORDINALS)})(?:\s+(?:one|item|pick|option|product))?\b|"
    r"(?:\bnumber|\bno\.|#)\s*(\d{1,2})\b",
    re.IGNORECASE,
)
# Words of a question that carry no topic ("how long IS it", "does it COME with").
_NO_TOPIC = STOPWORDS | frozenset(
    "is are was were does do did can will would has have how what which who where when why tell know say says "
    "come comes this that they them their these those it its it's one ones the item pick option product".split()
)
# A question answered yes or no ("are they wireless?", "is it hardcover?").
YES_NO = re.compile(r"^\s*(?:and\s+)?(?:is|are|does|do|did|can|will|has|have)\b", re.IGNORECASE)
_POINTS = re.compile(r"\b(?:it|its|it's|that one|this one)\b", re.IGNORECASE)  # refers to an item without naming it
_SAME_WORD = 85.0  # rapidfuzz ratio at which two words are the same ("addidas" and "adidas")


@dataclass(frozen=True)
class Question:
    message: str
    item_id: str | None  # None: several items fit, see ``candidates``
    topic: list[str] = field(default_factory=list)  # what is asked about ("battery", "life")
    candidates: tuple[str, ...] = ()  # the items it may mean, when it is unclear which


class QuestionReader:
    """``ask_back``: a question whose item is unclear is asked back ("Which one do you mean?"). Without it
    (films), such a question is read as one only when it says "it" or "that one"; otherwise it is a new wish.
    ``titles``: a message naming a catalogue title that is not shown is a new wish too."""

    def __init__(self, catalog: Catalog, *, ask_back: bool = True, titles: TitleMatcher | None = None):
        self.catalog = catalog
        self.ask_back = ask_back
        self.titles = titles  # given: a message naming a title that is not shown is no question about the list

    def read(self, message: str, state: ConversationState) -> Question | None:
        """The question ``message`` asks about a shown item, or None when it is not one."""
        if not state.last_picks or _NEW_WISH.search(message):
            return None
        picks = [i for i in state.last_picks if i in self.catalog]
        if self.titles is not None and any(hit.item_id not in picks for hit in self.titles.find(message)):
            return None  # "have you seen Heat?"
        by_ordinal = self._ordinal(message, picks)
        named, name_words = self._named(message, picks) if by_ordinal is None else ((by_ordinal,), set())
        if not _ASKS.search(message) and not (state.open_question and named):  # a wish, not a question
            return None
        if named and state.open_question and not self._topic(message, name_words):  # "the second one" answers
            return Question(
                f"{state.open_question} {message}",
                named[0] if len(named) == 1 else None,
                self._topic(state.open_question, set()),
                () if len(named) == 1 else tuple(named),
            )
        if len(named) == 1:
            item_id: str | None = named[0]
        elif named:  # a name shared by several picks ("the Winnwell one")
            return Question(message, None, self._topic(message, name_words), tuple(named))
        elif state.focus in self.catalog:
            item_id = state.focus
        elif len(picks) == 1:
            item_id = picks[0]
        elif self.ask_back or _POINTS.search(message):  # "is it hardcover?" after a list of several: which one?
            return Question(message, None, self._topic(message, set()), tuple(picks))
        else:
            return None
        return Question(message, item_id, self._topic(message, name_words))

    @staticmethod
    def _ordinal(message: str, picks: list[str]) -> str | None:
        match = _ORDINAL.search(message)
        if match is None:
            return None
        number = _ORDINALS[match.group(1).lower()] if match.group(1) else int(match.group(2))
        index = len(picks) - 1 if number == -1 else number - 1
        return picks[index] if 0 <= index < len(picks) else None

    def _named(self, message: str, picks: list[str]) -> tuple[tuple[str, ...], set[str]]:
        """The picks sharing the most distinctive title words with the message, and those words."""
        said = [w for w in words_of(message) if w not in _NO_TOPIC and len(w) > 1]
        titles = {i: set(words_of(self.catalog.get(i).title)) for i in picks}
        hits = {
            i: {w for w in said if any(fuzz.ratio(w, t) >= _SAME_WORD for t in words)} for i, words in titles.items()
        }
        everywhere = set.intersection(*hits.values()) if len(hits) > 1 else set()  # "running shoe": names none
        scores = {i: len(h - everywhere) for i, h in hits.items()}
        best = max(scores.values(), default=0)
        if best == 0:
            return (), set()
        chosen = tuple(i for i in picks if scores[i] == best)
        return chosen, set().union(*(hits[i] for i in chosen))

    @staticmethod
    def _topic(message: str, name_words: set[str]) -> list[str]:
        words = [
            w
            for w in words_of(message)
            if w not in _NO_TOPIC and w not in name_words and len(w) > 1 and not w.isdigit() and w not in _ORDINALS
        ]
        if not words and YES_NO.search(message):
            # "are they wireless?" after a list: the word that picked out the headphones is also what is asked,
            # and a yes-or-no question says it last ("is the adidas one black?").
            words = [w for w in words_of(message) if w in name_words][-1:]
        return list(dict.fromkeys(words))
