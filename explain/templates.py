"""Grounded template explanations: every claim comes from the item's catalogue entry or the
recommender's own evidence (what people named together, what the person said and loved).

The language model may add to the reply, but the cards' reasons are always these.

Example::

    >>> from tailtalk.catalog import Item
    >>> from explain.templates import TemplateExplainer
    >>> item = Item(id="1", title="Alien", year=1979, categories=["horror", "sci-fi"],
    ...             description="The crew of a ship meets a deadly creature.",
    ...             attributes={"director": ["Ridley Scott"]})
    >>> TemplateExplainer().reason(item, wishes=["horror"])
    'Matches your wish for horror. Directed by Ridley Scott. The crew of a ship meets a deadly creature.'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from tailtalk.catalog import Item
from tailtalk.languages import CATEGORY_NAMES_ZH
from tailtalk.words import stems
from agent.understand import NARROWER, SYNONYMS

_MAX_SUMMARY = 160


@dataclass(frozen=True)
class Explained:
    item: Item
    reason: str
    score: float
    is_tail: bool


class Explainer(Protocol):
    def reason(
        self,
        item: Item,
        *,
        wishes: Sequence[str],
        liked: Sequence[Item] = (),
        recommended_with: str | None = None,
        long_tail: bool = False,
    ) -> str: ...

    def reply(
        self,
        picks: Sequence[Explained],
        *,
        wishes: Sequence[str],
        notices: Sequence[str],
        heading: str | None = None,
        liked_titles: Sequence[str] = (),
        changes: Sequence[str] = (),
        follow_up: str = "",
        noun: str = "picks",
        bounds: Sequence[str] = (),
        language: str = "en",
        more: bool = False,
    ) -> str: ...


def _names(value: object, limit: int) -> str:
    return ", ".join(_listed(value)[:limit])


def _first_sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return sentence if len(sentence) <= _MAX_SUMMARY else sentence[: _MAX_SUMMARY - 1].rstrip() + "…"


class TemplateExplainer:
    """Card reasons that say why an item fits this person, and the reply's short lead-in."""

    def reason(
        self,
        item: Item,
        *,
        wishes: Sequence[str],
        liked: Sequence[Item] = (),
        recommended_with: str | None = None,
        long_tail: bool = False,
    ) -> str:
        """Why this item, for this person, then who made it and what it is about (the card shows its year,
        price and categories above the reason).

        The first sentence ties the item to the person: ``recommended_with`` (the liked title beside which
        people most often named it: the collaborative model's evidence), a director or star it shares with
        a liked item, the wishes its facts match, or a category it shares with a liked item. A long-tail pick
        says how rarely past conversations named it. Every claim is a catalogue fact or the recommender's
        own evidence.
        """
        parts = self._why(item, wishes, liked, recommended_with)
        if long_tail and item.popularity is not None:
            count = int(item.popularity)
            parts.append(
                "A lesser-known pick: past conversations never named it"
                if count == 0
                else f"A lesser-known pick: named in {count} past conversation{'s' if count != 1 else ''}"
            )
        credits = []
        if item.attributes.get("director"):
            credits.append(f"directed by {_names(item.attributes['director'], 2)}")
        if item.attributes.get("stars"):
            credits.append(f"with {_names(item.attributes['stars'], 2)}")
        if credits:
            parts.append(_upper_first(", ".join(credits)))
        if item.description:
            parts.append(_first_sentence(item.description))
        if not parts:
            return ""
        text = ". ".join(p.rstrip(".") for p in parts)
        return text if text.endswith("…") else text + "."  # a cut-off summary ends in "…", not "…."

    @staticmethod
    def _why(item: Item, wishes: Sequence[str], liked: Sequence[Item], recommended_with: str | None) -> list[str]:
        if recommended_with:
            return [f"Often recommended to people who loved {recommended_with}"]
        for role, phrase in (("director", "Directed by {name}, like {title}"), ("stars", "With {name}, as in {title}")):
            own = set(_listed(item.attributes.get(role)))
            for other in liked:
                shared = [n for n in _listed(other.attributes.get(role)) if n in own]
                if shared:
                    return [phrase.format(name=shared[0], title=other.title)]
        for person in people_asked_for([item], wishes):  # a whole name of two words or more, not a lone "James"
            if person.role in _ASKED_REASONS:
                return [_ASKED_REASONS[person.role].format(name=person.name)]
        matched = _wishes_met(item, wishes)
        if matched:
            return [f"Matches your wish for {', '.join(matched[:3])}"]
        for other in liked:
            shared = [c for c in item.categories if c in other.categories]
            if shared:
                return [f"{_upper_first(shared[0])}, like {other.title}"]
        return []

    def reply(
        self,
        picks: Sequence[Explained],
        *,
        wishes: Sequence[str],
        notices: Sequence[str],
        heading: str | None = None,
        liked_titles: Sequence[str] = (),
        changes: Sequence[str] = (),
        follow_up: str = "",
        noun: str = "picks",
        bounds: Sequence[str] = (),
        language: str = "en",
        more: bool = False,
    ) -> str:
        """Notices, then a short lead-in: what was understood (or ``heading``), what changed since the last
        turn, and one follow-up question. The cards carry each pick's reason; the reply does not repeat them.

        >>> pick = Explained(Item(id="1", title="Alien", year=1979), "Scary.", 1.0, False)
        >>> TemplateExplainer().reply([pick, pick], wishes=["scary"], notices=[], liked_titles=["Jaws"],
        ...                           changes=["before 1980"], follow_up="Older or newer?", noun="films")
        'Here are 2 films for your wish: scary, for fans of Jaws. Since your last message: before 1980. Older or newer?'
        >>> TemplateExplainer().reply([pick], wishes=[], notices=[], noun="films", more=True)
        'Here is 1 more film.'
        >>> TemplateExplainer().reply([pick, pick], wishes=[], notices=[], noun="films", bounds=["2015"])
        'Here are 2 films, 2015.'
        """
        lines = [f"Note: {n}" for n in notices]
        if language == "zh":
            lines.append(_chinese_lead(len(picks), wishes, bounds, follow_up, more) if picks else NOTHING_FOUND["zh"])
            return "\n".join(lines)
        if not picks:
            lines.append(NOTHING_FOUND["en"])
            return "\n".join(lines)
        asked = people_asked_for([p.item for p in picks], wishes)
        if heading:
            lead = heading.rstrip(":.") + "."
        else:
            count = f"{len(picks)}{' more' if more else ''} {noun if len(picks) != 1 else noun.rstrip('s')}"
            name_words = {word for person in asked for word in person.name.lower().split()}
            listed = _one_per_meaning([w for w in wishes if w.lower() not in name_words])  # "by Christopher Nolan"
            about = f" for {_your_wishes(listed[:3])}" if listed else ""  # "for funny" misread
            about += "".join(f", {p.phrase}" if about else f" {p.phrase}" for p in asked if p.picks == len(picks))
            # "under $70.00" reads on from "5 products"; a year does not ("Here are 5 films 2015").
            about += "".join(f", {b}" if about or b[:1].isdigit() else f" {b}" for b in bounds)
            fans = f", for fans of {' and '.join(liked_titles[:2])}" if liked_titles else ""
            lead = f"Here {'is' if len(picks) == 1 else 'are'} {count}{about}{fans}."
        sentences = [lead]
        # A person in only some picks is not the list's heading: say how many, rather than leave the others
        # looking like theirs ("what else is Alexandra Breckenridge in" finds one of her films).
        sentences += [
            f"Only {p.picks} of them {'is' if p.picks == 1 else 'are'} {p.phrase}."
            for p in asked
            if p.picks < len(picks)
        ]
        if changes:
            sentences.append(f"Since your last message: {'; '.join(changes)}.")
        if follow_up:
            sentences.append(follow_up)
        lines.append(" ".join(sentences))
        return "\n".join(lines)


