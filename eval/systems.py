"""The systems the harness compares, all behind one tiny interface, found through a registry.

``pipeline`` is the product itself: it replays the dialogue into a ConversationState
and calls the same ``TurnPipeline.recommend`` that the chat UI calls. The others are
baselines: popularity, BM25 over item texts (bm25s) and dense retrieval alone.

A system may ``prepare`` for a whole replay at once (the dense systems embed every
query in one batched call there); ``rank`` then answers one instance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from tqdm import tqdm

from tailtalk.catalog import Catalog
from retrieval.embedder import CachedEmbedder
from retrieval.query import RetrievalQuery, encoded_texts
from tailtalk.constraints import Constraints
from retrieval.retriever import InMemoryRetriever, Retriever, VectorRetriever, top_rows
from retrieval.hybrid import SOURCES, HybridRetriever
from ranking.diversity import DiversityReranker
from ranking.fusion import SIGNALS, FusionRanker
from ui.pipeline import TurnPipeline
from eval.replay import replay_state
from agent.state import ConversationState
from agent.understand import Interests
from tailtalk.instances import Instance
from tailtalk.errors import UserInputError

_CONTEXT_TURNS = 4


def baseline_query_text(instance: Instance) -> str:
    """What the bm25 and dense baselines read: the words of the most recent turns, newest first (encoders
    truncate long input from the end). Not the pipeline's query (:func:`tailtalk.dialogues.context_text`,
    with roles and the suggested titles): the baselines stay the plain ones they are named for."""
    return " ".join(t.text for t in reversed(instance.context[-_CONTEXT_TURNS:]))


class EvalSystem:
    name: str = "system"

    def prepare(self, instances: Sequence[Instance], *, progress: bool = True) -> None:
        """Work shared by every instance of a replay; nothing by default."""

    def rank(self, instance: Instance, *, exclude: frozenset[str], k: int) -> list[str]:
        raise NotImplementedError


class PopularitySystem(EvalSystem):
    name = "popularity"

    def __init__(self, catalog: Catalog):
        self._order = [i.id for i in sorted(catalog, key=lambda i: (-(i.popularity or 0.0), i.id))]

    def rank(self, instance: Instance, *, exclude: frozenset[str], k: int) -> list[str]:
        return [i for i in self._order[: k + len(exclude)] if i not in exclude][:k]


class BM25System(EvalSystem):
    name = "bm25"

    def __init__(self, catalog: Catalog):
        import bm25s

        self._ids = catalog.ids()
        self._retriever = bm25s.BM25()
        self._retriever.index(
            bm25s.tokenize([i.embedding_text() for i in catalog], stopwords="en", show_progress=False),
            show_progress=False,
        )
        self._tokenize = lambda text: bm25s.tokenize([text], stopwords="en", show_progress=False)

    def rank(self, instance: Instance, *, exclude: frozenset[str], k: int) -> list[str]:
        tokens = self._tokenize(baseline_query_text(instance))
        if not tokens.ids[0]:
            return []
        docs, scores = self._retriever.retrieve(tokens, k=min(len(self._ids), k + len(exclude)), show_progress=False)
        return [self._ids[d] for d, s in zip(docs[0], scores[0]) if s > 0 and self._ids[d] not in exclude][:k]


class DenseSystem(EvalSystem):
    name = "dense"

    def __init__(self, retriever: Retriever):
        self.retriever = retriever

    def prepare(self, instances: Sequence[Instance], *, progress: bool = True) -> None:
        _embed_once(self.retriever, [baseline_query_text(i) for i in instances], progress)

    def rank(self, instance: Instance, *, exclude: frozenset[str], k: int) -> list[str]:
        query = RetrievalQuery(text=baseline_query_text(instance), constraints=Constraints(exclude_ids=exclude), k=k)
        return [c.item_id for c in self.retriever.retrieve(query)]


class PipelineSystem(EvalSystem):
    """The product's own turn pipeline, fed the conversation state a live session would have had."""

    def __init__(
        self,
        pipeline: TurnPipeline,
        name: str = "pipeline",
        candidates: int | None = None,
        understood: dict[str, Interests] | None = None,
        diversity: float | None = None,
    ):
        self.pipeline = pipeline
        self.name = name
        self.diversity = diversity  # the long-tail knob for this system's turns (None: the pipeline's own)
        self.candidates = candidates or pipeline.candidates
        # Dialogue prefixes repeat: understand each message once (variants of one pipeline may share this).
        self._understood = understood if understood is not None else {}

    def replay(self, instance: Instance) -> ConversationState:
        return replay_state(
            self.pipeline,
            instance.context,
            f"{instance.dialogue_id}:{instance.turn_index}",
            understood=self._understood,
        )

    def prepare(self, instances: Sequence[Instance], *, progress: bool = True) -> None:
        texts: list[str] = []
        for instance in tqdm(instances, desc=f"replay {self.name}", unit="turn", disable=not progress):
            state = self.replay(instance)
            texts += encoded_texts(self.pipeline.retrieval_query(state, k=self.candidates))
        _embed_once(self.pipeline.retriever, texts, progress)

    def rank(self, instance: Instance, *, exclude: frozenset[str], k: int) -> list[str]:
        ranked, _ = self.pipeline.recommend(
            self.replay(instance),
            k=k,
            candidates=max(self.candidates, k),
            exclude_mentioned=bool(exclude),
            diversity=self.diversity,
        )
        return [r.item_id for r in ranked if r.item_id not in exclude]


