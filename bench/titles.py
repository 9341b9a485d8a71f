"""Title spotting at catalogue scale: the blocking index against scoring every title, on real messages.

    .venv/bin/python bench/titles.py [--sizes 100000,1000000] [--messages 40] [--scanned 8]
                                     [--out bench/results/titles.json]

Each size is a synthetic catalogue whose titles are 1 to 4 words drawn from the served catalogue's own
titles (so their words and trigrams are real ones), with the served titles themselves among them, and
the messages are the first ``--messages`` user messages of the served dataset's valid split that name a
title. Measured per size: building the matcher (``TitleMatcher``), and ``find`` per message with the
blocking index (as served) and, on the first ``--scanned`` messages only (it takes seconds each at 1M),
scoring every title as before. Both give the same hits on those messages (checked, reported).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tailtalk.catalog import load_catalog
from tailtalk.config import load_settings
from tailtalk.dialogues import load_dialogues
from tailtalk.titles import TitleMatcher, _TrigramBlocking


def synthetic_titles(size: int, real: list[str], seed: int = 0) -> list[str]:
    """``size`` titles: the real ones, then 1-4 words drawn from them."""
    rng = random.Random(seed)
    words = [w for title in real for w in title.split()]
    made = list(real[:size])
    while len(made) < size:
        made.append(" ".join(rng.choice(words) for _ in range(rng.randint(1, 4))))
    return made


def _timed(find: Callable[[str], object], messages: list[str]) -> tuple[dict[str, float], list[object]]:
    samples, found = [], []
    for message in messages:
        started = time.perf_counter()
        found.append(find(message))
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(float(np.percentile(samples, 95)), 2),
        "messages": len(samples),
    }, found


def measure(size: int, real: list[str], messages: list[str], scanned: int) -> dict:
    titles = synthetic_titles(size, real)
    started = time.perf_counter()
    matcher = TitleMatcher((f"t{n}", title, None) for n, title in enumerate(titles))
    build_s = time.perf_counter() - started
    blocked, blocked_hits = _timed(matcher.find, messages)
    every = _TrigramBlocking.candidates
    _TrigramBlocking.candidates = lambda self, text: self.titles  # type: ignore[method-assign]
    try:
        full, full_hits = _timed(matcher.find, messages[:scanned])
    finally:
        _TrigramBlocking.candidates = every  # type: ignore[method-assign]
    same = sum(a == b for a, b in zip(blocked_hits, full_hits))
    return {
        "titles": size,
        "build_s": round(build_s, 2),
        "find_blocked": blocked,
        "find_every_title": full,
        "same_hits": f"{same} of {len(full_hits)}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="Comma-separated numbers of titles.")
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--scanned", type=int, default=8, help="Messages also timed scoring every title.")
    parser.add_argument("--out", type=Path, default=Path("bench/results/titles.json"))
    args = parser.parse_args()
    served = load_settings({})
    catalog = load_catalog(served.catalog_path)
    real = [item.title for item in catalog]
    served_matcher = TitleMatcher((i.id, i.title, i.year) for i in catalog)
    messages = [
        t.text
        for d in load_dialogues(served.dataset_dir() / "valid.jsonl")
        for t in d.turns
        if t.role == "user" and served_matcher.find(t.text)
    ][: args.messages]
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "dataset": served.dataset,
        "sizes": [measure(int(s), real, messages, args.scanned) for s in args.sizes.split(",")],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
