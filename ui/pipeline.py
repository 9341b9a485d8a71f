"""The turn pipeline: understand -> retrieve -> rank -> respond. Every front end calls this; it lives with them
because it uses every stage (``ui/assemble.py`` builds it from Settings).

The pipeline object is shared and stateless across conversations; each call gets the
conversation's own :class:`~agent.state.ConversationState`.

Example (fast, with fakes)::

    >>> from tailtalk.catalog import Catalog, Item
    >>> from retrieval.embedder import HashingEmbedder
    >>> from retrieval.retriever import InMemoryRetriever
    >>> from ui.pipeline import TurnPipeline
    >>> from agent.state import ConversationState
    >>> cat = Catalog((Item(id="1", title="Ghost House", categories=["horror"]),
    ...                Item(id="2", title="Sunny Days", categories=["comedy"])))
    >>> p = TurnPipeline.from_parts(cat, InMemoryRetriever(cat, HashingEmbedder()), top_k=1)
    >>> [r.item.title for r in p.handle(ConversationState(), "something funny, a comedy").picks]
    ['Sunny Days']
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tailtalk.catalog import Catalog, Item
from tailtalk.config import setting_default
from tailtalk.titles import TitleMatcher, TitleSeries, normalise
from tailtalk.errors import UserInputError
from tailtalk.feedback import FeedbackLog
from retrieval.query import RetrievalQuery
from tailtalk.constraints import Constraints
from retrieval.retriever import Retriever
from ranking.base import Ranker, RankedItem, RankingContext, RankOptions
from ranking.fusion import FusionRanker
from explain.grounding import GroundingReport, catalogue_people
from explain.answer import Answerer
from explain.respond import Domain, LLMResponder, Reply, ReplyRequest, Responder, TemplateResponder
from explain.templates import (
    Explained,
    Explainer,
    TemplateExplainer,
    categories_by_stems,
    category_named,
    follow_up_question,
    people_asked_for,
)
from tailtalk.llm import LLMBackend
from agent.state import ConversationState
from agent.message import clean_message
from agent.llm_understand import LLMUnderstander
from agent.understand import (
    CHILDREN_CATEGORIES,
    MOOD_STEPS,
    SYNONYMS,
    Interests,
    RuleBasedUnderstander,
    Understander,
    title_matcher,
)
from agent.people import PeopleIndex
from agent.product_types import ProductTypes
from agent.questions import Question, QuestionReader

log = logging.getLogger(__name__)


EMPTY_MESSAGE_REPLY = "Your message reached me empty. Tell me what you are looking for, and I will find picks."


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
            "items": [
                {
                    "id": p.item.id,
                    "title": p.item.title,
                    "year": p.item.year,
                    "price": p.item.price,
                    "categories": list(p.item.categories),
                    "score": round(p.score, 6),
                    "reason": p.reason,
                    "long_tail": p.is_tail,
                }
                for p in self.picks
            ],
        }


@dataclass(frozen=True)
class ShopDesk:
    """What a shop adds to the turn (``domain=products``): product types read from titles."""

    types: ProductTypes


@dataclass(frozen=True)
class QuestionDesk:
    """Questions about the items shown ("who directed it?", "how much is the Nike one?"), answered from
    their facts, for films and products alike; the cards stay."""

    reader: QuestionReader
    answerer: Answerer


class TurnPipeline:
    def __init__(
        self,
        catalog: Catalog,
        understander: Understander,
        retriever: Retriever,
        ranker: Ranker,
        explainer: Explainer,
        *,
        responder: Responder | None = None,
        titles: TitleMatcher | None = None,
        people: PeopleIndex | None = None,
        candidates: int = setting_default("candidates"),
        top_k: int = setting_default("top_k"),
        max_message_chars: int = setting_default("max_message_chars"),
        turn_timeout: float = setting_default("turn_timeout"),
        notices: list[str] | None = None,
        shop: ShopDesk | None = None,
        less_mainstream_diversity: float = setting_default("less_mainstream_diversity"),
        answer_each_up_to: int = setting_default("answer_each_up_to"),
        status: str = "",
        questions: QuestionDesk | None = None,
        feedback_log: FeedbackLog | None = None,
    ):
        self.catalog = catalog
        self.understander = understander
        self.retriever = retriever
        self.ranker = ranker
        self.explainer = explainer
        self.responder = responder or TemplateResponder()
        self.titles = titles or title_matcher(catalog)
        self.candidates = candidates
        self.top_k = top_k
        self.max_message_chars = max_message_chars
        self.turn_timeout = turn_timeout
        self.standing_notices = list(notices or [])  # e.g. "the trained scorer is unreadable": said every turn
        self.shop = shop
        self.people = people or PeopleIndex(catalog)  # "no Jennifer Aniston" rules out her films
        self.series = TitleSeries((item.id, item.title) for item in catalog)  # "not Star Wars": nor Rogue One
        self.vocabulary = _vocabulary(catalog)
        self.vocabulary_categories = frozenset(catalog.categories())
        self._category_stems = categories_by_stems(self.vocabulary_categories)  # what a wish's words name
        # What suits a child here (a catalogue with neither category filters nothing for one).
        self.children_categories = frozenset(c for c in CHILDREN_CATEGORIES if c in self.vocabulary_categories)
        self.less_mainstream_diversity = less_mainstream_diversity
        self.answer_each_up_to = answer_each_up_to
        self.status = status
        self.questions = questions
        self.has_runtimes = any("runtime" in item.attributes for item in catalog)
        self.feedback_log = feedback_log

    @classmethod
    def from_parts(
        cls,
        catalog: Catalog,
        retriever: Retriever,
        *,
        ranker: Ranker | None = None,
        explainer: TemplateExplainer | None = None,  # the responders write their lead-in with it
        llm: LLMBackend | None = None,
        domain: Domain = "films",
        **options,
    ) -> TurnPipeline:
        """A pipeline from its parts: the rules and templates alone, or with a language model on top.

        ``domain="products"`` adds the shop desk: product types matched in titles, and questions
        about the items shown answered from their facts.
        """
        titles = title_matcher(catalog)
        people = PeopleIndex(catalog)
        rules = RuleBasedUnderstander(catalog.categories(), titles, dated=domain == "films", people=people)
        explainer = explainer or TemplateExplainer()
        understander: Understander
        responder: Responder
        if llm is None:
            understander, responder = rules, TemplateResponder(explainer, domain)
        else:
            understander = LLMUnderstander(llm, rules)
            responder = LLMResponder(
                llm,
                titles,
                categories=catalog.categories(),
                domain=domain,
                explainer=explainer,
                people=catalogue_people(catalog),
            )
        shop = ShopDesk(ProductTypes(catalog)) if domain == "products" else None
        # A shop asks back which product is meant; a film question that names no shown film and says no
        # "it" is more likely a new wish ("have you seen Heat?") than a question about the list.
        films = domain == "films"
        questions = QuestionDesk(
            QuestionReader(catalog, ask_back=not films, titles=titles if films else None), Answerer(titles, llm)
        )
        return cls(
            catalog,
            understander,
            retriever,
            ranker or FusionRanker(catalog),
            explainer,
            responder=responder,
            titles=titles,
            people=people,
            shop=shop,
            questions=questions,
            **options,
        )

    def replacing(self, **parts) -> TurnPipeline:
        """A copy with some stages swapped (``retriever=``, ``ranker=``...); the original is untouched."""
        unknown = set(parts) - {
            "understander",
            "retriever",
            "ranker",
            "explainer",
            "responder",
            "candidates",
            "top_k",
            "turn_timeout",
            "feedback_log",
        }
        if unknown:
            raise TypeError(f"cannot replace {', '.join(sorted(unknown))}")
        clone = copy.copy(self)
        clone.__dict__.update(parts)
        return clone

    @property
    def llm_name(self) -> str:
        """Which language model writes the replies ("grounded templates" without one)."""
        return self.responder.name

    def understand(self, message: str) -> Interests:
        """What one message asks for (the understander's reading), without touching any conversation."""
        return self.understander.understand(message)

    def turn_json(self, result: TurnResult, state: ConversationState) -> dict[str, Any]:
        """One turn for programs, the same object for ``tailtalk ask --json`` and the UI's ``/recommend``:
        which language model wrote the reply, then the turn itself (:meth:`TurnResult.to_json`)."""
        return {"llm": self.responder.name, **result.to_json(state.conversation_id)}

    def status_line(self) -> str:
        """What serves this chat, in words for the person using it (:meth:`describe` is the engineer's)."""
        return self.status or self.describe()

    def describe(self) -> str:
        """Which model talks, which scorer ranks, which catalogue serves, with the technical details."""
        return f"LLM: {self.responder.name} · ranker: {self.ranker.describe()} · catalogue: {self.retriever.describe()}"

    def feedback(self, state: ConversationState, item_id: str, *, liked: bool) -> None:
        """A like or dislike of one item: the next turn reads it from the state, and the feedback log (when
        set) keeps it for `tailtalk fit-ranker --feedback`."""
        if item_id not in self.catalog:
            raise UserInputError(
                f"no item with id {item_id!r} in the catalogue: use an id from a turn's items "
                "(the 'items' that /recommend returns)"
            )
        if liked:
            state.like(item_id)
        else:
            state.dislike(item_id)
        if self.feedback_log is not None:
            self.feedback_log.append(state.conversation_id, "like" if liked else "dislike", [item_id])

    def handle(self, state: ConversationState, message: str) -> TurnResult:
        """One whole turn (the last of :meth:`stream`'s results)."""
        result = None
        for result in self.stream(state, message):  # noqa: B007 - the last one is the turn
            pass
        assert result is not None and result.complete
        return result

    def stream(self, state: ConversationState, message: str) -> Iterator[TurnResult]:
        """One turn, streamed: partial results while the reply is written, then the complete one.

        The picks are known before the first word of the reply, so every partial result
        carries them (the UI shows the cards at once). The state is updated once, at the end.
        Calls to the language model share the turn's ``turn_timeout``; what they cannot finish
        in it comes from the rules and templates, with a notice.
        """
        deadline = time.monotonic() + self.turn_timeout
        cleaned = clean_message(message, self.max_message_chars)
        notices: list[str] = [*self.standing_notices, *cleaned.notices]
        message = cleaned.text
        if cleaned.is_empty:
            yield from self._reply(
                state, [], notices, iter([EMPTY_MESSAGE_REPLY, Reply(EMPTY_MESSAGE_REPLY)]), clarifying=True
            )
            return
        if self.questions is not None and (question := self.questions.reader.read(message, state)) is not None:
            yield from self._answer(state, question, notices, deadline)
            return
        state.open_question = None
        interests = self.understander.understand(message, deadline=deadline)
        notices += interests.notices
        first_turn = not (state.liked or state.user_queries or state.shown)
        type_phrases = self._type_phrases(interests, notices)
        before = _Search.of(state, self.people)
        state.absorb(message, interests, type_phrases=type_phrases)
        turn_diversity = self._step(state, interests, notices)
        if not self.retriever.reads(state.language):
            notices.append(
                "the multilingual index is not built, so I read your message by its category words "
                "only; `tailtalk index` builds it"
            )
        if interests.is_vague and first_turn:
            yield from self._reply(
                state, [], notices, self.responder.clarify(message, deadline=deadline), clarifying=True
            )
            return
        # "under $45 please" refines the last list: the picks shown that meet the new bound may stay; after
        # "none of those, under $45" they may not. A shop's customer narrows what they were shown ("for women",
        # "he needs skates", "for an office" after printer paper): those that fit stay unless they ask for
        # others or name categories none of them has ("any books?" after shoes). A film list moves on.
        refines = (interests.only_bounds or self._narrows(state, interests)) and not interests.rejects_picks
        ranked, unknown_notice = self.recommend(state, diversity=turn_diversity, keep_last_picks=refines)
        notices += unknown_notice
        heading = None
        if not ranked and (closest := self._closest_to_budget(state, keep_last_picks=refines)) is not None:
            ranked, heading = closest
            budget = _budget(*state.constraints.prices)
            notices.append(
                f"nothing that matches is priced {budget}; shown instead, outside your budget: "
                + "; ".join(
                    f"{self.catalog.get(r.item_id).title} (${self.catalog.get(r.item_id).price:,.2f})" for r in ranked
                )
            )
        # A child's list is never "for fans of The Shining": films the person loved that a child should not
        # see are not cited, and the reply says how to ask for films like them instead.
        loved = [self.catalog.get(i) for i in state.liked if i in self.catalog]
        liked = [i for i in loved if self._suits_audience(state, i)]
        said_now = state.turns[-1].items if state.turns and state.turns[-1].role == "user" else ()
        unsuited = [i for i in loved if i.id in said_now and not self._suits_audience(state, i)]
        if unsuited:  # the categories this catalogue keeps for a child, in CHILDREN_CATEGORIES' order
            kept = " and ".join(c for c in CHILDREN_CATEGORIES if c in self.children_categories)
            notices.append(
                f'these are still films for a child ({kept} only); say "for me" for films like {unsuited[-1].title}'
            )
        liked_ids = [i.id for i in liked]
        wishes = _with_type_phrases(state, state.wishes)
        picks = [
            Explained(
                self.catalog.get(r.item_id),
                self.explainer.reason(
                    self.catalog.get(r.item_id),
                    wishes=wishes,
                    liked=liked,
                    recommended_with=self._recommended_with(r.item_id, liked_ids),
                    long_tail=r.is_tail,
                ),
                r.score,
                r.is_tail,
            )
            for r in ranked
        ]
        notices += self._unmet_categories(state, interests, [p.item for p in picks])
        user_named = [self.catalog.get(i) for i in state.mentioned if i in self.catalog and i not in state.shown]
        changes = before.changes_to(_Search.of(state, self.people), self.catalog) if not first_turn else []
        request = ReplyRequest(
            message,
            picks,
            self._said_wishes(state, [p.item for p in picks]),
            notices,
            user_named,
            heading=heading,
            deadline=deadline,
            liked_titles=[i.title for i in liked][-2:],
            changes=changes,
            follow_up=follow_up_question(self._follow_up(state), state.language),
            bounds=_bounds(state),
            language=state.language,
            # Another list for the same request ("something else"): said so, not the last lead-in again.
            more=not first_turn
            and not changes
            and heading is None
            and bool(state.last_picks)
            and not set(state.last_picks) & {r.item_id for r in ranked},
        )
        yield from self._reply(state, picks, notices, self.responder.stream(request), clarifying=False)

    def _said_wishes(self, state: ConversationState, picks: Sequence[Item]) -> list[str]:
        """The wishes a reply repeats: those in the catalogue's words, the words of a person the picks credit
        whose whole name the wishes hold ("breckenridge" is in no title or plot), a shop's product types as
        phrases. A category no pick has is not claimed: "a war film" then "with Tom Hanks", whose war film
        was shown already, gets his comedies "with Tom Hanks", not "for war"."""
        names = {word for person in people_asked_for(picks, state.wishes) for word in person.name.lower().split()}
        shown = {c for item in picks for c in item.categories}
        unmet = {c for c in self.vocabulary_categories if c not in shown}
        said = [
            w
            for w in state.wishes
            if w in names or (self.sayable([w]) and category_named(w, self._category_stems) not in unmet)
        ]
        return _with_type_phrases(state, said)

    @staticmethod
    def _unmet_categories(state: ConversationState, interests: Interests, picks: Sequence[Item]) -> list[str]:
        """A notice when a category this message asks for is in none of the picks: "a thriller with Michael
        Caine" finds his films, none of them a thriller here. The lead-in does not claim the category
        (``_said_wishes``); the person is told why rather than left to wonder. English only, like the other
        notices: a Chinese reply is not broken by an English line."""
        shown = {c for item in picks for c in item.categories}
        unmet = sorted(c for c in interests.constraints.include_categories if c not in shown)
        if not picks or not unmet or state.language != "en":
            return []
        return [f"none of these is listed under {' or '.join(unmet)}; they are the closest matches I found"]

    def _follow_up(self, state: ConversationState) -> str:
        """Which question a reply ends with (see ``explain.templates.FOLLOW_UPS``): what would most sharpen
        the next list, unless the last reply asked just that and got no answer; then the next question."""
        if self.shop is not None:
            cycle = ["ask"] if "price" in state.constraints.bounded_fields else ["budget", "ask"]
        else:
            cycle = ["loved", "era", "mood"]
            if state.liked:
                cycle.remove("loved")
            if "year" in state.constraints.bounded_fields:
                cycle.remove("era")
        kind = cycle[1] if len(cycle) > 1 and cycle[0] == state.asked else cycle[0]
        state.asked = kind
        return kind

    def _step(self, state: ConversationState, interests: Interests, notices: list[str]) -> float | None:
        """Apply a step away from the last picks ("older", "newer", "cheaper", "darker", "lighter", "less
        mainstream") to the state; return this turn's long-tail strength when the step asks for one.

        Years step past the last picks' oldest or newest, prices below their cheapest; mood steps are
        category wishes (scores, not filters); "less mainstream" raises the long-tail knob for this turn
        only. A runtime wish is said to be unmet when the catalogue has no running times, never silently
        ignored.
        """
        step = interests.relative
        if interests.max_runtime_minutes is not None or step == "shorter":
            if not self.has_runtimes:
                notices.append("the catalogue gives no running times, so I cannot choose by length")
        if step in ("older", "newer") and "year" in interests.constraints.bounded_fields:
            pass  # "something older, from the 1980s": the years the person named are the bound, not a step
        elif step in ("older", "newer"):
            years = self._last_picks_known(state, "year")
            if not years:
                notices.append(f"there are no earlier picks with a year to compare, so '{step}' was not applied")
            elif step == "older":
                state.step_years(None, min(years) - 1)
            else:
                state.step_years(max(years) + 1, None)
        elif step == "cheaper":  # below the cheapest shown; "cheaper than $30" is a bound the reader took
            prices = self._last_picks_known(state, "price")
            if not prices:
                notices.append("there are no earlier picks with a price to compare, so 'cheaper' was not applied")
            else:
                state.constraints = state.constraints.with_prices(state.constraints.price_min, min(prices) - 0.01)
        elif step in MOOD_STEPS:
            wished = MOOD_STEPS[step] & self.vocabulary_categories
            state.constraints = replace(
                state.constraints, include_categories=frozenset(wished) - state.constraints.exclude_categories
            )
            # "lighter" after "scary": scary is no longer wished
            state.wishes = sorted(state.constraints.include_categories)
            state.new_search()  # and the dark picks shown so far no longer steer the collaborative signal
        elif step == "less_mainstream":
            return max(self.less_mainstream_diversity, state.diversity or 0.0)
        return None

    def _recommended_with(self, item_id: str, liked: list[str]) -> str | None:
        """The title of the liked item beside which people most often named ``item_id``, if any."""
        seed = self.retriever.evidence(item_id, liked)
        return self.catalog.get(seed).title if seed is not None and seed in self.catalog else None

    def _suits_audience(self, state: ConversationState, item: Item) -> bool:
        """Whether ``item`` suits who this search is for: what the search's own filter admits."""
        return Constraints(include_categories=self._audience_categories(state)).admits(item)

    def _audience_categories(self, state: ConversationState) -> frozenset[str]:
        """The categories a search's audience requires: a child's film must be family or animation (a
        catalogue with neither category keeps only the exclusions the reader made: horror, thriller)."""
        return self.children_categories if state.audience == "children" else frozenset()

    def sayable(self, wishes: list[str]) -> list[str]:
        """The wishes a reply may repeat: those in words the catalogue uses. Others ("zorblax", words of an
        instruction pasted into the chat) still steer retrieval, but the reply never echoes them."""
        return [w for w in wishes if set(normalise(w).split()) <= self.vocabulary]

    def _type_phrases(self, interests: Interests, notices: list[str]) -> list[str]:
        """The product types this message names (shop only); a notice when it names one the shop lacks."""
        if self.shop is None:
            return []
        matched = [m.phrase for p in interests.phrases if (m := self.shop.types.match(p)) is not None]
        missing = [p for p in interests.phrases if self.shop.types.names_a_missing_type(p)]
        if missing and not matched:
            notices.append(f"the catalogue has no {missing[0]}; these are the closest matches")
        return list(dict.fromkeys(matched))

    def _answer(
        self, state: ConversationState, question: Question, notices: list[str], deadline: float
    ) -> Iterator[TurnResult]:
        """A question about a shown item: answered from its facts; when it is unclear which item, answered for
        each of a few (``answer_each_up_to``), else asked back."""
        assert self.questions is not None
        state.record_question(question.message)
        unclear = question.item_id is None
        each = unclear and len(question.candidates) <= self.answer_each_up_to
        state.open_question = question.message if unclear and not each else None
        if each:
            items = [self.catalog.get(i) for i in question.candidates]
            answers = self.questions.answerer.stream_each(items, question.message, question.topic)
            yield from self._reply(state, [], notices, answers, clarifying=False, discussed=question.candidates)
            return
        if question.item_id is None:
            options = "\n".join(f"{n}. {self.catalog.get(i).title}" for n, i in enumerate(question.candidates, 1))
            text = f"Which one do you mean?\n{options}"
            yield from self._reply(state, [], notices, iter([text, Reply(text)]), clarifying=True)
            return
        item = self.catalog.get(question.item_id)
        yield from self._reply(
            state,
            [],
            notices,
            self.questions.answerer.stream(item, question.message, question.topic, deadline=deadline),
            clarifying=False,
            discussed=(item.id,),
        )

    def _last_picks_known(self, state: ConversationState, field_name: str) -> list[Any]:
        """The ``field_name`` ("year", "price") of each item of the last list that has one."""
        shown = (self.catalog.get(i) for i in state.last_picks if i in self.catalog)
        return [value for item in shown if (value := getattr(item, field_name)) is not None]

    def _narrows(self, state: ConversationState, interests: Interests) -> bool:
        """Whether a shop's message narrows the products shown rather than asking for others."""
        said = interests.constraints.include_categories
        shown = (self.catalog.get(i) for i in state.last_picks if i in self.catalog)
        return (
            self.shop is not None
            and not interests.asks_for_others
            and (not said or any(not said.isdisjoint(item.categories) for item in shown))
        )

    def _closest_to_budget(
        self, state: ConversationState, *, keep_last_picks: bool = False
    ) -> tuple[list[RankedItem], str] | None:
        """When a price bound leaves nothing: the matches priced nearest the budget, and a heading that
        says they miss it. None when no price bound was set or nothing matches even without it.
        ``keep_last_picks``: the request refines the last list ("anything cheaper?"), whose items may be
        the closest."""
        if "price" not in state.constraints.bounded_fields:
            return None
        unbounded = replace(state, constraints=state.constraints.with_prices(None, None))
        ranked, _ = self.recommend(unbounded, k=max(4 * self.top_k, 20), keep_last_picks=keep_last_picks)
        price_min, price_max = state.constraints.prices
        prices = {r.item_id: price for r in ranked if (price := self.catalog.get(r.item_id).price) is not None}
        priced = [r for r in ranked if r.item_id in prices]
        if not priced:
            return None

        def miss(r: RankedItem) -> float:  # how far outside the budget, in dollars
            price = prices[r.item_id]
            return max((price_min or 0.0) - price, price - (price_max or price), 0.0)

        closest = sorted(priced, key=miss)[: self.top_k]  # stable: equal misses keep their relevance order
        what = f"No {' or '.join(state.type_phrases)}" if state.type_phrases else "Nothing that matches"
        above = price_max is not None and all(prices[r.item_id] > price_max for r in closest)
        side = "over" if above else "outside"
        return (
            closest,
            f"{what} is priced {_budget(price_min, price_max)}. "
            f"The closest ones are {side} your budget, at the prices shown:",
        )

    def _reply(
        self,
        state: ConversationState,
        picks: list[Explained],
        notices: list[str],
        events: Iterator[str | Reply],
        *,
        clarifying: bool,
        discussed: tuple[str, ...] = (),
    ) -> Iterator[TurnResult]:
        """Relay a reply stream as partial results, then the complete one; record it in the state.

        ``discussed`` are the items an answer was about, not new picks: one becomes what "it" means.
        The complete reply says every notice, whichever responder wrote it: front ends show the text.
        """
        text = ""
        for event in events:
            if isinstance(event, Reply):
                all_notices = [*notices, *event.notices]
                unsaid = [n for n in all_notices if n not in event.text]
                final = "\n".join([event.text, *(f"Note: {n}" for n in unsaid)])
                if not discussed:
                    state.record_assistant(final, tuple(p.item.id for p in picks))
                    if picks and self.feedback_log is not None:
                        said = next((t.text for t in reversed(state.turns) if t.role == "user"), None)
                        self.feedback_log.append(state.conversation_id, "shown", [p.item.id for p in picks], said)
                else:
                    state.record_assistant(final, discussed, shown=False)
                yield TurnResult(
                    final,
                    picks,
                    all_notices,
                    complete=True,
                    clarifying=clarifying,
                    generated=event.generated,
                    grounding=event.grounding,
                )
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

    def constraints(
        self, state: ConversationState, *, exclude_mentioned: bool = True, keep_last_picks: bool = False
    ) -> Constraints:
        # A film turned down takes its sequels and spin-offs with it ("a space movie that isn't Star Wars"), and so
        # does a series seen whole ("I've seen every Harry Potter movie").
        excluded = set(state.disliked) | self.series.of([*state.disliked, *state.seen_series])
        if exclude_mentioned:
            excluded |= set(state.mentioned) | set(state.shown)
            excluded |= self._lesser_namesakes(state.mentioned)
        if keep_last_picks:
            excluded -= set(state.last_picks) - state.disliked
        excluded |= self.people.ids_named(state.avoid_terms)
        if self.shop is not None:
            # Product types are hard once they match ("running shoe"): every other item is out, and so is
            # every item of a type the user rejected ("not a charger").
            if state.type_phrases:
                wanted = self.shop.types.ids_named(state.type_phrases)
                excluded |= {i for i in self.catalog.ids() if i not in wanted}
            excluded |= self.shop.types.ids_named(state.avoid_terms)
        # A film for a child is the one wish that is a filter: an adult comedy must not reach an 8-year-old.
        # The wished categories are scores (ranking_context), never filters: only a child's are hard here.
        suitable = self._audience_categories(state)
        return replace(state.constraints, include_categories=suitable, exclude_ids=frozenset(excluded))

    def _lesser_namesakes(self, item_ids: Sequence[str]) -> set[str]:
        """The items titled like one of ``item_ids`` and no more popular: after "I liked Titanic", Titanic
        (2012) is no pick. A more popular namesake stays: It (2017) is what people recommend after It (1990),
        and on ReDial valid ruling out every namesake lost it and a Titanic (1997) named after a mislinked
        Titanic (2012)."""
        found: set[str] = set()
        for item_id in item_ids:
            if item_id not in self.catalog:
                continue
            named = self.catalog.get(item_id)
            found |= {
                other
                for other in self.titles.namesakes(named.title)
                if (self.catalog.get(other).popularity or 0.0) <= (named.popularity or 0.0)
            }
        return found

    def retrieval_query(
        self, state: ConversationState, *, k: int, exclude_mentioned: bool = True, keep_last_picks: bool = False
    ) -> RetrievalQuery:
        """What retrieval is asked for this state: the text, the hard constraints, and the items named so far."""
        seeds = state.seeds()
        disliked = tuple(i for i in seeds if i in state.disliked)
        constraints = self.constraints(state, exclude_mentioned=exclude_mentioned, keep_last_picks=keep_last_picks)
        return RetrievalQuery(
            text=self.query_text(state),
            constraints=constraints,
            like_ids=tuple(state.liked),
            # A category ruled out ("no war films") is also a direction to avoid: the conversations that asked
            # for war films named Dunkirk, which the catalogue files under action and drama.
            avoid_text=" ".join([*state.avoid_terms, *sorted(state.constraints.exclude_categories)]),
            ruled_out_text=" ".join([*state.ruled_out_terms, *sorted(state.constraints.exclude_categories)]),
            k=k,
            seed_ids=tuple(seeds),
            disliked_ids=disliked,
            language=state.language,
        )

    def ranking_context(self, state: ConversationState, query: RetrievalQuery) -> RankingContext:
        return RankingContext(
            query.text,
            state.dialogue_text(),
            wished_categories=state.constraints.include_categories,
            bounded_fields=query.constraints.bounded_fields,
            named_ids=tuple(i for i in query.seed_ids if i not in query.disliked_ids),
            # A film is about what its plot says; a shop's "Christmas present" is no book about Christmas.
            topics=tuple(state.topics) if self.shop is None else (),
        )

    def recommend(
        self,
        state: ConversationState,
        *,
        k: int | None = None,
        candidates: int | None = None,
        exclude_mentioned: bool = True,
        diversity: float | None = None,
        keep_last_picks: bool = False,
    ) -> tuple[list[RankedItem], list[str]]:
        """Rank for the state as it stands. Returns the ranking and any notices for the user.

        Category wishes are scores (the ranker's category match), never filters: an item whose
        categories are missing or named otherwise can still be the right one. ``diversity`` overrides
        the session's long-tail strength for this call ("something less mainstream").
        """
        k = k or self.top_k
        query = self.retrieval_query(
            state,
            k=max(candidates or self.candidates, k),
            exclude_mentioned=exclude_mentioned,
            keep_last_picks=keep_last_picks,
        )
        options = RankOptions(diversity=diversity if diversity is not None else state.diversity)
        ranked = self.ranker.rank(self.ranking_context(state, query), self.retriever.retrieve(query), k, options)
        bounded = query.constraints.bounded_fields
        if bounded and ranked and all(self.catalog.get(r.item_id).unknown(bounded) for r in ranked):
            # Items without a year come after the ones that match, never instead of them: if nothing is known
            # to match ("a horror film from 2030"), nothing matches.
            return [], []
        return ranked, self._unknown_field_notices(ranked, bounded)

    def _unknown_field_notices(self, ranked: list[RankedItem], bounded: frozenset[str]) -> list[str]:
        """Picks the catalogue cannot show to meet a year or price bound: said, never silently dropped."""
        notices = []
        for field_name in sorted(bounded):
            unknown = [
                item.title for item in map(self.catalog.get, (r.item_id for r in ranked)) if item.unknown([field_name])
            ]
            if unknown:
                notices.append(
                    f"the catalogue gives no {field_name} for {', '.join(unknown)}; "
                    f"{'it' if len(unknown) == 1 else 'they'} may be outside the {field_name}s you asked for"
                )
        return notices


def _with_type_phrases(state: ConversationState, wishes: list[str]) -> list[str]:
    """A shop's product types as phrases ("running shoe"), then the other wishes: the words of a type are one
    wish, not two ("Matches your wish for running shoe", never "for running, shoes")."""
    if not state.type_phrases:
        return wishes
    in_types = {w for phrase in state.type_phrases for w in phrase.split()}
    return [*state.type_phrases, *(w for w in wishes if w not in in_types and w.rstrip("s") not in in_types)]


@dataclass(frozen=True)
class _Search:
    """What a turn's search asks for, to say what changed since the last turn."""

    constraints: Constraints
    audience: str | None
    disliked: frozenset[str]
    avoided_people: tuple[str, ...]

    @classmethod
    def of(cls, state: ConversationState, people: PeopleIndex) -> _Search:
        return cls(
            state.constraints, state.audience, frozenset(state.disliked), tuple(people.names_in(state.avoid_terms))
        )

    def changes_to(self, now: _Search, catalog: Catalog) -> list[str]:
        """What ``now`` asks for that this search did not, in words ("before 1960 now", "no horror")."""
        before, after = self.constraints, now.constraints
        changes = []
        if after.years != before.years:
            changes.append(f"{_years_in_words(*after.years, 'en') or 'any year'} now")
        if after.prices != before.prices:
            changes.append("any price now" if after.prices == (None, None) else f"priced {_budget(*after.prices)} now")
        if now.audience != self.audience and now.audience == "children":
            changes.append("for a child: family and animation only")
        if after.include_categories != before.include_categories and after.include_categories:
            changes.append(f"leaning towards {', '.join(sorted(after.include_categories))}")
        changes += [f"no {c}" for c in sorted(after.exclude_categories - before.exclude_categories)]
        changes += [f"dropped {catalog.get(i).title}" for i in sorted(now.disliked - self.disliked) if i in catalog]
        changes += [f"none with {name}" for name in now.avoided_people if name not in self.avoided_people]
        return changes


def _vocabulary(catalog: Catalog) -> frozenset[str]:
    """Every word of the catalogue's titles, categories and descriptions, and of the category synonyms."""
    words = {
        w for item in catalog for w in normalise(" ".join([item.title, *item.categories, item.description])).split()
    }
    words.update(w for synonyms in SYNONYMS.values() for s in synonyms for w in normalise(s).split())
    return frozenset(words)


def _bounds(state: ConversationState) -> list[str]:
    """The year and price bounds of the search in words, for the reply's lead-in.

    >>> _bounds(ConversationState(constraints=Constraints(year_min=1990, year_max=1999, price_max=70)))
    ['1990–1999', 'under $70.00']
    """
    years = _years_in_words(*state.constraints.years, state.language)
    prices = [_budget(*state.constraints.prices)] if "price" in state.constraints.bounded_fields else []
    return ([years] if years else []) + prices


def _years_in_words(low: int | None, high: int | None, language: str) -> str:
    """A year bound in words ("" when there is none), with no word right before a year: "to 1999" reads as
    the film "To" to a title spotter.

    >>> _years_in_words(1990, 1999, "en"), _years_in_words(None, 1959, "en"), _years_in_words(1923, 1923, "en")
    ('1990–1999', '1959 or earlier', '1923')
    >>> _years_in_words(2000, None, "zh")
    '2000年以后'
    """
    if low is None and high is None:
        return ""
    if language == "zh":
        return f"{low}年以后" if high is None else f"{high}年以前" if low is None else f"{low}–{high}年"
    return (
        f"{low} or later"
        if high is None
        else f"{high} or earlier"
        if low is None
        else str(low)
        if low == high
        else f"{low}–{high}"
    )


def _budget(low: float | None, high: float | None) -> str:
    """A price bound in words.

    >>> _budget(None, 40), _budget(10, None), _budget(10, 40.5)
    ('under $40.00', 'over $10.00', 'between $10.00 and $40.50')
    """
    if low is not None and high is not None:
        return f"between ${low:,.2f} and ${high:,.2f}"
    return f"under ${high:,.2f}" if high is not None else f"over ${low:,.2f}"