def _embed_once(retriever: Retriever, texts: list[str], progress: bool) -> None:
    """One batched call fills the retriever's query cache; per-turn calls then hit it."""
    embedder = getattr(retriever, "embedder", None)
    if isinstance(embedder, CachedEmbedder):
        unique = [t for t in dict.fromkeys(t.strip() for t in texts) if t]
        embedder.embed(unique, progress=progress)


def exact_copy(retriever: Retriever) -> Retriever:
    """Exact search over the vectors stored in the index, with an in-memory query cache.

    The harness ranks thousands of turns at depth 50-100; exact search over the index's
    own vectors gives the neighbours HNSW approximates, without a round trip per query.
    A hybrid retriever keeps its lexical and collaborative sources around the exact dense copy.
    """
    if isinstance(retriever, HybridRetriever):
        return retriever.with_dense(_exact_dense(retriever.dense))
    if isinstance(retriever, VectorRetriever):
        return _exact_dense(retriever)
    raise TypeError(f"no exact copy of {retriever.describe()}: it stores no item vectors")


def _exact_dense(retriever: VectorRetriever) -> InMemoryRetriever:
    catalog = retriever.catalog
    stored = retriever.vectors(catalog.ids())
    missing = [i for i in catalog.ids() if i not in stored]
    if missing:
        raise UserInputError(
            f"the index lacks {len(missing)} catalogue items (e.g. {missing[0]}); run `tailtalk index`"
        )
    return InMemoryRetriever(
        catalog,
        CachedEmbedder(retriever.embedder),
        np.stack([stored[i] for i in catalog.ids()]),
        liked_weight=retriever.liked_weight,
        avoid_weight=retriever.avoid_weight,
    )


class CollaborativeSystem(EvalSystem):
    """Co-mention alone: what people name beside the items mentioned so far (popularity breaks ties).
    No text at all: the reference any text-aware system must beat."""

    name = "collaborative"

    def __init__(self, pipeline: TurnPipeline):
        retriever = pipeline.retriever
        if not isinstance(retriever, HybridRetriever) or retriever.collaborative is None:
            raise UserInputError(
                "the collaborative system needs a fitted collaborative model; run `tailtalk fit-ranker`"
            )
        self.model = retriever.collaborative
        self.ids = pipeline.catalog.ids()
        self.columns = self.model.columns_of(self.ids)  # once, not per instance: a loop over every id
        self.tie_break = 1e-9 * np.log1p([pipeline.catalog.get(i).popularity or 0.0 for i in self.ids])

    def rank(self, instance: Instance, *, exclude: frozenset[str], k: int) -> list[str]:
        seeds = list(dict.fromkeys(i for turn in instance.context for i in turn.items))
        scores = self.model.score_columns(seeds, columns=self.columns) + self.tie_break
        order = top_rows(scores, k + len(exclude))
        return [self.ids[row] for row in order if self.ids[row] not in exclude][:k]


def ablation(signal: str) -> Callable[[TurnPipeline], EvalSystem]:
    """The served pipeline with one signal removed: its features switched off in the fused ranker, and
    for the lexical, collaborative and neighbours signals their candidates too."""

    def build(pipeline: TurnPipeline) -> EvalSystem:
        ranker, retriever = pipeline.ranker, pipeline.retriever
        inner = ranker.inner if isinstance(ranker, DiversityReranker) else ranker
        if not isinstance(inner, FusionRanker) or not isinstance(retriever, HybridRetriever):
            raise UserInputError(f"pipeline-no-{signal} needs the fused ranker (ranker=fused)")
        fused = inner.without(signal)
        ranker = ranker.with_inner(fused) if isinstance(ranker, DiversityReranker) else fused
        if signal in SOURCES:
            retriever = retriever.without(signal)
        return PipelineSystem(pipeline.replacing(ranker=ranker, retriever=retriever), name=f"pipeline-no-{signal}")

    return build


SYSTEMS: dict[str, Callable[[TurnPipeline], EvalSystem]] = {
    "popularity": lambda pipeline: PopularitySystem(pipeline.catalog),
    "bm25": lambda pipeline: BM25System(pipeline.catalog),
    "dense": lambda pipeline: DenseSystem(
        pipeline.retriever.dense if isinstance(pipeline.retriever, HybridRetriever) else pipeline.retriever
    ),
    "collaborative": CollaborativeSystem,
    "pipeline": lambda pipeline: PipelineSystem(pipeline),
    **{f"pipeline-no-{signal}": ablation(signal) for signal in SIGNALS if signal != "dense"},
}


def item_vectors(retriever: Retriever, catalog: Catalog) -> dict[str, np.ndarray]:
    """Every item's stored embedding, read back from the index rather than recomputed."""
    return retriever.vectors(catalog.ids())


def check_systems(names: Sequence[str]) -> None:
    """Refuse an empty or unknown system name before any work, listing the known ones."""
    unknown = [name for name in names if name not in SYSTEMS]
    if unknown or not names:
        raise UserInputError(
            f"unknown system(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(SYSTEMS)}"
        )
