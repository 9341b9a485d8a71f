"""Replay dialogue logs through each system and report accuracy and long-tail metrics.

Outputs in ``out``: ``metrics.json`` (stable keys, one entry per system), ``metrics.md``
(a Markdown table) and two PNG plots (recall@k curves; recall@10 against APLT@10).
Deterministic: instances are replayed in log order, optionally sub-sampled with a seed.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from tailtalk.catalog import Catalog
from tailtalk.dialogues import Dialogue, load_dialogues
from ui.pipeline import TurnPipeline
from tailtalk.popularity import head_tail_split
from tailtalk.instances import Instance, instances_of, mean_recall_at_k
from eval.metrics import ACCURACY_METRICS, BeyondAccuracyInputs, accuracy_report, beyond_report
from ranking.diversity import DiversityReranker
from eval.systems import SYSTEMS, EvalSystem, PipelineSystem, check_systems, exact_copy, item_vectors
from tailtalk.errors import UserInputError

DEPTH = 50  # the longest cut-off any metric reads
CURVE_KS = (1, 5, 10, 20, 30, 40, 50)


@dataclass
class SystemRun:
    name: str
    ranked_all: list[list[str]]
    ranked_new: list[list[str]]
    seconds: float


def sample(instances: Sequence[Instance], limit: int | None, seed: int) -> list[Instance]:
    if limit is None or limit >= len(instances):
        return list(instances)
    chosen = sorted(random.Random(seed).sample(range(len(instances)), limit))
    return [instances[i] for i in chosen]


def run_system(system: EvalSystem, instances: Sequence[Instance], *, progress: bool = True) -> SystemRun:
    started = time.perf_counter()
    system.prepare(instances, progress=progress)
    ranked_all, ranked_new = [], []
    for instance in tqdm(instances, desc=f"eval {system.name}", unit="turn", disable=not progress):
        ranked_all.append(system.rank(instance, exclude=frozenset(), k=DEPTH))
        ranked_new.append(system.rank(instance, exclude=instance.mentioned, k=DEPTH) if instance.new_targets else [])
    return SystemRun(system.name, ranked_all, ranked_new, time.perf_counter() - started)


def score_run(
    run: SystemRun, instances: Sequence[Instance], catalog: Catalog, vectors: Mapping[str, np.ndarray] | None
) -> dict[str, Any]:
    popularity = {i.id: float(i.popularity or 0.0) for i in catalog}
    acc_all, n_all = accuracy_report(zip(run.ranked_all, (i.targets for i in instances)))
    new_pairs = [(r, i.new_targets) for r, i in zip(run.ranked_new, instances) if i.new_targets]
    acc_new, n_new = accuracy_report(new_pairs)
    beyond = beyond_report(
        BeyondAccuracyInputs(
            lists=[r[:10] for r in run.ranked_all],
            targets=[i.targets for i in instances],
            head=head_tail_split(popularity),
            popularity=popularity,
            catalog_size=len(catalog),
            embeddings=vectors,
        )
    )
    return {
        "n_instances": {"all": n_all, "new": n_new},
        "metrics": {"all": acc_all, "new": acc_new, "beyond": beyond},
        "recall_curve": {str(k): mean_recall_at_k(run.ranked_all, instances, k) for k in CURVE_KS},
        "seconds": round(run.seconds, 2),
    }


def exact_pipeline(pipeline: TurnPipeline) -> TurnPipeline:
    """The pipeline with exact search over the index's stored vectors (the neighbours HNSW approximates),
    for a replay of thousands of turns."""
    retriever = exact_copy(pipeline.retriever)
    ranker = (
        pipeline.ranker.with_vectors(retriever.vectors)
        if isinstance(pipeline.ranker, DiversityReranker)
        else pipeline.ranker
    )
    return pipeline.replacing(retriever=retriever, ranker=ranker)


def missing_targets(dialogues: Sequence[Dialogue], catalog: Catalog) -> Counter[str]:
    """Items named by assistant turns that the catalogue lacks: they cannot be ranked, so they are counted."""
    return Counter(i for d in dialogues for t in d.turns if t.role == "assistant" for i in t.items if i not in catalog)


def evaluate(
    pipeline: TurnPipeline,
    log_path: Path,
    out: Path,
    *,
    dataset: str,
    systems: Sequence[str],
    limit: int | None = None,
    seed: int = 0,
    config: Mapping[str, Any] | None = None,
    diversity_sweep: Sequence[float] = (),
    progress: bool = True,
    per_turn: Path | None = None,
) -> dict[str, dict[str, Any]]:
    """Replay ``log_path`` through each named system (see ``eval.systems.SYSTEMS``) and write the outputs.

    Every system ranks with the pipeline's own retriever stage, switched to exact search
    over the index's stored vectors (the neighbours HNSW approximates) for speed.
    ``diversity_sweep`` adds one ``pipeline[diversity=x]`` system per value: the Pareto
    frontier of the long-tail/diversity knob, written to ``pareto.png``. ``per_turn`` writes
    each instance's targets and every system's top 50 (JSON lines), for reading misses.
    """
    check_systems(systems)
    catalog = pipeline.catalog
    dialogues = load_dialogues(log_path)
    missing = missing_targets(dialogues, catalog)
    if missing and progress:
        print(
            f"note: {sum(missing.values()):,} target mention(s) of {len(missing):,} item(s) are not in the catalogue "
            f"{catalog.source} (e.g. {', '.join(list(missing)[:3])}); they cannot be ranked and are left out"
        )
    instances = sample(instances_of(dialogues, catalog), limit, seed)
    if not instances:
        raise UserInputError(f"{log_path} has no assistant turn that names a catalogue item; nothing to evaluate")
    exact = exact_pipeline(pipeline)
    chosen: dict[str, EvalSystem] = {name: SYSTEMS[name](exact) for name in systems}
    if diversity_sweep and not exact.ranker.tunes_diversity:
        raise UserInputError("the pipeline's ranker has no diversity knob to sweep")
    understood: dict = {}  # the variants differ only in ranking: they share the understanding of each message
    for value in diversity_sweep:
        name = f"pipeline[diversity={value:g}]"
        chosen[name] = PipelineSystem(exact, name=name, understood=understood, diversity=value)
    vectors = item_vectors(exact.retriever, catalog)
    runs = {name: run_system(system, instances, progress=progress) for name, system in chosen.items()}
    results = {name: score_run(run, instances, catalog, vectors) for name, run in runs.items()}
    write_outputs(
        out,
        dataset,
        {
            "log": str(log_path),
            "catalog": catalog.source,
            "limit": limit,
            "seed": seed,
            "targets_missing_from_catalog": sum(missing.values()),
            **(config or {}),
        },
        results,
    )
    if per_turn is not None:
        write_per_turn(per_turn, instances, runs)
    if diversity_sweep:
        _pareto_plot(out, {name: r for name, r in results.items() if name.startswith("pipeline[diversity=")})
    return results


def write_per_turn(path: Path, instances: Sequence[Instance], runs: Mapping[str, SystemRun]) -> None:
    """One JSON line per instance: its dialogue, turn, targets, and each system's top 50 (all and new)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for n, instance in enumerate(instances):
            handle.write(
                json.dumps(
                    {
                        "dialogue_id": instance.dialogue_id,
                        "turn_index": instance.turn_index,
                        "targets": list(instance.targets),
                        "new_targets": list(instance.new_targets),
                        "mentioned": sorted(instance.mentioned),
                        "systems": {
                            name: {"all": run.ranked_all[n], "new": run.ranked_new[n]} for name, run in runs.items()
                        },
                    }
                )
                + "\n"
            )


