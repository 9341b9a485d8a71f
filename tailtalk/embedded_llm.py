"""The embedded language model: SmolLM2 through transformers, in process, as a LangChain chat model.

Kept apart from :mod:`tailtalk.llm` so that LangChain is imported only when a model is used (``llm=none``
starts without it); :func:`tailtalk.llm.embedded_backend` imports it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from tailtalk.llm import LLMError, scan_json_object

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}
_JSON_PREFILL = '{"'


class EmbeddedChatModel(BaseChatModel):
    """A transformers causal LM run in process, as a LangChain chat model (``invoke`` and ``stream``).

    Generation is serialised by a lock: on a small CPU two concurrent generations only
    slow each other down. ``max_time`` bounds every call, waiting for the lock included, so
    a turn cannot hang on it; a call's ``timeout`` option (the time left in its turn)
    lowers it.
    """

    model_path: str
    max_new_tokens: int = 220
    temperature: float = 0.2
    max_time: float = 30.0

    _model: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "tailtalk-embedded"

    def load(self) -> EmbeddedChatModel:
        if self._model is None:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.model_path)
            self._model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=torch.float32).eval()
        return self

    def count_tokens(self, text: str) -> int:
        return len(self.load()._tokenizer(text, add_special_tokens=False)["input_ids"])

    def clip(self, text: str, max_tokens: int) -> str:
        """The start of ``text``, at most ``max_tokens`` tokens of this model's tokenizer."""
        ids = self.load()._tokenizer(text, add_special_tokens=False)["input_ids"]
        return text if len(ids) <= max_tokens else self._tokenizer.decode(ids[:max_tokens])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(chunk.text for chunk in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **_: Any) -> bool:
                return cancelled.is_set()

        class _JSONClosed(StoppingCriteria):
            def __call__(self, input_ids, scores, **_: Any) -> bool:
                return json_mode and scan_json_object(emitted)[0] is not None

        cancelled = threading.Event()  # set when the caller stops reading: generation stops too
        started = time.monotonic()
        budget = min(self.max_time, float(kwargs.get("timeout") or self.max_time))
        self.load()
        chat = [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages]
        # JSON mode (asked for with an OpenAI-style response_format): the reply is started with '{"' so a
        # small model continues an object instead of chatting, and stops once the object closes.
        json_mode = kwargs.get("response_format") is not None
        if json_mode:
            chat.append({"role": "assistant", "content": _JSON_PREFILL})
        inputs = self._tokenizer.apply_chat_template(
            chat,
            add_generation_prompt=not json_mode,
            continue_final_message=json_mode,
            return_tensors="pt",
            return_dict=True,
        )
        streamer = TextIteratorStreamer(
            self._tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=budget + 10
        )
        failure: list[BaseException] = []

        def generate() -> None:
            if not self._lock.acquire(timeout=budget):
                failure.append(TimeoutError(f"the embedded model was busy with other conversations for {budget:g} s"))
                streamer.end()
                return
            try:
                self._model.generate(
                    **inputs,
                    streamer=streamer,
                    max_new_tokens=int(kwargs.get("max_tokens", self.max_new_tokens)),
                    do_sample=self.temperature > 0,
                    temperature=self.temperature or None,
                    top_p=None,
                    top_k=None,
                    max_time=max(budget - (time.monotonic() - started), 0.1),
                    pad_token_id=self._tokenizer.eos_token_id,
                    stopping_criteria=StoppingCriteriaList([_Cancelled(), _JSONClosed()]),
                )
            except Exception as exc:  # re-raised in the caller's thread below
                failure.append(exc)
                streamer.end()
            finally:
                self._lock.release()

        worker = threading.Thread(target=generate, name="tailtalk-embedded-llm", daemon=True)
        emitted = _JSON_PREFILL if json_mode else ""
        worker.start()
        if json_mode:
            yield ChatGenerationChunk(message=AIMessageChunk(content=_JSON_PREFILL))
        try:
            for piece in streamer:
                if not piece:
                    continue
                emitted += piece
                if stop and any(s in emitted for s in stop):
                    cut = min(emitted.index(s) for s in stop if s in emitted)
                    tail = piece[: max(0, len(piece) - (len(emitted) - cut))]
                    if tail:
                        yield ChatGenerationChunk(message=AIMessageChunk(content=tail))
                    break
                if run_manager:
                    run_manager.on_llm_new_token(piece)
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        finally:
            cancelled.set()
            worker.join(timeout=budget + 10)
        if failure:
            if isinstance(failure[0], TimeoutError):
                raise failure[0]
            raise LLMError(f"the embedded model failed: {failure[0]}") from failure[0]
