"""The ``tailtalk`` command's evaluation and fitting sub-commands (train, fit-ranker, eval, eval-replies,
eval-conversations, eval-hostile), added to the product's commands of :mod:`ui.cli`.

The console script starts here: eval is the last package of the flow, so this is the one module that may
import every other, and ``tailtalk --help`` lists every command.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from tailtalk import privacy
from tailtalk.config import DOMAIN_DATASETS, Settings
from ui.cli import app, current_settings, run
from tailtalk.errors import UserInputError

if TYPE_CHECKING:  # the commands import the pipeline when they run: `tailtalk --help` stays quick
    from tailtalk.mentions import MentionList
    from ui.pipeline import TurnPipeline

FIT_FOLDS = 2  # out-of-fold collaborative features for `fit-ranker` (and `train`, which ends with it)
# What to replay, for every command that replays a dialogue log.
DatasetOption = Annotated[Optional[str], typer.Option(help="Prepared dataset to replay (default: the served one).")]
SplitOption = Annotated[str, typer.Option(help="Split of the prepared dataset to replay.")]
LogOption = Annotated[Optional[Path], typer.Option(help="Replay this dialogue-log JSONL instead of a split.")]
FeedbackOption = Annotated[
    Optional[Path],
    typer.Option(help="A feedback log (feedback_log) whose likes and dislikes the collaborative model learns from."),
]


@app.command("train")
def train_scorer(
    profile: Annotated[
        str, typer.Option(help="quick (a few minutes) or default (about 22 minutes on 2 cores).")
    ] = "default",
    epochs: Annotated[Optional[int], typer.Option(help="Override the profile's epoch count.")] = None,
    max_examples: Annotated[Optional[int], typer.Option(help="Override the profile's example cap.")] = None,
    tau: Annotated[
        Optional[float], typer.Option(help="Logit-adjustment strength (0 = plain in-batch softmax).")
    ] = None,
    feedback: FeedbackOption = None,
    augment: Annotated[
        Optional[Path],
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Generated dialogues (a file `tailtalk augment` wrote) to train the scorer on as well.",
        ),
    ] = None,
) -> None:
    """Fine-tune the scorer on the dataset's train split (valid for early stopping), index with it, and fit
    the fused ranker for it."""
    from eval.augment import not_generated
    from tailtalk.catalog import load_catalog
    from tailtalk.dialogues import load_dialogues
    from retrieval.index import build_index
    from ranking.scorer import TextScorer
    from ranking.train import profile as training_profile

    settings = current_settings()
    config = training_profile(profile, epochs=epochs, max_examples=max_examples, tau=tau)
    catalog = load_catalog(settings.catalog_path)
    augmented = load_dialogues(augment) if augment is not None else []
    foreign_ids = not_generated(augmented)
    if foreign_ids:  # a real log passed by mistake (a test split, say) would leak into training
        raise UserInputError(
            f"{augment} holds {len(foreign_ids)} dialogue(s) that `tailtalk augment` did not write "
            f"(e.g. {foreign_ids[0]!r}); pass a file written by `tailtalk augment`"
        )
    elsewhere = any(i not in catalog for d in augmented for t in d.turns for i in t.items)
    if augment is not None and (elsewhere or not augmented):
        raise UserInputError(
            f"{augment} {'is empty' if not augmented else f'answers with items not in {settings.catalog_path}'}; "
            f"write it for this catalogue with `tailtalk --dataset {settings.dataset} augment --out {augment}`"
        )
    scorer, report = TextScorer.fit(catalog, settings, config, augmented=augmented)
    generated = f" ({len(augmented):,} generated dialogues among them)" if augmented else ""
    typer.echo(
        f"trained {report.profile} profile on {report.examples:,} examples{generated}, {report.epochs_run} epoch(s), "
        f"{report.seconds / 60:.1f} min; valid recall@10 {max(report.valid_recall_at_10):.4f} "
        f"(untrained {report.baseline_valid_recall_at_10:.4f}), prior weight {report.prior_weight:g}"
    )
    index_report = build_index(catalog, scorer.encoder, settings)
    typer.echo(f"checkpoint {report.checkpoint}; its index has {index_report.added + index_report.unchanged:,} items")
    # The fused ranker's weights belong to a text scorer: fit them for the new one.
    _fit_served_ranker(settings.model_copy(update={"scorer": "trained"}), feedback=feedback)


@app.command("augment")
def augment_command(
    out: Annotated[Path, typer.Option(help="JSONL file for the generated dialogues (for `tailtalk train --augment`).")],
    dataset: Annotated[
        Optional[str],
        typer.Option(help="Prepared dataset whose catalogue and mention counts to use (default: served)."),
    ] = None,
    max_mentions: Annotated[
        int, typer.Option(min=0, help="Generate for items named in at most this many training conversations.")
    ] = 2,
    limit: Annotated[
        int, typer.Option(min=1, help="At most this many items (a seeded sample), one dialogue each.")
    ] = 2000,
    messages: Annotated[
        int, typer.Option(min=1, max=5, help="Messages the simulated user sends (the first are the broadest facts).")
    ] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the item sample and the users' wording.")] = 0,
) -> None:
    """Write training dialogues for rarely named items: a simulated user asks for each from its catalogue
    facts (never its title) and the recommender answers with it."""
    from eval.augment import AugmentConfig, augment
    from tailtalk.catalog import load_catalog, write_jsonl_atomic

    settings = _served(dataset)
    config = AugmentConfig(max_mentions=max_mentions, limit=limit, messages=messages, seed=seed)
    dialogues = augment(load_catalog(settings.catalog_path), config, domain=settings.domain)
    if not dialogues:
        raise UserInputError(
            f"no item of {settings.catalog_path} is named in at most {max_mentions} training conversations "
            "and has facts to ask with; raise --max-mentions"
        )
    write_jsonl_atomic(out, dialogues)
    typer.echo(
        f"wrote {len(dialogues):,} generated dialogues to {out}; "
        f"train with `tailtalk --dataset {settings.dataset} train --augment {out}`"
    )


@app.command("fit-ranker")
def fit_ranker_command(
    max_instances: Annotated[Optional[int], typer.Option(help="Fit on at most this many training turns.")] = None,
    folds: Annotated[int, typer.Option(min=2, help="Folds for the out-of-fold collaborative features.")] = FIT_FOLDS,
    feedback: FeedbackOption = None,
) -> None:
    """Fit the served ranker for this catalogue and scorer: the collaborative model on the training mention
    lists, then the fusion weights on the training dialogues (a few minutes; `make index` runs it)."""
    _fit_served_ranker(current_settings(), max_instances=max_instances, folds=folds, feedback=feedback)


def _fit_served_ranker(
    settings: Settings, *, max_instances: int | None = None, folds: int = FIT_FOLDS, feedback: Path | None = None
) -> None:
    from tailtalk.mentions import load_mention_lists
    from tailtalk.prepare import MENTIONS_FILE
    from ui.assemble import build_pipeline
    from ranking.train import load_training_splits
    from retrieval.collaborative import CollaborativeConfig
    from retrieval.neighbours import NeighbourConfig
    from eval.fit_ranker import fit_ranker
    from eval.systems import exact_copy
    from retrieval.hybrid import HybridRetriever

    settings = settings.model_copy(update={"llm": "none"})
    pipeline = build_pipeline(settings)
    hybrid = pipeline.retriever
    if not isinstance(hybrid, HybridRetriever):
        raise UserInputError("fit-ranker fits the hybrid retriever's ranker: serve ranker=fused (the default)")
    pipeline = pipeline.replacing(retriever=exact_copy(hybrid))
    train, valid = load_training_splits(settings.dataset_dir())
    mentions_path = settings.dataset_dir() / MENTIONS_FILE
    mentions = load_mention_lists(mentions_path) if mentions_path.is_file() else []
    if feedback is not None:
        mentions += _feedback_lists(feedback)
    folder = settings.ranker_path(hybrid.embedder.name)
    report = fit_ranker(
        pipeline,
        train,
        valid,
        mentions,
        folder,
        collaborative=CollaborativeConfig(),
        neighbours=NeighbourConfig(),
        candidates=settings.candidates,
        folds=folds,
        max_instances=max_instances,
    )
    weights = ", ".join(f"{k} {v:+.2f}" for k, v in report.weights.items())
    valid_text = (
        f"; valid recall@10 (new, no re-ranking) {report.valid_recall_at_10:.4f}"
        if report.valid_recall_at_10 is not None
        else ""
    )
    typer.echo(
        f"fitted the ranker on {report.pools:,} training turns ({report.positives_in_pool:.0%} of targets "
        f"in the candidate pool) in {report.seconds / 60:.1f} min{valid_text}\nweights: {weights}\n"
        f"saved in {folder}"
    )


def _feedback_lists(path: Path) -> list[MentionList]:
    """The feedback log's conversations as mention lists; malformed lines are named and skipped."""
    from tailtalk.feedback import feedback_mention_lists, read_feedback

    events, skipped = read_feedback(path)
    for line in skipped[:10]:
        typer.echo(f"skipped {line}", err=True)
    lists = feedback_mention_lists(events)
    typer.echo(
        f"feedback {path}: {len(events):,} events, {len(lists):,} conversations with likes or dislikes"
        + (f"; {len(skipped):,} malformed line(s) skipped" if skipped else "")
    )
    return lists


