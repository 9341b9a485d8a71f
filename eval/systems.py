"""The systems the harness compares, all behind one tiny interface.

``pipeline`` is the product itself: it replays the dialogue into a ConversationState
and calls the same ``TurnPipeline.recommend`` that the chat UI calls. The others are
baselines: popularity, BM25 over item texts (bm25s) and dense retrieval alone.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from tailtalk.catalog import Catalog
from retrieval.query import Constraints, RetrievalQuery
from retrieval.retriever import Retriever
from agent.pipeline import TurnPipeline
from agent.state import ConversationState
from eval.instances import Instance

_CONTEXT_TURNS = 4


def context_text(instance: Instance) -> str:
    """The most recent turns, newest first (encoders truncate long input from the end)."""
    return " ".join(t.text for t in reversed(instance.context[-_CONTEXT_TURNS:]))


class EvalSystem(Protocol):
    name: str

    def rank(self, instance: Instance, *, exclude: frozenset[str], k: int) -> list[str]: ...


class PopularitySystem:
    name = "popularity"

    def __init__(self, catalog: Catalog):
        self._order = [i.id for i in sorted(catalog, key=lambda i: (-(i.popularity or 0.0), i.id))]

    def rank(self, instance: Instance, *, exclude: frozenset[str], k: int) -> list[str]:
        return [i for i in self._order[: k + len(exclude)] if i not in exclude][:k]


class BM25System:
    name = "bm25"

    def __init__(self, catalog: Catalog):
        import bm25s

        self._ids = catalog.ids()
        self._retriever = bm25s.BM25()
        self._retriever.index(bm25s.tokenize([i.embedding_text() for i in catalog], stopwords="en",
                                             show_progress=False), show_progress=False)
        self._tokenize = lambda text: bm25s.tokenize([text], stopwords="en", show_progress=False)

    def rank(self, instance: Instance, *, exclude: frozenset[str], k: int) -> list[str]:
        tokens = self._tokenize(context_text(instance))
        if not tokens.ids[0]:
            return []
        docs, scores = self._retriever.retrieve(tokens, k=min(len(self._ids), k + len(exclude)),
                                                show_progress=False)
        return [self._ids[d] for d, s in zip(docs[0], scores[0]) if s > 0 and self._ids[d] not in exclude][:k]


class DenseSystem:
    name = "dense"

    def __init__(self, retriever: Retriever):
        self.retriever = retriever

    def rank(self, instance: Instance, *, exclude: frozenset[str], k: int) -> list[str]:
        query = RetrievalQuery(text=context_text(instance), constraints=Constraints(exclude_ids=exclude), k=k)
        return [c.item_id for c in self.retriever.retrieve(query)]


def replay(pipeline: TurnPipeline, instance: Instance) -> ConversationState:
    """Rebuild the conversation state a live session would have had after the context turns."""
    state = ConversationState(conversation_id=f"{instance.dialogue_id}:{instance.turn_index}")
    for turn in instance.context:
        if turn.role == "user":
            state.absorb(turn.text, pipeline.understander.understand(turn.text), items=turn.items)
        else:
            state.record_assistant(turn.text, turn.items, shown=False)
    return state


class PipelineSystem:
    def __init__(self, pipeline: TurnPipeline, name: str = "pipeline", candidates: int = 100):
        self.pipeline = pipeline
        self.name = name
        self.candidates = candidates

    def rank(self, instance: Instance, *, exclude: frozenset[str], k: int) -> list[str]:
        state = replay(self.pipeline, instance)
        ranked, _ = self.pipeline.recommend(state, k=k, candidates=max(self.candidates, k),
                                            exclude_mentioned=bool(exclude))
        return [r.item_id for r in ranked if r.item_id not in exclude]


def item_vectors(retriever: Retriever, catalog: Catalog) -> dict[str, np.ndarray]:
    """Every item's stored embedding, read back from the index rather than recomputed."""
    return retriever.vectors(catalog.ids())
