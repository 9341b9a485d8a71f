"""The collaborative signal: which items people name together, learned from training mention lists.

An item-item model (after Cornac: one object with ``fit`` / ``score`` / ``save`` / ``load``).
Each training dialogue is a row of a dialogue x item matrix ``X``; a liked mention counts 1,
a mention the seeker did not like counts ``disliked_weight`` (people still name films of
the same kind they dislike, so a dislike says something about the topic, and less about taste).

* ``method="cooc"``: co-mention counts damped by popularity,
  ``S[i, j] = (X^T X)[i, j] / (n_i^alpha * n_j^(1 - alpha))`` with ``n`` the Gram matrix's diagonal
  (the item's dialogue count when every entry is 1),
  so that a blockbuster named beside everything does not top every list.
* ``method="ease"``: EASE (Steck, WWW 2019), the closed-form ridge regression of each item
  on all the others: ``P = (X^T X + lambda I)^-1``, ``B = I - P / diag(P)``.

A conversation's score for item ``j`` sums ``S[s, j]`` over the items ``s`` it has named,
in the order they were named, each weighted by recency (``decay`` per later mention) and
by the user's verdict (a disliked seed counts ``disliked_weight``). :meth:`evidence` names the seed that
contributed most, for the reason "often recommended to people who loved X".

Example (a toy log, scores computed by hand in ``tests/retrieval/test_collaborative.py``)::

    >>> from tailtalk.mentions import MentionList
    >>> from retrieval.collaborative import CollaborativeConfig, CollaborativeModel
    >>> log = [MentionList(id="1", items=("a", "b"), liked=(True, True)),
    ...        MentionList(id="2", items=("a", "b", "c"), liked=(True, True, True)),
    ...        MentionList(id="3", items=("c", "d"), liked=(True, True))]
    >>> model = CollaborativeModel(CollaborativeConfig(method="cooc", alpha=0.5)).fit(log, ["a", "b", "c", "d"])
    >>> [round(float(x), 3) for x in model.score(["a"])]
    [0.0, 1.0, 0.5, 0.0]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import sparse

from tailtalk.catalog import write_text_atomic
from tailtalk.mentions import MentionList

COLLABORATIVE_FOLDER = "collaborative"  # inside a fitted ranker's folder
_MATRIX = "item_item.npz"
_META = "collaborative.json"


@dataclass(frozen=True)
class CollaborativeConfig:
    """How the item-item model is learned and applied. Validated at construction."""

    method: Literal["cooc", "ease"] = "cooc"
    alpha: float = 0.9  # cooc: popularity damping of the seed side (0.5 = cosine; 0.9 best on ReDial valid)
    ease_lambda: float = 200.0  # ease: ridge strength
    disliked_weight: float = 0.5  # a not-liked mention, in training rows and as a seed
    decay: float = 0.8  # a seed's weight shrinks by this factor per later mention in the conversation
    min_count: int = 1  # items named in fewer training dialogues get no collaborative score

    def __post_init__(self) -> None:
        if self.method not in ("cooc", "ease"):
            raise ValueError(f"method must be 'cooc' or 'ease', got {self.method!r}")
        for name, low, high in (("alpha", 0.0, 1.0), ("disliked_weight", -1.0, 1.0), ("decay", 0.0, 1.0)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low} and {high}, got {value}")
        if self.ease_lambda <= 0:
            raise ValueError(f"ease_lambda must be positive, got {self.ease_lambda}")
        if self.min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {self.min_count}")


class CollaborativeModel:
    """Item-item scores from mention lists; unknown items score 0."""

    def __init__(self, config: CollaborativeConfig | None = None):
        self.config = config or CollaborativeConfig()
        self.item_ids: list[str] = []
        self._row: dict[str, int] = {}
        # Sparse: most pairs of items are never named together, and a dense matrix of a 7,000-film catalogue
        # is 190 MB that took most of a start-up to rebuild from the saved file.
        self._similarity: sparse.csr_matrix = sparse.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, lists: Sequence[MentionList], item_ids: Sequence[str]) -> CollaborativeModel:
        """Learn from ``lists`` over the catalogue ``item_ids`` (mentions of other ids are ignored)."""
        self.item_ids = list(item_ids)
        self._row = {item: n for n, item in enumerate(self.item_ids)}
        rows, cols, values = [], [], []
        for r, mentions in enumerate(lists):
            for item, liked in zip(mentions.items, mentions.liked):
                if item in self._row:
                    rows.append(r)
                    cols.append(self._row[item])
                    values.append(1.0 if liked else self.config.disliked_weight)
        n_items = len(self.item_ids)
        x = sparse.csr_matrix((values, (rows, cols)), shape=(len(lists), n_items), dtype=np.float64)
        x.sum_duplicates()
        counts = np.asarray((x != 0).sum(axis=0)).ravel()
        # Sparse throughout: a shop of 100,000 products would need an 80 GB dense Gram matrix.
        gram = sparse.csr_matrix(x.T @ x)
        known = (counts >= self.config.min_count).astype(np.float64)
        if self.config.method == "cooc":
            similarity = _damped_cooccurrence(gram, self.config.alpha)
        else:
            similarity = _ease(gram, known > 0, self.config.ease_lambda)
        similarity = sparse.diags(known) @ similarity @ sparse.diags(known)
        similarity.setdiag(0.0)
        similarity.eliminate_zeros()
        self._similarity = sparse.csr_matrix(similarity, dtype=np.float32)
        return self

    def columns_of(self, ids: Sequence[str]) -> np.ndarray:
        """Each of ``ids``' column in the model's scores, -1 for an item the model does not know: computed once
        by a caller that scores the same catalogue every turn."""
        return np.fromiter((self._row.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))

    def seed_weights(self, seeds: Sequence[str], disliked: Sequence[str] = ()) -> dict[int, float]:
        """Each known seed's weight: later mentions weigh more, disliked ones ``disliked_weight``.

        ``seeds`` are the items named, oldest first; those in ``disliked`` count as disliked where they
        stand, and a disliked item not among the seeds counts as the newest mention.
        """
        rejected = set(disliked)
        order = [*seeds, *(item for item in disliked if item not in set(seeds))]
        weights: dict[int, float] = {}
        for age, item in enumerate(reversed(order)):
            verdict = self.config.disliked_weight if item in rejected else 1.0
            row = self._row.get(item)
            if row is not None and row not in weights:
                weights[row] = verdict * self.config.decay**age
        return weights

    def score(
        self, seeds: Sequence[str], disliked: Sequence[str] = (), candidates: Sequence[str] | None = None
    ) -> np.ndarray:
        """Scores of ``candidates`` (default: every item), given the items the conversation named (oldest
        first) and those it disliked (see :meth:`seed_weights`). With no known seed, every score is 0."""
        columns = None if candidates is None else self.columns_of(candidates)
        return self.score_columns(seeds, disliked, columns)

    def score_columns(
        self, seeds: Sequence[str], disliked: Sequence[str] = (), columns: np.ndarray | None = None
    ) -> np.ndarray:
        """:meth:`score` for candidates given by their :meth:`columns_of` (default: every item)."""
        weights = self.seed_weights(seeds, disliked)
        if not weights:
            return np.zeros(len(self.item_ids) if columns is None else len(columns), dtype=np.float64)
        rows = np.fromiter(weights, dtype=np.int64)
        total = np.array([weights[r] for r in rows])
        scores = self._similarity[rows].astype(np.float64).T @ total
        if columns is None:
            return scores
        return np.where(columns >= 0, scores[np.maximum(columns, 0)], 0.0)

    def evidence(self, item: str, liked: Sequence[str]) -> str | None:
        """The liked item that most supports ``item`` (for "often recommended to people who loved X"), if any."""
        column = self._row.get(item)
        if column is None:
            return None
        best, best_score = None, 0.0
        for seed in liked:
            row = self._row.get(seed)
            if row is not None and self._similarity[row, column] > best_score:
                best, best_score = seed, float(self._similarity[row, column])
        return best

    def save(self, folder: Path) -> None:
        """Write the model into ``folder`` (the matrix, sparse, and a JSON description)."""
        folder.mkdir(parents=True, exist_ok=True)
        matrix = folder / f".{_MATRIX}.tmp.npz"  # renamed into place: a reader never sees half a matrix
        sparse.save_npz(matrix, self._similarity)
        matrix.replace(folder / _MATRIX)
        write_text_atomic(folder / _META, json.dumps({"config": asdict(self.config), "item_ids": self.item_ids}))

    @staticmethod
    def saved_in(folder: Path) -> bool:
        """Whether ``folder`` holds a complete saved model (the description is written last)."""
        return (folder / _META).is_file() and (folder / _MATRIX).is_file()

    @classmethod
    def load(cls, folder: Path) -> CollaborativeModel:
        meta = json.loads((folder / _META).read_text(encoding="utf-8"))
        model = cls(CollaborativeConfig(**meta["config"]))
        model.item_ids = list(meta["item_ids"])
        model._row = {item: n for n, item in enumerate(model.item_ids)}
        model._similarity = sparse.csr_matrix(sparse.load_npz(folder / _MATRIX), dtype=np.float32)
        return model


def _damped_cooccurrence(gram: sparse.csr_matrix, alpha: float) -> sparse.csr_matrix:
    """``S[i, j] = G[i, j] / (n_i^alpha * n_j^(1 - alpha))`` with ``n`` the diagonal of the Gram matrix."""
    norms = gram.diagonal()  # each item's sum of squared entries: its dialogue count when entries are 0/1
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(norms > 0, norms**-alpha, 0.0)
        right = np.where(norms > 0, norms ** -(1.0 - alpha), 0.0)
    return sparse.csr_matrix(sparse.diags(left) @ gram @ sparse.diags(right))


def _ease(gram: sparse.csr_matrix, known: np.ndarray, ridge: float) -> sparse.csr_matrix:
    """EASE's item-item weights over the known items (the rest stay 0: inverting them would be noise). Dense
    over the known items: EASE suits catalogues whose named items number in the thousands."""
    index = np.flatnonzero(known)
    g = gram[index][:, index].toarray() + ridge * np.eye(len(index))
    p = np.linalg.inv(g)
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    rows, cols = np.nonzero(b)
    return sparse.csr_matrix((b[rows, cols], (index[rows], index[cols])), shape=gram.shape)
