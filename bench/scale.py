"""Retrieval at catalogue scale: synthetic ReDial-shaped catalogues built into a Chroma index by the product's own
indexing code, then the dense search a turn runs, with and without constraints and exclusions.

    .venv/bin/python bench/scale.py [--sizes 100000] [--queries 40] [--out bench/results/scale.json]

Items have ReDial's shape (1 to 3 of its categories, a year from 1920 to 2020 with 5% missing, popularity)
and random unit vectors as embeddings (the cost of search does not depend on what the vectors mean; an
embedding model would take hours to index 1M real texts here). Each size is built in a temporary home by
``retrieval.index.build_index``, so the collection settings and metadata are the served ones.

Measured per size: the build rate (items/s), the index's size on disk, the process's peak memory, and the
search of one turn (``ChromaRetriever.search``, k = 300, the served candidate count) in these variants:

* ``plain``: no constraint;
* ``exclude-12``: 12 excluded items, dropped after the search (the served way);
* ``exclude-12-nin``: the same through a Chroma ``$nin`` filter (the way before issue 17), for comparison;
* ``decade``: a decade bound (over-fetch and filter in process);
* ``category``: one required category (a child's film); a rare one, so a Chroma ``$contains`` filter;
* ``no-category``: one category left out ("no horror"), over an over-fetch and checked in process (served:
  it keeps most items, so the store filters only when the over-fetch holds too few);
* ``no-category-filter``: the same through a Chroma ``$not_contains`` filter (the way before), for comparison;
* ``decade-category-exclude-12``: all of them.

Medians and 95th percentiles over ``--queries`` random query vectors, after one warm-up query.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from retrieval.index import build_index
from tailtalk.constraints import Constraints
from retrieval.retriever import ChromaRetriever
from tailtalk.catalog import Catalog, Item, load_catalog
from tailtalk.config import load_settings

_DIMENSION = 384  # MiniLM's


class RandomEmbedder:
    """A unit vector per text, fixed by the text: stands in for the encoder at a cost near zero."""

    name = f"random-{_DIMENSION}"
    dimension = _DIMENSION

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        vectors = np.stack(
            [
                np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).standard_normal(_DIMENSION)
                for t in texts
            ]
        ).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def synthetic_catalog(size: int, categories: list[str], seed: int = 0) -> Catalog:
    rng = random.Random(seed)
    items = []
    for n in range(size):
        year = None if rng.random() < 0.05 else rng.randint(1920, 2020)
        items.append(
            Item(
                id=f"s{n}",
                title=f"Synthetic film {n}",
                categories=tuple(rng.sample(categories, rng.randint(1, 3))),
                year=year,
                popularity=float(int(rng.paretovariate(1.2)) - 1),
            )
        )
    return Catalog(tuple(items), source=f"<synthetic {size}>")


def _timed(search, vectors: list[np.ndarray]) -> dict[str, float]:
    search(vectors[0])  # warm-up
    samples = []
    for vector in vectors[1:]:
        started = time.perf_counter()
        search(vector)
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(samples), 1),
        "p95_ms": round(float(np.percentile(samples, 95)), 1),
    }


def measure(size: int, queries: int, categories: list[str], candidates: int) -> dict:
    home = Path(tempfile.mkdtemp(prefix="tailtalk-scale-"))
    try:
        settings = load_settings({"home": str(home), "dataset": f"synthetic-{size}"})
        catalog = synthetic_catalog(size, categories)
        embedder = RandomEmbedder()
        started = time.perf_counter()
        build_index(catalog, embedder, settings, progress=True)
        build_seconds = time.perf_counter() - started
        disk = sum(f.stat().st_size for f in settings.indexes_dir.rglob("*") if f.is_file())
        retriever = ChromaRetriever(catalog, embedder, settings)
        rng = np.random.default_rng(1)
        vectors = [v / np.linalg.norm(v) for v in rng.standard_normal((queries + 1, _DIMENSION)).astype(np.float32)]
        excluded = frozenset(random.Random(2).sample(catalog.ids(), 12))
        wished = frozenset({categories[0]})

        def search(constraints: Constraints):
            return lambda vector: retriever.search(vector, constraints, candidates)

        def search_with_nin(vector):  # the filter the product used before: for comparison only
            retriever.collection.query(
                query_embeddings=[vector.tolist()],
                n_results=candidates,
                where={"item_id": {"$nin": sorted(excluded)}},
                include=["distances"],
            )

        def search_without_category_by_filter(vector):  # "no <category>" as the product did it before
            retriever.collection.query(
                query_embeddings=[vector.tolist()],
                n_results=candidates,
                where=Constraints(exclude_categories=wished).to_chroma_where(),
                include=["distances"],
            )

        variants = {
            "plain": search(Constraints()),
            "exclude-12": search(Constraints(exclude_ids=excluded)),
            "exclude-12-nin": search_with_nin,
            "decade": search(Constraints(year_min=1990, year_max=1999)),
            "category": search(Constraints(include_categories=wished)),
            "no-category": search(Constraints(exclude_categories=wished)),
            "no-category-filter": search_without_category_by_filter,
            "decade-category-exclude-12": search(
                Constraints(include_categories=wished, year_min=1990, year_max=1999, exclude_ids=excluded)
            ),
        }
        return {
            "items": size,
            "build_seconds": round(build_seconds, 1),
            "build_items_per_s": round(size / build_seconds),
            "disk_mb": round(disk / 2**20),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "search": {name: _timed(fn, vectors) for name, fn in variants.items()},
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000", help="Comma-separated catalogue sizes.")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("bench/results/scale.json"))
    args = parser.parse_args()
    served = load_settings({})
    categories = sorted(load_catalog(served.catalog_path).categories())
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "candidates": served.candidates,
        "sizes": [measure(int(s), args.queries, categories, served.candidates) for s in args.sizes.split(",")],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
