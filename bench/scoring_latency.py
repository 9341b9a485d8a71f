"""Per-turn retrieval and ranking latency, every variant measured side by side in one run.

    .venv/bin/python bench/scoring_latency.py [--turns 30] [--candidates 50] [--out bench/results/scoring_latency.json]

Variants (same real ReDial valid contexts, same process):

* ``served-turn``: the served pipeline's whole retrieval and ranking for a replayed
  dialogue state (``TurnPipeline.recommend``): the Chroma query, the lexical index, the
  collaborative model and popular items pooled, the fused ranker and the diversity
  re-ranker. This is the figure the product's latency budget (150 ms median) is about.

* ``served-turn-{1,2}-thread(s)`` and ``served-turn-busy-{1,2}-thread(s)``: the same turn with torch on 1
  or 2 threads (``serving_threads``), on an idle machine and beside two processes that keep both cores
  busy (what other users' turns do to a server).
* ``served-turn-numpy-1-thread`` and ``served-turn-numpy-busy-1-thread``: the same turn as ``tailtalk ask``
  serves it, the request embedded in numpy (``build_pipeline(quick_start=True)``) with numpy's BLAS on
  1 thread.

The others score the same ``--candidates`` random items per turn:

* ``trained-bi-encoder``: encode the dialogue once with the scorer's encoder, dot it with
  the candidates' stored vectors, rank with the served (fused) ranker, re-rank for diversity. Uses the trained
  checkpoint when one exists, else the packaged MiniLM
  (the same architecture, so the same cost).
* ``cross-encoder-naive``: sentence-transformers ``CrossEncoder`` on the 50
  (context, item text) pairs at its default length, initialised from the packaged
  MiniLM (latency only; an untrained head).
* ``cross-encoder-128``: the same with inputs cut to 128 tokens.
* ``cross-encoder-128-int8``: the same after torch dynamic int8 quantisation of the linear layers.

Numbers are medians and 90th percentiles over turns after one warm-up turn; the machine
is noisy, so compare variants within one run only.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from tailtalk.catalog import load_catalog
from tailtalk.config import load_settings
from tailtalk.dialogues import load_dialogues
from tailtalk.instances import instances_of
from ui.assemble import build_pipeline
from eval.systems import PipelineSystem
from ranking.base import RankingContext
from ranking.scorer import TextScorer
from ranking.train import contexts_of
from retrieval.embedder import packaged_model_path
from retrieval.query import Candidate


def _time(fn, turns: list) -> dict[str, float]:
    fn(turns[0])  # warm-up: lazy initialisation is not a turn's cost
    samples = []
    for turn in turns[1:]:
        started = time.perf_counter()
        fn(turn)
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(samples), 1),
        "p90_ms": round(float(np.percentile(samples, 90)), 1),
        "turns": len(samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path("bench/results/scoring_latency.json"))
    args = parser.parse_args()

    import torch
    from sentence_transformers import CrossEncoder

    default_threads = torch.get_num_threads()

    settings = load_settings({})
    catalog = load_catalog(settings.catalog_path)
    instances = instances_of(load_dialogues(settings.dataset_dir() / "valid.jsonl"), catalog)[: args.turns + 1]
    contexts = contexts_of(instances, catalog)
    rng = np.random.default_rng(0)
    items = catalog.items
    turns = [(ctx, [items[i] for i in rng.choice(len(items), args.candidates, replace=False)]) for ctx in contexts]

    scorer = TextScorer.serving(settings)
    item_vectors = {i.id: v for i, v in zip(items, scorer.encoder.embed([i.embedding_text() for i in items]))}
    pipeline = build_pipeline(settings.model_copy(update={"llm": "none"}))
    numpy_pipeline = build_pipeline(settings.model_copy(update={"llm": "none"}), quick_start=True)
    ranker = pipeline.ranker.with_vectors(lambda ids: {i: item_vectors[i] for i in ids})
    replay = PipelineSystem(pipeline)
    states = {ctx: replay.replay(instance) for ctx, instance in zip(contexts, instances)}

    def served_turn(turn) -> None:
        pipeline.recommend(states[turn[0]])

    def bi_encoder(turn) -> None:
        context, candidates = turn
        query = scorer.encoder.embed([context])[0]
        scored = [Candidate(i.id, float(item_vectors[i.id] @ query)) for i in candidates]
        ranker.rank(RankingContext(context), scored, 10)

    def cross(model):
        return lambda turn: model.predict(
            [(turn[0], i.embedding_text()) for i in turn[1]], batch_size=64, show_progress_bar=False
        )

    path = str(packaged_model_path())
    naive = CrossEncoder(path, device="cpu", local_files_only=True)
    short = CrossEncoder(path, device="cpu", local_files_only=True, max_length=128)
    quantised = CrossEncoder(path, device="cpu", local_files_only=True, max_length=128)
    torch.ao.quantization.quantize_dynamic(quantised[0], {torch.nn.Linear}, dtype=torch.qint8, inplace=True)

    threads = {}
    for busy in (False, True):
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 if busy else 0)]
        try:
            for count in (1, 2):
                torch.set_num_threads(count)
                threads[f"served-turn{'-busy' if busy else ''}-{count}-thread{'s' if count > 1 else ''}"] = _time(
                    served_turn, turns
                )
            with threadpool_limits(1):
                threads[f"served-turn-numpy{'-busy' if busy else ''}-1-thread"] = _time(
                    lambda turn: numpy_pipeline.recommend(states[turn[0]]), turns
                )
        finally:
            for spinner in spinners:
                spinner.kill()
    torch.set_num_threads(default_threads)
    results = {
        **threads,
        "served-turn": _time(served_turn, turns),
        "trained-bi-encoder": _time(bi_encoder, turns),
        "cross-encoder-naive": _time(cross(naive), turns),
        "cross-encoder-128": _time(cross(short), turns),
        "cross-encoder-128-int8": _time(cross(quantised), turns),
    }
    baseline = results["cross-encoder-naive"]["median_ms"]
    for row in results.values():
        row["speed-up_vs_naive"] = round(baseline / row["median_ms"], 1)
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "candidates": args.candidates,
        "scorer": scorer.description,
        "ranker": pipeline.describe(),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
