"""The errors written for people: each one's message says what went wrong and what to do next.

Front ends show these messages as they are (the CLI as ``error: ...``, the chat UI as an
error box); any other exception is an internal fault, logged with its traceback for the
operator and shown to the user only as a short apology. The classes live beside the code
that raises them, so they are imported here, late, when a front end asks.
"""

from __future__ import annotations


def user_errors() -> tuple[type[BaseException], ...]:
    from tailtalk.catalog import DataFormatError
    from tailtalk.config import ConfigError
    from tailtalk.llm import LLMError
    from tailtalk.sources import SourceError
    from retrieval.index import IndexError_
    from ranking.scorer import CheckpointError
    from prompts import PromptError

    return (ConfigError, DataFormatError, SourceError, FileNotFoundError, ValueError, IndexError_, CheckpointError,
            LLMError, PromptError)
