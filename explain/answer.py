"""Answers to questions about one item, from that item's own catalogue facts and nothing else.

:func:`rule_answer` looks the question up in the item's price, attributes ("hardcover":
"384 pages"), the parts of its title and the sentences of its description, and quotes what
it finds; when none of them covers the question it says plainly that the catalogue does not
say, and lists what the catalogue does hold. :class:`Answerer` serves that answer, or, with a
language model, a politer phrasing of it (``prompts/answer.toml``) that is shown only when
every sentence passes :class:`~explain.grounding.GroundingChecker` and states no number the
facts lack; on any failure the rule answer is shown.

Example::

    >>> from tailtalk.catalog import Item
    >>> from explain.answer import rule_answer
    >>> book = Item(id="1", title="1984 by George Orwell", price=13.39, attributes={"hardcover": "384 pages"})
    >>> rule_answer(book, "is it hardcover?", ["hardcover"]).text
    'Yes: 1984 by George Orwell is listed with hardcover: 384 pages.'
    >>> rule_answer(book, "how much is it?", []).text
    '1984 by George Orwell costs $13.39.'
    >>> dune = Item(id="2", title="Dune", attributes={"author": ["Frank Herbert"]})
    >>> rule_answer(dune, "who wrote it?", ["wrote"]).text
    'Dune is listed with author: Frank Herbert.'
    >>> answer = rule_answer(book, "is it waterproof?", ["waterproof"])
    >>> answer.covered
    False
    >>> print(answer.text)
    The catalogue does not say anything about waterproof for 1984 by George Orwell. What it lists: price: $13.39; \
hardcover: 384 pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from tailtalk.catalog import Item
from tailtalk.llm import LLMBackend, describe_failure, llm_failures
from tailtalk.titles import TitleMatcher
from tailtalk.words import stem, stems
from prompts import field_labels, load_prompt, prompt_text
from agent.questions import YES_NO
from explain.grounding import GroundingChecker, GroundingReport
from explain.respond import Reply, SentenceBuffer

_PRICE_QUESTION = re.compile(r"\b(?:how much|price|prices|priced|cost|costs|expensive|cheap|pay)\b", re.IGNORECASE)
# "what is Halloween about?", "what's the plot?": answered with the description itself.
_PLOT_QUESTION = re.compile(
    r"\bwhat\b[^?]*\babout\s*\??\s*$|\b(?:plot|story|storyline|synopsis|what happens)\b", re.IGNORECASE
)
# Run-on product descriptions separate their points with footnote marks ("[2]") or bullets, not full stops.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\[\d+\]\s*|\s*[•|]\s*|\n+")
_TITLE_PARTS = re.compile(r",\s|\s[-–|]\s")
# Question words that name a role by another word than the catalogue's field: "who wrote it?" asks for a
# film's writer or a book's author, "who acted in it?" for its stars.
_ROLE_WORDS = {
    **dict.fromkeys(("wrote", "written", "write", "writes", "writer", "author", "authors"), "writer author"),
    **dict.fromkeys(("acted", "actor", "actors", "actress", "cast", "starring", "starred", "plays"), "stars"),
}
_MAX_QUOTE_WORDS = 30
_QUESTION_TOKENS = 150  # of the question, quoted in the prompt
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_MONEY = re.compile(r"[$€£¥]\s?\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Answer:
    text: str
    covered: bool  # whether the item's facts answer the question
    facts: tuple[str, ...]  # the fact lines the answer rests on, for the language model
    # The fact value a rephrasing must still state ("$59.99", "4.6/5", "Nike"); "" where any grounded
    # phrasing will do (quotes and plots, which a model may shorten).
    gist: str = ""


def fact_lines(item: Item) -> list[str]:
    """The item's facts as "name: value" lines: price, then attributes in catalogue order."""
    lines = [f"price: ${item.price:,.2f}"] if item.price is not None else []
    if item.year:
        lines.append(f"year: {item.year}")
    if item.categories:
        lines.append(f"categories: {', '.join(item.categories)}")
    for key, value in item.attributes.items():
        shown = ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
        if shown.strip():
            lines.append(f"{key.replace('_', ' ')}: {shown}")
    return lines


def rule_answer(item: Item, question: str, topic: Sequence[str]) -> Answer:
    """The answer the catalogue's facts give to ``question`` (about ``topic``) for ``item``."""
    name = item.title
    if _PRICE_QUESTION.search(question):
        if item.price is None:
            return Answer(f"The catalogue does not list a price for {name}.", False, tuple(fact_lines(item)))
        price = f"${item.price:,.2f}"
        return Answer(f"{name} costs {price}.", True, (f"price: {price}",), gist=price)
    if _PLOT_QUESTION.search(question) and item.description:
        return Answer(f"{name}: {item.description.strip()}", True, (item.description.strip(),))
    wanted = {stem(w) for w in topic} | {s for w in topic for s in stems(_ROLE_WORDS.get(w.lower(), ""))}
    if wanted:
        attribute = _best_attribute(item, wanted)
        if attribute is not None:
            key, _, value = attribute.partition(": ")
            yes = "Yes: " if YES_NO.search(question) and wanted & stems(key) else ""
            return Answer(f"{yes}{name} is listed with {attribute}.", True, (attribute,), gist=value)
        quotes = _quotes(item, wanted)
        if quotes:
            said = " and ".join(f"“{q}”" for q in quotes)
            return Answer(f"About {' '.join(topic)}, the catalogue says of {name}: {said}.", True, tuple(quotes))
    lines = fact_lines(item)
    listed = f" What it lists: {'; '.join(lines)}." if lines else ""
    about = f"anything about {' '.join(topic)}" if topic else "that"
    return Answer(f"The catalogue does not say {about} for {name}.{listed}", False, tuple(lines))


