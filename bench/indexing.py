"""Indexing speed on the served catalogue's real item texts: batches in catalogue order against batches of
texts of like length, then the whole served path (``build_index`` into an empty home: embedding, Chroma).

    .venv/bin/python bench/indexing.py [--items 1536] [--rounds 2] [--out bench/results/indexing.json]

The first ``--items`` items of the served catalogue, embedded by the served encoder (the packaged MiniLM
unless a trained scorer serves) in the index's batches of 256 texts; the two orders alternate for
``--rounds`` rounds after one warm-up batch. Then ``build_index`` indexes the same items into a temporary
home, whose embedding cache is empty, and the items per second of the whole build are reported, with the
largest difference between a text's vector embedded in either order.

Last, a roofline: the floating-point operations a BERT encoder's matrix products need for these texts (padded
as the length-sorted batches pad them), the rate a matrix product of the encoder's own feed-forward shape
reaches on this CPU with torch's threads, and so the most items per second any float32 engine could embed
here. Indexing faster than that needs fewer operations (a smaller or quantised model), not a faster engine.
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

from retrieval.embedder import resolve_model_path
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
    scorer = TextScorer.serving(served)
    encoder = scorer.encoder
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
        "roofline": roofline(
            served.checkpoint_path if scorer.trained else resolve_model_path(served.embedding_model),
            texts,
            best_rate=max(rates["length-sorted (served)"]),
            batch=served.embedding_batch_size,
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))


def roofline(folder: Path, texts: list[str], *, best_rate: float, batch: int) -> dict[str, float]:
    """The matrix-product work of embedding ``texts`` with the BERT encoder in ``folder``, against this CPU.

    Per token and layer: the query, key, value and output projections (4·h²), the feed-forward (2·h·f) and
    attention over the padded length L (2·L·h), each a multiply and an add. Texts are padded to the longest
    of their batch after sorting by length, as sentence-transformers batches them.
    """
    import torch
    from tokenizers import Tokenizer

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    hidden, ffn, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    limit = config.get("max_position_embeddings", 512)
    lengths = sorted(min(len(tokenizer.encode(text).ids), limit) for text in texts)
    flop = 0.0
    for start in range(0, len(lengths), batch):
        padded = lengths[start : start + batch][-1]
        per_token = 2 * (4 * hidden * hidden + 2 * hidden * ffn + 2 * padded * hidden)
        flop += len(lengths[start : start + batch]) * padded * layers * per_token
    per_item = flop / len(lengths)
    tokens = torch.randn(batch * int(statistics.median(lengths)), hidden)
    weight = torch.randn(ffn, hidden)
    torch.nn.functional.linear(tokens, weight)  # warm-up
    rates = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(20):
            torch.nn.functional.linear(tokens, weight)
        rates.append(2 * tokens.shape[0] * hidden * ffn * 20 / (time.perf_counter() - started))
    matmul = statistics.median(rates)
    return {
        "mean_tokens_per_item": round(sum(lengths) / len(lengths), 1),
        "gflop_per_item": round(per_item / 1e9, 3),
        "matmul_gflop_per_s": round(matmul / 1e9, 1),
        "torch_threads": torch.get_num_threads(),
        "achieved_gflop_per_s": round(best_rate * per_item / 1e9, 1),
        "items_per_s_at_the_matmul_rate": round(matmul / per_item, 1),
    }


if __name__ == "__main__":
    main()
