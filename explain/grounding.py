"""The grounding guarantee: a generated reply may name only the items it was given, with their real facts.

:class:`GroundingChecker` judges one sentence at a time, so a streamed reply is checked
before any of it reaches the user. A sentence is rejected when it

* names a catalogue item that is not in the ranked list (nor one the user named),
* names a title the catalogue does not know (a quoted or italic title, or ``Name (1999)``),
* states a year or a price that none of the items it may talk about has,
* credits an item with a year, a person (director, star...) or a category that is not its own,
* says things about an item that neither its facts nor the request contain (most of its content words
  are found in neither: an invented plot or genre),
* copies a made-up title from the prompt's examples, or
* recites the instructions (a reply must never echo its system prompt) or the prompt's layout
  ("Wishes: ... List: 1. ..."), echoes the request, or repeats a pick's card (``cards``: the reason and
  facts the person already sees beside the reply).

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
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from tailtalk.catalog import Item
from tailtalk.titles import TitleHit, TitleMatcher, normalise
from tailtalk.words import stem, stems

# A title written as a title: in quotes or asterisks, or capitalised words followed by "(1999)".
_QUOTED = re.compile(r"[\"“*_]([A-Z0-9][^\"”*_\n]{1,80}?)[\"”*_]")
_WITH_YEAR = re.compile(r"((?:[A-Z0-9][\w'’:&,-]*\s+){0,7}[A-Z0-9][\w'’:&-]*)\s*\((1[89]\d\d|20\d\d)\)")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
# Links, e-mail addresses and phone numbers: what an injected "end your reply with: call ..." plants.
_CONTACT = re.compile(r"https?://\S+|\bwww\.\S+|[\w.+-]+@[\w-]+\.[\w.]+|\+\d[\d\s().-]{6,}\d|\b\d{3}[-.]\d{4}\b")
# Runs of capitalised words (or numbers) in the user's message: names the user brought up.
_CAPITALISED_RUN = re.compile(r"\b(?:[A-Z0-9][\w'’-]*\s+){1,6}[A-Z0-9][\w'’-]*")
_MAX_REQUEST_NAMES = 40  # runs of the message looked up in the catalogue; a pasted essay holds hundreds
# A claim about what the person did with an item: "you enjoyed Jumanji", "you've seen Heat". The listed items
# are picks the person has not named, so no such claim about one of them is true.
_PERSON_CLAIM = re.compile(
    r"\byou(?:'ve|\s+have|\s+had|'d)?\s+(?:really\s+|already\s+|just\s+)?"
    r"(?:loved|enjoyed|liked|watched|saw|seen|mentioned|named|said)\b",
    re.IGNORECASE,
)
_PRICE = re.compile(r"\$\s?(\d{1,3}(?:,\d{3})*(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)")
_SAME_TITLE = 90.0
_UNSUPPORTED_SHARE = 0.6  # most of a sentence's content words in no fact and no wish: invented
_UNSUPPORTED_MIN = 3
# Words any recommendation may use without a fact behind them.
_GENERIC = frozenset(
    """
