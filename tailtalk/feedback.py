"""The feedback log: what people did with the picks (shown, liked, disliked), one JSON line per event.

Off by default (``feedback_log`` unset). With it set, the chat UI, its API, ``tailtalk ask`` and
``tailtalk simulate`` append to the file through :meth:`FeedbackLog.append` (the replays of eval never
do); no message text is written unless ``feedback_log_text=true``. Each event is one ``write`` of one
whole line to a file opened for appending, so concurrent sessions never interleave within a line; a
crash can cut the last line, which :func:`read_feedback` names and skips (with the event appended
after it on the same line). A write that fails is a warning in the server's log, never a failed turn.

``tailtalk fit-ranker --feedback FILE`` (and ``tailtalk train --feedback FILE``) turns each
conversation's likes and dislikes into one more mention list for the collaborative model
(:func:`feedback_mention_lists`), so the next fit learns which items people liked together.

Example::

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "feedback.jsonl"
    >>> log = FeedbackLog(path)
    >>> log.append("c1", "shown", ["10", "11"])
    >>> log.append("c1", "like", ["11"])
    >>> log.append("c1", "dislike", ["10"])
    >>> events, skipped = read_feedback(path)
    >>> [(e.event, e.items) for e in events], skipped
    ([('shown', ('10', '11')), ('like', ('11',)), ('dislike', ('10',))], [])
    >>> feedback_mention_lists(events)[0].items, feedback_mention_lists(events)[0].liked
    (('11', '10'), (True, False))
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tailtalk.mentions import MentionList

Event = Literal["shown", "like", "dislike"]
log = logging.getLogger(__name__)


class FeedbackEvent(BaseModel):
    """One line of the log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    conversation_id: str = Field(min_length=1)
    event: Event
    items: tuple[str, ...]
    timestamp: float
    message: str | None = None  # only with feedback_log_text=true


class FeedbackLog:
    """Appends events to one JSON-lines file (created with its folder on first use)."""

    def __init__(self, path: Path, *, with_text: bool = False):
        self.path = Path(path)
        self.with_text = with_text

    def append(self, conversation_id: str, event: Event, items: Sequence[str], message: str | None = None) -> None:
        record = FeedbackEvent(
            conversation_id=conversation_id,
            event=event,
            items=tuple(items),
            timestamp=round(time.time(), 3),
            message=message if self.with_text else None,
        )
        line = (record.model_dump_json(exclude_none=True) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One write of the whole line to an O_APPEND descriptor: lines from concurrent sessions never mix.
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, line)
            finally:
                os.close(descriptor)
        except OSError as exc:  # an optional log must never break the person's turn: said in the server's log
            log.warning("could not append to the feedback log %s (%s); check feedback_log's folder", self.path, exc)


def read_feedback(path: Path | str) -> tuple[list[FeedbackEvent], list[str]]:
    """The log's events, and one ``file:line: why`` per malformed line, which is skipped, never fatal."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"feedback log {path} does not exist; set feedback_log for the chat UI to write one")
    events: list[FeedbackEvent] = []
    skipped: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                events.append(FeedbackEvent.model_validate(json.loads(line)))
            except (json.JSONDecodeError, ValidationError) as exc:
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else exc.errors()[0]["msg"]
                skipped.append(f"{path}:{number}: {reason}")
    return events, skipped


def feedback_mention_lists(events: Iterable[FeedbackEvent]) -> list[MentionList]:
    """One mention list per conversation: its liked and disliked items in the order of the last verdict
    on each (a like then a dislike of the same item is a dislike), in the log's order."""
    verdicts: dict[str, dict[str, bool]] = {}
    for event in events:
        if event.event == "shown":
            continue
        conversation = verdicts.setdefault(event.conversation_id, {})
        for item in event.items:
            conversation.pop(item, None)
            conversation[item] = event.event == "like"
    return [
        MentionList(id=f"feedback:{conversation_id}", items=tuple(v), liked=tuple(v.values()))
        for conversation_id, v in verdicts.items()
        if v
    ]
