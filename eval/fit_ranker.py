"""Fit the served ranker: the collaborative model on the training mention lists and the conversation
neighbours on the training dialogues' recommendation turns, then the fusion weights on the training
dialogues replayed through the same turn pipeline the chat UI calls.

The collaborative and neighbours scores of a training dialogue must not come from a model that saw that
dialogue (it would name the target, and the fusion would learn to trust it blindly). So
the fusion's training features are computed out of fold: the training dialogues are split
in ``folds`` parts by a hash of their id, and each part is scored by models fitted on the mention lists
and the turns of the other parts. The served models are then fitted on everything. The valid split is
replayed once at the end, for the report only.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tailtalk.dialogues import Dialogue, context_text
from tailtalk.instances import Instance, instances_of
from tailtalk.mentions import MentionList
from retrieval.collaborative import COLLABORATIVE_FOLDER, CollaborativeConfig, CollaborativeModel
from retrieval.hybrid import HybridRetriever
from retrieval.neighbours import NEIGHBOURS_FOLDER, ConversationNeighbours, NeighbourConfig
from ranking.fusion import FusionRanker
from ui.pipeline import TurnPipeline
from eval.metrics import accuracy_report
from eval.systems import PipelineSystem


@dataclass(frozen=True)
class FitReport:
    instances: int
    pools: int
    positives_in_pool: float  # share of targets the candidate pool holds
    weights: dict[str, float]
    valid_recall_at_10: float | None
    seconds: float


def _fold(dialogue_id: str, folds: int) -> int:
    return int(hashlib.sha256(f"fold:{dialogue_id}".encode()).hexdigest()[:8], 16) % folds


def pools_of(
    pipeline: TurnPipeline,
    ranker: FusionRanker,
    instances: Sequence[Instance],
    *,
    candidates: int,
    progress: bool,
    desc: str,
) -> tuple[list[np.ndarray], list[np.ndarray], int, int]:
    """Replay each instance and return its candidate pool's features and 0/1 labels.

    As in the product, items the dialogue has named are excluded and the labels are the turn's new targets:
    the ranker learns to find what the person has not heard of yet.
    """
    system = PipelineSystem(pipeline, name=desc, candidates=candidates)
    system.prepare(instances, progress=progress)
    pools, labels, found, total = [], [], 0, 0
    for instance in tqdm(instances, desc=desc, unit="turn", disable=not progress):
        if not instance.new_targets:
            continue
        state = system.replay(instance)
        query = pipeline.retrieval_query(state, k=candidates, exclude_mentioned=True)
        pool = pipeline.retriever.retrieve(query)
        targets = set(instance.new_targets)
        label = np.array([c.item_id in targets for c in pool], dtype=np.float64)
        found += int(label.sum())
        total += len(targets)
        if 0 < label.sum() < len(label):
            pools.append(ranker.features(pipeline.ranking_context(state, query), pool))
            labels.append(label)
    return pools, labels, found, total


def fit_ranker(
    pipeline: TurnPipeline,
    train: Sequence[Dialogue],
    valid: Sequence[Dialogue],
    mention_lists: Sequence[MentionList],
    folder: Path,
    *,
    collaborative: CollaborativeConfig,
    candidates: int,
    folds: int,
    neighbours: NeighbourConfig | None = None,
    max_instances: int | None = None,
    progress: bool = True,
) -> FitReport:
    """Fit and save the collaborative model, the conversation neighbours (``neighbours``; None fits none) and
    the fusion weights into ``folder``; see the module docstring.

    ``pipeline.retriever`` must be a :class:`HybridRetriever` (its collaborative and neighbours parts are
    replaced here).
    """
    if not isinstance(pipeline.retriever, HybridRetriever):
        raise TypeError("fit_ranker needs a pipeline whose retriever is a HybridRetriever")
    started = time.perf_counter()
    catalog = pipeline.catalog
    ranker = FusionRanker(catalog)
    ids = catalog.ids()
    instances = instances_of(train, set(ids))
    if max_instances is not None and len(instances) > max_instances:
        step = len(instances) / max_instances
        instances = [instances[int(n * step)] for n in range(max_instances)]
    # Every recommendation turn's context, encoded once by the served text encoder (the replay below then
    # finds the same texts in the encoder's cache).
    contexts = (
        pipeline.retriever.embedder.embed(
            [context_text(i.context, catalog.label_of) for i in instances], progress=progress
        )
        if neighbours is not None
        else None
    )

    def fitted_neighbours(held: set[str]) -> ConversationNeighbours | None:
        if neighbours is None or contexts is None:
            return None
        kept = [n for n, i in enumerate(instances) if i.dialogue_id not in held]
        return ConversationNeighbours(neighbours).fit(contexts[kept], [instances[n].targets for n in kept], ids)

    pools: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    found = total = 0
    for part in range(folds):
        held = {d.id for d in train if _fold(d.id, folds) == part}
        model = (
            CollaborativeModel(collaborative).fit([m for m in mention_lists if m.id not in held], ids)
            if mention_lists
            else None
        )
        fold_pipeline = pipeline.replacing(
            retriever=pipeline.retriever.with_collaborative(model).with_neighbours(fitted_neighbours(held))
        )
        part_instances = [i for i in instances if i.dialogue_id in held]
        fold_pools, fold_labels, fold_found, fold_total = pools_of(
            fold_pipeline,
            ranker,
            part_instances,
            candidates=candidates,
            progress=progress,
            desc=f"fit fold {part + 1}/{folds}",
        )
        pools += fold_pools
        labels += fold_labels
        found += fold_found
        total += fold_total
    ranker.fit(pools, labels)
    served = CollaborativeModel(collaborative).fit(mention_lists, ids) if mention_lists else None
    served_neighbours = fitted_neighbours(set())
    valid_recall = None
    if valid:
        served_pipeline = pipeline.replacing(
            retriever=pipeline.retriever.with_collaborative(served).with_neighbours(served_neighbours)
        )
        valid_recall = _recall_at_10(served_pipeline, ranker, instances_of(valid, set(ids)), candidates, progress)
    report = FitReport(
        len(instances), len(pools), found / max(total, 1), ranker.weights, valid_recall, time.perf_counter() - started
    )
    saved: tuple[tuple[CollaborativeModel | ConversationNeighbours | None, str], ...] = (
        (served, COLLABORATIVE_FOLDER),
        (served_neighbours, NEIGHBOURS_FOLDER),
    )
    for fitted, name in saved:
        if fitted is not None:
            fitted.save(folder / name)
        elif (folder / name).exists():  # an earlier fit's model would serve beside weights that never saw it
            shutil.rmtree(folder / name)
    ranker.save(
        folder,
        report={
            "instances": report.instances,
            "pools": report.pools,
            "positives_in_pool": round(report.positives_in_pool, 4),
            "valid_recall_at_10_new": valid_recall,
            "training_dialogues": len(train),
            "mention_lists": len(mention_lists),
        },
    )
    return report


def _recall_at_10(
    pipeline: TurnPipeline, ranker: FusionRanker, instances: Sequence[Instance], candidates: int, progress: bool
) -> float:
    """Recall@10 over new targets (mentioned items excluded), of the fitted ranker alone: no diversity
    re-ranking, so that the figure tells the fit apart from the knob."""
    served = pipeline.replacing(ranker=ranker)
    system = PipelineSystem(served, name="fit valid", candidates=candidates)
    system.prepare(instances, progress=progress)
    means, _ = accuracy_report(
        (system.rank(i, exclude=i.mentioned, k=10), i.new_targets) for i in instances if i.new_targets
    )
    return means["recall@10"]
