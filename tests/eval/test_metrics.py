"""eval.metrics: accuracy and beyond-accuracy metrics against hand-computed values."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

import eval.metrics
from eval.metrics import (
    ACCURACY_METRICS,
    BEYOND_METRICS,
    BeyondAccuracyInputs,
    accuracy_report,
    aplt,
    arp,
    beyond_report,
    coverage,
    gini,
    ild,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    recall_at_k,
    tail_recall,
)


def run(lists, targets=None, head=frozenset(), popularity=None, catalog_size=10, embeddings=None, k=10):
    return BeyondAccuracyInputs(
        lists=lists,
        targets=targets if targets is not None else [[] for _ in lists],
        head=frozenset(head),
        popularity=popularity or {},
        catalog_size=catalog_size,
        embeddings=embeddings,
        k=k,
    )


def test_docstring_examples():
    assert doctest.testmod(eval.metrics).failed == 0


@pytest.mark.parametrize("k, expected", [(3, 1.0), (2, 0.0), (10, 1.0)])
def test_recall_at_k(k, expected):
    # "c" sits at rank 3: a hit only when the cut-off reaches 3
    assert recall_at_k(["a", "b", "c"], "c", k) == expected
    assert recall_at_k(["a", "b", "c"], "z", k) == 0.0


@pytest.mark.parametrize(
    "target, k, expected",
    [
        ("a", 10, 1.0),  # rank 1: 1 / log2(2) = 1
        ("b", 10, 1 / math.log2(3)),  # rank 2: 1 / log2(3) = 0.6309
        ("c", 10, 0.5),  # rank 3: 1 / log2(4) = 0.5
        ("c", 2, 0.0),  # rank 3 is outside the top 2
        ("z", 10, 0.0),
    ],
)
def test_ndcg_at_k(target, k, expected):
    assert ndcg_at_k(["a", "b", "c"], target, k) == pytest.approx(expected)


@pytest.mark.parametrize("target, k, expected", [("a", 5, 1.0), ("d", 5, 0.25), ("d", 3, 0.0), ("z", 5, 0.0)])
def test_mrr_at_k(target, k, expected):
    # rank 4 -> 1 / 4
    assert mrr_at_k(["a", "b", "c", "d"], target, k) == pytest.approx(expected)


@pytest.mark.parametrize("metric", [recall_at_k, ndcg_at_k, mrr_at_k])
@pytest.mark.parametrize("k", [0, -1])
def test_accuracy_metrics_reject_bad_k(metric, k):
    with pytest.raises(ValueError, match="positive cut-off such as 10"):
        metric(["a"], "a", k)


def test_registries_have_exactly_the_reported_keys():
    assert set(ACCURACY_METRICS) == {"recall@1", "recall@10", "recall@50", "ndcg@10", "ndcg@50", "mrr@50"}
    assert set(BEYOND_METRICS) == {
        "aplt@10",
        "arp@10",
        "tail_recall@10",
        "coverage@10",
        "gini@10",
        "ild@10",
        "novelty@10",
    }


def test_registry_entries_apply_their_cut_off():
    twelve = [f"i{n}" for n in range(1, 13)]
    # i12 sits at rank 12: outside every @10, inside every @50
    scores = {name: metric(twelve, "i12") for name, metric in ACCURACY_METRICS.items()}
    assert scores == pytest.approx(
        {
            "recall@1": 0.0,
            "recall@10": 0.0,
            "recall@50": 1.0,
            "ndcg@10": 0.0,
            "ndcg@50": 1 / math.log2(13),
            "mrr@50": 1 / 12,
        }
    )


def test_accuracy_report_averages_per_target():
    twenty = [f"i{n}" for n in range(1, 21)]
    instances = [(["a", "b", "c"], ["a", "c"]), (twenty, ["i20"])]
    # three pairs: a at rank 1, c at rank 3, i20 at rank 20
    means, pairs = accuracy_report(instances)
    assert pairs == 3
    assert means == pytest.approx(
        {
            "recall@1": 1 / 3,  # only a
            "recall@10": 2 / 3,  # a and c
            "recall@50": 1.0,
            "ndcg@10": (1 + 0.5) / 3,  # 1/log2(2) + 1/log2(4)
            "ndcg@50": (1 + 0.5 + 1 / math.log2(21)) / 3,
            "mrr@50": (1 + 1 / 3 + 1 / 20) / 3,  # 83/180
        }
    )


@pytest.mark.parametrize("instances", [[], [(["a"], [])]])
def test_accuracy_report_without_pairs(instances):
    assert accuracy_report(instances) == (dict.fromkeys(ACCURACY_METRICS, 0.0), 0)


def test_inputs_validation():
    with pytest.raises(ValueError, match="positive cut-off such as 10"):
        run([["a"]], k=0)
    with pytest.raises(ValueError, match="same length"):
        run([["a"], ["b"]], targets=[["a"]])
    with pytest.raises(ValueError, match="catalog_size"):
        run([["a"]], catalog_size=0)


def test_aplt():
    lists = [["h", "t1"], ["t1", "t2", "t3", "h"], []]
    # 1/2 tail and 3/4 tail; the empty list is skipped: (0.5 + 0.75) / 2
    assert aplt(run(lists, head={"h"})) == pytest.approx(0.625)
    # at k=2 the second list is [t1, t2], all tail: (0.5 + 1) / 2
    assert aplt(run(lists, head={"h"}, k=2)) == pytest.approx(0.75)
    assert aplt(run([[], []])) == 0.0


def test_arp():
    # list means: (10 + 2) / 2 = 6 and c unseen = 0, so (6 + 0) / 2
    assert arp(run([["a", "b"], ["c"]], popularity={"a": 10, "b": 2})) == pytest.approx(3.0)
    # at k=1 only a and c count: (10 + 0) / 2
    assert arp(run([["a", "b"], ["c"]], popularity={"a": 10, "b": 2}, k=1)) == pytest.approx(5.0)


def test_tail_recall():
    lists, targets = [["t1", "h"], ["x", "t3"]], [["t1", "h"], ["t2", "t3"]]
    # tail pairs t1 (hit), t2 (miss), t3 (hit); head target h is ignored: 2 / 3
    assert tail_recall(run(lists, targets, head={"h"})) == pytest.approx(2 / 3)
    # at k=1 t3 (rank 2) drops out: 1 / 3
    assert tail_recall(run(lists, targets, head={"h"}, k=1)) == pytest.approx(1 / 3)
    assert tail_recall(run([["h"]], [["h"]], head={"h"})) == 0.0


def test_coverage():
    lists = [["a", "b", "c"], ["b", "d"]]
    # {a, b, c, d} of 10; at k=1 {a, b} of 10
    assert coverage(run(lists, catalog_size=10)) == pytest.approx(0.4)
    assert coverage(run(lists, catalog_size=10, k=1)) == pytest.approx(0.2)


def test_gini_by_hand():
    # exposure a=3, b=1 over a catalogue of 4 -> sorted x = [0, 0, 1, 3], n = 4, sum = 4
    # coefficients 2i - n - 1 = [-3, -1, 1, 3]: (0 + 0 + 1 + 9) / (4 * 4) = 0.625
    assert gini(run([["a"], ["a"], ["a"], ["b"]], catalog_size=4)) == pytest.approx(0.625)


def test_gini_extremes():
    # everyone sees each of 4 items once: perfectly even
    assert gini(run([["a", "b", "c", "d"]] * 3, catalog_size=4)) == pytest.approx(0.0)
    # one item of 5 takes all exposure: x = [0, 0, 0, 0, 2], 4 * 2 / (5 * 2) = 0.8
    assert gini(run([["a"], ["a"]], catalog_size=5)) == pytest.approx(0.8)
    assert gini(run([[], []], catalog_size=5)) == 0.0


def test_ild():
    e = {"x": np.array([1.0, 0.0, 0.0]), "y": np.array([0.0, 1.0, 0.0]), "z": np.array([0.0, 0.0, 1.0])}
    same = {"p": e["x"], "q": e["x"], "r": e["x"]}
    vectors = e | same
    # three orthogonal vectors: every pair 1 - 0 = 1
    assert ild(run([["x", "y", "z"]], embeddings=vectors)) == pytest.approx(1.0)
    # three identical vectors: every pair 1 - 1 = 0
    assert ild(run([["p", "q", "r"]], embeddings=vectors)) == pytest.approx(0.0)
    # x, y, p: pairs xy 1, xp 0, yp 1 -> 2/3
    assert ild(run([["x", "y", "p"]], embeddings=vectors)) == pytest.approx(2 / 3)
    # mean over lists (1 + 0) / 2; [x, unknown] has one embedded item and is skipped
    assert ild(run([["x", "y", "z"], ["p", "q"], ["x", "unknown"]], embeddings=vectors)) == pytest.approx(0.5)
    # at k=2 the first list is [x, y]: 1.0
    assert ild(run([["x", "y", "p"]], embeddings=vectors, k=2)) == pytest.approx(1.0)


@pytest.mark.parametrize("embeddings", [None, {}])
def test_ild_without_embeddings(embeddings):
    assert ild(run([["x", "y"]], embeddings=embeddings)) == 0.0


def test_novelty_add_one_smoothing():
    # total = 4, catalog = 4, so share_i = (pop_i + 1) / 8:
    # a 4/8 -> 1 bit, b 2/8 -> 2 bits, unseen c 1/8 -> 3 bits
    inputs = run([["a", "b"], ["c", "a"]], popularity={"a": 3, "b": 1}, catalog_size=4)
    assert novelty(inputs) == pytest.approx((1 + 2 + 3 + 1) / 4)
    assert novelty(run([[]], catalog_size=4)) == 0.0


def test_beyond_report_runs_every_metric():
    inputs = run([["a", "b"], ["c"]], [["b"], ["d"]], head={"a"}, popularity={"a": 3, "b": 1}, catalog_size=4)
    report = beyond_report(inputs)
    assert report == {name: metric(inputs) for name, metric in BEYOND_METRICS.items()}
    # (1/2 tail + 1/1 tail) / 2; tail targets b (hit), d (miss); {a, b, c} of 4
    assert report["aplt@10"] == pytest.approx(0.75)
    assert report["tail_recall@10"] == pytest.approx(0.5)
    assert report["coverage@10"] == pytest.approx(0.75)
