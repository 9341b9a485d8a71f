"""Fine-tune the scorer: a MiniLM bi-encoder over (dialogue context, item text), popularity-aware.

Training data are the ``train`` split's recommendation turns (context = the recent
dialogue as :func:`tailtalk.dialogues.context_text` writes it, positives = the items the
human recommender named). Each example brings one hard negative: an item the packaged
MiniLM retrieves for that context that the recommender did not name. Every other
example's items in the batch are further negatives.

**Popularity-aware loss (logit adjustment, Menon et al. 2021).** For a batch of
contexts ``q_b`` and items ``d_j`` (positives and hard negatives of the whole batch)::

    logit_bj = s * cos(q_b, d_j) + tau * log pi_j        pi_j = (pop_j + 1) / sum_k (pop_k + 1)
    loss     = mean_b  -log softmax_j(logit_bj)[positive of b]

The prior term explains away what popularity alone predicts, so the encoder's cosine
learns relevance *beyond* popularity instead of memorising blockbusters. At inference
the prior is added back with a weight tuned on ``valid`` (``prior_weight`` in the
checkpoint's ``tailtalk_scorer.json``), and the diversity re-ranker
(:mod:`ranking.diversity`) sets how much tail exposure to buy on top.

The ``valid`` split (a hashed 10% of the training dialogues) drives early stopping and
the prior weight; the test split is never read, and training refuses to start if a
test dialogue id appears in its data.

Example (the quick profile, a few minutes on 2 CPU cores)::

    tailtalk train --profile quick
"""

from __future__ import annotations

import json
import random
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from tailtalk.catalog import Catalog
from tailtalk.dialogues import Dialogue, context_text, load_dialogues
from tailtalk.instances import Instance, instances_of, mean_recall_at_k
from tailtalk.popularity import log_popularity_prior
from tailtalk.errors import UserError, UserInputError

SCORER_META = "tailtalk_scorer.json"
PRIOR_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.6)


class TrainingDataError(UserError, ValueError):
    """The training data are unusable (missing split, leakage); the message says what to do."""


@dataclass(frozen=True)
class TrainConfig:
    """One training run's settings. Validated at construction.

    Example::

        >>> TrainConfig(epochs=0)
        Traceback (most recent call last):
        ...
        tailtalk.errors.UserInputError: epochs must be at least 1, got 0
    """

    profile: str = "default"
    epochs: int = 3
    max_examples: int | None = None  # None: every training example
    batch_size: int = 32
    learning_rate: float = 3e-5
    warmup_share: float = 0.1
    max_seq_length: int = 96  # contexts and items; the checkpoint keeps it for serving
    frozen_layers: int = 3  # the embeddings and this many lower layers stay fixed: ~2x faster steps on CPU
    hard_negative_depth: int = 30  # sample hard negatives from the base model's top this many
    scale: float = 20.0  # s: inverse temperature of the cosine logits
    tau: float = 1.0  # logit-adjustment strength; 0 turns the popularity-aware loss off
    valid_instances: int | None = None  # None: every valid turn
    patience: int = 1  # epochs without a better valid score before stopping
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [
            ("epochs", self.epochs, 1),
            ("batch_size", self.batch_size, 2),
            ("max_seq_length", self.max_seq_length, 16),
            ("hard_negative_depth", self.hard_negative_depth, 1),
            ("patience", self.patience, 0),
            ("frozen_layers", self.frozen_layers, 0),
        ]
        for name, value, low in checks:
            if value < low:
                raise UserInputError(f"{name} must be at least {low}, got {value}")
        if not 0 < self.learning_rate < 1:
            raise UserInputError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if self.tau < 0 or self.scale <= 0:
            raise UserInputError("tau must be >= 0 and scale > 0")
        if self.max_examples is not None and self.max_examples < self.batch_size:
            raise UserInputError(f"max_examples ({self.max_examples}) must be at least batch_size ({self.batch_size})")


PROFILES: dict[str, TrainConfig] = {
    # 22 minutes end to end on 2 CPU cores (docs/ranking.md), within the 30-minute budget: one pass over a
    # seeded 8,000 of ReDial's 12,192 training examples (a step takes ~3 s); every example would take ~30.
    "default": TrainConfig(profile="default", epochs=1, max_examples=8000),
    # A few minutes: a seeded sample of examples, one epoch; for the demo and the tests.
    "quick": TrainConfig(profile="quick", epochs=1, max_examples=640, valid_instances=150),
}


