"""tailtalk.llm.LLMBackend: how a prompt's quote of the user's words is cut to size."""

from __future__ import annotations

from tailtalk.llm import LLMBackend

from tests.llm.fakes import RecordingChatModel


def _backend(clipper=None) -> LLMBackend:
    return LLMBackend(RecordingChatModel(responses=["ok"], calls=[]), "fake", "endpoint", 1.0, clipper=clipper)


def test_an_endpoint_quote_is_cut_at_four_characters_a_token():
    assert _backend().clip("x" * 100, 10) == "x" * 40
    assert _backend().clip("short", 10) == "short"


def test_a_model_that_runs_here_cuts_by_its_own_tokenizer():
    words = _backend(clipper=lambda text, tokens: " ".join(text.split()[:tokens]))
    assert words.clip("one two three four", 2) == "one two"
