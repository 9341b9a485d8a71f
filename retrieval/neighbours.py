"""Conversation neighbours: what human recommenders named in the training conversations that read most like
this one.

Dense retrieval compares the conversation with each item's own text, so "something scary for a sleepover"
finds films whose plot says so. People answer such a request with the films people answer it with, which
their plots rarely say. This model keeps every training recommendation turn as the vector of its context
(the text the pipeline embeds, :func:`tailtalk.dialogues.context_text`, by the served text encoder) and the
items the recommender named next. A turn's score for item ``j`` sums, over the ``k`` training contexts
nearest to the conversation's text vector, ``exp((cos - best cos) / temperature)`` for each that named ``j``.

On ReDial valid ("new" targets, alone) it reaches Recall@10 0.159 / Recall@50 0.347 at ``k`` 500 and
temperature 0.1, against 0.036 / 0.080 for dense retrieval of the item texts (docs/ranking.md).

Example (a toy log; the scores are worked out by hand in ``tests/retrieval/test_neighbours.py``)::

    >>> import numpy as np
    >>> from retrieval.neighbours import ConversationNeighbours, NeighbourConfig
    >>> contexts = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)  # "scary", "funny"
    >>> model = ConversationNeighbours(NeighbourConfig(k=1)).fit(contexts, [("it",), ("up",)], ["it", "up"])
    >>> model.score(np.array([0.9, 0.1])).tolist()
    [1.0, 0.0]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from tailtalk.catalog import write_text_atomic

NEIGHBOURS_FOLDER = "neighbours"  # inside a fitted ranker's folder
_ARRAYS = "neighbours.npz"
_META = "neighbours.json"


@dataclass(frozen=True)
class NeighbourConfig:
    """How many training contexts vote, and how sharply the nearer ones count more. Validated at construction;
    the defaults were chosen on ReDial valid (docs/ranking.md)."""

    k: int = 500
    temperature: float = 0.1

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")


class ConversationNeighbours:
    """Item scores from the nearest training contexts; one object with ``fit`` / ``score`` / ``save`` / ``load``."""

    def __init__(self, config: NeighbourConfig | None = None):
        self.config = config or NeighbourConfig()
        self.item_ids: list[str] = []
        self._row: dict[str, int] = {}
        self._contexts = np.zeros((0, 0), dtype=np.float32)
        self._named = sparse.csr_matrix((0, 0), dtype=np.float32)  # context x item: 1 where it was named

    def __len__(self) -> int:
        """How many training contexts vote."""
        return len(self._contexts)

    def fit(
        self, contexts: np.ndarray, named: Sequence[Sequence[str]], item_ids: Sequence[str]
    ) -> ConversationNeighbours:
        """Keep ``contexts`` (one unit vector per training turn) and the items each turn ``named`` (ids outside
        ``item_ids`` are ignored; a turn that named none of them is dropped)."""
        if len(contexts) != len(named):
            raise ValueError(f"{len(contexts)} contexts but {len(named)} lists of named items")
        self.item_ids = list(item_ids)
        self._row = {item: n for n, item in enumerate(self.item_ids)}
        kept: list[int] = []
        rows: list[int] = []
        cols: list[int] = []
        for turn, items in enumerate(named):
            columns = sorted({self._row[i] for i in items if i in self._row})
            if columns:
                rows += [len(kept)] * len(columns)
                cols += columns
                kept.append(turn)
        self._contexts = np.asarray(contexts, dtype=np.float32)[np.array(kept, dtype=np.int64)]
        self._named = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(kept), len(self.item_ids))
        )
        return self

    def columns_of(self, ids: Sequence[str]) -> np.ndarray:
        """Each of ``ids``' column in the model's scores, -1 for an item it does not know (computed once by a
        caller that scores the same catalogue every turn)."""
        return np.fromiter((self._row.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))

    def score(self, vector: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        """Scores of the items at ``columns`` (default: every item) for a conversation whose text encodes to
        ``vector``; all 0 when the model holds no context."""
        if not len(self._contexts):
            return np.zeros(len(self.item_ids) if columns is None else len(columns))
        similarity = self._contexts @ np.asarray(vector, dtype=np.float32)
        k = min(self.config.k, len(similarity))
        nearest = np.argpartition(-similarity, k - 1)[:k]
        votes = np.exp((similarity[nearest] - similarity[nearest].max()) / self.config.temperature)
        scores = np.asarray(self._named[nearest].T @ votes.astype(np.float64)).ravel()
        if columns is None:
            return scores
        return np.where(columns >= 0, scores[np.maximum(columns, 0)], 0.0)

    def closeness(self, vector: np.ndarray, k: int = 10) -> float:
        """The mean cosine of the ``k`` training contexts nearest to ``vector``: how much the training
        conversations talked about it ("superhero" about 0.58, a vague "too much talking" about 0.34)."""
        if not len(self._contexts):
            return 0.0
        similarity = self._contexts @ np.asarray(vector, dtype=np.float32)
        k = min(k, len(similarity))
        return float(np.partition(similarity, len(similarity) - k)[-k:].mean())

    def save(self, folder: Path) -> None:
        """Write the model into ``folder`` (the arrays, then a JSON description: a reader never sees half)."""
        folder.mkdir(parents=True, exist_ok=True)
        arrays = folder / f".{_ARRAYS}.tmp.npz"
        named = self._named.tocoo()
        np.savez(arrays, contexts=self._contexts, rows=named.row, cols=named.col)
        arrays.replace(folder / _ARRAYS)
        write_text_atomic(folder / _META, json.dumps({"config": asdict(self.config), "item_ids": self.item_ids}))

    @staticmethod
    def saved_in(folder: Path) -> bool:
        """Whether ``folder`` holds a complete saved model (the description is written last)."""
        return (folder / _META).is_file() and (folder / _ARRAYS).is_file()

    @classmethod
    def load(cls, folder: Path) -> ConversationNeighbours:
        meta = json.loads((folder / _META).read_text(encoding="utf-8"))
        model = cls(NeighbourConfig(**meta["config"]))
        model.item_ids = list(meta["item_ids"])
        model._row = {item: n for n, item in enumerate(model.item_ids)}
        with np.load(folder / _ARRAYS) as stored:
            model._contexts = stored["contexts"].astype(np.float32)
            rows, cols = stored["rows"], stored["cols"]
        model._named = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(model._contexts), len(model.item_ids))
        )
        return model