@dataclass(frozen=True)
class Example:
    context: str
    positive: str  # item id
    hard_negative: str
    excluded: frozenset[str]  # this turn's targets: never negatives for this context


@dataclass
class TrainReport:
    checkpoint: Path
    profile: str
    examples: int
    epochs_run: int
    seconds: float
    valid_recall_at_10: list[float]
    prior_weight: float
    baseline_valid_recall_at_10: float


def contexts_of(instances: Sequence[Instance], catalog: Catalog) -> list[str]:
    return [context_text(i.context, catalog.label_of) for i in instances]


def log_prior(catalog: Catalog) -> np.ndarray:
    """log pi_j = log((pop_j + 1) / sum_k (pop_k + 1)), in catalogue order."""
    counts = np.array([float(i.popularity or 0.0) + 1.0 for i in catalog], dtype=np.float64)
    return np.log(counts / counts.sum())


def check_no_leakage(train: Sequence[Dialogue], held_out: dict[str, Sequence[Dialogue]]) -> None:
    """Fail loudly if a dialogue of any evaluation split reaches training."""
    train_ids = {d.id for d in train}
    for split, dialogues in held_out.items():
        leaked = sorted(train_ids & {d.id for d in dialogues})
        if leaked:
            raise TrainingDataError(
                f"{len(leaked)} dialogue(s) of the {split} split are in the training data "
                f"(e.g. {leaked[:3]}); re-run `tailtalk data prepare` and train again"
            )


def load_training_splits(folder: Path, extra: Sequence[Dialogue] = ()) -> tuple[list[Dialogue], list[Dialogue]]:
    """The train and valid splits, after checking that no held-out dialogue is among them or ``extra`` (the
    generated dialogues a run adds: a test split passed as one would leak)."""
    missing = [s for s in ("train", "valid") if not (folder / f"{s}.jsonl").is_file()]
    if missing:
        raise TrainingDataError(
            f"{folder} has no {' or '.join(missing)} split; training needs train and valid "
            "(prepare a dataset that has them, e.g. `tailtalk data prepare redial`)"
        )
    train, valid = load_dialogues(folder / "train.jsonl"), load_dialogues(folder / "valid.jsonl")
    held_out = {
        p.stem: load_dialogues(p)
        for p in sorted(folder.glob("*.jsonl"))
        if p.stem not in {"train", "valid", "catalog", "mentions"}
    }
    check_no_leakage([*train, *extra], {"valid": valid, **held_out})
    return train, valid


def nearest(queries: np.ndarray, items: np.ndarray, depth: int) -> np.ndarray:
    """Row-wise indices of the ``depth`` most similar items, best first."""
    scores = queries @ items.T
    top = np.argpartition(-scores, kth=min(depth, scores.shape[1] - 1), axis=1)[:, :depth]
    order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(top, order, axis=1)


def enough_instances(instances: Sequence[Instance], config: TrainConfig) -> list[Instance]:
    """A seeded shuffle, cut once it holds ``max_examples`` targets: only those contexts need embedding."""
    shuffled = list(instances)
    random.Random(config.seed).shuffle(shuffled)
    if config.max_examples is None:
        return shuffled
    taken, targets = [], 0
    for instance in shuffled:
        if targets >= config.max_examples:
            break
        taken.append(instance)
        targets += len(instance.targets)
    return taken


def build_examples(
    instances: Sequence[Instance],
    contexts: Sequence[str],
    neighbours: np.ndarray,
    ids: Sequence[str],
    config: TrainConfig,
) -> list[Example]:
    rng = random.Random(config.seed)
    examples = []
    for instance, context, row in zip(instances, contexts, neighbours):
        excluded = frozenset(instance.targets)
        pool = [ids[j] for j in row if ids[j] not in excluded]
        for target in instance.targets:
            examples.append(Example(context, target, rng.choice(pool) if pool else rng.choice(ids), excluded))
    rng.shuffle(examples)
    return examples if config.max_examples is None else examples[: config.max_examples]


def recall_at(scores: np.ndarray, instances: Sequence[Instance], row_of: dict[str, int], k: int = 10) -> float:
    """Mean per-target recall@k of full-catalogue score rows (the harness's 'all' variant)."""
    top = np.argpartition(-scores, kth=k, axis=1)[:, :k]
    id_of = {row: item_id for item_id, row in row_of.items()}
    # A row that ``row_of`` does not name matches no target.
    return mean_recall_at_k([[id_of.get(j, "") for j in row] for row in top.tolist()], instances, k)


