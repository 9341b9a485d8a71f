"""Grounded template explanations: every word about an item comes from its catalogue entry.

The LLM layer may later rewrite these, but this is always the fallback that cannot
invent anything.

Example::

    >>> from tailtalk.catalog import Item
    >>> from explain.templates import TemplateExplainer
    >>> item = Item(id="1", title="Alien", year=1979, categories=["horror", "sci-fi"],
    ...             description="The crew of a ship meets a deadly creature.", attributes={"director": ["Ridley Scott"]})
    >>> TemplateExplainer().reason(item, wishes=["horror"], liked_titles=[])
    'Horror, sci-fi (1979), directed by Ridley Scott. Matches your wish for horror. The crew of a ship meets a deadly creature.'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tailtalk.catalog import Item

_MAX_SUMMARY = 160


@dataclass(frozen=True)
class Explained:
    item: Item
    reason: str
    score: float
    is_tail: bool


class Explainer(Protocol):
    def reason(self, item: Item, *, wishes: Sequence[str], liked_titles: Sequence[str],
               recommended_with: str | None = None) -> str: ...

    def reply(self, picks: Sequence[Explained], *, wishes: Sequence[str], notices: Sequence[str],
              heading: str | None = None) -> str: ...


def _names(value: object, limit: int) -> str:
    names = [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
    return ", ".join(names[:limit])


def _first_sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return sentence if len(sentence) <= _MAX_SUMMARY else sentence[: _MAX_SUMMARY - 1].rstrip() + "…"


class TemplateExplainer:
    """Builds one-line reasons from categories, year, price, people and the first plot sentence."""

    def reason(self, item: Item, *, wishes: Sequence[str], liked_titles: Sequence[str],
               recommended_with: str | None = None) -> str:
        """``recommended_with``: the title of the liked item beside which people most often named this one
        (the collaborative model's evidence); the reason then says so."""
        head = ", ".join(item.categories[:3]).capitalize() if item.categories else "An item"
        details = []
        if item.year:
            details.append(str(item.year))
        if item.price is not None:
            details.append(f"${item.price:,.2f}")
        parts = [f"{head} ({', '.join(details)})" if details else head]
        if item.attributes.get("director"):
            parts[0] += f", directed by {_names(item.attributes['director'], 2)}"
        if item.attributes.get("stars"):
            parts[0] += f", with {_names(item.attributes['stars'], 2)}"
        text_of_item = " ".join([*item.categories, item.description, item.title]).lower()
        matched = [w for w in wishes if w.lower() in text_of_item]
        if recommended_with:
            parts.append(f"Often recommended to people who loved {recommended_with}")
        if matched:
            parts.append(f"Matches your wish for {', '.join(matched[:3])}")
        elif liked_titles and not recommended_with:
            parts.append(f"For fans of {', '.join(liked_titles[:2])}")
        if item.description:
            parts.append(_first_sentence(item.description))
        text = ". ".join(p.rstrip(".") for p in parts)
        return text if text.endswith("…") else text + "."  # a cut-off summary ends in "…", not "…."

    def reply(self, picks: Sequence[Explained], *, wishes: Sequence[str], notices: Sequence[str],
              heading: str | None = None) -> str:
        """Notices, a heading (``heading``, else "Here are N picks"), then one numbered line per pick."""
        lines = [f"Note: {n}" for n in notices]
        if not picks:
            lines.append("I found nothing in the catalogue that satisfies all of that. "
                         "Could you loosen a constraint (a year range, a price limit or a category)?")
            return "\n".join(lines)
        about = f" for {', '.join(wishes[:3])}" if wishes else ""
        if heading:
            lines.append(heading)
        else:
            lines.append(f"Here is 1 pick{about}:" if len(picks) == 1 else f"Here are {len(picks)} picks{about}:")
        for n, pick in enumerate(picks, start=1):
            badge = " [long-tail pick]" if pick.is_tail else ""
            lines.append(f"{n}. {pick.item.label}{badge}: {pick.reason}")
        return "\n".join(lines)