def write_outputs(out: Path, dataset: str, config: dict[str, Any], results: dict[str, dict[str, Any]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    systems = {
        name: {"dataset": dataset, "config": {**config, "system": name}, **result} for name, result in results.items()
    }
    (out / "metrics.json").write_text(
        json.dumps({"dataset": dataset, "config": config, "systems": systems}, indent=2), encoding="utf-8"
    )
    (out / "metrics.md").write_text(markdown_table(dataset, results), encoding="utf-8")
    _plots(out, results)


def markdown_table(dataset: str, results: dict[str, dict[str, Any]]) -> str:
    acc_keys = list(ACCURACY_METRICS)
    any_result = next(iter(results.values()))
    beyond_keys = list(any_result["metrics"]["beyond"])
    lines = [
        f"### {dataset}: accuracy (all = every target; new = targets not mentioned before)",
        "",
        "| system | variant | n | " + " | ".join(acc_keys) + " |",
        "|---|---|---|" + "---|" * len(acc_keys),
    ]
    for name, result in results.items():
        for variant in ("all", "new"):
            values = " | ".join(f"{result['metrics'][variant][k]:.4f}" for k in acc_keys)
            lines.append(f"| {name} | {variant} | {result['n_instances'][variant]} | {values} |")
    lines += [
        "",
        f"### {dataset}: beyond accuracy (top-10 lists, 'all' variant)",
        "",
        "| system | " + " | ".join(beyond_keys) + " | seconds |",
        "|---|" + "---|" * (len(beyond_keys) + 1),
    ]
    for name, result in results.items():
        values = " | ".join(f"{result['metrics']['beyond'][k]:.4f}" for k in beyond_keys)
        lines.append(f"| {name} | {values} | {result['seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def line_plot(
    path: Path, curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, xlabel: str, ylabel: str, title: str
) -> None:
    """One line per system (name -> (xs, ys)), written as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, (xs, ys) in curves.items():
        ax.plot(xs, ys, marker="o", label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plots(out: Path, results: dict[str, dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {
        name: ([int(k) for k in result["recall_curve"]], list(result["recall_curve"].values()))
        for name, result in results.items()
    }
    line_plot(out / "recall_at_k.png", curves, xlabel="k", ylabel="Recall@k (all)", title="Recall@k per system")

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, result in results.items():
        x = result["metrics"]["beyond"]["aplt@10"]
        y = result["metrics"]["all"]["recall@10"]
        ax.scatter([x], [y], s=60)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 5))
    ax.set(
        xlabel="APLT@10 (share of long-tail items)",
        ylabel="Recall@10 (all)",
        title="Accuracy against long-tail exposure",
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "recall_vs_aplt.png", dpi=120)
    plt.close(fig)


def _pareto_plot(out: Path, sweep: dict[str, dict[str, Any]]) -> None:
    """Recall@10 against APLT@10, coverage@10 and Gini@10 along the diversity knob."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recall = [r["metrics"]["all"]["recall@10"] for r in sweep.values()]
    labels = [name.removeprefix("pipeline[diversity=").removesuffix("]") for name in sweep]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    for ax, key, label in zip(axes, ("aplt@10", "coverage@10", "gini@10"), ("APLT@10", "coverage@10", "Gini@10")):
        xs = [r["metrics"]["beyond"][key] for r in sweep.values()]
        ax.plot(xs, recall, marker="o")
        for x, y, text in zip(xs, recall, labels):
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        ax.set(xlabel=label, title=f"Recall@10 vs {label}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Recall@10 (all)")
    fig.suptitle("The long-tail/diversity knob (labels: diversity)")
    fig.tight_layout()
    fig.savefig(out / "pareto.png", dpi=120)
    plt.close(fig)
