"""Hybrid retrieval's pooling: the partial sort that picks each source's best items."""

from __future__ import annotations

from itertools import islice

import numpy as np
import pytest

from retrieval.hybrid import best_rows


def full_sort(scores: np.ndarray) -> list[int]:
    """What pooling did before: every row sorted, best first and ties in row order, positive scores only."""
    return [int(r) for r in np.argsort(-scores, kind="stable") if scores[r] > 0]


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("first", [1, 5, 37])
def test_the_partial_sort_reads_the_rows_a_full_sort_gives(seed, first):
    rng = np.random.default_rng(seed)
    # Few distinct values, zeros and negatives: ties across every slice boundary.
    scores = rng.integers(-3, 8, size=500).astype(float)
    assert list(best_rows(scores, first)) == full_sort(scores)
    assert list(islice(best_rows(scores, first), 60)) == full_sort(scores)[:60]


def test_no_positive_score_gives_no_row():
    assert list(best_rows(np.array([0.0, -1.0, 0.0]), 3)) == []
