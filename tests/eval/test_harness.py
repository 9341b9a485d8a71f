"""The harness on a tiny hand-written log, with every metric value computed by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tailtalk.catalog import Catalog, Item
from tailtalk.dialogues import Dialogue, Turn
from eval.harness import run_system, score_run, write_outputs
from tailtalk.instances import instances_of
from eval.metrics import ACCURACY_METRICS, BeyondAccuracyInputs, beyond_report, gini, ild, novelty
from eval.systems import PopularitySystem


@pytest.fixture
def tiny():
    catalog = Catalog(
        tuple(Item(id=i, title=i.upper(), popularity=p) for i, p in [("a", 8), ("b", 1), ("c", 1), ("d", 0)])
    )
    log = [
        Dialogue(
            id="d1",
            turns=(
                Turn(role="user", text="like A?", items=("a",)),
                Turn(role="assistant", text="A or B", items=("a", "b")),
                Turn(role="user", text="more"),
                Turn(role="assistant", text="C", items=("c",)),
            ),
        )
    ]
    return catalog, instances_of(log, catalog)


def test_popularity_replay_exact_values(tiny, tmp_path):
    catalog, instances = tiny
    # Popularity order: a (8), b (1), c (1), d (0).  Instances: turn 1 targets a,b; turn 3 target c.
    result = score_run(run_system(PopularitySystem(catalog), instances, progress=False), instances, catalog, None)
    assert result["n_instances"] == {"all": 3, "new": 2}
    all_ = result["metrics"]["all"]
    # ranks: a=1, b=2, c=3  -> recall@1 = 1/3; ndcg@10 = (1 + 1/log2(3) + 1/log2(4)) / 3; mrr = (1 + 1/2 + 1/3) / 3
    assert all_["recall@1"] == pytest.approx(1 / 3)
    assert all_["recall@10"] == pytest.approx(1.0)
    assert all_["ndcg@10"] == pytest.approx((1 + 1 / np.log2(3) + 0.5) / 3)
    assert all_["mrr@50"] == pytest.approx((1 + 0.5 + 1 / 3) / 3)
    # new: turn 1 target b with a excluded -> list b,c,d: rank 1; turn 3 target c with a,b excluded -> rank 1
    assert result["metrics"]["new"]["recall@1"] == pytest.approx(1.0)
    beyond = result["metrics"]["beyond"]
    # head = {a} (8 of 10 mentions = 80%); both lists are [a, b, c, d] -> 3 of 4 tail
    assert beyond["aplt@10"] == pytest.approx(0.75)
    assert beyond["arp@10"] == pytest.approx(2.5)
    assert beyond["tail_recall@10"] == pytest.approx(1.0)
    assert beyond["coverage@10"] == pytest.approx(1.0)
    assert beyond["gini@10"] == pytest.approx(0.0)
    write_outputs(tmp_path, "tiny", {"seed": 0}, {"popularity": result})
    saved = json.loads((tmp_path / "metrics.json").read_text())
    entry = saved["systems"]["popularity"]
    assert set(entry["metrics"]["all"]) == set(ACCURACY_METRICS)
    assert set(entry["n_instances"]) == {"all", "new"} and entry["dataset"] == "tiny"
    assert (tmp_path / "recall_at_k.png").stat().st_size > 1000
    assert "| popularity | all | 3 |" in (tmp_path / "metrics.md").read_text()


def test_gini_ild_novelty_by_hand():
    inputs = BeyondAccuracyInputs(
        lists=[["a", "a", "b"], ["c"]],
        targets=[[], []],
        head=frozenset(),
        popularity={"a": 3, "b": 1},
        catalog_size=4,
        embeddings={"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0]), "c": np.array([1.0, 0.0])},
    )
    # exposure over 4 items sorted: [0, 1, 1, 2]; sum (2i-n-1)x = (-3*0)+(-1*1)+(1*1)+(3*2) = 6; 6/(4*4) = 0.375
    assert gini(inputs) == pytest.approx(0.375)
    # list 1 pairs: (a,a)=0, (a,b)=1, (a,b)=1 -> 2/3; list 2 has one item and is skipped
    assert ild(inputs) == pytest.approx(2 / 3)
    # shares (pop+1)/(4+4): a 4/8, a 4/8, b 2/8, c 1/8 -> -log2: 1, 1, 2, 3 -> mean 1.75
    assert novelty(inputs) == pytest.approx(1.75)
    assert set(beyond_report(inputs)) == {
        "aplt@10",
        "arp@10",
        "tail_recall@10",
        "coverage@10",
        "gini@10",
        "ild@10",
        "novelty@10",
    }


def test_invalid_inputs_are_explained():
    with pytest.raises(ValueError, match="same length"):
        BeyondAccuracyInputs(lists=[[]], targets=[], head=frozenset(), popularity={}, catalog_size=1)
    with pytest.raises(ValueError, match="positive cut-off"):
        BeyondAccuracyInputs(lists=[], targets=[], head=frozenset(), popularity={}, catalog_size=1, k=0)
