"""How long `tailtalk ask` takes from the command to its answer, with the rules (llm=none), side by side:

* ``served``: the command as a person runs it; the request is embedded in numpy (no torch imported);
* ``with-torch-imports``: the same command after importing torch and sentence-transformers first, which is
  what `tailtalk ask` paid before its request was embedded in numpy (issue 17).

    .venv/bin/python bench/startup.py [--runs 5] [--out bench/results/startup.json]

The two variants alternate, run after run, so a busy machine slows both alike; medians are reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REQUEST = "a light romantic comedy from the 90s"
_COMMAND = "import sys; from eval.cli import main; sys.argv = ['tailtalk', '--set', 'llm=none', 'ask', %r]; main()"
VARIANTS = {
    "served": _COMMAND % REQUEST,
    "with-torch-imports": "import torch, sentence_transformers; " + _COMMAND % REQUEST,
}


def timed(code: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or "1. " not in done.stdout:
        raise SystemExit(f"`tailtalk ask` failed:\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench/results/startup.json"))
    args = parser.parse_args()
    timed(VARIANTS["served"])  # warm the disk cache: the first run reads every file from disk
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(args.runs):
        for name, code in VARIANTS.items():
            seconds[name].append(timed(code))
    report = {
        name: {"median_s": round(statistics.median(runs), 2), "runs_s": [round(s, 2) for s in runs]}
        for name, runs in seconds.items()
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"request": REQUEST, "variants": report}, indent=2), encoding="utf-8")
    for name, row in report.items():
        print(f"{name:>20}: median {row['median_s']:.2f} s  runs {row['runs_s']}")


if __name__ == "__main__":
    main()
