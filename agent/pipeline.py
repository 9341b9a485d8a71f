"""The turn pipeline: understand -> retrieve -> rank -> respond. Every front end calls this.

The pipeline object is shared and stateless across conversations; each call gets the
conversation's own :class:`~agent.state.ConversationState`.

Example (fast, with fakes)::

    >>> from tailtalk.catalog import Catalog, Item
    >>> from retrieval.embedder import HashingEmbedder
    >>> from retrieval.retriever import InMemoryRetriever
    >>> from agent.pipeline import TurnPipeline
    >>> from agent.state import ConversationState
    >>> cat = Catalog((Item(id="1", title="Ghost House", categories=["horror"]),
    ...                Item(id="2", title="Sunny Days", categories=["comedy"])))
    >>> p = TurnPipeline.from_parts(cat, InMemoryRetriever(cat, HashingEmbedder()), top_k=1)
    >>> [r.item.title for r in p.handle(ConversationState(), "something funny, a comedy").picks]
    ['Sunny Days']
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tailtalk.catalog import Catalog
from tailtalk.config import Settings
from tailtalk.titles import TitleMatcher
from retrieval.query import Constraints, RetrievalQuery
from retrieval.retriever import Retriever
from ranking.base import PopularityPriorRanker, Ranker, RankedItem, RankingContext
from ranking.diversity import DiversityReranker, VectorLookup
from explain.grounding import GroundingReport
from explain.respond import LLMResponder, Reply, ReplyRequest, Responder, TemplateResponder
from explain.templates import Explained, Explainer, TemplateExplainer
from tailtalk.llm import LLMBackend
from agent.state import ConversationState
from agent.llm_understand import LLMUnderstander
from agent.understand import RuleBasedUnderstander, Understander


@dataclass(frozen=True)
class TurnResult:
    """One turn's answer. While a reply streams, partial results carry ``complete=False``."""

    reply: str
    picks: list[Explained]
    notices: list[str] = field(default_factory=list)
    complete: bool = True
    clarifying: bool = False  # the turn asked a question instead of recommending
    generated: bool = False  # some of the reply came from the language model
    grounding: GroundingReport | None = None

    def to_json(self, conversation_id: str | None = None) -> dict[str, Any]:
        """The turn for programs (``tailtalk ask --json``, the UI's API): reply, notices and items."""
        return {
            "conversation_id": conversation_id,
            "reply": self.reply,
            "clarifying": self.clarifying,
            "notices": list(self.notices),
            "items": [{"id": p.item.id, "title": p.item.title, "year": p.item.year, "price": p.item.price,
                       "categories": list(p.item.categories), "score": round(p.score, 6), "reason": p.reason,
                       "long_tail": p.is_tail} for p in self.picks],
        }


