"""The LLM understander: schema validation, one repair, fallback to the rules, and distrust of invented constraints."""

from __future__ import annotations

import json

import openai
import httpx
import pytest

from tailtalk.titles import TitleMatcher
from agent.llm_understand import Extraction, LLMUnderstander, parse_extraction
from agent.understand import RuleBasedUnderstander
from tests.llm.fakes import failing, scripted

TITLES = TitleMatcher([("1", "Alien", 1979), ("2", "The Thing", 1982), ("3", "Heat", 1995)])
RULES = RuleBasedUnderstander(["horror", "comedy", "crime"], TITLES)


def _json(**fields) -> str:
    return json.dumps(fields)


def test_parse_extraction_takes_the_json_object_out_of_chatter():
    extraction = parse_extraction('Sure! {"query": "funny", "include_categories": ["comedy"]} Hope that helps.')
    assert extraction == Extraction(query="funny", include_categories=["comedy"])


def test_an_object_cut_off_by_the_token_limit_is_closed_after_its_last_member():
    reply = '{"query": "funny", "avoid": ["gory"], "year_min": 1980, "year_max": 19'
    assert parse_extraction(reply) == Extraction(query="funny", avoid=["gory"], year_min=1980)


def test_avoid_terms_the_user_never_wrote_are_ignored():
    reply = _json(query="funny", avoid=["gory", "superhero"])  # "gory" is copied from the prompt's example
    interests = LLMUnderstander(scripted(reply), RULES).understand("something funny, nothing superhero")
    assert "superhero" in interests.avoid_terms and "gory" not in interests.avoid_terms


def test_the_model_cannot_avoid_what_the_person_asked_for():
    # SmolLM2's reading of a shop request: the wanted product as a thing to avoid.
    reply = _json(query="running shoes", avoid=["running shoes"], exclude_categories=["comedy"])
    interests = LLMUnderstander(scripted(reply), RULES).understand("running shoes under $70")
    assert interests.avoid_terms == [] and "comedy" not in interests.avoid_terms


def test_the_model_may_avoid_what_the_person_negated():
    reply = _json(query="war", avoid=["american"], exclude_categories=["horror"])
    interests = LLMUnderstander(scripted(reply), RULES).understand("a war film that isn't American, no horror")
    assert "american" in interests.avoid_terms and "horror" in interests.avoid_terms


@pytest.mark.parametrize(
    "reply, problem",
    [
        ("I think they want a comedy.", "no JSON object"),
        ('{"query": "funny",}', "does not parse"),
        ('{"year_min": 2005, "year_max": 1990}', "year_min 2005 is after year_max 1990"),
        ('{"year_min": "soon"}', "year_min"),
    ],
)
def test_parse_extraction_says_what_is_wrong(reply, problem):
    with pytest.raises(ValueError, match=problem):
        parse_extraction(reply)


def test_one_repair_attempt_then_the_repaired_extraction_is_used():
    understander = LLMUnderstander(scripted("not json", _json(query="creepy", avoid=["gore"])), RULES)
    interests = understander.understand("something creepy, no gore please")
    assert "gore" in interests.avoid_terms
    assert (understander.log.calls, understander.log.repaired, understander.log.fell_back_to_rules) == (1, 1, 0)


def test_two_bad_replies_fall_back_to_the_rules_silently():
    understander = LLMUnderstander(scripted("nope", "still nope"), RULES)
    interests = understander.understand("a crime film like Heat")
    assert interests == RULES.understand("a crime film like Heat")
    assert understander.log.fell_back_to_rules == 1 and not interests.notices


def test_an_unreachable_model_falls_back_with_a_notice():
    error = openai.APIConnectionError(request=httpx.Request("POST", "http://127.0.0.1:9/v1"))
    interests = LLMUnderstander(failing(error), RULES).understand("a crime film like Heat")
    assert interests.liked_ids == ["3"] and "crime" in interests.constraints.include_categories
    assert len(interests.notices) == 1 and "rule-based reader" in interests.notices[0]


def test_a_reply_cut_off_by_the_token_limit_is_used_up_to_its_last_complete_member():
    """The OpenAI client refuses a schema reply cut at max_tokens; the understander keeps what was written."""
    from openai.types.chat import ChatCompletion

    written = '{"query": "spooky", "include_categories": ["horror"], "liked_titles": ["Heat", "Al'
    cut = ChatCompletion.model_validate(
        {
            "id": "cut",
            "created": 0,
            "model": "smollm2",
            "object": "chat.completion",
            "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": written}}],
        }
    )
    understander = LLMUnderstander(failing(openai.LengthFinishReasonError(completion=cut)), RULES)
    interests = understander.understand("something to keep me up at night")
    assert "horror" in interests.wishes and not interests.notices
    assert understander.log.valid_first_try == 1 and understander.log.fell_back_to_rules == 0


def test_model_categories_widen_the_query_but_never_become_hard_filters():
    understander = LLMUnderstander(scripted(_json(query="spooky", include_categories=["horror", "musicals"])), RULES)
    interests = understander.understand("something to keep me up at night")
    assert interests.constraints.include_categories == set()  # the rules found none; the model's guess stays soft
    assert "horror" in interests.wishes and "horror" in interests.query_text
    assert "musicals" not in interests.wishes  # not in the catalogue's vocabulary


def test_invented_year_and_price_bounds_are_ignored():
    reply = _json(query="scary", year_min=1990, year_max=1999, price_max=20)
    interests = LLMUnderstander(scripted(reply), RULES).understand("I loved Alien (1979), something scary")
    assert (interests.constraints.year_min, interests.constraints.year_max, interests.constraints.price_max) == (
        None,
        None,
        None,
    )


def test_bounds_the_message_states_are_taken_when_the_rules_missed_them():
    reply = _json(query="comedy", year_min=1980, year_max=1989)
    interests = LLMUnderstander(scripted(reply), RULES).understand("a comedy, ideally 80's stuff")
    assert (interests.constraints.year_min, interests.constraints.year_max) == (1980, 1989)


def test_only_titles_the_message_names_are_liked():
    reply = _json(query="horror", liked_titles=["Alien", "Heat"])  # Heat is not in the message
    interests = LLMUnderstander(scripted(reply), RULES).understand("I loved alien, more like that")
    assert interests.liked_ids == ["1"]


@pytest.mark.parametrize("kind", ["endpoint", "embedded"])
def test_json_schema_decoding_is_requested_from_every_backend(kind):
    backend = scripted(_json(query="x"), kind=kind)
    LLMUnderstander(backend, RULES).understand("a comedy")
    (options,) = backend.chat_model.calls
    assert options["max_tokens"] <= 200
    assert options["response_format"]["type"] == "json_schema"
    schema = options["response_format"]["json_schema"]["schema"]
    assert schema["properties"].keys() == Extraction.model_fields.keys()