def _your_wishes(words: Sequence[str]) -> str:
    """The person's words, said as theirs. Not in quotes: a quoted word reads as a title, to a checker of written
    titles as to a person ('for "user's"' named the film S).

    >>> _your_wishes(["scary"]), _your_wishes(["western", "funny", "short"])
    ('your wish: scary', 'your wishes: western, funny and short')
    """
    if len(words) == 1:
        return f"your wish: {words[0]}"
    return f"your wishes: {', '.join(words[:-1])} and {words[-1]}"


# A role's words in a reply's lead-in, in the order a name is looked up, and in a card's reason.
_ROLE_PHRASES = {"director": "by", "stars": "with", "writer": "written by"}
_ASKED_REASONS = {"director": "Directed by {name}, as you asked", "stars": "With {name}, as you asked"}


@dataclass(frozen=True)
class AskedPerson:
    """A person the request named in full, as the picks' catalogue entries spell them."""

    name: str
    role: str  # the first of ``_ROLE_PHRASES`` they hold in a pick
    picks: int  # how many of the picks they are in

    @property
    def phrase(self) -> str:
        """The role's words and the name: "by Christopher Nolan", "with Tom Hanks"."""
        return f"{_ROLE_PHRASES[self.role]} {self.name}"


def people_asked_for(items: Sequence[Item], wishes: Sequence[str]) -> list[AskedPerson]:
    """The people of ``items`` whose whole name (two words or more) the wishes hold, each under its first role
    in ``_ROLE_PHRASES``, with how many of ``items`` have them in any role; at most two, in the items' order.

    >>> nolan = Item(id="1", title="Inception", attributes={"director": ["Christopher Nolan"]})
    >>> other = Item(id="2", title="Heat", attributes={"stars": ["Al Pacino"]})
    >>> people_asked_for([nolan, other], ["nolan", "christopher", "heist"])
    [AskedPerson(name='Christopher Nolan', role='director', picks=1)]
    """
    said = {w.lower() for w in wishes}
    found: dict[str, str] = {}
    for item in items:
        for role in _ROLE_PHRASES:
            for name in _listed(item.attributes.get(role)):
                words = set(name.lower().split())
                if len(words) > 1 and words <= said and name not in found:
                    found[name] = role
    return [
        AskedPerson(name, role, sum(any(name in _listed(i.attributes.get(r)) for r in _ROLE_PHRASES) for i in items))
        for name, role in list(found.items())[:2]
    ]


