"""tailtalk.llm.LLMBackend: how a prompt's quote of the user's words is cut to size."""

from __future__ import annotations

from tailtalk.embedded_llm import is_gguf
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


def test_a_gguf_file_is_told_by_its_first_bytes_not_its_name(tmp_path):
    model, renamed, other = tmp_path / "model.gguf", tmp_path / "model.bin", tmp_path / "weights.gguf"
    model.write_bytes(b"GGUF\x03\x00\x00\x00")
    renamed.write_bytes(b"GGUF\x03\x00\x00\x00")
    other.write_bytes(b"PK\x03\x04")
    assert is_gguf(model) and is_gguf(renamed)
    assert not is_gguf(other) and not is_gguf(tmp_path / "missing.gguf") and not is_gguf(tmp_path)
