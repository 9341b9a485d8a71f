"""What builds the product from Settings: the pipeline and its parts, for every front end (the CLI, the chat
UI, the evaluation commands and the benches). The one place configuration becomes objects.

Example::

    >>> from tailtalk.config import Settings
    >>> from ui.assemble import resolve_llm
    >>> resolve_llm(Settings(llm="none"))
    (None, None)
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from zipfile import BadZipFile

from tailtalk.catalog import Catalog
from tailtalk.config import Settings
from tailtalk.feedback import FeedbackLog
from tailtalk.llm import PACKAGED_LLM, LLMBackend
from agent.understand import CHAT_WORDS
from retrieval.hybrid import HybridRetriever
from retrieval.retriever import VectorRetriever
from ranking.base import PopularityPriorRanker, Ranker
from ranking.diversity import DiversityReranker
from ranking.fusion import FusionRanker
from ui.pipeline import TurnPipeline

log = logging.getLogger(__name__)


def build_pipeline(settings: Settings, *, progress: bool = False, quick_start: bool = False) -> TurnPipeline:
    """The real pipeline from configuration: the catalogue, hybrid retrieval (the Chroma index, the lexical
    index, the collaborative model, the conversation neighbours) and the fused ranker.

    The text scorer is the trained checkpoint when one exists (``scorer=auto``), else the
    baseline; :meth:`ranking.scorer.TextScorer.serving` decides, and its warning (if any)
    reaches the user as a notice on every turn. The fusion weights, the collaborative model and the
    conversation neighbours come from ``tailtalk fit-ranker`` for this catalogue and scorer; before it has
    run, hand-set weights over the dense and lexical signals serve. ``quick_start``: the process answers one
    request and exits (``retrieval.embedder.make_embedder``).
    """
    from tailtalk.catalog import load_catalog
    from retrieval.retriever import ChromaRetriever
    from ranking.scorer import TextScorer

    catalog = load_catalog(settings.catalog_path)
    llm, llm_notice = resolve_llm(settings)
    scorer = TextScorer.serving(settings, quick_start=quick_start)
    dense = ChromaRetriever(
        catalog, scorer.encoder, settings, liked_weight=settings.liked_weight, avoid_weight=settings.avoid_weight
    )
    retriever, inner, ranker_notice = fitted_ranking(settings, catalog, dense, scorer.prior_weight, scorer.description)
    return TurnPipeline.from_parts(
        catalog,
        retriever,
        ranker=DiversityReranker(inner, retriever.vectors, settings.diversity),
        llm=llm,
        domain=settings.domain,
        candidates=settings.candidates,
        top_k=settings.top_k,
        max_message_chars=settings.max_message_chars,
        turn_timeout=settings.turn_timeout,
        less_mainstream_diversity=settings.less_mainstream_diversity,
        answer_each_up_to=settings.answer_each_up_to,
        notices=[n for n in (scorer.warning, llm_notice, ranker_notice) if n],
        status=status_line(catalog, llm, inner, settings),
    )


def build_serving_pipeline(settings: Settings, *, quick_start: bool = False) -> TurnPipeline:
    """The pipeline for a process that answers people (the chat UI, `tailtalk ask`): numpy's BLAS and torch
    use ``serving_threads`` threads, so one turn does not fight other turns for the cores, and the turns go
    to the feedback log when one is set. ``quick_start`` (`tailtalk ask`, one request and out): the request
    is embedded in numpy, so the process never imports torch for it. Evaluation and indexing keep the
    default threads, which suit their large batches."""
    from threadpoolctl import threadpool_limits

    pipeline = build_pipeline(settings, quick_start=quick_start).replacing(feedback_log=feedback_log(settings))
    threadpool_limits(settings.serving_threads)  # numpy's BLAS: the ranker's products, and ask's request encoder
    if "torch" in sys.modules:  # loaded by what serves, never imported here only to be configured
        sys.modules["torch"].set_num_threads(settings.serving_threads)
    return pipeline


def feedback_log(settings: Settings) -> FeedbackLog | None:
    """The feedback log people's turns go to (``feedback_log``), or None when it is off. Only pipelines
    that answer people (and `tailtalk simulate`'s users) log: eval's replays of old dialogues never do."""
    if settings.feedback_log is None:
        return None
    return FeedbackLog(settings.feedback_log, with_text=settings.feedback_log_text)


def status_line(catalog: Catalog, llm: LLMBackend | None, ranker: Ranker, settings: Settings) -> str:
    """The status line for people: "language model: SmolLM2-135M-Instruct on this computer's CPU · ranking:
    learned from 3,124 conversations, lesser-known picks favoured 0.3 of 1 · catalogue: 6,834 films"."""
    if llm is None:
        talks = "none, replies are built from the catalogue's facts"
    elif llm.kind == "embedded":
        talks = f"{PACKAGED_LLM} on this computer's CPU"
    else:
        talks = llm.name
    learned = ranker.fitted_on() if isinstance(ranker, FusionRanker) else None
    if learned:
        ranks = f"learned from {learned:,} conversations"
    elif isinstance(ranker, FusionRanker):
        ranks = "by how well each item matches your words (not learned yet: run `tailtalk fit-ranker`)"
    else:
        ranks = "by similarity to your words and popularity"
    noun = "products" if settings.domain == "products" else "films"
    return (
        f"language model: {talks} · ranking: {ranks}, lesser-known picks favoured {settings.diversity:g} of 1 "
        f"· catalogue: {len(catalog):,} {noun}"
    )


def lexical_folder(settings: Settings) -> Path:
    """Where the catalogue's lexical index is kept between processes (`tailtalk index` writes it)."""
    from retrieval.index import index_folder

    return index_folder(settings, "bm25")


def fitted_ranking(
    settings: Settings, catalog: Catalog, dense: VectorRetriever, prior_weight: float, scorer_description: str
) -> tuple[HybridRetriever, Ranker, str | None]:
    """The hybrid retriever and the inner ranker for ``settings.ranker``, with what ``fit-ranker`` saved,
    and a notice for the user when a saved ranker cannot be read (hand-set weights serve instead)."""
    from retrieval.collaborative import COLLABORATIVE_FOLDER, CollaborativeModel
    from retrieval.lexical import LexicalIndex
    from retrieval.neighbours import NEIGHBOURS_FOLDER, ConversationNeighbours
    from ranking.fusion import FUSION_FILE

    folder = settings.ranker_path(dense.embedder.name)
    unreadable = (
        f"the fitted ranker in {folder} cannot be read ({{}}); hand-set weights serve. "
        "Run `tailtalk fit-ranker` to fit it again"
    )
    collaborative, neighbours, notice = None, None, None
    try:
        if CollaborativeModel.saved_in(folder / COLLABORATIVE_FOLDER):
            collaborative = CollaborativeModel.load(folder / COLLABORATIVE_FOLDER)
        if ConversationNeighbours.saved_in(folder / NEIGHBOURS_FOLDER):
            neighbours = ConversationNeighbours.load(folder / NEIGHBOURS_FOLDER)
    except (OSError, ValueError, KeyError, TypeError, EOFError, BadZipFile) as exc:  # torn, garbled or outdated
        notice = unreadable.format(exc)
    retriever = HybridRetriever(
        dense,
        LexicalIndex(catalog, ignored_words=CHAT_WORDS, folder=lexical_folder(settings)),
        collaborative,
        pool=settings.source_pool,
        multilingual=multilingual_retriever(settings, catalog),
        neighbours=neighbours,
        avoid_share=settings.avoid_share,
        avoid_closeness=settings.avoid_closeness,
    )
    if settings.ranker == "prior":
        return (
            retriever,
            PopularityPriorRanker(
                catalog, prior_weight, f"{scorer_description}, similarity + {prior_weight:g} x log-popularity"
            ),
            notice,
        )
    if (folder / FUSION_FILE).is_file() and notice is None:
        try:
            fused = FusionRanker.load(folder, catalog)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            notice = unreadable.format(exc)
        else:
            learned = fused.fitted_on()
            return (
                retriever,
                fused.described(
                    f"fused ranker fitted on {learned:,} dialogues over the {scorer_description}" if learned else None
                ).with_wished_categories(
                    settings.wished_category_weight, first_when_cold=settings.wished_categories_first
                ),
                None,
            )
    return (
        retriever,
        FusionRanker(
            catalog,
            description=f"hand-set fusion of the {scorer_description} and lexical "
            "scores; `tailtalk fit-ranker` learns it",
            category_floor=settings.wished_category_weight,
            categories_first_when_cold=settings.wished_categories_first,
        ),
        notice,
    )


def multilingual_retriever(settings: Settings, catalog: Catalog) -> VectorRetriever | None:
    """The multilingual index's retriever, or None when it is switched off or not built yet (a request in
    Chinese is then read by its category words, with a notice that says how to build it)."""
    from retrieval.embedder import E5Embedder
    from retrieval.index import IndexMissingError, IndexMismatchError
    from retrieval.retriever import ChromaRetriever

    if settings.multilingual_model == "none":
        return None
    try:
        return ChromaRetriever(
            catalog,
            E5Embedder("query"),
            settings,
            liked_weight=settings.liked_weight,
            avoid_weight=settings.avoid_weight,
        )
    except (IndexMissingError, IndexMismatchError) as exc:
        log.info("no multilingual index: %s", exc)
        return None


def resolve_llm(settings: Settings) -> tuple[LLMBackend | None, str | None]:
    """The configured language model, and a standing notice when ``auto`` had to do without one.

    An explicit ``llm=embedded`` that cannot load is an error (the user asked for it);
    under ``auto`` the product still works with templates and says so on every turn.
    """
    from tailtalk.llm import LLMError, make_llm

    try:
        return make_llm(settings), None
    except LLMError as exc:
        if settings.llm != "auto":
            raise
        return None, f"no language model is available ({exc}); replies use grounded templates"
