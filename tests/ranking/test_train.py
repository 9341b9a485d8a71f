"""Scorer training: the pure parts by hand, and a bounded real run on ReDial with the packaged MiniLM."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

import ranking.train as training
from eval.augment import AugmentConfig, augment
from tailtalk.catalog import Catalog, Item, load_catalog
from tailtalk.dialogues import Dialogue, Turn, load_dialogues
from tailtalk.instances import instances_of
from retrieval.embedder import CachedEmbedder, NumpyBertEmbedder
from ranking.scorer import CheckpointError, TextScorer
from ranking.train import (
    PRIOR_WEIGHTS,
    SCORER_META,
    Example,
    TrainConfig,
    TrainingDataError,
    build_examples,
    check_no_leakage,
    choose_prior_weight,
    log_prior,
    nearest,
    profile,
    train,
)


def test_config_is_validated_and_profiles_exist():
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="max_examples"):
        TrainConfig(batch_size=32, max_examples=8)
    assert profile("quick").epochs == 1 and profile("default").max_examples == 8000
    assert profile("quick", epochs=2, tau=None).epochs == 2
    with pytest.raises(ValueError, match="choose one of: default, quick"):
        profile("huge")


def test_leakage_of_an_evaluation_dialogue_is_refused():
    d = Dialogue(id="t1", turns=(Turn(role="user", text="hi"),))
    with pytest.raises(TrainingDataError, match="1 dialogue\\(s\\) of the test split"):
        check_no_leakage([d], {"valid": [], "test": [d]})
    check_no_leakage([d], {"test": [Dialogue(id="t2", turns=d.turns)]})


def test_log_prior_and_nearest_by_hand():
    cat = Catalog((Item(id="a", title="A", popularity=3), Item(id="b", title="B", popularity=0)))
    # smoothed counts 3+1 and 0+1, over their sum 5
    np.testing.assert_allclose(log_prior(cat), [math.log(4 / 5), math.log(1 / 5)])
    queries = np.array([[1.0, 0.0], [0.0, 1.0]])
    items = np.array([[0.9, 0.1], [0.1, 0.9], [0.5, 0.5]])
    assert nearest(queries, items, 2).tolist() == [[0, 2], [1, 2]]


def test_hard_negatives_are_never_the_turns_own_targets():
    log = [
        Dialogue(
            id="d", turns=(Turn(role="user", text="like a"), Turn(role="assistant", text="b or c", items=("b", "c")))
        )
    ]
    ids = ["a", "b", "c", "d"]
    instances = instances_of(log, set(ids))
    neighbours = np.array([[1, 2, 3, 0]])  # b and c (targets) come first in retrieval
    examples = build_examples(instances, ["ctx"], neighbours, ids, TrainConfig(batch_size=2, hard_negative_depth=4))
    assert sorted(e.positive for e in examples) == ["b", "c"]
    assert all(e.hard_negative in {"a", "d"} and e.excluded == {"b", "c"} for e in examples)


def test_prior_weight_is_chosen_by_valid_recall():
    # Two items; the target is the popular one, which the cosine ranks second.
    log = [Dialogue(id="d", turns=(Turn(role="user", text="x"), Turn(role="assistant", text="y", items=("pop",))))]
    instances = instances_of(log, {"pop", "rare"})
    rows = {"rare": 0, "pop": 1}
    cosines = np.array([[0.50, 0.45] + [0.49] * 10])  # ten distractors just above the target push it to rank 12
    prior = np.array([0.0, 1.0] + [0.0] * 10)
    weight, recall = choose_prior_weight(cosines, prior, instances, rows)
    assert recall == 1.0 and weight == min(w for w in PRIOR_WEIGHTS if 0.45 + w > 0.49)


def test_loss_is_the_logit_adjusted_softmax(monkeypatch):
    cat = Catalog(
        (
            Item(id="a", title="A", popularity=3),
            Item(id="b", title="B", popularity=0),
            Item(id="c", title="C", popularity=1),
        )
    )
    row_of = {"a": 0, "b": 1, "c": 2}
    batch = [Example("q1", "a", "c", frozenset({"a"})), Example("q2", "b", "c", frozenset({"b"}))]
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    d = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.6, 0.8]])  # a, b, c, c
    monkeypatch.setattr(training, "_embed", lambda model, texts: q if texts[0] == "q1" else d)
    config = TrainConfig(batch_size=2, scale=2.0, tau=1.0)
    log_pi = torch.tensor(log_prior(cat), dtype=torch.float32)
    loss = training._batch_loss(None, batch, cat, row_of, log_pi, config)
    lp = log_prior(cat)
    expected = []
    for b, cos in enumerate(([1.0, 0.0, 0.6, 0.6], [0.0, 1.0, 0.8, 0.8])):
        logits = np.array([2.0 * c + lp[row_of[i]] for c, i in zip(cos, ["a", "b", "c", "c"])])
        expected.append(-(logits[b] - np.log(np.exp(logits).sum())))
    assert loss.item() == pytest.approx(float(np.mean(expected)), rel=1e-5)


@pytest.mark.integration
def test_bounded_training_run_writes_a_checkpoint_that_serves(redial_settings, tmp_path):
    """The quick profile, bounded further (fewer examples, a catalogue subset) to keep CI fast."""
    folder = redial_settings.dataset_dir()
    full = load_catalog(redial_settings.catalog_path)
    mentioned = {
        i
        for split in ("train", "valid")
        for d in load_dialogues(folder / f"{split}.jsonl")
        for t in d.turns
        for i in t.items
    }
    subset = Catalog(tuple(i for i in full if i.id in mentioned)[:900])
    checkpoint = tmp_path / "checkpoint"
    config = profile("quick", max_examples=64, batch_size=16, valid_instances=40)
    settings = redial_settings.model_copy(update={"checkpoint": checkpoint, "scorer": "auto"})
    generated = augment(subset, AugmentConfig(max_mentions=10**6, limit=16, messages=3, seed=0))
    fitted, report = TextScorer.fit(subset, settings, config, augmented=generated, progress=False)
    assert fitted.trained and fitted.prior_weight == report.prior_weight
    meta = json.loads((checkpoint / SCORER_META).read_text())
    assert meta["profile"] == "quick" and meta["prior_weight"] in PRIOR_WEIGHTS
    # The generated dialogues come on top of the profile's example cap.
    assert len(generated) == meta["augmented_examples"] == 16 and meta["examples"] == 64 + 16
    assert len(meta["valid_recall_at_10"]) == report.epochs_run == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint"]  # no staging folder left behind

    choice = TextScorer.serving(settings)
    assert choice.trained and "trained scorer (quick profile" in choice.description and choice.warning is None
    # Training handed its item vectors to the new model's embedding cache: indexing embeds nothing again.
    cached = CachedEmbedder(choice.encoder, redial_settings.home / "embeddings")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(choice.encoder, "embed", lambda texts, **_: pytest.fail(f"re-embedded {len(texts)} texts"))
        assert cached.embed([i.embedding_text() for i in subset]).shape == (len(subset), 384)
    vectors = choice.encoder.embed(["a scary film", "The Shining (1980)"])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    # A serving process runs the trained checkpoint in numpy, with the same vectors and the same name.
    quick_start = TextScorer.serving(settings, quick_start=True).encoder
    assert isinstance(quick_start, NumpyBertEmbedder) and quick_start.name == choice.encoder.name
    assert np.abs(quick_start.embed(["a scary film", "The Shining (1980)"]) - vectors).max() < 1e-5

    (checkpoint / SCORER_META).write_text("{not json")
    fallback = TextScorer.serving(settings)
    assert not fallback.trained and "unreadable" in fallback.warning and "tailtalk train" in fallback.warning
    with pytest.raises(CheckpointError, match="scorer=baseline"):
        TextScorer.serving(settings.model_copy(update={"scorer": "trained"}))


@pytest.mark.integration
@pytest.mark.parametrize("way", ["in the train split", "as generated dialogues"])
def test_training_refuses_a_test_dialogue(redial_settings, tmp_path, way):
    folder = tmp_path / "redial"
    shutil.copytree(redial_settings.dataset_dir(), folder)
    leaked = (folder / "test.jsonl").read_text().splitlines()[0]
    if way == "in the train split":
        with (folder / "train.jsonl").open("a") as handle:
            handle.write(leaked + "\n")
    with pytest.raises(TrainingDataError, match="test split"):
        train(
            load_catalog(folder / "catalog.jsonl"),
            folder,
            tmp_path / "ckpt",
            profile("quick"),
            base_model=redial_settings.embedding_model,
            augmented=[Dialogue.model_validate_json(leaked)] if way == "as generated dialogues" else (),
        )
    assert not (tmp_path / "ckpt").exists()


def test_only_enough_turns_for_the_example_cap_are_taken():
    log = [
        Dialogue(id=f"d{n}", turns=(Turn(role="user", text="x"), Turn(role="assistant", text="y", items=("a", "b"))))
        for n in range(10)
    ]
    instances = instances_of(log, {"a", "b"})
    taken = training.enough_instances(instances, TrainConfig(batch_size=2, max_examples=5))
    assert len(taken) == 3  # 2 + 2 + 2 targets >= 5
    assert training.enough_instances(instances, TrainConfig(batch_size=2, max_examples=5)) == taken  # seeded
    assert len(training.enough_instances(instances, TrainConfig(batch_size=2))) == 10
