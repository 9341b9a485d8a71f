"""The ``tailtalk`` command. Every sub-command reads the one :class:`~tailtalk.config.Settings`.

Settings come from defaults, then ``TAILTALK_*`` environment variables, then
``--set key=value`` options given before the sub-command, e.g.
``tailtalk --set top_k=8 ask "a 90s comedy"``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from tailtalk.catalog import DataFormatError
from tailtalk.config import ConfigError, Settings, load_settings, parse_assignments
from tailtalk.sources import SourceError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="tailtalk: a conversational recommender that values the long tail.")
data_app = typer.Typer(no_args_is_help=True, help="Prepare public datasets into tailtalk's formats.")
app.add_typer(data_app, name="data")


class _State:
    settings: Settings


_state = _State()


@app.callback()
def _root(
    set_: Annotated[list[str], typer.Option("--set", help="Override a setting: KEY=VALUE (repeatable).")] = [],
    dataset: Annotated[Optional[str], typer.Option(help="Dataset whose catalogue is served.")] = None,
    home: Annotated[Optional[Path], typer.Option(help="Cache folder (datasets, indexes, checkpoints).")] = None,
) -> None:
    overrides = parse_assignments(set_)
    if dataset:
        overrides["dataset"] = dataset
    if home:
        overrides["home"] = str(home)
    _state.settings = load_settings(overrides)


@data_app.command("prepare")
def data_prepare(name: Annotated[str, typer.Argument(help="redial or mg-shopdial")]) -> None:
    """Fetch (mirror or download, SHA-256 checked) and convert a dataset."""
    from tailtalk.prepare import prepare

    started = time.perf_counter()
    result = prepare(name, _state.settings)
    counts = ", ".join(f"{k}: {v:,}" for k, v in result.counts.items())
    typer.echo(f"prepared {name} in {result.folder} ({counts}) in {time.perf_counter() - started:.1f}s")


@app.command("index")
def index(rebuild: Annotated[bool, typer.Option(help="Rebuild from scratch instead of upserting changes.")] = False
          ) -> None:
    """Embed the catalogue into the Chroma index (only new or changed items after the first run)."""
    from tailtalk.catalog import load_catalog
    from retrieval.embedder import make_embedder
    from retrieval.index import build_index

    settings = _state.settings
    catalog = load_catalog(settings.catalog_path)
    embedder = make_embedder(settings.embedding_model, settings.embedding_batch_size)
    report = build_index(catalog, embedder, settings, rebuild=rebuild)
    where = report.folder or f"{settings.chroma_host}:{settings.chroma_port}"
    typer.echo(f"index {where}: {report.added} added, {report.updated} updated, {report.removed} removed, "
               f"{report.unchanged} unchanged")


@app.command("ask")
def ask(
    text: Annotated[str, typer.Argument(help="What you would like.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of {id, title, score, reason}.")] = False,
) -> None:
    """One-shot recommendations for a single message."""
    from agent.pipeline import build_pipeline
    from agent.state import ConversationState

    pipeline = build_pipeline(_state.settings)
    result = pipeline.handle(ConversationState(), text)
    if as_json:
        typer.echo(json.dumps([{"id": p.item.id, "title": p.item.title, "year": p.item.year,
                                "score": round(p.score, 6), "reason": p.reason} for p in result.picks],
                              ensure_ascii=False, indent=2))
    else:
        typer.echo(f"[{pipeline.retriever.describe()}; ranker: {pipeline.ranker.describe()}]")
        typer.echo(result.reply)


@app.command("chat")
def chat(
    port: Annotated[Optional[int], typer.Option(help="Port on 127.0.0.1 (default: ui_port).")] = None,
) -> None:
    """Serve the Gradio chat UI on 127.0.0.1."""
    from ui.app import launch

    settings = _state.settings if port is None else _state.settings.model_copy(update={"ui_port": port})
    launch(settings)


@app.command("eval")
def evaluate(
    out: Annotated[Path, typer.Option(help="Folder for metrics.json, metrics.md and the plots.")],
    split: Annotated[str, typer.Option(help="Split of the prepared dataset to replay.")] = "test",
    log: Annotated[Optional[Path], typer.Option(help="Replay this dialogue-log JSONL instead of a split.")] = None,
    systems: Annotated[str, typer.Option(help="Comma-separated: popularity, bm25, dense, pipeline.")]
    = "popularity,bm25,dense,pipeline",
    limit: Annotated[Optional[int], typer.Option(help="Replay a seeded sample of this many turns.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for --limit sampling.")] = 0,
) -> None:
    """Replay dialogue logs through each system; write accuracy and long-tail metrics."""
    from agent.pipeline import build_pipeline
    from tailtalk.dialogues import load_dialogues
    from eval.harness import run_system, sample, score_run, write_outputs
    from eval.instances import instances_of
    from eval.systems import BM25System, DenseSystem, PipelineSystem, PopularitySystem, item_vectors

    settings = _state.settings
    started = time.perf_counter()
    pipeline = build_pipeline(settings)
    catalog = pipeline.catalog
    log_path = log or settings.dataset_dir() / f"{split}.jsonl"
    instances = sample(instances_of(load_dialogues(log_path), catalog), limit, seed)
    if not instances:
        raise ValueError(f"{log_path} has no assistant turn that names a catalogue item; nothing to evaluate")
    factories = {"popularity": lambda: PopularitySystem(catalog), "bm25": lambda: BM25System(catalog),
                 "dense": lambda: DenseSystem(pipeline.retriever), "pipeline": lambda: PipelineSystem(pipeline)}
    chosen = [name.strip() for name in systems.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(factories))
    if unknown:
        raise ValueError(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(factories)}")
    vectors = item_vectors(pipeline.retriever, catalog)
    results = {}
    for name in chosen:
        results[name] = score_run(run_system(factories[name](), instances), instances, catalog, vectors)
    config = {"log": str(log_path), "limit": limit, "seed": seed, "embedding_model": settings.embedding_model,
              "candidates": settings.candidates, "popularity_weight": settings.popularity_weight,
              "ranker": pipeline.ranker.describe()}
    write_outputs(out, settings.dataset if log is None else log_path.stem, config, results)
    typer.echo((out / "metrics.md").read_text(encoding="utf-8"))
    typer.echo(f"wrote {out}/metrics.json, metrics.md, recall_at_k.png, recall_vs_aplt.png "
               f"in {time.perf_counter() - started:.0f}s")


_USER_ERRORS = (ConfigError, DataFormatError, SourceError, FileNotFoundError, ValueError)


def main() -> None:
    from retrieval.index import IndexError_

    try:
        app(standalone_mode=False)
    except (*_USER_ERRORS, IndexError_) as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:  # click's usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
