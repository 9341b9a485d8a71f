"""tailtalk.embedded_llm: which files the embedded backend takes, and what it says of the others.

The server itself, with the packaged model, is tested in tests/integration/test_llm_embedded.py.
"""

from __future__ import annotations

import pytest

from tailtalk.embedded_llm import EmbeddedServer, is_gguf
from tailtalk.llm import LLMError


def test_a_gguf_file_is_told_by_its_first_bytes_not_its_name(tmp_path):
    model, renamed, other = tmp_path / "model.gguf", tmp_path / "model.bin", tmp_path / "weights.gguf"
    model.write_bytes(b"GGUF\x03\x00\x00\x00")
    renamed.write_bytes(b"GGUF\x03\x00\x00\x00")
    other.write_bytes(b"PK\x03\x04")
    assert is_gguf(model) and is_gguf(renamed)
    assert not is_gguf(other) and not is_gguf(tmp_path / "missing.gguf") and not is_gguf(tmp_path)


def test_a_gguf_llama_cpp_cannot_load_is_named_with_what_to_do(tmp_path):
    torn = tmp_path / "torn.gguf"
    torn.write_bytes(b"GGUF\x03\x00\x00\x00 cut short")
    with pytest.raises(LLMError, match="could not load .*torn.gguf.*force-reinstall"):
        EmbeddedServer(torn, threads=1, slots=1, context_tokens=512)
