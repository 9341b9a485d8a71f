"""The head / long-tail split used everywhere: index flags, ranking, UI badges and metrics.

Head = the most mentioned items that together account for ``share`` (80%) of all
training mentions; every other item is tail, never-mentioned items included.

Example::

    >>> from tailtalk.popularity import head_tail_split
    >>> sorted(head_tail_split({"a": 6, "b": 3, "c": 1, "d": 0}))
    ['a', 'b']
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def head_tail_split(popularity: Mapping[str, float], share: float = 0.8) -> frozenset[str]:
    """Return the head item ids; ties are broken by id so the split is deterministic."""
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    ranked = sorted(((p, i) for i, p in popularity.items() if p > 0), key=lambda pi: (-pi[0], pi[1]))
    total = sum(p for p, _ in ranked)
    head: list[str] = []
    cumulative = 0.0
    for pop, item_id in ranked:
        if cumulative >= share * total:
            break
        head.append(item_id)
        cumulative += pop
    return frozenset(head)


def log_popularity_prior(popularity: Mapping[str, float]) -> dict[str, float]:
    """log(1 + pop) / log(1 + max pop): the prior every scorer adds, in [0, 1].

    >>> log_popularity_prior({"a": 3, "b": 0})
    {'a': 1.0, 'b': 0.0}
    """
    norm = math.log1p(max(popularity.values(), default=0.0)) or 1.0
    return {i: math.log1p(p) / norm for i, p in popularity.items()}


def popularity_shares(popularity: Mapping[str, float]) -> dict[str, float]:
    total = float(sum(popularity.values()))
    return {i: (p / total if total else 0.0) for i, p in popularity.items()}