@app.command("eval")
def evaluate(
    out: Annotated[Path, typer.Option(help="Folder for metrics.json, metrics.md and the plots.")],
    dataset: DatasetOption = None,
    split: SplitOption = "test",
    log: LogOption = None,
    systems: Annotated[
        str, typer.Option(help="Comma-separated: popularity, bm25, dense, pipeline.")
    ] = "popularity,bm25,dense,pipeline",
    limit: Annotated[Optional[int], typer.Option(help="Replay a seeded sample of this many turns.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for --limit sampling.")] = 0,
    sweep_diversity: Annotated[
        Optional[str],
        typer.Option(help="Comma-separated knob values, e.g. 0,0.2,0.4: one pipeline system each, plus pareto.png."),
    ] = None,
    per_turn: Annotated[
        Optional[Path],
        typer.Option(help="Write each turn's targets and every system's top 50 to this JSON-lines file."),
    ] = None,
    with_llm: Annotated[
        bool,
        typer.Option(
            "--with-llm",
            help="Let the configured language model read every logged message (slow on a CPU: "
            "about 5 s a message with the embedded model); by default the rule-based reader does.",
        ),
    ] = False,
) -> None:
    """Replay dialogue logs through each system; write accuracy and long-tail metrics."""
    from ui.assemble import build_pipeline
    from eval.harness import evaluate as run_evaluation

    # The ranking replay reads thousands of logged messages; the model's replies are measured by eval-replies.
    settings = _served(dataset) if with_llm else _served(dataset).model_copy(update={"llm": "none"})
    started = time.perf_counter()
    log_path = log or _split_path(settings, split)
    pipeline = build_pipeline(settings)
    config = {
        # What serves, the encoder included (the trained scorer's checkpoint when it serves, not the setting).
        "serving": pipeline.describe(),
        "llm": pipeline.llm_name,
        "candidates": settings.candidates,
        "source_pool": settings.source_pool,
        "popularity_weight": settings.popularity_weight,
        "diversity": settings.diversity,
        "ranker": pipeline.ranker.describe(),
    }
    run_evaluation(
        pipeline,
        log_path,
        out,
        dataset=settings.dataset if log is None else log_path.stem,
        systems=[name.strip() for name in systems.split(",") if name.strip()],
        limit=limit,
        seed=seed,
        config=config,
        diversity_sweep=_floats(sweep_diversity),
        per_turn=per_turn,
    )
    typer.echo((out / "metrics.md").read_text(encoding="utf-8"))
    typer.echo(
        f"wrote {out}/metrics.json, metrics.md, recall_at_k.png, recall_vs_aplt.png "
        f"in {time.perf_counter() - started:.0f}s"
    )