def choose_prior_weight(
    cosines: np.ndarray, prior: np.ndarray, instances: Sequence[Instance], row_of: dict[str, int]
) -> tuple[float, float]:
    """The prior weight (on the baseline's normalised log-popularity scale) with the best valid recall@10."""
    scored = [(recall_at(cosines + w * prior, instances, row_of), -w) for w in PRIOR_WEIGHTS]
    best_recall, neg_w = max(scored)
    return -neg_w, best_recall


def normalised_log_popularity(catalog: Catalog) -> np.ndarray:
    """The prior exactly as the serving ranker adds it, in catalogue order."""
    prior = log_popularity_prior({i.id: float(i.popularity or 0.0) for i in catalog})
    return np.array([prior[i.id] for i in catalog])


def train(
    catalog: Catalog,
    dataset_folder: Path,
    checkpoint: Path,
    config: TrainConfig,
    *,
    base_model: str,
    embedding_cache: Path | None = None,
    augmented: Sequence[Dialogue] = (),
    progress: bool = True,
) -> TrainReport:
    """Fine-tune ``base_model`` and write the checkpoint atomically to ``checkpoint``.

    ``embedding_cache`` is the folder of the index's embedding cache: the untrained
    model's item vectors (for hard negatives) are then read, not recomputed.
    ``augmented`` (generated dialogues, ``tailtalk augment``) adds training examples on top
    of the profile's ``max_examples``; valid stays the real dialogues only.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import get_linear_schedule_with_warmup

    from retrieval.embedder import CachedEmbedder, SentenceTransformerEmbedder, resolve_model_path

    started = time.perf_counter()
    torch.manual_seed(config.seed)
    train_log, valid_log = load_training_splits(dataset_folder, augmented)
    train_instances = instances_of(train_log, catalog)
    valid_instances = instances_of(valid_log, catalog)
    if config.valid_instances is not None:
        valid_instances = random.Random(config.seed).sample(
            valid_instances, min(config.valid_instances, len(valid_instances))
        )
    if not train_instances or not valid_instances:
        raise TrainingDataError(f"{dataset_folder}: no recommendation turns to learn from in train or valid")

    ids = catalog.ids()
    row_of = {item_id: row for row, item_id in enumerate(ids)}
    item_texts = [i.embedding_text() for i in catalog]
    model = SentenceTransformer(str(resolve_model_path(base_model)), device="cpu", local_files_only=True)
    model.max_seq_length = config.max_seq_length
    _freeze_lower_layers(model, config.frozen_layers)

    def encode(texts: Sequence[str]) -> np.ndarray:
        return model.encode(
            list(texts),
            batch_size=64,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress and len(texts) > 500,
        )

    # Hard negatives and the "before" valid score both come from the untrained model, as the index uses it.
    base = CachedEmbedder(SentenceTransformerEmbedder(base_model), embedding_cache)
    base_items = base.embed(item_texts, progress=progress)
    train_instances = enough_instances(train_instances, config)
    augmented_instances = instances_of(augmented, catalog)
    contexts = contexts_of([*train_instances, *augmented_instances], catalog)
    neighbours = nearest(base.embed(contexts, progress=progress), base_items, config.hard_negative_depth)
    real_count = len(train_instances)
    examples = build_examples(train_instances, contexts[:real_count], neighbours[:real_count], ids, config)
    if augmented_instances:
        examples += build_examples(
            augmented_instances,
            contexts[real_count:],
            neighbours[real_count:],
            ids,
            replace(config, max_examples=None),
        )
        random.Random(config.seed).shuffle(examples)
    valid_contexts = contexts_of(valid_instances, catalog)
    prior = normalised_log_popularity(catalog)
    _, baseline_recall = choose_prior_weight(base.embed(valid_contexts) @ base_items.T, prior, valid_instances, row_of)
    base.flush()
    del base

    log_pi = torch.tensor(log_prior(catalog), dtype=torch.float32)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    steps_per_epoch = len(examples) // config.batch_size
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(config.warmup_share * steps_per_epoch * config.epochs), steps_per_epoch * config.epochs
    )
    history: list[float] = []
    best: tuple[float, float] | None = None  # (valid recall, prior weight)
    best_items: np.ndarray | None = None  # the best epoch's item vectors: what indexing would compute again
    staging = checkpoint.with_name(checkpoint.name + f".tmp-{uuid.uuid4().hex[:8]}")
    try:
        for epoch in range(config.epochs):
            model.train()
            batches = [examples[b * config.batch_size : (b + 1) * config.batch_size] for b in range(steps_per_epoch)]
            bar = tqdm(batches, desc=f"train epoch {epoch + 1}/{config.epochs}", unit="batch", disable=not progress)
            for batch in bar:
                loss = _batch_loss(model, batch, catalog, row_of, log_pi, config)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                bar.set_postfix(loss=f"{loss.item():.3f}")
            model.eval()
            items = encode(item_texts)
            cosines = encode(valid_contexts) @ items.T
            weight, recall = choose_prior_weight(cosines, prior, valid_instances, row_of)
            history.append(recall)
            if progress:
                tqdm.write(
                    f"epoch {epoch + 1}: valid recall@10 {recall:.4f} (prior weight {weight:g}); "
                    f"untrained {baseline_recall:.4f}"
                )
            if best is None or recall > best[0]:
                best, best_items = (recall, weight), items
                shutil.rmtree(staging, ignore_errors=True)
                model.save(str(staging))
            elif len(history) - 1 - history.index(max(history)) > config.patience - 1:
                break
        assert best is not None
        run_id = uuid.uuid4().hex[:12]
        meta = {
            "run_id": run_id,
            "base_model": base_model,
            "profile": config.profile,
            "config": asdict(config),
            "examples": len(examples),
            "epochs_run": len(history),
            "valid_recall_at_10": history,
            "untrained_valid_recall_at_10": baseline_recall,
            "prior_weight": best[1],
            "catalog": catalog.fingerprint(),
            "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "train_dialogues": len(train_log),
            "augmented_examples": sum(len(i.targets) for i in augmented_instances),
            "valid_instances": len(valid_instances),
        }
        (staging / SCORER_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        if checkpoint.exists():
            shutil.rmtree(checkpoint)
        staging.rename(checkpoint)
        if embedding_cache is not None and best_items is not None:
            # Indexing with the new model would embed the catalogue again; hand it these vectors instead.
            trained = SentenceTransformerEmbedder(str(checkpoint), name=scorer_model_name(run_id))
            CachedEmbedder(trained, embedding_cache).remember(item_texts, best_items)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return TrainReport(
        checkpoint,
        config.profile,
        len(examples),
        len(history),
        time.perf_counter() - started,
        history,
        best[1],
        baseline_recall,
    )


def _batch_loss(model, batch: Sequence[Example], catalog: Catalog, row_of: dict[str, int], log_pi, config: TrainConfig):
    """Logit-adjusted in-batch softmax over the batch's positives and hard negatives (formula above)."""
    import torch
    import torch.nn.functional as F

    doc_ids = [e.positive for e in batch] + [e.hard_negative for e in batch]
    queries = _embed(model, [e.context for e in batch])
    docs = _embed(model, [catalog.get(i).embedding_text() for i in doc_ids])
    logits = config.scale * queries @ docs.T + config.tau * log_pi[[row_of[i] for i in doc_ids]]
    # Another copy of a row's own target (a popular film named in two turns) is no negative.
    mask = torch.tensor(
        [[j != b and doc_ids[j] in e.excluded for j in range(len(doc_ids))] for b, e in enumerate(batch)]
    )
    logits = logits.masked_fill(mask, float("-inf"))
    return F.cross_entropy(logits, torch.arange(len(batch)))