NOTHING_FOUND = {
    "en": "I found nothing in the catalogue that satisfies all of that. "
    "Could you loosen a constraint (a year range, a price limit or a category)?",
    "zh": "目录里没有完全符合这些条件的电影。可以放宽一个条件吗（年代、价格或类型）？",
}
# The one question a reply ends with, by what would most sharpen the next list (chosen by the pipeline).
FOLLOW_UPS = {
    "en": {
        "loved": "Is there a film you loved that I should lean on?",
        "era": "Would you like them older or newer?",
        "mood": "Something lighter, darker or less mainstream?",
        "budget": "Do you have a budget in mind? You can also ask me about any product shown.",
        "ask": "Ask me about any product shown, or tell me what to change.",
    },
    "zh": {
        "loved": "有没有你很喜欢的电影，让我参考一下？",
        "era": "想要更老一点还是更新一点的？",
        "mood": "想要轻松一点、黑暗一点，还是冷门一点的？",
        "budget": "你有预算吗？也可以问我任何一件商品的情况。",
        "ask": "可以问我任何一件商品的情况，或者告诉我要改什么。",
    },
}


def _one_per_meaning(wishes: Sequence[str]) -> list[str]:
    """The first wish of each stem: "western, westerns" says one thing.

    >>> _one_per_meaning(["westerns", "funny", "western", "comedy", "comedies"])
    ['westerns', 'funny', 'comedy']
    """
    first: dict[frozenset[str], str] = {}
    for wish in wishes:
        first.setdefault(frozenset(stems(wish)), wish)
    return list(first.values())


def follow_up_question(kind: str, language: str) -> str:
    """The follow-up question ``kind`` ("loved", "era", "mood", "budget", "ask") in ``language`` (English
    where there is no template in it)."""
    return FOLLOW_UPS.get(language, FOLLOW_UPS["en"])[kind]


def _chinese_lead(count: int, wishes: Sequence[str], bounds: Sequence[str], follow_up: str, more: bool = False) -> str:
    """The lead-in in Chinese; the cards' reasons are catalogue facts in English, and it says so.

    >>> _chinese_lead(5, ["comedy", "romance"], ["1990–1999年"], "想要更老一点还是更新一点的？")
    '为你找到5部电影：喜剧、爱情，1990–1999年。卡片上的推荐理由是英文的。想要更老一点还是更新一点的？'
    """
    about = "、".join(CATEGORY_NAMES_ZH.get(w, w) for w in wishes[:3])
    about = "，".join(x for x in (about, *bounds) if x)
    found = "又为你找到" if more else "为你找到"
    return f"{found}{count}部电影{'：' + about if about else ''}。卡片上的推荐理由是英文的。{follow_up}"