@app.command("simulate")
def simulate(
    out: Annotated[Path, typer.Option(help="Folder for metrics.json, metrics.md, success_by_turn.png, transcripts.")],
    dataset: DatasetOption = None,
    split: SplitOption = "test",
    systems: Annotated[
        str, typer.Option(help="Comma-separated: pipeline (the product, as the chat UI calls it), dense, popularity...")
    ] = "pipeline,dense,popularity",
    limit: Annotated[int, typer.Option(min=1, help="Simulated users, one per sampled target.")] = 300,
    turns: Annotated[int, typer.Option(min=1, max=20, help="Messages a user sends before giving up.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the target sample and the users' wording.")] = 0,
    sweep_diversity: Annotated[
        Optional[str], typer.Option(help="Comma-separated knob values, e.g. 0: one more pipeline system each.")
    ] = None,
    user: Annotated[
        str,
        typer.Option(
            help="template (deterministic, fast) or llm: the template's facts in the configured language "
            "model's words (llm=embedded, or llm=openai with e.g. tailtalk serve-llm)."
        ),
    ] = "template",
    via: Annotated[
        Optional[str],
        typer.Option(
            help="Talk to a running app's API at this URL (e.g. http://127.0.0.1:7860/) instead of the "
            "pipeline in this process; the system is then named 'api'."
        ),
    ] = None,
) -> None:
    """Simulated users, each knowing one target item of the split, talk with each system until it shows
    the target or the turns run out. The systems read the users' messages with the rules (llm=none, like
    eval); the configured language model words the messages of `--user llm`."""
    from eval.harness import exact_pipeline
    from eval.simulator import (
        ApiConversation,
        Conversation,
        LogSystemConversation,
        PipelineConversation,
        SimulationConfig,
        run_simulations,
        sample_targets,
        write_report,
    )
    from eval.systems import SYSTEMS, check_systems
    from tailtalk.dialogues import load_dialogues
    from tailtalk.instances import instances_of
    from tailtalk.llm import make_llm
    from ui.assemble import build_pipeline, feedback_log

    served = _served(dataset)
    settings = served.model_copy(update={"llm": "none"})
    if user not in ("template", "llm"):
        raise UserInputError(f"--user is template or llm, not {user!r}")
    config = SimulationConfig(turns=turns, limit=limit, seed=seed, user=user)
    if user == "llm" and served.llm == "none":
        raise UserInputError("--user llm needs a language model: add --set llm=embedded, or llm=openai")
    user_llm = make_llm(served) if user == "llm" else None
    names = [name.strip() for name in systems.split(",") if name.strip()]
    check_systems(names)
    started = time.perf_counter()
    log_path = _split_path(settings, split)
    # The simulated users' likes go to the feedback log when one is set (the loop of docs/ranking.md).
    pipeline = exact_pipeline(build_pipeline(settings)).replacing(feedback_log=feedback_log(settings))
    targets = sample_targets(instances_of(load_dialogues(log_path), pipeline.catalog), config.limit, config.seed)
    if not targets:
        raise UserInputError(f"{log_path} has no recommendation of a catalogue item to simulate a user for")
    chosen: dict[str, Callable[[], Conversation]] = {
        name: (
            partial(PipelineConversation, pipeline, settings.diversity)
            if name == "pipeline"
            else partial(LogSystemConversation, SYSTEMS[name](pipeline), settings.top_k)
        )
        for name in names
    }
    for value in _floats(sweep_diversity):
        chosen[f"pipeline[diversity={value:g}]"] = partial(PipelineConversation, pipeline, value)
    if via is not None:  # the app's own pipeline and settings answer; this process only plays the users
        chosen = {"api": partial(ApiConversation, via)}
    results = run_simulations(chosen, pipeline.catalog, targets, config, domain=settings.domain, llm=user_llm)
    about = {"dataset": settings.dataset, "split": split, "catalog": pipeline.catalog.source, "shown": settings.top_k}
    write_report(out, results, config, about, time.perf_counter() - started)
    typer.echo((out / "metrics.md").read_text(encoding="utf-8"))
    typer.echo(
        f"wrote {out}/metrics.json, metrics.md, success_by_turn.png, transcripts.jsonl in "
        f"{time.perf_counter() - started:.0f}s"
    )


