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

``--full-turn`` also serves whole turns at each size, as the chat UI does with ``llm=none``
(``TurnPipeline.handle``: understanding with title spotting, hybrid retrieval over the Chroma index, the lexical
index and the collaborative model, the fused ranker, the diversity re-ranker and the reply). The synthetic items
then get text of the real catalogue's kind (titles, people and plot words drawn from it), the collaborative
model is fitted on synthetic mention lists (``--dialogues``, items drawn by popularity), the fused ranker's
weights are the served ones when ``tailtalk fit-ranker`` has run (else hand-set), and the request is encoded by
the served text encoder (the index's vectors stay random). Two kinds of turn, over ``--queries`` films:

* ``turn-first``: a first message, "something funny like <a film>";
* ``turn-decade-exclude-12``: "something funny from the 90s like <a film>" after the 12 items the first
  message ranks best were shown, so they are excluded and the years are bounded.

``--home DIR`` keeps the built homes in DIR (one per size) and reuses them on the next run: a 1M-item index
takes about 25 minutes to build here.
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

import bm25s
import numpy as np

import torch
from threadpoolctl import threadpool_limits

from agent.state import ConversationState
from agent.understand import CHAT_WORDS
from ranking.diversity import DiversityReranker
from ranking.fusion import FUSION_FILE, FusionRanker
from ranking.scorer import TextScorer
from retrieval.collaborative import CollaborativeModel
from retrieval.hybrid import HybridRetriever
from retrieval.index import build_index, index_folder
from retrieval.lexical import LexicalIndex
from retrieval.retriever import ChromaRetriever
from tailtalk.catalog import Catalog, Item, load_catalog
from tailtalk.config import Settings, load_settings
from tailtalk.constraints import Constraints
from tailtalk.mentions import MentionList
from ui.pipeline import TurnPipeline

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


class TextLike:
    """Titles, people and plots of the real catalogue's kind, drawn word by word and name by name from it."""

    def __init__(self, catalog: Catalog):
        # Words of three letters or more and no stopwords: a synthetic title "From" or "The In" would be spotted
        # in every message, which real titles rarely are.
        stopwords = set(bm25s.stopwords.STOPWORDS_EN)
        self.title_words = [
            w for i in catalog for w in i.title.split() if len(w) > 2 and w.isalpha() and w.lower() not in stopwords
        ]
        self.plot_words = [w for i in catalog for w in i.description.split()][:200_000]
        self.people: dict[str, list[str]] = {}
        for item in catalog:
            for key, value in item.attributes.items():
                if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
                    self.people.setdefault(key, []).extend(value)

    def item(self, rng: random.Random) -> dict:
        return {
            "title": ("The " if rng.random() < 0.3 else "")
            + " ".join(rng.choices(self.title_words, k=rng.randint(1, 3))),
            "description": " ".join(rng.choices(self.plot_words, k=rng.randint(12, 30))),
            "attributes": {key: rng.sample(names, rng.randint(1, 3)) for key, names in self.people.items()},
        }


def synthetic_catalog(size: int, categories: list[str], seed: int = 0, text: TextLike | None = None) -> Catalog:
    rng = random.Random(seed)
    items = []
    for n in range(size):
        year = None if rng.random() < 0.05 else rng.randint(1920, 2020)
        items.append(
            Item(
                id=f"s{n}",
                categories=tuple(rng.sample(categories, rng.randint(1, 3))),
                year=year,
                popularity=float(int(rng.paretovariate(1.2)) - 1),
                **(text.item(rng) if text is not None else {"title": f"Synthetic film {n}"}),
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


def measure(
    size: int, queries: int, categories: list[str], candidates: int, *, home: Path | None, full_turn: FullTurn | None
) -> dict:
    home_of_size = home / f"synthetic-{size}" if home is not None else Path(tempfile.mkdtemp(prefix="tailtalk-scale-"))
    try:
        settings = load_settings({"home": str(home_of_size), "dataset": f"synthetic-{size}"})
        catalog = synthetic_catalog(size, categories, text=full_turn.text if full_turn else None)
        embedder = RandomEmbedder()
        reused = index_folder(settings, embedder.name).is_dir() and home is not None
        started = time.perf_counter()
        if not reused:
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
        report = {
            "items": size,
            "build_seconds": None if reused else round(build_seconds, 1),
            "build_items_per_s": None if reused else round(size / build_seconds),
            "disk_mb": round(disk / 2**20),
            "search": {name: _timed(fn, vectors) for name, fn in variants.items()},
        }
        if full_turn is not None:
            report["turn"] = full_turn.measure(catalog, settings, queries)
        report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        return report
    finally:
        if home is None:
            shutil.rmtree(home_of_size, ignore_errors=True)


class QueryEncoder:
    """The served text encoder under the random index's name: a turn pays for reading its words as served,
    while the index holds random vectors (what they mean does not change what a search costs)."""

    name = RandomEmbedder.name
    dimension = _DIMENSION

    def __init__(self, encoder):
        self._encoder = encoder

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return self._encoder.embed(texts)


class FullTurn:
    """Whole turns of the chat UI (``llm=none``) over a synthetic catalogue."""

    def __init__(self, served: Settings, dialogues: int):
        served_catalog = load_catalog(served.catalog_path)
        self.text = TextLike(served_catalog)
        self.served = served
        self.dialogues = dialogues
        self.scorer = TextScorer.serving(served)
        self.fitted = served.ranker_path(self.scorer.encoder.name) / FUSION_FILE

    def measure(self, catalog: Catalog, settings: Settings, queries: int) -> dict:
        """Start-up costs at this size, then the two kinds of turn (median and p95 over ``queries`` films)."""
        costs: dict[str, float] = {}

        def timed(name: str, build):
            started = time.perf_counter()
            value = build()
            costs[name] = round(time.perf_counter() - started, 1)
            return value

        dense = ChromaRetriever(catalog, QueryEncoder(self.scorer.encoder), settings)
        lexical = timed(
            "lexical_index_s",
            lambda: LexicalIndex(catalog, ignored_words=CHAT_WORDS, folder=index_folder(settings, "bm25")),
        )
        collaborative = timed(
            "collaborative_fit_s", lambda: CollaborativeModel().fit(self._mentions(catalog), catalog.ids())
        )
        hybrid = HybridRetriever(dense, lexical, collaborative, pool=self.served.source_pool)
        inner = (
            FusionRanker.load(self.fitted.parent, catalog) if self.fitted.is_file() else FusionRanker(catalog)
        ).with_wished_categories(
            self.served.wished_category_weight, first_when_cold=self.served.wished_categories_first
        )
        pipeline = timed(
            "pipeline_s",
            lambda: TurnPipeline.from_parts(
                catalog,
                hybrid,
                ranker=DiversityReranker(inner, hybrid.vectors, self.served.diversity),
                candidates=self.served.candidates,
                top_k=self.served.top_k,
            ),
        )
        rng = random.Random(3)
        popular = sorted(catalog, key=lambda i: -(i.popularity or 0.0))[:1000]
        films = [rng.choice(popular).title for _ in range(queries + 1)]

        def first(n: int) -> None:
            pipeline.handle(ConversationState.new(), f"something funny like {films[n]}")

        def shown_before(n: int) -> list[str]:  # what the turn would rank first: the exclusions that matter
            state = ConversationState.new()
            pipeline.handle(state, f"something funny like {films[n]}")
            return [r.item_id for r in pipeline.recommend(state, k=12)[0]]

        shown = [shown_before(n) for n in range(queries + 1)]

        def bounded_after_12_shown(n: int) -> None:
            state = ConversationState.new()
            state.shown = list(shown[n])
            pipeline.handle(state, f"something funny from the 90s like {films[n]}")

        turns = {"turn-first": first, "turn-decade-exclude-12": bounded_after_12_shown}
        return {
            "ranker": "fitted" if self.fitted.is_file() else "hand-set",
            "encoder": self.scorer.encoder.name,
            **costs,
            **{name: _timed(fn, list(range(queries + 1))) for name, fn in turns.items()},
        }

    def _mentions(self, catalog: Catalog) -> list[MentionList]:
        """``dialogues`` synthetic mention lists of 2 to 8 items, drawn in proportion to popularity + 1."""
        rng = np.random.default_rng(4)
        weights = np.array([(i.popularity or 0.0) + 1.0 for i in catalog])
        ids = catalog.ids()
        drawn = rng.choice(len(ids), size=(self.dialogues, 8), p=weights / weights.sum())
        lengths = rng.integers(2, 9, size=self.dialogues)
        return [
            MentionList(id=str(d), items=tuple(ids[i] for i in row[:n]), liked=(True,) * int(n))
            for d, (row, n) in enumerate(zip(drawn, lengths))
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000", help="Comma-separated catalogue sizes.")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("bench/results/scale.json"))
    parser.add_argument("--full-turn", action="store_true", help="Also serve whole turns (llm=none) at each size.")
    parser.add_argument("--dialogues", type=int, default=100_000, help="Synthetic mention lists for --full-turn.")
    parser.add_argument("--home", type=Path, help="Keep each size's built home here, and reuse it next time.")
    args = parser.parse_args()
    served = load_settings({"llm": "none"})
    full_turn = FullTurn(served, args.dialogues) if args.full_turn else None
    if full_turn is not None:
        threadpool_limits(served.serving_threads)  # as the chat UI serves (ui.assemble.build_serving_pipeline)
        torch.set_num_threads(served.serving_threads)
    categories = sorted(load_catalog(served.catalog_path).categories())
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "candidates": served.candidates,
        "sizes": [
            measure(int(s), args.queries, categories, served.candidates, home=args.home, full_turn=full_turn)
            for s in args.sizes.split(",")
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
