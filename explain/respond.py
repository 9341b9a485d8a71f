"""The *respond* step: the reply that presents the ranked picks, streamed, and grounded.

Two responders share one interface, :class:`Responder`:

* :class:`TemplateResponder` writes a short lead-in from what was understood: what the
  list is for, what changed since the last turn, and one follow-up question. The cards
  carry each pick's reason, so the reply does not repeat them;
* :class:`LLMResponder` opens with the same lead-in, then asks the language model for a
  word on the first picks and streams it **sentence by sentence**: each sentence is
  checked by :class:`~explain.grounding.GroundingChecker` before the user sees it, and one
  that names an item outside the list, an unknown title, a wrong year or price, or people
  and plots of another item, repeats a pick's card or is about none of the picks, is dropped.
  If the model fails, times out or says nothing usable, the reply is the template one, with a notice.

``stream`` yields text as it is released and, last, the :class:`Reply` with the full
text and the :class:`~explain.grounding.GroundingReport`.

Example (templates)::

    >>> from tailtalk.catalog import Item
    >>> from explain.respond import ReplyRequest, TemplateResponder, final_reply
    >>> from explain.templates import Explained
    >>> pick = Explained(Item(id="1", title="Alien", year=1979), "Sci-fi horror (1979).", 1.0, False)
    >>> final_reply(TemplateResponder().stream(ReplyRequest("something scary", [pick], ["scary"]))).text
    'Here is 1 film for your wish: scary.'
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from tailtalk.catalog import Item
from tailtalk.llm import LLMBackend, describe_failure, llm_failures
from tailtalk.titles import TitleMatcher, normalise
from prompts import example_titles, field_labels, load_prompt, prompt_text
from tailtalk.languages import language_of
from explain.grounding import GroundingChecker, GroundingReport, out_of_list
from explain.templates import Explained, TemplateExplainer

CLARIFYING_QUESTION_ZH = "你想看什么样的电影？告诉我类型、年代或者一部你喜欢的电影，我来帮你挑。"
CLARIFYING_QUESTIONS = {
    "films": "What are you in the mood for? Tell me a genre, a decade or something you enjoyed, "
    "and I will find picks that fit.",
    "products": "What are you looking for? Tell me the kind of product, your budget or a brand you like, "
    "and I will find items that fit.",
}


@dataclass(frozen=True)
class ReplyRequest:
    message: str
    picks: Sequence[Explained]
    wishes: Sequence[str] = ()
    notices: Sequence[str] = ()
    user_named: Sequence[Item] = ()  # items the user brought up themselves
    heading: str | None = None  # says what the list is when it is not a plain list of picks (over budget)
    deadline: float | None = None  # time.monotonic() by which the turn must be answered
    liked_titles: Sequence[str] = ()  # what the person said they loved, for the lead-in
    changes: Sequence[str] = ()  # what changed since the last turn ("before 1960 now")
    follow_up: str = ""  # the one question the reply ends with
    more: bool = False  # another list for the same request ("something else"): "Here are 5 more films"
    bounds: Sequence[str] = ()  # the year and price bounds in words ("under $70.00")
    language: str = "en"  # of the person's message: "zh" gets the Chinese templates


@dataclass
class Reply:
    text: str
    notices: list[str] = field(default_factory=list)  # notices raised while replying (e.g. the LLM timed out)
    grounding: GroundingReport | None = None  # None for template replies: nothing generated to check
    generated: bool = False  # whether any of the text came from the language model


class Responder(Protocol):
    name: str

    def stream(self, request: ReplyRequest) -> Iterator[str | Reply]: ...

    def clarify(self, message: str, *, deadline: float | None = None) -> Iterator[str | Reply]: ...


def final_reply(events: Iterator[str | Reply]) -> Reply:
    """Drain a reply stream and return its :class:`Reply`."""
    for event in events:
        if isinstance(event, Reply):
            return event
    raise RuntimeError("a reply stream ended without its Reply")


def _notice_lines(notices: Sequence[str]) -> str:
    return "".join(f"Note: {n}\n" for n in notices)


class TemplateResponder:
    name = "grounded templates"

    def __init__(self, explainer: TemplateExplainer | None = None, domain: Domain = "films"):
        self.explainer = explainer or TemplateExplainer()
        self.question = CLARIFYING_QUESTIONS[domain]
        self.noun = _PICKS_NOUN[domain]

    def stream(self, request: ReplyRequest) -> Iterator[str | Reply]:
        text = self.text(request, notices=request.notices, follow_up=request.follow_up)
        yield text
        yield Reply(text)

    def text(self, request: ReplyRequest, *, notices: Sequence[str] = (), follow_up: str = "") -> str:
        """The template reply: notices, the lead-in, and (when given) the follow-up question."""
        return self.explainer.reply(
            request.picks,
            wishes=request.wishes,
            notices=notices,
            heading=request.heading,
            liked_titles=request.liked_titles,
            changes=request.changes,
            follow_up=follow_up,
            noun=self.noun,
            bounds=request.bounds,
            language=request.language,
            more=request.more,
        )

    def clarify(self, message: str, *, deadline: float | None = None) -> Iterator[str | Reply]:
        question = CLARIFYING_QUESTION_ZH if language_of(message) == "zh" else self.question
        yield question
        yield Reply(question)


# A sentence ends at a newline, or at . ! ? followed by space, except after a list number ("1."),
# an initial ("J. R. R.", "the U.S.") or an abbreviation ("Dr.", "e.g.", "approx."), which are not ends.
_BOUNDARY = re.compile(r"\n+|(?<=[.!?])[\"”')]?[ \t]+")
_ABBREVIATIONS = r"Mr|Mrs|Ms|Dr|St|Jr|Sr|Prof|Mt|vs|etc|approx|e\.g|i\.e|cf|vol|nos?|mins?|feat|ft|inc|ltd|co"
_NOT_AN_END = re.compile(rf"(?:(?:^|\n)\s*\d{{1,2}}[.)]|\b[A-Z]\.|\b(?i:{_ABBREVIATIONS})\.)[\"”')]?[ \t]*$")


class SentenceBuffer:
    """Collects streamed text and hands out whole sentences, each with the spacing that followed it.

    >>> buffer = SentenceBuffer()
    >>> [s for s, _ in buffer.add("Set in the U.S. in 1959. Edward D. Wood Jr. directs, e.g. at night. Next ")]
    ['Set in the U.S. in 1959.', 'Edward D. Wood Jr. directs, e.g. at night.']
    """

    def __init__(self) -> None:
        self._pending = ""

    def add(self, text: str) -> list[tuple[str, str]]:
        self._pending += text
        sentences: list[tuple[str, str]] = []
        start = 0
        for match in _BOUNDARY.finditer(self._pending):
            if match.end() == len(self._pending) and "\n" not in match.group():
                break  # the space may be followed by more of the same sentence's punctuation run
            if _NOT_AN_END.search(self._pending[: match.end()]):
                continue
            sentence = self._pending[start : match.start()].strip()
            if sentence:
                sentences.append((sentence, "\n" if "\n" in match.group() else " "))
            start = match.end()
        self._pending = self._pending[start:]
        return sentences

    def flush(self) -> list[tuple[str, str]]:
        rest, self._pending = self._pending.strip(), ""
        return [(rest, "")] if rest else []


_MESSAGE_TOKENS = 200  # of the user's message, quoted in a reply's prompt: the wishes and the list carry the rest
Domain = Literal["films", "products"]
# Per domain: the noun the prompts use ("a friendly film recommender") and the prompt that presents the picks.
_DOMAIN_NOUN: dict[str, str] = {"films": "film", "products": "shop"}
_PICKS_NOUN: dict[str, str] = {"films": "films", "products": "products"}
# The picks the model writes about: the cards explain every pick, the reply adds a word on the first ones
# (and a 135M model on a CPU writes two sentences in a fraction of the time of five).
_MODEL_PICKS = 2
_MODEL_TOKENS = 96  # two short sentences (a clarifying question is shorter still)
_RESPOND_PROMPT: dict[str, str] = {"films": "respond", "products": "respond_service"}


class LLMResponder:
    """Natural-language replies from the language model, checked sentence by sentence against the list.

    ``domain="products"`` presents the picks in a service-desk tone (``prompts/respond_service.toml``).
    """

    def __init__(
        self,
        backend: LLMBackend,
        titles: TitleMatcher,
        *,
        categories: Sequence[str] = (),
        domain: Domain = "films",
        explainer: TemplateExplainer | None = None,
        people: Collection[str] = frozenset(),
    ):
        self.backend = backend
        self.titles = titles
        self.categories = list(categories)
        self.people = people  # everyone the catalogue credits (explain.grounding.catalogue_people)
        self.domain = _DOMAIN_NOUN[domain]
        self.respond_prompt = _RESPOND_PROMPT[domain]
        self.templates = TemplateResponder(explainer, domain)
        self.name = backend.name

    def stream(self, request: ReplyRequest) -> Iterator[str | Reply]:
        if not request.picks or request.heading or request.language != "en":
            # Nothing to explain, or a list that misses the request (over budget): the template says so in
            # exact words, where a model tends to present any list as a fit. A reply in another language than
            # English is the template one too: the prompts and the small model are English.
            yield from self.templates.stream(request)
            return
        prompt = load_prompt(self.respond_prompt)
        messages = prompt.format_messages(
            domain=self.domain,
            message=self.backend.clip(request.message, _MESSAGE_TOKENS),
            wishes=", ".join(request.wishes) or "not stated",
            items="\n".join(f"{n}. {_facts(p)}" for n, p in enumerate(request.picks[:_MODEL_PICKS], start=1)),
        )
        checker = GroundingChecker(
            self.titles,
            [p.item for p in request.picks],
            request.user_named,
            instructions=prompt_text(self.respond_prompt),
            example_titles=example_titles(self.respond_prompt),
            request=" ".join([request.message, *request.wishes]),
            categories=self.categories,
            people=self.people,
            field_labels=field_labels(self.respond_prompt),
            cards=[_facts(p) for p in request.picks],
        )
        yield from self._generate(messages, checker, request, clarifying=False)

    def clarify(self, message: str, *, deadline: float | None = None) -> Iterator[str | Reply]:
        if language_of(message) != "en":  # the prompts and the small model are English
            yield from self.templates.clarify(message)
            return
        messages = load_prompt("clarify").format_messages(
            domain=self.domain, message=self.backend.clip(message, _MESSAGE_TOKENS)
        )
        checker = GroundingChecker(self.titles, [], instructions=prompt_text("clarify"))
        yield from self._generate(messages, checker, ReplyRequest(message, [], deadline=deadline), clarifying=True)

    def _generate(
        self, messages, checker: GroundingChecker, request: ReplyRequest, *, clarifying: bool
    ) -> Iterator[str | Reply]:
        report = GroundingReport(request=checker.request)
        notices: list[str] = []
        # A reply about picks opens with the template lead-in (what was understood, what changed) and the
        # model adds a word on the first picks; a clarifying question is the model's alone.
        prefix = _notice_lines(request.notices) + ("" if clarifying else self.templates.text(request) + " ")
        if prefix:
            yield prefix
        text = prefix
        deadline = time.monotonic() + self.backend.timeout
        if request.deadline is not None:
            deadline = min(deadline, request.deadline)
        buffer = SentenceBuffer()

        # What the previous *shown* sentence of this paragraph was about: the reader never sees a dropped
        # sentence, so "(1989): ..." after a dropped "2. When Harry Met Sally..." reads as about the item
        # before it, and is checked as such.
        follows: list[str] = []
        seen: set[str] = set()  # released sentences, normalised, to drop repeats

        def release(sentences: list[tuple[str, str]]) -> Iterator[str]:
            nonlocal follows
            for sentence, spacing in sentences:
                problems = checker.violations(sentence, follows)
                if not clarifying and not (checker.mentioned_ids(sentence) or follows):
                    # The prompt asks for a sentence per pick, opening with its title; one about no pick is the
                    # small model talking about itself or its instructions ("You're a film recommender, a
                    # friendly one"), and the lead-in already says what the list is.
                    problems.append("about none of the picks")
                if not problems and normalise(sentence) in seen:
                    problems = ["repeats an earlier sentence"]
                if problems:
                    report.dropped.append((sentence, problems))
                    follows = [] if spacing == "\n" else follows
                    continue
                follows = [] if spacing == "\n" else (checker.mentioned_ids(sentence) or follows)
                seen.add(normalise(sentence))
                report.released.append(sentence)  # what the user saw, in order
                yield sentence + (" " if spacing == "\n" and not clarifying else spacing)

        try:
            for chunk in self.backend.within(request.deadline, max_tokens=_MODEL_TOKENS).stream(messages):
                for piece in release(buffer.add(chunk.text)):
                    text += piece
                    yield piece
                if time.monotonic() > deadline:
                    raise TimeoutError("the reply was not finished within the turn's time budget")
            for sentence, spacing in buffer.flush():
                if sentence[-1] in ".!?)\"”'…":
                    for piece in release([(sentence, spacing)]):
                        text += piece
                        yield piece
                else:  # cut off by the token limit mid-sentence
                    report.dropped.append((sentence, ["unfinished"]))
        except llm_failures() as exc:
            notices.append(
                f"the language model ({self.backend.name}) {describe_failure(exc)}; "
                "the rest of this reply comes from the catalogue's own facts"
            )

        if clarifying:
            if not any(s.rstrip().endswith("?") for s in report.released):
                report.fell_back = True
                extra = ("\n" if report.released else "") + self.templates.question
                text += extra
                yield extra
            yield Reply(text.strip(), notices, report, generated=bool(report.released))
            return
        report.fell_back = not report.released  # the reply is the template one
        report.shipped_out_of_list = out_of_list(checker, report.released)
        if request.follow_up:
            extra = ("" if text.endswith((" ", "\n")) else " ") + request.follow_up
            text += extra
            yield extra
        if notices:
            extra = "\n" + _notice_lines(notices).rstrip()
            text += extra
            yield extra
        yield Reply(text.strip(), notices, report, generated=bool(report.released))


def _facts(pick: Explained) -> str:
    item = pick.item
    badge = " (a lesser-known pick)" if pick.is_tail else ""
    return f"{item.label}{badge}: {pick.reason}"