class TurnPipeline:
    def __init__(self, catalog: Catalog, understander: Understander, retriever: Retriever, ranker: Ranker,
                 explainer: Explainer, *, responder: Responder | None = None, titles: TitleMatcher | None = None,
                 candidates: int = 50, top_k: int = 5, max_message_chars: int = 4000,
                 notices: list[str] | None = None):
        self.catalog = catalog
        self.understander = understander
        self.retriever = retriever
        self.ranker = ranker
        self.explainer = explainer
        self.responder = responder or TemplateResponder()
        self.titles = titles
        self.candidates = candidates
        self.top_k = top_k
        self.max_message_chars = max_message_chars
        self.standing_notices = list(notices or [])  # e.g. "the trained scorer is unreadable": said every turn

    @classmethod
    def from_parts(cls, catalog: Catalog, retriever: Retriever, *, ranker: Ranker | None = None,
                   explainer: Explainer | None = None, llm: LLMBackend | None = None, domain: str = "film",
                   **options) -> "TurnPipeline":
        """A pipeline from its parts: the rules and templates alone, or with a language model on top."""
        titles = TitleMatcher(((i.id, i.title, i.year) for i in catalog),
                              popularity={i.id: i.popularity or 0.0 for i in catalog})
        rules = RuleBasedUnderstander(catalog.categories(), titles)
        explainer = explainer or TemplateExplainer()
        if llm is None:
            understander, responder = rules, TemplateResponder(explainer)
        else:
            understander = LLMUnderstander(llm, rules)
            responder = LLMResponder(llm, titles, categories=catalog.categories(), domain=domain, explainer=explainer)
        return cls(catalog, understander, retriever, ranker or PopularityPriorRanker(catalog), explainer,
                   responder=responder, titles=titles, **options)

    def replacing(self, **parts) -> "TurnPipeline":
        """A copy with some stages swapped (``retriever=``, ``ranker=``...); the original is untouched."""
        unknown = set(parts) - {"understander", "retriever", "ranker", "explainer", "responder", "candidates", "top_k"}
        if unknown:
            raise TypeError(f"cannot replace {', '.join(sorted(unknown))}")
        clone = copy.copy(self)
        clone.__dict__.update(parts)
        return clone

    def describe(self) -> str:
        """The status line: which model talks, which scorer ranks, which catalogue serves."""
        return (f"LLM: {self.responder.name} · ranker: {self.ranker.describe()} · "
                f"catalogue: {self.retriever.describe()}")

    def handle(self, state: ConversationState, message: str) -> TurnResult:
        """One whole turn (the last of :meth:`stream`'s results)."""
        result = None
        for result in self.stream(state, message):
            pass
        assert result is not None and result.complete
        return result

    def stream(self, state: ConversationState, message: str) -> Iterator[TurnResult]:
        """One turn, streamed: partial results while the reply is written, then the complete one.

        The picks are known before the first word of the reply, so every partial result
        carries them (the UI shows the cards at once). The state is updated once, at the end.
        """
        notices: list[str] = list(self.standing_notices)
        message = message.strip()
        if len(message) > self.max_message_chars:
            notices.append(f"your message was {len(message):,} characters; I read the first "
                           f"{self.max_message_chars:,}")
            message = message[: self.max_message_chars]
        interests = self.understander.understand(message)
        notices += interests.notices
        first_turn = not (state.liked or state.user_queries or state.shown)
        state.absorb(message, interests)
        if interests.is_vague and first_turn:
            yield from self._reply(state, [], notices, self.responder.clarify(message), clarifying=True)
            return
        ranked, relax_notice = self.recommend(state)
        notices += relax_notice
        liked_titles = [self.catalog.get(i).title for i in state.liked if i in self.catalog]
        picks = [
            Explained(self.catalog.get(r.item_id),
                      self.explainer.reason(self.catalog.get(r.item_id), wishes=state.wishes, liked_titles=liked_titles),
                      r.score, r.is_tail)
            for r in ranked
        ]
        user_named = [self.catalog.get(i) for i in state.mentioned if i in self.catalog and i not in state.shown]
        request = ReplyRequest(message, picks, state.wishes, notices, user_named)
        yield from self._reply(state, picks, notices, self.responder.stream(request), clarifying=False)

    def _reply(self, state: ConversationState, picks: list[Explained], notices: list[str],
               events: Iterator[str | Reply], *, clarifying: bool) -> Iterator[TurnResult]:
        text = ""
        for event in events:
            if isinstance(event, Reply):
                all_notices = [*notices, *event.notices]
                state.record_assistant(event.text, tuple(p.item.id for p in picks))
                yield TurnResult(event.text, picks, all_notices, complete=True, clarifying=clarifying,
                                 generated=event.generated, grounding=event.grounding)
                return
            text += event
            yield TurnResult(text, picks, notices, complete=False, clarifying=clarifying)
        raise RuntimeError(f"the responder {self.responder.name!r} ended a reply without its Reply")

    def query_text(self, state: ConversationState) -> str:
        """What retrieval embeds: the recent dialogue, which beat the extracted wishes alone on ReDial valid.

        Empty while the user has stated no wish and named no item ("hi"): there is no
        direction to search in yet, and retrieval falls back to popular items.
        """
        if not (state.user_queries or state.liked):
            return ""
        return state.context_text(self.catalog.label_of)

    def constraints(self, state: ConversationState, *, exclude_mentioned: bool = True) -> Constraints:
        excluded = set(state.disliked)
        if exclude_mentioned:
            excluded |= set(state.mentioned) | set(state.shown)
        return Constraints(
            include_categories=frozenset(state.include_categories),
            exclude_categories=frozenset(state.exclude_categories),
            year_min=state.year_min, year_max=state.year_max,
            price_min=state.price_min, price_max=state.price_max,
            exclude_ids=frozenset(excluded),
        )

    def recommend(self, state: ConversationState, *, k: int | None = None, candidates: int | None = None,
                  exclude_mentioned: bool = True) -> tuple[list[RankedItem], list[str]]:
        """Rank for the state as it stands. Returns the ranking and any notices for the user."""
        k = k or self.top_k
        constraints = self.constraints(state, exclude_mentioned=exclude_mentioned)
        query = RetrievalQuery(text=self.query_text(state), constraints=constraints, like_ids=tuple(state.liked),
                               avoid_text=" ".join(state.avoid_terms), k=max(candidates or self.candidates, k))
        context = RankingContext(query.text, state.dialogue_text())
        ranker = self.ranker
        if state.diversity is not None and isinstance(ranker, DiversityReranker):
            ranker = ranker.with_diversity(state.diversity)
        ranked = ranker.rank(context, self.retriever.retrieve(query), k)
        notices: list[str] = []
        if len(ranked) < k and constraints.include_categories:
            # Categories are the loosest constraint: fill up with close matches from other
            # categories, ranked after every item that met the wish in full.
            strict = {r.item_id for r in ranked}
            relaxed = RetrievalQuery(query.text, constraints.relaxed(), query.like_ids, query.avoid_text, query.k)
            extra = [c for c in self.retriever.retrieve(relaxed) if c.item_id not in strict]
            ranked += ranker.rank(context, extra, k - len(ranked)) if extra else []
            notices.append(f"only a few items are in {', '.join(sorted(constraints.include_categories))}; "
                           "I added close matches from other categories")
        return ranked, notices

