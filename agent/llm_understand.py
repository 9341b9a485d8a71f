"""The *understand* step with the language model: structured extraction, validated, merged with the rules.

The model is asked for JSON matching :class:`Extraction` (on a server with JSON-schema
decoding, vLLM or the OpenAI API, the schema is enforced while decoding). A reply that
does not validate gets one repair attempt with the validation error; after that the
turn uses the rule-based extraction alone.

What the model says is trusted only where the message supports it, because a small
model readily invents constraints, and a hard filter that is wrong empties the list:

* categories must be in the catalogue's vocabulary, and count only when the rules found
  none; they widen the query and the wishes, while hard category filters come from the
  rules, which match the words said;
* titles must be catalogue titles that the message itself names (fuzzy match);
* year and price bounds are used only when the rules found none and the message holds
  a number (a year, a decade or an amount).

Example (a fake model that always answers the same JSON)::

    >>> from langchain_core.language_models import FakeListChatModel
    >>> from tailtalk.llm import LLMBackend, llm_failures
    >>> from agent.understand import RuleBasedUnderstander
    >>> from agent.llm_understand import LLMUnderstander
    >>> fake = FakeListChatModel(responses=['{"query": "scary", "include_categories": ["horror"], "avoid": ["gore"]}'])
    >>> u = LLMUnderstander(LLMBackend(fake, "fake", "embedded", 5.0), RuleBasedUnderstander(["horror", "comedy"]))
    >>> i = u.understand("something to keep me up at night, no gore")
    >>> i.avoid_terms, "horror" in i.wishes
    (['gore'], True)
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tailtalk.llm import LLMBackend, ModelOutputError, describe_failure, llm_failures
from rapidfuzz import fuzz

from tailtalk.constraints import Constraints
from tailtalk.titles import normalise
from prompts import load_prompt
from agent.understand import Interests, RuleBasedUnderstander

log = logging.getLogger(__name__)

_PARENTHESISED_YEAR = re.compile(r"\(\s*(?:1[89]|20)\d\d\s*\)")
_FUZZY_TITLE_CHARS = 6  # shorter titles must be written exactly: "it" is in every other sentence
_EXTRACTION_TOKENS = 100  # a full Extraction is about 80 tokens; more only lets a small model ramble
_MESSAGE_TOKENS = 300  # of the message, for the model; the rules read all of it
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


class Extraction(BaseModel):
    """What the model must return for one message."""

    model_config = ConfigDict(extra="ignore")

    query: str = Field(default="", max_length=300)
    include_categories: list[str] = Field(default_factory=list, max_length=10)
    exclude_categories: list[str] = Field(default_factory=list, max_length=10)
    liked_titles: list[str] = Field(default_factory=list, max_length=10)
    disliked_titles: list[str] = Field(default_factory=list, max_length=10)
    avoid: list[str] = Field(default_factory=list, max_length=10)
    year_min: int | None = Field(default=None, ge=1870, le=2100)
    year_max: int | None = Field(default=None, ge=1870, le=2100)
    price_min: float | None = Field(default=None, ge=0)
    price_max: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds_in_order(self) -> Extraction:
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            raise ValueError(f"year_min {self.year_min} is after year_max {self.year_max}")
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError(f"price_min {self.price_min} is above price_max {self.price_max}")
        return self

    def constraints(self, categories: frozenset[str]) -> Constraints:
        """The model's reading in the shared schema, keeping only the catalogue's own ``categories``.

        >>> c = Extraction(include_categories=["Horror", "gore"], year_max=1999).constraints(frozenset({"horror"}))
        >>> c.include_categories, c.years
        (frozenset({'horror'}), (None, 1999))
        """
        return Constraints(
            include_categories=frozenset(c.lower() for c in self.include_categories) & categories,
            exclude_categories=frozenset(c.lower() for c in self.exclude_categories) & categories,
            year_min=self.year_min,
            year_max=self.year_max,
            price_min=self.price_min,
            price_max=self.price_max,
        )


# Sent with additionalProperties false: under a schema that allows other keys a small model invents
# them ("year_min_max") until it runs out of tokens. Parsing stays lenient (extra="ignore").
_EXTRACTION_SCHEMA = {**Extraction.model_json_schema(), "additionalProperties": False}


@dataclass
class UnderstandingLog:
    """How the last extractions went, for the harness and the status line."""

    calls: int = 0
    valid_first_try: int = 0
    repaired: int = 0
    fell_back_to_rules: int = 0
    failures: list[str] = field(default_factory=list)


def parse_extraction(reply: str) -> Extraction:
    """The first JSON object in a reply, validated; raises :class:`~tailtalk.llm.ModelOutputError` saying what is wrong.

    An object cut off by the token limit (small models repeat keys until they run out) is
    closed after its last complete member.
    """
    match = _JSON_OBJECT.search(reply)
    text = match.group() if match else _close_truncated_object(reply)
    if text is None:
        raise ModelOutputError("the reply holds no JSON object")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelOutputError(f"the JSON does not parse: {exc.msg} at character {exc.pos}") from exc
    if not isinstance(data, dict):
        raise ModelOutputError("the JSON is not an object")
    try:
        return Extraction.model_validate(data)
    except ValidationError as exc:
        raise ModelOutputError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from exc


def _close_truncated_object(reply: str) -> str | None:
    """The reply's JSON object, cut off by the token limit, closed after its last complete member.

    >>> _close_truncated_object('{"query": "a, b", "avoid": ["x"], "year_min": 19')
    '{"query": "a, b", "avoid": ["x"]}'
    >>> _close_truncated_object('{"query": "unfinished') is None
    True
    """
    start = reply.find("{")
    if start < 0:
        return None
    depth, in_string, escaped, last_comma = 0, False, False, None
    for index, char in enumerate(reply[start:], start=start):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 1:
            last_comma = index
    return reply[start:last_comma] + "}" if last_comma is not None else None


class LLMUnderstander:
    """Implements :class:`agent.understand.Understander` with the model, the rules as floor and fallback."""

    def __init__(self, backend: LLMBackend, rules: RuleBasedUnderstander):
        self.backend = backend
        self.rules = rules
        self.log = UnderstandingLog()

    def understand(self, message: str, *, deadline: float | None = None) -> Interests:
        interests = self.rules.understand(message)
        if interests.is_vague:  # "hi", "anything?": nothing to read, and a small model only invents wishes here
            return interests
        if interests.language != "en":  # the prompt and the small model are English: the rules read the rest
            return interests
        extraction = self._extract(message, interests, deadline)
        if extraction is None:
            return interests
        return self._merge(interests, extraction, message)

    def _extract(self, message: str, interests: Interests, deadline: float | None) -> Extraction | None:
        self.log.calls += 1
        message = self.backend.clip(message, _MESSAGE_TOKENS)
        variables = {"categories": ", ".join(sorted(self.rules.categories)) or "none", "message": message}
        try:
            reply = self._ask(load_prompt("understand").format_messages(**variables), deadline)
            try:
                extraction = parse_extraction(reply)
                self.log.valid_first_try += 1
                return extraction
            except ModelOutputError as problem:
                repair = load_prompt("understand_repair").format_messages(
                    error=str(problem)[:300], message=message, reply=reply[:1000]
                )
                extraction = parse_extraction(self._ask(repair, deadline))
                self.log.repaired += 1
                return extraction
        except llm_failures() as exc:
            self.log.fell_back_to_rules += 1
            self.log.failures.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            if not isinstance(exc, ModelOutputError):  # an unusable reply is routine; an unreachable model is news
                interests.notices.append(
                    f"the language model ({self.backend.name}) {describe_failure(exc)}; "
                    "I read your message with the rule-based reader"
                )
            log.info("extraction fell back to the rules: %s", exc)
            return None

    def _ask(self, messages, deadline: float | None) -> str:
        import openai  # a model is in use: the client is loaded already

        # vLLM, llama.cpp (the embedded model) and the OpenAI API all constrain decoding to the schema.
        response_format = {"type": "json_schema", "json_schema": {"name": "interests", "schema": _EXTRACTION_SCHEMA}}
        model = self.backend.within(deadline, max_tokens=_EXTRACTION_TOKENS, response_format=response_format)
        try:
            return model.invoke(messages).text
        except openai.LengthFinishReasonError as cut:
            # A small model fills every field and runs out of tokens; what it wrote is closed after its last
            # complete member by parse_extraction, not thrown away with a notice to the person.
            return cut.completion.choices[0].message.content or ""

    def _named_in(self, message: str, title: str) -> list[str]:
        """Catalogue items matching a title the model extracted, if the message really names it.

        Lower-case one-word titles ("i loved alien") are missed by the rules' matcher on purpose
        (as plain words they are everywhere); the model's reading recovers them, checked here
        against the message so that a title the model made up is never liked.
        """
        if self.rules.titles is None:
            return []
        said = normalise(message)
        found = []
        for hit in self.rules.titles.find(title if any(c.isupper() for c in title) else title.title()):
            written = hit.title
            exact = re.search(rf"(?<!\w){re.escape(written)}(?!\w)", said) is not None
            if exact or (len(written) >= _FUZZY_TITLE_CHARS and fuzz.partial_ratio(written, said) >= 90):
                found.append(hit.item_id)
        return found

    def _merge(self, interests: Interests, extraction: Extraction, message: str) -> Interests:
        reading, ruled = extraction.constraints(self.rules.categories), interests.constraints
        if not (ruled.include_categories or ruled.exclude_categories):  # fill a gap the rules left
            for category in sorted(reading.include_categories):
                interests.wishes.append(category)
                interests.query_text = f"{interests.query_text} {category}".strip()
        # The rules veto a reading that contradicts the message: the model may only avoid what the person
        # negated ("no gore"), never what they asked for (a small model put "running shoes" into avoid for
        # "running shoes under $70", and the shop then excluded every running shoe).
        negated = self.rules.negated_words(message)
        avoid = [a.strip().lower() for a in extraction.avoid if a.strip() and set(normalise(a).split()) <= negated]
        interests.avoid_terms = list(dict.fromkeys([*interests.avoid_terms, *avoid]))[:8]
        for category in reading.exclude_categories - ruled.include_categories:
            if category in negated and category not in interests.avoid_terms:
                interests.avoid_terms.append(category)
        if self.rules.titles is not None:
            for title in extraction.liked_titles:
                interests.liked_ids.extend(
                    i
                    for i in self._named_in(message, title)
                    if i not in interests.liked_ids and i not in interests.disliked_ids
                )
            for title in extraction.disliked_titles:
                interests.disliked_ids.extend(
                    i
                    for i in self._named_in(message, title)
                    if i not in interests.disliked_ids and i not in interests.liked_ids
                )
        said = _PARENTHESISED_YEAR.sub(" ", message)  # "Alien (1979)" names a film, it asks for no year
        # A bound the rules did not read is taken from the model only where the message states it.
        if "year" not in ruled.bounded_fields and all(y is None or _year_is_said(y, said) for y in reading.years):
            interests.constraints = interests.constraints.with_years(*reading.years)
        if "price" not in ruled.bounded_fields and all(p is None or str(int(p)) in said for p in reading.prices):
            interests.constraints = interests.constraints.with_prices(*reading.prices)
        interests.wishes = list(dict.fromkeys(interests.wishes))[:6]
        return interests


def _year_is_said(year: int, message: str) -> bool:
    """The year itself, or its decade ("the 80s", "1980s"), is written in the message."""
    decade = str(year)[2]
    return str(year) in message or re.search(rf"\b(?:{str(year)[:2]})?{decade}0'?s\b", message) is not None
