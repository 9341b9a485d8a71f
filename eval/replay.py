"""A logged dialogue replayed into the conversation state a live session would have had: the one way every
evaluation turns a log into states (the ranking systems of :mod:`eval.systems` and :mod:`eval.replies`).

Each user message is cleaned as the chat UI cleans it (:func:`agent.message.clean_message`), read by the
pipeline's understander and folded into the state; each logged assistant turn is recorded as said, not as
shown (the picks of a logged human recommender were never the product's cards).

Example::

    >>> from tailtalk.catalog import Catalog, Item
    >>> from tailtalk.dialogues import Turn
    >>> from retrieval.embedder import HashingEmbedder
    >>> from retrieval.retriever import InMemoryRetriever
    >>> from ui.pipeline import TurnPipeline
    >>> from eval.replay import replay_state
    >>> cat = Catalog((Item(id="1", title="Alien", categories=["horror"]),))
    >>> pipeline = TurnPipeline.from_parts(cat, InMemoryRetriever(cat, HashingEmbedder()))
    >>> state = replay_state(pipeline, [Turn(role="user", text="something  scary\\u200b")], "d:1")
    >>> state.turns[0].text, sorted(state.constraints.include_categories)
    ('something scary', ['horror'])
"""

from __future__ import annotations

from collections.abc import Sequence

from tailtalk.dialogues import Turn
from agent.message import clean_message
from agent.state import ConversationState
from agent.understand import Interests
from ui.pipeline import TurnPipeline


def replay_state(
    pipeline: TurnPipeline,
    turns: Sequence[Turn],
    conversation_id: str,
    *,
    understood: dict[str, Interests] | None = None,
) -> ConversationState:
    """The state after ``turns``. ``understood`` caches readings across replays (dialogue prefixes repeat)."""
    readings = understood if understood is not None else {}
    state = ConversationState(conversation_id=conversation_id)
    for turn in turns:
        if turn.role == "user":
            text = clean_message(turn.text, max_chars=pipeline.max_message_chars).text
            if text not in readings:
                readings[text] = pipeline.understand(text)
            state.absorb(text, readings[text], items=turn.items)
        else:
            state.record_assistant(turn.text, turn.items, shown=False)
    return state
