"""Indexing speed on the served catalogue's real item texts: batches in catalogue order against batches of
texts of like length, then the whole served path (``build_index`` into an empty home: embedding, Chroma).

    .venv/bin/python bench/indexing.py [--items 1536] [--rounds 2] [--out bench/results/indexing.json]

The first ``--items`` items of the served catalogue, embedded by the served encoder (the packaged MiniLM
unless a trained scorer serves) in the index's batches of 256 texts; the two orders alternate for
``--rounds`` rounds after one warm-up batch. Then ``build_index`` indexes the same items into a temporary
home, whose embedding cache is empty, and the items per second of the whole build are reported, with the
largest difference between a text's vector embedded in either order.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from retrieval.index import _BATCH, build_index
from ranking.scorer import TextScorer
from tailtalk.catalog import Catalog, load_catalog
from tailtalk.config import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1536)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/indexing.json"))
    args = parser.parse_args()
    served = load_settings({})
    catalog = load_catalog(served.catalog_path)
    items = list(catalog)[: args.items]
    texts = [item.embedding_text() for item in items]
    encoder = TextScorer.serving(served).encoder
    encoder.embed(texts[:64])  # warm-up: the first batch pays for loading and allocation

    def items_per_s(ordered: list[str]) -> float:
        started = time.perf_counter()
        for start in range(0, len(ordered), _BATCH):
            encoder.embed(ordered[start : start + _BATCH])
        return len(ordered) / (time.perf_counter() - started)

    orders = {"catalogue order": texts, "length-sorted (served)": sorted(texts, key=len)}
    rates: dict[str, list[float]] = {name: [] for name in orders}
    for _ in range(args.rounds):
        for name, ordered in orders.items():
            rates[name].append(round(items_per_s(ordered), 1))

    # Padding differs between the orders, the vectors should not (attention masks the padding).
    def vectors(ordered: list[str]) -> dict[str, np.ndarray]:
        batches = [ordered[start : start + _BATCH] for start in range(0, len(ordered), _BATCH)]
        return {text: vector for batch in batches for text, vector in zip(batch, encoder.embed(batch))}

    in_order, by_length = (vectors(ordered) for ordered in orders.values())
    difference = max(float(np.abs(in_order[t] - by_length[t]).max()) for t in texts)

    home = Path(tempfile.mkdtemp(prefix="tailtalk-indexing-"))
    try:
        settings = load_settings({"home": str(home), "dataset": "indexing-bench"})
        started = time.perf_counter()
        build_index(Catalog(tuple(items), source="<bench>"), encoder, settings, progress=False)
        build_rate = len(items) / (time.perf_counter() - started)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "encoder": encoder.name,
        "items": len(items),
        "text_chars_median": statistics.median(len(t) for t in texts),
        "embedding_items_per_s": rates,
        "build_index_items_per_s": round(build_rate, 1),
        "largest_vector_difference_between_orders": difference,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
