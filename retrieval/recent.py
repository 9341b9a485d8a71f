"""What people have been naming lately: each item's mentions in the latest ``window`` dialogues of the log.

Popularity counts every training mention alike, so a film released while the logs were being collected
ranks by the months it was talked about less than by the weeks it was talked about most. ReDial's
conversation ids count up as the dialogues were collected, and its training logs show it: Black Panther is
named in no dialogue of the first 2,000 ids and in 14% of those around id 15,000; A Quiet Place rises from
0.3% to 2% over the last three thousand. People ask about what is being talked about now.

The log's order: the lists whose ids are integers, by id (ReDial's collection order), then the others as
given (the product's own feedback, newest last). A live conversation reads the latest ``window`` lists. A
replayed logged dialogue (``RetrievalQuery.logged_dialogue``) reads the ``window`` lists logged before it
(an integer id finds its place among the integer ids; any other id counts as live), so fitting and
evaluating on a dialogue never read its own mentions nor later ones, as a deployed recommender never
reads tomorrow's.

An item's score is ``log(1 + count) / log(1 + the most named item's count)`` in the window, in [0, 1] like
the popularity prior.

Example (a toy log; the scores are worked out by hand in ``tests/retrieval/test_recent.py``)::

    >>> from tailtalk.mentions import MentionList
    >>> from retrieval.recent import RecentConfig, RecentMentions
    >>> log = [MentionList(id="1", items=("a", "b"), liked=(True, True)),
    ...        MentionList(id="2", items=("b",), liked=(True,)),
    ...        MentionList(id="3", items=("c",), liked=(False,))]
    >>> model = RecentMentions(RecentConfig(window=2)).fit(log, ["a", "b", "c"])
    >>> model.score().tolist()  # live: lists 2 and 3
    [0.0, 1.0, 1.0]
    >>> [round(x, 4) for x in model.score("3").tolist()]  # replaying dialogue 3: lists 1 and 2
    [0.6309, 1.0, 0.0]
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from tailtalk.catalog import write_text_atomic
from tailtalk.config import setting_default
from tailtalk.mentions import MentionList

RECENT_FOLDER = "recent"  # inside a fitted ranker's folder
_MATRIX = "mentions.npz"
_META = "recent.json"


@dataclass(frozen=True)
class RecentConfig:
    """How many of the latest dialogues count as recent (the ``recent_window`` setting). Validated at
    construction."""

    window: int = setting_default("recent_window")

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"window must be at least 1, got {self.window}")


class RecentMentions:
    """Each item's mentions in the latest dialogues; one object with ``fit`` / ``score`` / ``save`` / ``load``."""

    def __init__(self, config: RecentConfig | None = None):
        self.config = config or RecentConfig()
        self.item_ids: list[str] = []
        self._row: dict[str, int] = {}
        self._numbered: list[int] = []  # the integer ids of the log, ascending: where a replayed dialogue sits
        self._log: sparse.csr_matrix = sparse.csr_matrix((0, 0), dtype=np.float32)  # lists x items, 1 = named
        self._scores_at: dict[int, np.ndarray] = {}

    def fit(self, lists: Sequence[MentionList], item_ids: Sequence[str]) -> RecentMentions:
        """Learn from ``lists`` over the catalogue ``item_ids`` (mentions of other ids are ignored)."""
        numbered = sorted((int(m.id), n) for n, m in enumerate(lists) if m.id.isdecimal())
        others = [n for n, m in enumerate(lists) if not m.id.isdecimal()]
        order = [n for _, n in numbered] + others
        self.item_ids = list(item_ids)
        self._row = {item: n for n, item in enumerate(self.item_ids)}
        rows, columns = [], []
        for r, n in enumerate(order):
            for item in set(lists[n].items):  # a dialogue names an item once however often it says it
                if item in self._row:
                    rows.append(r)
                    columns.append(self._row[item])
        self._log = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(len(order), len(self.item_ids))
        )
        self._numbered = [number for number, _ in numbered]
        self._scores_at = {}
        return self

    def place(self, dialogue_id: str | None = None) -> int:
        """How many lists were logged before ``dialogue_id`` (None or a non-integer id: live, all of them)."""
        if dialogue_id is None or not dialogue_id.isdecimal():
            return self._log.shape[0]
        return bisect_left(self._numbered, int(dialogue_id))

    def score(self, dialogue_id: str | None = None) -> np.ndarray:
        """Every item's score (in ``item_ids`` order) for a live conversation, or as ``dialogue_id`` was logged."""
        end = self.place(dialogue_id)
        if end not in self._scores_at:
            if len(self._scores_at) >= 64:  # a replay reads one dialogue's turns after another: keep a few
                self._scores_at.clear()
            counts = np.asarray(self._log[max(0, end - self.config.window) : end].sum(axis=0), dtype=np.float64).ravel()
            most = float(counts.max()) if counts.size else 0.0
            self._scores_at[end] = np.log1p(counts) / np.log1p(most) if most > 0 else np.zeros(len(counts))
        return self._scores_at[end]

    def columns_of(self, ids: Sequence[str]) -> np.ndarray:
        """Each of ``ids``' column in the scores, -1 for an item the model does not know: computed once by a
        caller that scores the same catalogue every turn."""
        return np.fromiter((self._row.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))

    def score_columns(self, dialogue_id: str | None, columns: np.ndarray) -> np.ndarray:
        """:meth:`score` for candidates given by their :meth:`columns_of` (0 for an unknown item)."""
        scores = self.score(dialogue_id)
        return np.where(columns >= 0, scores[np.maximum(columns, 0)], 0.0)

    def save(self, folder: Path) -> None:
        """Write the model into ``folder`` (the log, sparse, and a JSON description)."""
        folder.mkdir(parents=True, exist_ok=True)
        matrix = folder / f".{_MATRIX}.tmp.npz"  # renamed into place: a reader never sees half a log
        sparse.save_npz(matrix, self._log)
        matrix.replace(folder / _MATRIX)
        write_text_atomic(
            folder / _META,
            json.dumps({"config": asdict(self.config), "item_ids": self.item_ids, "numbered": self._numbered}),
        )

    @staticmethod
    def saved_in(folder: Path) -> bool:
        """Whether ``folder`` holds a complete saved model (the description is written last)."""
        return (folder / _META).is_file() and (folder / _MATRIX).is_file()

    @classmethod
    def load(cls, folder: Path) -> RecentMentions:
        meta = json.loads((folder / _META).read_text(encoding="utf-8"))
        model = cls(RecentConfig(**meta["config"]))
        model.item_ids = list(meta["item_ids"])
        model._row = {item: n for n, item in enumerate(model.item_ids)}
        model._numbered = [int(n) for n in meta["numbered"]]
        model._log = sparse.csr_matrix(sparse.load_npz(folder / _MATRIX), dtype=np.float32)
        return model