def build_pipeline(settings: Settings, *, progress: bool = False) -> TurnPipeline:
    """The real pipeline from configuration: the catalogue, the Chroma index and the resolved scorer.

    The scorer is the trained checkpoint when one exists (``scorer=auto``), else the
    baseline; :func:`ranking.scorer.resolve_scorer` decides, and its warning (if any)
    reaches the user as a notice on every turn.
    """
    from tailtalk.catalog import load_catalog
    from retrieval.retriever import ChromaRetriever
    from ranking.scorer import resolve_scorer

    catalog = load_catalog(settings.catalog_path)
    llm, llm_notice = resolve_llm(settings)
    choice = resolve_scorer(settings)
    retriever = ChromaRetriever(catalog, choice.embedder, settings, liked_weight=settings.liked_weight,
                                avoid_weight=settings.avoid_weight)
    return TurnPipeline.from_parts(
        catalog, retriever, ranker=make_ranker(catalog, retriever.vectors, choice.prior_weight, settings.diversity,
                                               choice.description),
        llm=llm, candidates=settings.candidates, top_k=settings.top_k, max_message_chars=settings.max_message_chars,
        notices=[n for n in (choice.warning, llm_notice) if n],
    )


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


def make_ranker(catalog: Catalog, vectors: VectorLookup, prior_weight: float, diversity: float,
                description: str | None = None) -> Ranker:
    """The scorer with the popularity prior, wrapped by the long-tail/diversity re-ranker."""
    return DiversityReranker(PopularityPriorRanker(catalog, prior_weight, description), vectors, diversity)
