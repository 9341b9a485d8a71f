"""The dialogue-log format: one dialogue per line of JSONL.

``{"id": str, "turns": [{"role": "user"|"assistant", "text": str, "items": [item ids]}]}``
with titles written out in ``text``. ``items`` lists the catalogue items mentioned or
recommended in that turn.

Example::

    >>> from tailtalk.dialogues import Dialogue, Turn
    >>> d = Dialogue(id="d1", turns=[Turn(role="user", text="Any comedies?"),
    ...                              Turn(role="assistant", text="Try Airplane! (1980)", items=["42"])])
    >>> [t.role for t in d.turns]
    ['user', 'assistant']
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tailtalk.catalog import DataFormatError, jsonl_lines


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["user", "assistant"]
    text: str
    items: tuple[str, ...] = ()


class Dialogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    turns: tuple[Turn, ...] = Field(min_length=1)


def iter_dialogues(path: Path | str) -> Iterator[tuple[int, Dialogue]]:
    """Yield ``(line number, dialogue)`` pairs; a malformed line raises with its number."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dialogue log {path} does not exist; run `tailtalk data prepare DATASET` first")
    for line_no, raw in jsonl_lines(path):
        try:
            dialogue = Dialogue.model_validate_json(raw)
        except ValidationError as exc:
            raise DataFormatError.from_validation(path, line_no, exc) from None
        yield line_no, dialogue


def load_dialogues(path: Path | str) -> list[Dialogue]:
    """Read a whole log; a malformed line raises before anything is returned."""
    dialogues: list[Dialogue] = []
    seen: dict[str, int] = {}
    for line_no, dialogue in iter_dialogues(path):
        if dialogue.id in seen:
            raise DataFormatError(
                path, line_no, "id", f"duplicate dialogue id {dialogue.id!r} (first on line {seen[dialogue.id]})"
            )
        seen[dialogue.id] = line_no
        dialogues.append(dialogue)
    return dialogues


def dump_dialogue(dialogue: Dialogue) -> str:
    return json.dumps(dialogue.model_dump(mode="json"), ensure_ascii=False)


class _TurnLike(Protocol):
    @property
    def role(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def items(self) -> tuple[str, ...]: ...


CONTEXT_TURNS = 6


def context_text(
    turns: Sequence[_TurnLike], title_of: Callable[[str], str | None], *, max_turns: int = CONTEXT_TURNS
) -> str:
    """The dialogue so far as one query for a text encoder, newest turn first.

    Encoders truncate long input from the end, so the newest words must come first.
    An assistant turn that named items is written as the titles it named: a live
    session's replies (long templated explanations) and a logged human recommender's
    replies then read alike, for the trained scorer and for retrieval.

    Example::

        >>> t = [Turn(role="user", text="Any comedies?"), Turn(role="assistant", text="Try it!", items=("42",))]
        >>> context_text(t, {"42": "Airplane! (1980)"}.get)
        'assistant: Airplane! (1980) | user: Any comedies?'
    """
    parts = []
    for turn in reversed(list(turns)[-max_turns:]):
        if turn.role == "assistant" and turn.items:
            text = ", ".join(t for t in map(title_of, turn.items) if t)
        else:
            text = turn.text.strip()
        if text:
            parts.append(f"{turn.role}: {text}")
    return " | ".join(parts)