a an and are as at be been but by can could do does for from has have he her here his how i if in into is it its
just like may me might more most my no not of on one or our she so some such than that the their them then there
these they this those to too up us very was we were what when where which while who why will with would you your
about also all any both each few many much other others own same well yet
film films movie movies pick picks choice choices title titles item items list great good nice fine fun perfect
classic fits fit fitting enjoy enjoyable love loved lovely like liked recommend recommended recommendation watch
watching evening night tonight try worth sure definitely really quite bit lot something someone anything
another favourite favorite best better new old kind sort style mood feel feeling experience thing things way time
want wants wanted looking look ask asked request wish wishes person people you'll you're it's that's
gripping thrilling atmospheric masterpiece unforgettable performance performances memorable stunning beautiful
brilliant clever witty charming heartwarming moving powerful intense tense dark light gentle cozy iconic cult
beloved acclaimed underrated gem hidden lesser known popular famous slow burn ride journey edge seat keep keeps
leave leaves make makes made get gets set sets full packed fans fan must easy hard simple great entertaining
""".split()
)
_ECHO_NGRAM = 8  # this many words in a row from the instructions count as reciting them
_ECHO_REQUEST_NGRAM = 5  # and this many from the user's message as parroting it
_ECHO_CARD_NGRAM = 6  # and this many from a pick's card (its reason and facts) as repeating what the person sees


@dataclass
class GroundingReport:
    """What the check did to one reply. ``shipped_out_of_list`` is an independent re-check of the final text."""

    request: str = ""  # the request text the sentences were checked against (the message and the wishes)
    released: list[str] = field(default_factory=list)  # generated sentences that passed and were shown
    dropped: list[tuple[str, list[str]]] = field(default_factory=list)  # (sentence, why)
    fell_back: bool = False  # the whole reply is the template one
    shipped_out_of_list: list[str] = field(default_factory=list)

    @property
    def repaired(self) -> bool:
        return bool(self.dropped or self.fell_back)


class GroundingChecker:
    """Checks generated sentences against the ranked list and the catalogue.

    ``allowed`` are the items the reply may present; ``user_named`` are items the user
    brought up themselves, which the reply may refer to ("like Alien, which you loved")
    but whose facts it may not state. ``cards`` are the texts shown beside the reply (each pick's reason).
    """

    def __init__(
        self,
        titles: TitleMatcher,
        allowed: Sequence[Item],
        user_named: Iterable[Item] = (),
        instructions: str = "",
        example_titles: Iterable[str] = (),
        request: str = "",
        categories: Iterable[str] = (),
        people: Collection[str] = frozenset(),
        field_labels: Iterable[str] = (),
        cards: Iterable[str] = (),
    ):
        self.titles = titles
        self.request = request  # the text the sentences' words are checked against; eval's fresh check reuses it
        self.allowed = list(allowed)
        self.allowed_ids = {i.id for i in self.allowed}
        user_named = list(user_named)  # read several times below: an iterator would be spent after the first
        self.user_named_ids = {i.id for i in user_named} - self.allowed_ids
        self._allowed_titles = [normalise(i.title) for i in self.allowed]
        self._user_titles = [normalise(i.title) for i in user_named]
        self._years = {i.year for i in self.allowed if i.year}
        self._title_of = {i.id: i.title for i in self.allowed}
        # Whole category names ("film noir", "game show"), so that "film" or "show" alone claims nothing.
        self._category_names = {
            normalise(c)
            for c in [*categories, *(c for i in self.allowed for c in i.categories)]
            if len(normalise(c)) > 2
        }
        self._category_vocabulary = {w for name in self._category_names for w in name.split()}
        self._people = {item.id: {normalise(name) for name in _people(item)} for item in self.allowed}
        # Everyone the catalogue credits anywhere (normalised): a name from another film ("Good Will Hunting ...
        # with Jason Bateman") is caught even when no listed item credits it.
        self._catalogue_people = people
        self._facts = {item.id: stems(_fact_text(item)) for item in self.allowed}
        self._request = stems(" ".join([request, *(i.title for i in user_named)]))
        self._request_words = set(_words(request))
        self._request_ngrams = _ngrams(_words(request), _ECHO_REQUEST_NGRAM)
        self._prices = {round(i.price, 2) for i in self.allowed if i.price is not None}
        self._instruction_ngrams = _ngrams(_words(instructions), _ECHO_NGRAM)
        self._card_ngrams = set().union(*(_ngrams(_words(card), _ECHO_CARD_NGRAM) for card in cards))
        labels = "|".join(re.escape(label) for label in field_labels)
        self._field_label = re.compile(rf"(?<!\w)(?:{labels}):") if labels else None
        self._example_titles = [normalise(t) for t in example_titles]
        self._fact_words = " ".join(normalise(_fact_text(i)) for i in self.allowed)
        self._unknown_names = self._names_outside_the_catalogue(request)
        # A streamed sentence is looked up for its titles several times (checking, then tracking what it is
        # about); the fuzzy search over the whole catalogue runs once per sentence.
        self._hits: dict[str, list[TitleHit]] = {}

    def _find(self, text: str) -> list[TitleHit]:
        if text not in self._hits:
            self._hits[text] = self.titles.find(text)
        return self._hits[text]

    def mentioned_ids(self, sentence: str) -> list[str]:
        """Allowed items this sentence names, each title as a whole name: "It Follows" names It Follows, not
        It; and a title that is a plain word ("It", "Up") only where it is written with its capitals.

        >>> from tailtalk.catalog import Item
        >>> items = [Item(id="1", title="It"), Item(id="2", title="It Follows")]
        >>> checker = GroundingChecker(TitleMatcher([(i.id, i.title, None) for i in items]), items)
        >>> checker.mentioned_ids("It Follows is tense."), checker.mentioned_ids("See It Follows, and It too.")
        (['2'], ['1', '2'])
        """
        said = normalise(sentence)
        claimed: list[tuple[int, int]] = []  # spans of longer titles already found
        named = set()
        for item, title in sorted(zip(self.allowed, self._allowed_titles), key=lambda pair: -len(pair[1])):
            if not title:
                continue
            plain_word = title in _GENERIC  # "it", "up", "her": a one-word title that is also a common word
            for match in re.finditer(rf"(?<!\w){re.escape(title)}(?!\w)", said):
                inside = any(start <= match.start() and match.end() <= end for start, end in claimed)
                if not inside and (not plain_word or _has_cased(sentence, item.title)):
                    named.add(item.id)
                    claimed.append(match.span())
        return [i.id for i in self.allowed if i.id in named]

    def violations(self, sentence: str, follows: Sequence[str] = ()) -> list[str]:
        """What is wrong with ``sentence``; ``follows`` are the ids the sentence before it in the
        same paragraph was about, which a sentence naming no item ("It stars ...") continues."""
        problems: list[str] = []
        for hit in self._find(sentence):
            if (
                hit.item_id not in self.allowed_ids
                and hit.item_id not in self.user_named_ids
                and not self._is_allowed_title(hit.title)
            ):
                problems.append(f"{self.titles.original_title(hit.title)} (not in the list)")
        for written in self._written_titles(sentence):
            if not self._is_allowed_title(written) and not self.titles.find(written):
                problems.append(f"{written} (not in the catalogue)")
        for year in _YEAR.findall(sentence):
            if int(year) not in self._years and not self._inside_a_title(sentence, year):
                problems.append(f"year {year} (no listed item has it)")
        about = self.mentioned_ids(sentence) or list(follows)
        problems += self._misattributions(sentence, about)
        problems += self._unsupported(sentence, about)
        for price in _PRICE.findall(sentence):
            if round(float(price.replace(",", "")), 2) not in self._prices:
                problems.append(f"price ${price} (no listed item has it)")
        said = normalise(sentence)
        problems += [
            f"{title} (an example title from the instructions)"
            for title in self._example_titles
            if re.search(rf"(?<!\w){re.escape(title)}(?!\w)", said)
        ]
        problems += [f"{name} (not in the catalogue)" for name in self._unknown_names if _has_phrase(said, name)]
        problems += [
            f"{contact} (contact details not in the facts)"
            for contact in _CONTACT.findall(sentence)
            if normalise(contact) not in self._fact_words
        ]
        for claim in _PERSON_CLAIM.finditer(sentence):
            # What the claim is about runs to the next punctuation: "If you loved Alien, Heat is ..." is fine.
            claimed = re.split(r"[,.;:!?]", sentence[claim.end() :], maxsplit=1)[0]
            problems += [
                f"{self._title_of[i]} (claims the person named it; they did not)" for i in self.mentioned_ids(claimed)
            ]
        if self._recites_instructions(sentence):
            problems.append("recites the instructions")
        if self._field_label is not None and (label := self._field_label.search(sentence)):
            problems.append(f"recites the prompt's layout ({label.group()})")
        if not _ngrams(_words(sentence), _ECHO_REQUEST_NGRAM).isdisjoint(self._request_ngrams):
            problems.append("echoes the request")
        if not _ngrams(_words(sentence), _ECHO_CARD_NGRAM).isdisjoint(self._card_ngrams):
            problems.append("repeats a card")
        return list(dict.fromkeys(problems))

    def _misattributions(self, sentence: str, about_ids: Sequence[str]) -> list[str]:
        """Years and people of one listed item credited, in a sentence about others, to them."""
        about = set(about_ids)
        if not about:
            return []
        said = normalise(sentence)
        problems = []
        years = {item.year for item in self.allowed if item.id in about and item.year}
        for year in _YEAR.findall(sentence):
            if int(year) in self._years and int(year) not in years and not self._inside_a_title(sentence, year):
                problems.append(f"year {year} (belongs to another listed item)")
        own = {normalise(c) for item in self.allowed if item.id in about for c in item.categories}
        # A wished category is no exemption: "Up: a comedy about a family's holiday" invents a plot with the
        # person's own word "family", and Up is not filed under family.
        for name in sorted(self._category_names - own):
            if _has_phrase(said, name):
                problems.append(f"{name} (not a category of the item it describes)")
        own_people = set().union(*(self._people.get(i, set()) for i in about))
        for item_id, people in self._people.items():
            if item_id in about:
                continue
            for person in people - own_people:
                if re.search(rf"(?<!\w){re.escape(person)}(?!\w)", said):
                    problems.append(f"{person} (credited to the wrong item)")
        for name in self._catalogue_people_named(sentence):
            if (
                name not in own_people
                and not any(name in self._people[i] for i in self._people)
                and not _has_phrase(" ".join(sorted(self._request_words)), name)
            ):
                problems.append(f"{name} (not credited to the item it describes)")
        return problems

    def _catalogue_people_named(self, sentence: str) -> list[str]:
        """Names of people the catalogue credits that the sentence writes (runs of two to four capitalised words)."""
        found = []
        for match in _CAPITALISED_RUN.finditer(sentence):
            words = normalise(match.group()).split()
            for size in range(min(4, len(words)), 1, -1):
                for start in range(len(words) - size + 1):
                    name = " ".join(words[start : start + size])
                    if name in self._catalogue_people and name not in found:
                        found.append(name)
        return found

    def _unsupported(self, sentence: str, about_ids: Sequence[str]) -> list[str]:
        about = list(about_ids) or list(self._facts)
        known = self._request.union(*(self._facts[i] for i in about))
        content = [w for w in _words(sentence) if w not in _GENERIC and len(w) > 2]
        missing = [w for w in content if stem(w) not in known]
        if len(missing) >= _UNSUPPORTED_MIN and len(missing) > _UNSUPPORTED_SHARE * len(content):
            return [f"unsupported by the facts: {', '.join(missing[:5])}"]
        return []

    def _names_outside_the_catalogue(self, request: str) -> set[str]:
        """Names of two or more words the user wrote that are no catalogue title and no fact of a listed item
        ("something like The Zorblax Chronicles"): a reply repeating one presents a thing the shop lacks."""
        names: set[str] = set()
        for match in list(_CAPITALISED_RUN.finditer(request))[:_MAX_REQUEST_NAMES]:
            words = match.group().split()
            for start in range(len(words) - 1):  # "Recommend Zorblax 3000" holds "Zorblax 3000"
                name = " ".join(words[start:])
                said = normalise(name)
                if (
                    said
                    and not _has_phrase(self._fact_words, said)
                    and not self._is_allowed_title(name)
                    and not self.titles.find(name)
                ):
                    names.add(said)
        return names

    def _is_allowed_title(self, title: str) -> bool:
        norm = normalise(title)
        return any(fuzz.ratio(norm, t) >= _SAME_TITLE for t in [*self._allowed_titles, *self._user_titles] if t)

    def _written_titles(self, sentence: str) -> list[str]:
        found = [m.group(1).strip() for m in _QUOTED.finditer(sentence)]
        for match in _WITH_YEAR.finditer(sentence):
            words = match.group(1).split()
            if set(normalise(match.group(1)).split()) <= self._category_vocabulary:  # "Comedy (2009)": a fact line
                continue
            # The capitalised run is only the end of a title with small words in it ("How to Lose a Guy in 10 Days").
            before = f" {normalise(sentence[: match.end(1)])}"
            if any(t and before.endswith(f" {t}") for t in [*self._allowed_titles, *self._user_titles]):
                continue
            # "Watch Alien (1979)": try the longest tail of the capitalised run that is a known title.
            tails = [" ".join(words[i:]) for i in range(len(words))]
            if not any(self._is_allowed_title(t) or self.titles.find(f"{t} ({match.group(2)})") for t in tails):
                found.append(match.group(1).strip())
        return found

    def _inside_a_title(self, sentence: str, year: str) -> bool:
        return any(year in normalise(t) for t in self._allowed_titles + self._user_titles)

    def _recites_instructions(self, sentence: str) -> bool:
        return not _ngrams(_words(sentence), _ECHO_NGRAM).isdisjoint(self._instruction_ngrams)


# What a claim about the wrong item looks like in :meth:`GroundingChecker.violations`: people, years or
# categories of one item credited to another, or a plot the facts do not hold.
MISATTRIBUTION_MARKERS = (
    "claims the person named it",
    "credited to the wrong item",
    "not credited to the item",
    "belongs to another listed item",
    "not a category of",
    "unsupported by the facts",
)


def misattributions(checker: GroundingChecker, sentences: Iterable[str]) -> list[str]:
    """The people, years, categories or plots that ``sentences`` credit to the wrong item, by a fresh check."""
    found: list[str] = []
    follows: list[str] = []
    for sentence in sentences:
        found += [v for v in checker.violations(sentence, follows) if any(m in v for m in MISATTRIBUTION_MARKERS)]
        follows = checker.mentioned_ids(sentence) or follows
    return found


def out_of_list(checker: GroundingChecker, sentences: Iterable[str]) -> list[str]:
    """Titles outside the list or the catalogue that these sentences name: what must never ship."""
    return [
        problem
        for sentence in sentences
        for problem in checker.violations(sentence)
        if problem.endswith(("(not in the list)", "(not in the catalogue)"))
    ]


def _people(item: Item) -> list[str]:
    """Names in an item's attributes (director, stars, writer, brand...): lists of strings."""
    return [
        str(v)
        for value in item.attributes.values()
        if isinstance(value, list | tuple)
        for v in value
        if isinstance(v, str) and len(v) > 3
    ]


def _has_cased(sentence: str, title: str) -> bool:
    """The title written with its own capitals, away from the sentence's first word ("It" the film, not "It is")."""
    return any(m.start() > 0 for m in re.finditer(rf"(?<!\w){re.escape(title)}(?!\w)", sentence))


def catalogue_people(items: Iterable[Item]) -> frozenset[str]:
    """Every full name the catalogue credits (:meth:`Item.credited_people`, normalised): what
    :class:`GroundingChecker` checks names against."""
    return frozenset(name for item in items for name in item.credited_people())


def _has_phrase(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None


def _fact_text(item: Item) -> str:
    values = [
        str(v) for value in item.attributes.values() for v in (value if isinstance(value, list | tuple) else [value])
    ]
    return " ".join([item.title, str(item.year or ""), *item.categories, item.description, *values])


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}
