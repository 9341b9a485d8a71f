"""The harness on the real ReDial test log, the real index and the real pipeline (a seeded sample)."""

from __future__ import annotations

import json

import pytest

from eval.harness import evaluate, sample
from tailtalk.instances import instances_of
from eval.systems import PipelineSystem, exact_copy
from tailtalk.dialogues import load_dialogues

pytestmark = pytest.mark.integration

ACCURACY = {"recall@1", "recall@10", "recall@50", "ndcg@10", "ndcg@50", "mrr@50"}
BEYOND = {"aplt@10", "arp@10", "tail_recall@10", "coverage@10", "gini@10", "ild@10", "novelty@10"}


@pytest.fixture(scope="module")
def test_log(redial_settings):
    return redial_settings.dataset_dir() / "test.jsonl"


def test_metrics_json_has_every_key_for_baselines_and_pipeline(redial_pipeline, test_log, tmp_path):
    systems = ["popularity", "bm25", "dense", "pipeline"]
    evaluate(redial_pipeline, test_log, tmp_path, dataset="redial", systems=systems, limit=60, seed=3, progress=False)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["dataset"] == "redial" and saved["config"]["seed"] == 3
    assert list(saved["systems"]) == systems
    for entry in saved["systems"].values():
        assert set(entry["n_instances"]) == {"all", "new"}
        assert 60 <= entry["n_instances"]["all"] and entry["n_instances"]["new"] <= entry["n_instances"]["all"]
        assert set(entry["metrics"]["all"]) == set(entry["metrics"]["new"]) == ACCURACY
        assert set(entry["metrics"]["beyond"]) == BEYOND
        assert all(0.0 <= v <= 1.0 for v in entry["metrics"]["all"].values())
    # Popularity ranks only blockbusters: nothing from the long tail. Dense retrieval reaches into it.
    assert saved["systems"]["popularity"]["metrics"]["beyond"]["aplt@10"] == 0.0
    assert saved["systems"]["dense"]["metrics"]["beyond"]["aplt@10"] > 0.3
    for name in ("metrics.md", "recall_at_k.png", "recall_vs_aplt.png"):
        assert (tmp_path / name).stat().st_size > 200


def test_same_seed_same_numbers(redial_pipeline, test_log, tmp_path):
    for run in ("a", "b"):
        evaluate(
            redial_pipeline,
            test_log,
            tmp_path / run,
            dataset="redial",
            systems=["pipeline"],
            limit=25,
            seed=7,
            progress=False,
        )
    first, second = (
        json.loads((tmp_path / r / "metrics.json").read_text())["systems"]["pipeline"]["metrics"] for r in ("a", "b")
    )
    assert first == second


def test_exact_search_agrees_with_the_chroma_index(redial_pipeline, test_log):
    """The harness's exact search must rank what users get from Chroma's HNSW index."""
    instances = sample(instances_of(load_dialogues(test_log), redial_pipeline.catalog), 40, 11)
    through_chroma = PipelineSystem(redial_pipeline)
    exact = PipelineSystem(redial_pipeline.replacing(retriever=exact_copy(redial_pipeline.retriever)))
    exact.prepare(instances, progress=False)
    overlaps = []
    for instance in instances:
        a = through_chroma.rank(instance, exclude=frozenset(), k=10)
        b = exact.rank(instance, exclude=frozenset(), k=10)
        overlaps.append(len(set(a) & set(b)) / max(len(a), 1))
    assert sum(overlaps) / len(overlaps) >= 0.95


def test_unknown_system_and_empty_log_are_explained(redial_pipeline, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"id": "x", "turns": [{"role": "user", "text": "hi"}]}\n')
    with pytest.raises(ValueError, match="choose from popularity"):
        evaluate(redial_pipeline, empty, tmp_path, dataset="x", systems=["magic"])
    with pytest.raises(ValueError, match="nothing to evaluate"):
        evaluate(redial_pipeline, empty, tmp_path, dataset="x", systems=["popularity"])


def test_diversity_sweep_moves_along_the_frontier(redial_pipeline, test_log, tmp_path):
    knob = redial_pipeline.ranker.diversity
    results = evaluate(
        redial_pipeline,
        test_log,
        tmp_path,
        dataset="redial",
        systems=["pipeline"],
        limit=30,
        seed=5,
        diversity_sweep=[0.0, knob, 0.6],
        progress=False,
    )
    flat, diverse = results["pipeline[diversity=0]"], results["pipeline[diversity=0.6]"]
    assert diverse["metrics"]["beyond"]["aplt@10"] > flat["metrics"]["beyond"]["aplt@10"]
    # the sweep point at the configured knob is the configured pipeline itself
    assert results[f"pipeline[diversity={knob:g}]"]["metrics"] == results["pipeline"]["metrics"]
    assert (tmp_path / "pareto.png").stat().st_size > 1000