def states_the_gist(text: str, gist: str) -> bool:
    """Whether ``text`` still states ``gist``: every number of it (an amount of money with its currency),
    or, when it has none, one of its words.

    A small model asked "does it have a rating?" may answer "It is a shoe by Nike.", every word
    grounded and the question unanswered; asked "how much is it?", it may answer "59.99" without
    saying in what. Such a phrasing is not shown.

        >>> states_the_gist("It is rated 4.6 out of 5.", "4.6/5"), states_the_gist("It is a shoe by Nike.", "4.6/5")
        (True, False)
        >>> states_the_gist("The answer to this question is: 59.99.", "$59.99")
        False
    """
    numbers = _NUMBER.findall(gist)
    if numbers:
        said = set(_NUMBER.findall(text))
        return all(n in said for n in numbers) and all(amount in text for amount in _MONEY.findall(gist))
    return not gist or bool(stems(gist) & stems(text))


def _best_attribute(item: Item, wanted: set[str]) -> str | None:
    """The attribute line whose name (counted double) and value share most words with the question."""
    scored = []
    for line in fact_lines(item)[1 if item.price is not None else 0 :]:
        key, _, value = line.partition(": ")
        score = 2 * len(wanted & stems(key)) + len(wanted & stems(value))
        if score:
            scored.append((score, line))
    return max(scored, key=lambda s: s[0])[1] if scored else None


def _quotes(item: Item, wanted: set[str]) -> list[str]:
    """The title part and the description sentence that say most about the topic (at most one of each)."""
    quotes = []
    for pieces in (_TITLE_PARTS.split(item.title), _SENTENCE_END.split(item.description)):
        scored = [(len(wanted & stems(p)), -n, p.strip()) for n, p in enumerate(pieces) if p.strip()]
        best = max(scored, default=None)
        if best is not None and best[0] > 0:
            quotes.append(_trim(best[2], wanted))
    return quotes


def _trim(sentence: str, wanted: set[str]) -> str:
    """A long sentence cut to the words around its first mention of the topic."""
    words = sentence.rstrip(".").split()
    if len(words) <= _MAX_QUOTE_WORDS:
        return " ".join(words)
    first = next(n for n, w in enumerate(words) if stems(w) & wanted)
    start = max(0, min(first - _MAX_QUOTE_WORDS // 3, len(words) - _MAX_QUOTE_WORDS))
    return ("… " if start else "") + " ".join(words[start : start + _MAX_QUOTE_WORDS]) + " …"


class Answerer:
    """Serves answers about one item: the rule answer, or the language model's grounded phrasing of it."""

    def __init__(self, titles: TitleMatcher, backend: LLMBackend | None = None):
        self.titles = titles
        self.backend = backend

    def stream(
        self, item: Item, question: str, topic: Sequence[str], *, deadline: float | None = None
    ) -> Iterator[str | Reply]:
        answer = rule_answer(item, question, topic)
        # "The catalogue does not say" is the whole answer: a model asked to phrase it tends to guess instead.
        if self.backend is None or not answer.covered:
            yield answer.text
            yield Reply(answer.text)
            return
        report = GroundingReport()
        notices: list[str] = []
        try:
            text = self._phrase(item, question, answer, report, deadline)
        except llm_failures() as exc:
            text = None
            notices.append(
                f"the language model ({self.backend.name}) {describe_failure(exc)}; "
                "this answer comes from the catalogue's own facts"
            )
        if text is None:
            report.fell_back = True
            yield answer.text
            yield Reply(answer.text, notices, report)
            return
        yield text
        yield Reply(text, notices, report, generated=True)

    def stream_each(self, items: Sequence[Item], question: str, topic: Sequence[str]) -> Iterator[str | Reply]:
        """``question`` answered for each of a few ``items`` ("is it USB?" with two microphones shown), from the
        catalogue's facts alone: one model call per item would keep the person waiting for a yes or no."""
        text = "\n".join(rule_answer(item, question, topic).text for item in items)
        yield text
        yield Reply(text)

    def _phrase(
        self, item: Item, question: str, answer: Answer, report: GroundingReport, deadline: float | None
    ) -> str | None:
        """The model's phrasing when every sentence of it is grounded, else None (``report`` says why)."""
        assert self.backend is not None
        messages = load_prompt("answer").format_messages(
            item=item.title,
            facts="\n".join(answer.facts),
            question=self.backend.clip(question, _QUESTION_TOKENS),
            answer=answer.text,
        )
        generated = self.backend.within(deadline).invoke(messages).text
        checker = GroundingChecker(
            self.titles,
            [item],
            instructions=prompt_text("answer"),
            request=question,
            field_labels=field_labels("answer"),
        )
        report.request = checker.request
        buffer = SentenceBuffer()
        sentences = [s for s, _ in [*buffer.add(generated), *buffer.flush()]]
        known_numbers = set(_NUMBER.findall(answer.text))
        for sentence in sentences:
            problems = checker.violations(sentence, [item.id])
            problems += [f"number {n} (not in the facts)" for n in _NUMBER.findall(sentence) if n not in known_numbers]
            if not sentence.endswith((".", "!", "?", "”", '"', ")")):
                problems.append("unfinished")
            if problems:
                report.dropped.append((sentence, problems))
        if sentences and not states_the_gist(" ".join(sentences), answer.gist):
            report.dropped.append((" ".join(sentences), [f"leaves out the answer ({answer.gist})"]))
        if not sentences or report.dropped:
            return None
        report.released.extend(sentences)
        return " ".join(sentences)