@app.command("eval-replies")
def evaluate_replies(
    out: Annotated[Path, typer.Option(help="Folder for replies.json and replies.md.")],
    dataset: DatasetOption = None,
    split: SplitOption = "test",
    log: LogOption = None,
    limit: Annotated[int, typer.Option(help="Replay a seeded sample of this many turns.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed for the sample.")] = 0,
) -> None:
    """Replay logged turns with the language model on; count repaired replies and out-of-list titles shipped."""
    from ui.assemble import build_pipeline
    from eval.replies import replay_replies

    settings = _served(dataset)
    if settings.llm == "none":
        raise UserInputError("eval-replies measures the language model's replies: set llm to auto, embedded or openai")
    started = time.perf_counter()
    pipeline = build_pipeline(settings)
    rules = build_pipeline(settings.model_copy(update={"llm": "none"}))
    replay_replies(pipeline, rules, log or _split_path(settings, split), out, limit=limit, seed=seed)
    typer.echo((out / "replies.md").read_text(encoding="utf-8"))
    typer.echo(f"wrote {out}/replies.json and replies.md in {time.perf_counter() - started:.0f}s")


@app.command("eval-conversations")
def evaluate_conversations(
    folder: Annotated[
        Optional[Path],
        typer.Option(
            help="Folder of conversation files (*.json); default: the suite shipped in eval/cases/conversations."
        ),
    ] = None,
    cases: Annotated[Optional[str], typer.Option(help="Comma-separated case ids to run (default: all).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Also write the report as JSON here.")] = None,
) -> None:
    """Play the conversation suite (films and shop, English and Chinese) and check every expectation; the
    language model is the configured one (`--set llm=none` for the rules alone, `--set llm=embedded`)."""
    from ui.assemble import build_pipeline
    from eval.conversations import CASES_DIR, load_cases, run_suite

    chosen = load_cases(folder or CASES_DIR)
    if cases:
        wanted = {c.strip() for c in cases.split(",") if c.strip()}
        unknown = wanted - {c.id for c in chosen}
        if unknown:
            raise UserInputError(f"no conversation case named {', '.join(sorted(unknown))} in {folder}")
        chosen = [c for c in chosen if c.id in wanted]
    settings = current_settings()
    started = time.perf_counter()
    pipelines: dict[str, TurnPipeline] = {}
    for domain in sorted({c.domain for c in chosen}):  # the configured catalogue for its domain, else the default
        served = (
            settings
            if settings.domain == domain
            else settings.model_copy(update={"domain": domain, "dataset": DOMAIN_DATASETS[domain], "catalog": None})
        )
        pipelines[domain] = build_pipeline(served)
    report = run_suite(pipelines, chosen)
    report["llm"] = next(iter(pipelines.values())).llm_name
    report["seconds"] = round(time.perf_counter() - started, 1)
    for failed in report["failed_turns"]:
        typer.echo(
            f"FAILED {failed['case']} turn {failed['turn']} ({failed['said']!r}): {'; '.join(failed['failures'])}"
        )
        typer.echo(f"    picks: {', '.join(failed['picks']) or 'none'}\n    reply: {failed['reply'][:300]}")
    typer.echo(
        f"{report['cases'] - report['cases_failed']}/{report['cases']} conversations ({report['turns']} turns) "
        f"met every expectation with {report['llm']}, in {report['seconds']:.0f}s"
    )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    if report["cases_failed"]:
        raise typer.Exit(1)


