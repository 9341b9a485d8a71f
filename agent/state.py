"""Per-conversation state. One object per conversation; nothing here is global.

Example::

    >>> from agent.state import ConversationState
    >>> s = ConversationState()
    >>> s.dislike("42"); s.like("7")
    >>> sorted(s.disliked), s.liked
    (['42'], ['7'])
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from collections.abc import Callable

from tailtalk.constraints import Constraints
from tailtalk.dialogues import context_text
from agent.understand import Interests


_PRAISABLE = 3  # the most items one "good movies" can praise at once


@dataclass
class StateTurn:
    role: str
    text: str
    items: tuple[str, ...] = ()


@dataclass
class ConversationState:
    conversation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    turns: list[StateTurn] = field(default_factory=list)
    liked: list[str] = field(default_factory=list)
    disliked: set[str] = field(default_factory=set)
    shown: list[str] = field(default_factory=list)
    mentioned: list[str] = field(default_factory=list)
    seen_series: list[str] = field(default_factory=list)  # "I've seen every Harry Potter movie" (Interests)
    constraints: Constraints = Constraints()  # the categories, years and prices asked for so far
    avoid_terms: list[str] = field(default_factory=list)
    ruled_out_terms: list[str] = field(default_factory=list)  # the avoid terms firmly ruled out (Interests)
    wishes: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)  # what the films should be about (Interests.topics)
    user_queries: list[str] = field(default_factory=list)
    diversity: float | None = None  # this user's long-tail/diversity knob; None = the configured default
    audience: str | None = None  # "children": every pick must suit a child (see TurnPipeline.constraints)
    type_phrases: list[str] = field(default_factory=list)  # product types asked for ("running shoe"); see absorb
    last_picks: tuple[str, ...] = ()  # the latest list shown: what "the second one" refers to
    focus: str | None = None  # the one item being discussed: what "it" refers to
    open_question: str | None = None  # a question about "it" that was met with "which one do you mean?"
    years_stepped: bool = False  # the year bound came from "older"/"newer", not from the person's own words
    # Items named since the current search began: with the liked ones, what the collaborative signal starts
    # from. The picks of an earlier search ("films for my 8-year-old") say nothing about "a war film for me".
    search_mentions: list[str] = field(default_factory=list)
    language: str = "en"  # of the person's latest message: what the reply is written in
    asked: str | None = None  # the follow-up question the last reply ended with ("loved", "era", ...)

    @classmethod
    def new(cls) -> ConversationState:
        return cls()

    def like(self, item_id: str) -> None:
        self.disliked.discard(item_id)
        if item_id not in self.liked:
            self.liked.append(item_id)

    def dislike(self, item_id: str) -> None:
        if item_id in self.liked:
            self.liked.remove(item_id)
        self.disliked.add(item_id)

    def absorb(
        self, message: str, interests: Interests, items: tuple[str, ...] = (), type_phrases: list[str] | None = None
    ) -> None:
        """Fold one user message into the state. Restated wishes replace older ones of the same kind.

        ``type_phrases`` are the product types this message names (None: it names none, the old ones stand).
        """
        praised = self._last_named() if interests.praises_last else ()
        # A logged turn's items are whatever it named; the reader says which were not liked ("I never saw X").
        unliked = {*interests.mentioned_ids, *interests.disliked_ids}
        liked = [*(i for i in items if i not in unliked), *interests.liked_ids, *praised]
        self.turns.append(StateTurn("user", message, tuple(dict.fromkeys([*items, *interests.liked_ids]))))
        self.language = interests.language
        for item_id in liked:
            self.like(item_id)
            self._mention(item_id)
        for item_id in interests.disliked_ids:
            self.dislike(item_id)
            self._mention(item_id)
        for item_id in interests.mentioned_ids:
            self._mention(item_id)
        self.seen_series = list(dict.fromkeys([*self.seen_series, *interests.seen_series_ids]))
        if interests.rejects_picks:  # turned down: the last picks no longer pull the collaborative signal
            self.search_mentions = [i for i in self.search_mentions if i not in self.last_picks]
        said = interests.constraints
        # "It should be a drama too" narrows the search it follows; "a drama" alone starts another.
        adds_categories = bool(said.include_categories) and interests.adds and bool(self.constraints.include_categories)
        # "For me" after a search for a child is a new search; otherwise it says nothing new ("anything for me?").
        audience_changes = interests.audience not in (None, "adult") or (
            interests.audience == "adult" and self.audience in ("children", "teen")
        )
        new_search = bool((said.include_categories and not adds_categories) or audience_changes or type_phrases)
        if new_search:
            self.new_search()
            # A new search ("now a horror film for me") is for its own audience; an adult's is no filter.
            self.audience = interests.audience if interests.audience != "adult" else None
            self.wishes = []  # and its own words: "scary" from the last search is no wish for a child's film
            self.topics = []
            if self.years_stepped:  # "older" stepped from the last search's picks, not from this one's
                self.constraints = self.constraints.with_years(None, None)
                self.years_stepped = False
        if type_phrases or (said.include_categories and not adds_categories):  # a new type or category
            self.type_phrases = list(type_phrases or [])
        self.constraints = self.constraints.followed_by(said, adds_categories=adds_categories)
        if "year" in said.bounded_fields:
            self.years_stepped = False
        self.avoid_terms = list(dict.fromkeys([*self.avoid_terms, *interests.avoid_terms]))[-8:]
        self.ruled_out_terms = list(dict.fromkeys([*self.ruled_out_terms, *interests.ruled_out_terms]))[-8:]
        self.wishes = list(dict.fromkeys([*interests.wishes, *self.wishes]))[:6]
        self.topics = list(dict.fromkeys([*interests.topics, *self.topics]))[:3]
        if interests.query_text:
            self.user_queries.append(interests.query_text)

    def _last_named(self) -> tuple[str, ...]:
        """What the last reply named, when it named few enough (one to three) for "good movies" to mean them
        all: praise after a list of five cards says nothing about which one."""
        last = self.turns[-1] if self.turns else None
        if last is None or last.role != "assistant" or not 1 <= len(last.items) <= _PRAISABLE:
            return ()
        return last.items

    def new_search(self) -> None:
        """A new search begins: the items named so far stop steering it, unless the person liked them."""
        self.search_mentions = []

    def seeds(self) -> list[str]:
        """The items the collaborative signal starts from, in the order they were named: the ones the person
        liked or disliked, and any named since the current search began."""
        current = set(self.search_mentions) | set(self.liked) | self.disliked
        return [i for i in self.mentioned if i in current]

    def step_years(self, year_min: int | None, year_max: int | None) -> None:
        """A year bound from a step away from the last picks ("older"): it lasts until a new search."""
        self.constraints = self.constraints.with_years(year_min, year_max)
        self.years_stepped = True

    def record_assistant(self, text: str, items: tuple[str, ...], *, shown: bool = True) -> None:
        """Record a reply. A shown list becomes what ordinals refer to; a single item becomes what "it" is."""
        self.turns.append(StateTurn("assistant", text, items))
        if shown and items:
            self.last_picks = items
        if items:
            self.focus = items[0] if len(items) == 1 else None
        for item_id in items:
            self._mention(item_id)
            if shown and item_id not in self.shown:
                self.shown.append(item_id)

    def record_question(self, message: str) -> None:
        """A question about a shown item: part of the dialogue, but it states no new wish."""
        self.turns.append(StateTurn("user", message))

    def _mention(self, item_id: str) -> None:
        if item_id not in self.mentioned:
            self.mentioned.append(item_id)
        if item_id not in self.search_mentions:
            self.search_mentions.append(item_id)

    def context_text(self, title_of: Callable[[str], str | None]) -> str:
        """The recent dialogue as one retrieval and scoring query (see ``tailtalk.dialogues.context_text``)."""
        return context_text(self.turns, title_of)

    def dialogue_text(self) -> str:
        return "\n".join(f"{t.role}: {t.text}" for t in self.turns)