_CATEGORY_OF = {synonym: category for category, synonyms in SYNONYMS.items() for synonym in synonyms}


def categories_by_stems(categories: Iterable[str]) -> dict[frozenset[str], tuple[str, ...]]:
    """Categories keyed by the stems of their words, for :func:`category_named`. Several categories can share
    stems ("music" and "musical"): all are kept, sorted, so the lookup never depends on a set's order."""
    by_stems: dict[frozenset[str], list[str]] = {}
    for category in categories:
        by_stems.setdefault(frozenset(stems(category)), []).append(category)
    return {key: tuple(sorted(set(named))) for key, named in by_stems.items()}


def category_named(wish: str, by_stems: Mapping[frozenset[str], tuple[str, ...]]) -> str | None:
    """The category a wish names: the category of a synonym ("funny": comedy), or one of ``by_stems`` (see
    :func:`categories_by_stems`) with the wish's stems ("comedies", "westerns"), the one spelt most like the
    wish where several share them ("musicals": musical, not music); None for other words.

    >>> known = categories_by_stems(["comedy", "western", "musical", "music"])
    >>> category_named("funny", known), category_named("westerns", known), category_named("heists", known)
    ('comedy', 'western', None)
    >>> category_named("musicals", known), category_named("music", known)
    ('musical', 'music')
    """
    if synonym := _CATEGORY_OF.get(wish.lower()):
        return synonym
    named = by_stems.get(frozenset(stems(wish)), ())
    return max(named, key=lambda category: _shared_prefix(category, wish.lower()), default=None)


def _shared_prefix(a: str, b: str) -> int:
    """How many leading characters two words share."""
    return next((n for n, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def _wishes_met(item: Item, wishes: Sequence[str]) -> list[str]:
    """The wishes an item's facts meet: in its words, as a word of the same stem ("animated" for animation),
    or as a synonym of one of its categories ("funny" for a comedy), unless the synonym names only a kind of the
    category (a crime film is no heist by its category alone).

    Whole words only ("war" is not met by "award"), and one wish per meaning ("comedy, comedies" says one
    thing twice).

    >>> up = Item(id="1", title="Up", categories=["animation", "comedy"], description="An award-winning trip")
    >>> _wishes_met(up, ["animated", "funny", "scary", "war", "comedies", "comedy"])
    ['animated', 'funny']
    >>> _wishes_met(Item(id="2", title="Taken", categories=["crime"], description="A kidnapping."), ["heist"])
    []
    """
    text = " ".join([*item.categories, item.description, item.title]).lower()
    words = stems(text)
    met: dict[str, str] = {}
    by_stems = categories_by_stems(item.categories)
    for wish in wishes:
        w, wish_stems = wish.lower(), frozenset(stems(wish))
        category = category_named(wish, by_stems)  # "comedies" names comedy
        by_category = category in item.categories and w not in NARROWER
        if re.search(rf"\b{re.escape(w)}\b", text) or wish_stems <= words or by_category:
            met.setdefault(category or " ".join(sorted(wish_stems)), wish)
    return list(met.values())


# How a reason's first sentence cites the person (their words, what they loved, what people who loved it named).
_PERSONAL = re.compile(
    r"^(?:Often recommended to people who loved |Matches your wish for |Directed by [^.]+, like |"
    r"With [^.]+, as in |(?:Directed by|With) [^.]+, as you asked|[^.,]+, like )"
)


def cites_the_person(reason: str) -> bool:
    """Whether a card's reason ties the item to this person (see :meth:`TemplateExplainer.reason`).

    >>> cites_the_person("Often recommended to people who loved Alien. Directed by Ridley Scott.")
    True
    >>> cites_the_person("Directed by Ridley Scott. The crew of a ship meets a creature.")
    False
    """
    return _PERSONAL.match(reason) is not None


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _listed(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)] if value else []