@app.command("eval-hostile")
def evaluate_hostile(
    out: Annotated[
        Optional[Path], typer.Option(help="Write the counts and every failed case to this JSON file.")
    ] = None,
    via: Annotated[
        str,
        typer.Option(
            help="'pipeline': the turn pipeline in process; 'api': the chat UI's API "
            "(/recommend and /chat), served on 127.0.0.1 for the run."
        ),
    ] = "pipeline",
    cases: Annotated[
        Optional[Path], typer.Option(help="Folder of *.jsonl case files (default: the project's eval/cases/hostile).")
    ] = None,
    category: Annotated[Optional[str], typer.Option(help="Only the cases of this file (e.g. injection).")] = None,
) -> None:
    """Send the hostile-input cases through the served pipeline and count crashes, turns past their budget,
    out-of-catalogue items, prompt leaks and silent truncations. Exits with 1 when any case failed."""
    from ui.assemble import build_pipeline
    from eval.hostile import CASES_DIR, load_cases, run_api, run_pipeline

    if via not in ("pipeline", "api"):
        raise UserInputError(f"--via takes 'pipeline' or 'api', not {via!r}")
    chosen = [c for c in load_cases(cases or CASES_DIR) if category in (None, c.category)]
    if not chosen:
        raise UserInputError(f"no cases of category {category!r} in {cases or CASES_DIR}")
    settings = current_settings()
    pipeline = build_pipeline(settings)
    label = f"pipeline ({pipeline.llm_name})"
    if via == "pipeline":
        reports = [run_pipeline(pipeline, chosen, label=label)]
    else:
        from ui.app import launch

        served = settings.model_copy(update={"ui_host": "127.0.0.1", "ui_port": privacy.free_loopback_port()})
        demo = launch(served, block=False, pipeline=pipeline)
        try:
            reports = run_api(
                f"http://127.0.0.1:{served.ui_port}/",
                pipeline.catalog,
                chosen,
                max_message_chars=pipeline.max_message_chars,
                budget_s=pipeline.turn_timeout,
            )
        finally:
            demo.close()
    for report in reports:
        typer.echo(report.summary())
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(
                {"served": pipeline.describe(), "reports": [r.to_json() for r in reports]}, indent=2, ensure_ascii=False
            ),
            encoding="utf-8",
        )
        typer.echo(f"wrote {out}")
    if any(r.failures() for r in reports):
        raise typer.Exit(1)