def _embed(model, texts: Sequence[str]):
    import torch.nn.functional as F

    features = model.preprocess(list(texts))
    return F.normalize(model(features)["sentence_embedding"], dim=-1)


def _freeze_lower_layers(model, count: int) -> None:
    if count == 0:
        return
    backbone = getattr(model[0], "auto_model", None) or model[0].model
    frozen = [backbone.embeddings, *backbone.encoder.layer[:count]]
    for module in frozen:
        for parameter in module.parameters():
            parameter.requires_grad = False


def scorer_model_name(run_id: str) -> str:
    """How index manifests and embedding caches name a trained run's encoder."""
    return f"tailtalk-scorer-{run_id}"


def read_scorer_meta(checkpoint: Path) -> dict[str, Any]:
    path = checkpoint / SCORER_META
    if not path.is_file():
        raise FileNotFoundError(
            f"{checkpoint} is not a tailtalk scorer checkpoint (no {SCORER_META}); "
            "run `tailtalk train` or remove the folder"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{path} is corrupt ({exc}); run `tailtalk train` again") from exc


def profile(name: str, **overrides: Any) -> TrainConfig:
    if name not in PROFILES:
        raise UserInputError(f"unknown training profile {name!r}; choose one of: {', '.join(PROFILES)}")
    return replace(PROFILES[name], **{k: v for k, v in overrides.items() if v is not None})
