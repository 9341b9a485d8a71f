"""Fake chat models for fast tests of the LLM layer: scripted replies, and a model that always fails."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel, FakeListChatModel
from langchain_core.outputs import ChatResult

from tailtalk.llm import LLMBackend


class RecordingChatModel(FakeListChatModel):
    """Answers ``responses`` in turn (streamed character by character) and records each call's options."""

    calls: list[dict] = []

    def _call(self, messages, stop=None, run_manager=None, **kwargs) -> str:
        self.calls.append(kwargs)
        return super()._call(messages, stop, run_manager, **kwargs)


def scripted(*replies: str, kind: str = "embedded", timeout: float = 10.0) -> LLMBackend:
    """A backend whose model answers ``replies`` in turn."""
    return LLMBackend(RecordingChatModel(responses=list(replies), calls=[]), "fake model", kind, timeout)


class FailingChatModel(BaseChatModel):
    """Raises the given exception on every call, like a server that is down."""

    error: Any

    @property
    def _llm_type(self) -> str:
        return "failing-fake"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        raise self.error


def failing(error: BaseException) -> LLMBackend:
    return LLMBackend(FailingChatModel(error=error), "fake model", "endpoint", 1.0)
