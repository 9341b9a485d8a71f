"""Generated training dialogues for the items past conversations rarely name (cold start, issue 16).

Most of a catalogue is never named in a training dialogue, so the text scorer never sees a request that
one of those items answers. ``tailtalk augment`` writes such requests: for each item named in at most
``max_mentions`` training conversations, the simulated user of :mod:`eval.simulator` (who knows the item's
facts and never says its title) asks for it over a few messages, the recommender asks the product's own
clarifying question between them, and answers with the item. ``tailtalk train --augment FILE`` adds these
dialogues to the training split; they never touch valid, test or the collaborative model.

Example::

    >>> from tailtalk.catalog import Catalog, Item
    >>> catalog = Catalog((
    ...     Item(id="1", title="Alien", year=1979, categories=("horror", "sci-fi"), popularity=9),
    ...     Item(id="2", title="The Thing", year=1982, categories=("horror", "sci-fi"), popularity=0),
    ...     Item(id="3", title="Heat", year=1995, categories=("crime",), popularity=7),
    ... ))
    >>> generated = augment(catalog, AugmentConfig(max_mentions=0, limit=10, messages=2, seed=0))
    >>> [d.id for d in generated]
    ['augment-2']
    >>> [(t.role, t.text, t.items) for t in generated[0].turns]  # doctest: +NORMALIZE_WHITESPACE
    [('user', "I'm in the mood for a horror movie.", ()),
     ('assistant', 'Would you like them older or newer?', ()),
     ('user', 'Well, it should be a sci-fi too.', ()),
     ('assistant', 'How about The Thing (1982)?', ('2',))]
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from eval.simulator import LeakGuard, TemplateUser
from explain.templates import follow_up_question
from tailtalk.catalog import Catalog, Item
from tailtalk.dialogues import Dialogue, Turn

AUGMENT_PREFIX = "augment-"  # every generated dialogue's id starts so: never a real dialogue's
# The product's own clarifying questions, in turn, between the user's messages.
_QUESTIONS = {"films": ("era", "mood"), "products": ("budget", "ask")}


class AugmentConfig(BaseModel):
    """Which items get a generated dialogue and how long it is. Validated when built.

    >>> AugmentConfig(max_mentions=2, limit=2000, messages=3, seed=0).messages
    3
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_mentions: int = Field(ge=0, description="Items named in at most this many training conversations.")
    limit: int = Field(ge=1, description="At most this many items (a seeded sample), one dialogue each.")
    messages: int = Field(ge=1, le=5, description="Messages the simulated user sends before the answer.")
    seed: int = Field(description="Seed of the item sample and of the user's wording.")


def rare_items(catalog: Catalog, config: AugmentConfig) -> list[Item]:
    """A seeded sample of the items named at most ``max_mentions`` times, in catalogue order."""
    rare = [item for item in catalog if (item.popularity or 0.0) <= config.max_mentions]
    if len(rare) > config.limit:
        chosen = set(random.Random(config.seed).sample(range(len(rare)), config.limit))
        rare = [item for row, item in enumerate(rare) if row in chosen]
    return rare


def augmented_dialogue(
    item: Item, guard: LeakGuard, config: AugmentConfig, *, domain: Literal["films", "products"]
) -> Dialogue | None:
    """The simulated user's first messages for ``item``, with a clarifying question between them, then the
    item as the answer; None when the item's facts give the user nothing to ask with (no category, era,
    price, plot word or person another item shares)."""
    user = TemplateUser(item, guard, domain=domain, seed=config.seed)
    questions = _QUESTIONS[domain]
    turns = [Turn(role="user", text=user.opening())]
    replies = min(config.messages - 1, user.facts_left)
    if not user.opening_names_a_category and not replies:  # "Can you recommend a movie?" alone asks for nothing
        return None
    for asked in range(replies):
        question = follow_up_question(questions[asked % len(questions)], "en")
        turns += [Turn(role="assistant", text=question), Turn(role="user", text=user.reply([], clarifying=True))]
    answer = Turn(
        role="assistant", text=f"How about {item.title}{f' ({item.year})' if item.year else ''}?", items=(item.id,)
    )
    return Dialogue(id=f"{AUGMENT_PREFIX}{item.id}", turns=(*turns, answer))


def augment(
    catalog: Catalog, config: AugmentConfig, *, domain: Literal["films", "products"] = "films"
) -> list[Dialogue]:
    """One generated dialogue per rare item that has facts to ask with (see :func:`augmented_dialogue`)."""
    guard = LeakGuard(catalog)
    dialogues = (augmented_dialogue(item, guard, config, domain=domain) for item in rare_items(catalog, config))
    return [d for d in dialogues if d is not None]


def not_generated(dialogues: Sequence[Dialogue]) -> list[str]:
    """The ids of dialogues that ``augment`` did not write: ``train --augment`` refuses a file that holds any."""
    return [d.id for d in dialogues if not d.id.startswith(AUGMENT_PREFIX)]
