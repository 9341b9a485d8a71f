"""Ranking metrics, found through two registries (after RecBole).

Accuracy metrics score one ranked list against one target and are averaged over all
(instance, target) pairs ("per target"). Beyond-accuracy metrics read a whole run of
top-k lists. Pure functions over plain sequences; numpy only.

Example::

    >>> from eval.metrics import ACCURACY_METRICS
    >>> ACCURACY_METRICS["ndcg@10"](["a", "b", "c"], "c")  # 1 / log2(3 + 1)
    0.5
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import combinations

import numpy as np

from tailtalk.instances import check_cutoff, recall_at_k


def _rank_of(ranked: Sequence[str], target: str, k: int) -> int | None:
    """1-based rank of ``target`` within ``ranked[:k]``, or None when it is not there."""
    check_cutoff(k)
    for position, item in enumerate(ranked[:k], start=1):
        if item == target:
            return position
    return None


def ndcg_at_k(ranked: Sequence[str], target: str, k: int) -> float:
    """1 / log2(rank + 1) within the top ``k``; one relevant item, so the ideal DCG is 1.

    >>> ndcg_at_k(["a", "b", "c"], "a", 10)
    1.0
    """
    rank = _rank_of(ranked, target, k)
    return 0.0 if rank is None else 1.0 / math.log2(rank + 1)


def mrr_at_k(ranked: Sequence[str], target: str, k: int) -> float:
    """Reciprocal rank of ``target`` within the top ``k``, else 0.0.

    >>> mrr_at_k(["a", "b", "c", "d"], "d", 10)
    0.25
    """
    rank = _rank_of(ranked, target, k)
    return 0.0 if rank is None else 1.0 / rank


ACCURACY_METRICS: dict[str, Callable[[Sequence[str], str], float]] = {
    "recall@1": partial(recall_at_k, k=1),
    "recall@10": partial(recall_at_k, k=10),
    "recall@50": partial(recall_at_k, k=50),
    "ndcg@10": partial(ndcg_at_k, k=10),
    "ndcg@50": partial(ndcg_at_k, k=50),
    "mrr@50": partial(mrr_at_k, k=50),
}


def accuracy_report(instances: Iterable[tuple[Sequence[str], Sequence[str]]]) -> tuple[dict[str, float], int]:
    """Mean of every accuracy metric over all (ranked list, target) pairs, and the pair count.

    >>> means, pairs = accuracy_report([(["a", "b"], ["a", "b"])])
    >>> means["recall@1"], means["mrr@50"], pairs
    (0.5, 0.75, 2)
    """
    sums = dict.fromkeys(ACCURACY_METRICS, 0.0)
    pairs = 0
    for ranked, targets in instances:
        for target in targets:
            pairs += 1
            for name, metric in ACCURACY_METRICS.items():
                sums[name] += metric(ranked, target)
    return {name: (total / pairs if pairs else 0.0) for name, total in sums.items()}, pairs


@dataclass(frozen=True)
class BeyondAccuracyInputs:
    """One run of recommendations plus what the beyond-accuracy metrics compare it with.

    ``lists`` holds one ranked list per instance (metrics read ``[:k]`` of each) and
    ``targets`` that instance's targets. ``popularity`` is training mention counts (missing
    ids count 0) and ``embeddings`` unit-normalised item vectors, needed for ILD only.
    """

    lists: Sequence[Sequence[str]]
    targets: Sequence[Sequence[str]]
    head: frozenset[str]
    popularity: Mapping[str, float]
    catalog_size: int
    embeddings: Mapping[str, np.ndarray] | None = None
    k: int = 10

    def __post_init__(self) -> None:
        check_cutoff(self.k)
        if len(self.lists) != len(self.targets):
            raise ValueError(f"lists ({len(self.lists)}) and targets ({len(self.targets)}) must have the same length")
        if self.catalog_size < 1:
            raise ValueError(f"catalog_size must be the number of catalogue items (>= 1), got {self.catalog_size}")

    def top(self) -> list[Sequence[str]]:
        """Every list cut to its first ``k`` items."""
        return [items[: self.k] for items in self.lists]


def aplt(inputs: BeyondAccuracyInputs) -> float:
    """Average percentage of long-tail (non-head) items per list (Abdollahpouri et al. 2017).

    >>> aplt(BeyondAccuracyInputs([["h", "t"], ["t"]], [[], []], frozenset({"h"}), {}, 2))
    0.75
    """
    shares = [sum(i not in inputs.head for i in top) / len(top) for top in inputs.top() if top]
    return float(np.mean(shares)) if shares else 0.0


def arp(inputs: BeyondAccuracyInputs) -> float:
    """Average recommendation popularity: mean over lists of the mean training mentions.

    >>> arp(BeyondAccuracyInputs([["a", "b"]], [[]], frozenset(), {"a": 4.0}, 2))
    2.0
    """
    means = [np.mean([inputs.popularity.get(i, 0.0) for i in top]) for top in inputs.top() if top]
    return float(np.mean(means)) if means else 0.0


def tail_recall(inputs: BeyondAccuracyInputs) -> float:
    """Share of (instance, tail target) pairs whose target is in the top ``k``.

    >>> tail_recall(BeyondAccuracyInputs([["t"]], [["t", "u", "h"]], frozenset({"h"}), {}, 3))
    0.5
    """
    hits = [t in top for top, targets in zip(inputs.top(), inputs.targets) for t in targets if t not in inputs.head]
    return float(np.mean(hits)) if hits else 0.0


def coverage(inputs: BeyondAccuracyInputs) -> float:
    """Distinct items recommended in any top ``k``, over the catalogue size.

    >>> coverage(BeyondAccuracyInputs([["a", "b"], ["a"]], [[], []], frozenset(), {}, 4))
    0.5
    """
    return len({i for top in inputs.top() for i in top}) / inputs.catalog_size


def gini(inputs: BeyondAccuracyInputs) -> float:
    """Gini of exposure over the whole catalogue: sum_i (2i - n - 1) x_(i) / (n sum x), x ascending.

    Never-recommended items count as zero exposure; 0 is perfectly even, near 1 concentrated.

    >>> gini(BeyondAccuracyInputs([["a"], ["b"]], [[], []], frozenset(), {}, 2))
    0.0
    """
    counts = Counter(i for top in inputs.top() for i in top)
    # Ids missing from the catalogue still count, so the vector never drops exposure.
    exposure = np.zeros(max(inputs.catalog_size, len(counts)))
    exposure[: len(counts)] = list(counts.values())
    exposure.sort()
    total = exposure.sum()
    if total == 0:
        return 0.0
    n = len(exposure)
    index = np.arange(1, n + 1)
    return float(((2 * index - n - 1) * exposure).sum() / (n * total))


def ild(inputs: BeyondAccuracyInputs) -> float:
    """Intra-list diversity: mean pairwise cosine distance (1 - u.v) of unit item vectors.

    Averaged over lists with at least two embedded items; 0.0 without any.

    >>> e = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}
    >>> ild(BeyondAccuracyInputs([["a", "b"]], [[]], frozenset(), {}, 2, e))
    1.0
    """
    if not inputs.embeddings:
        return 0.0
    per_list = []
    for top in inputs.top():
        vectors = [inputs.embeddings[i] for i in top if i in inputs.embeddings]
        if len(vectors) >= 2:
            per_list.append(np.mean([1.0 - float(np.dot(a, b)) for a, b in combinations(vectors, 2)]))
    return float(np.mean(per_list)) if per_list else 0.0


def novelty(inputs: BeyondAccuracyInputs) -> float:
    """Mean -log2(share_i) over every recommended position, with add-one smoothing.

    share_i = (pop_i + 1) / (total + catalog_size), so never-mentioned items stay finite.

    >>> novelty(BeyondAccuracyInputs([["a"]], [[]], frozenset(), {"a": 1.0}, 3))  # -log2(2/4)
    1.0
    """
    total = sum(inputs.popularity.values())
    values = [
        -math.log2((inputs.popularity.get(i, 0.0) + 1) / (total + inputs.catalog_size))
        for top in inputs.top()
        for i in top
    ]
    return float(np.mean(values)) if values else 0.0


BEYOND_METRICS: dict[str, Callable[[BeyondAccuracyInputs], float]] = {
    "aplt@10": aplt,
    "arp@10": arp,
    "tail_recall@10": tail_recall,
    "coverage@10": coverage,
    "gini@10": gini,
    "ild@10": ild,
    "novelty@10": novelty,
}


def beyond_report(inputs: BeyondAccuracyInputs) -> dict[str, float]:
    """Every beyond-accuracy metric of one run, keyed as in ``BEYOND_METRICS``.

    >>> beyond_report(BeyondAccuracyInputs([["a"]], [["a"]], frozenset(), {}, 1))["coverage@10"]
    1.0
    """
    return {name: metric(inputs) for name, metric in BEYOND_METRICS.items()}