def _served(dataset: str | None) -> Settings:
    """The settings with another prepared dataset served, for commands that take ``--dataset``."""
    if dataset is None:
        return current_settings()
    # Validated again, not copied: the domain follows a domain's own dataset (mg-shopdial is the shop),
    # unless the domain was named rather than derived from the dataset served before.
    given = current_settings().model_dump(exclude_unset=True)
    derived = {name: domain for domain, name in DOMAIN_DATASETS.items()}.get(given.get("dataset", ""))
    if given.get("domain") == derived:
        given.pop("domain", None)
    return Settings.model_validate({**given, "dataset": dataset})


def _floats(values: str | None) -> list[float]:
    if not values:
        return []
    try:  # the range is the re-ranker's to check: it refuses a bad knob before any turn is replayed
        return [float(v) for v in values.split(",") if v.strip()]
    except ValueError as exc:
        raise UserInputError(f"--sweep-diversity takes comma-separated numbers, got {values!r}") from exc


def _split_path(settings: Settings, split: str) -> Path:
    path = settings.dataset_dir() / f"{split}.jsonl"
    if not path.is_file():
        available = sorted(p.stem for p in settings.dataset_dir().glob("*.jsonl") if p.stem != "catalog")
        hint = (
            f"its splits are: {', '.join(available)}"
            if available
            else f"run `tailtalk data prepare {settings.dataset}` first"
        )
        raise FileNotFoundError(f"dataset {settings.dataset!r} has no split {split!r} ({path}); {hint}")
    return path


def main() -> None:
    run()


if __name__ == "__main__":
    main()
