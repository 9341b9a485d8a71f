"""eval.simulator: the simulated user's words (no leaks, same seed same words), the conversation loop and the
interactive metrics (hand-computed), then a small real sample through the product (integration)."""

from __future__ import annotations

import json

import pytest

from eval.simulator import (
    LeakGuard,
    LLMUser,
    LogSystemConversation,
    PipelineConversation,
    Shown,
    Simulated,
    SimulationConfig,
    TemplateUser,
    interactive_metrics,
    run_simulations,
    sample_targets,
    simulate_one,
    write_report,
)
from eval.systems import SYSTEMS
from tests.conftest import TEST_HOME
from tailtalk.catalog import Catalog, Item
from tailtalk.errors import UserInputError

CATALOG = Catalog(
    (
        Item(
            id="t",
            title="Harbour Lights",
            year=1984,
            categories=("drama", "romance", "mystery"),
            description="A lighthouse keeper and a sailor solve a smuggling case in a quiet fishing village.",
            attributes={"director": ["Ann Lee"], "stars": ["Bo Karr", "Cy Dunn"]},
            popularity=2,
        ),
        Item(
            id="a",
            title="Village Secrets",
            year=1991,
            categories=("drama", "mystery"),
            description="A sailor returns to his fishing village to solve an old smuggling case.",
            attributes={"director": ["Dee Moss"], "stars": ["Bo Karr"]},
            popularity=20,
        ),
        Item(
            id="b",
            title="Sunny Days",
            year=2012,
            categories=("comedy",),
            description="A lighthouse party goes wrong in a quiet seaside town.",
            attributes={"director": ["Dee Moss"]},
            popularity=50,
        ),
        Item(id="c", title="Love Notes", year=1986, categories=("romance", "drama"), popularity=5),
    )
)


class ScriptedConversation:
    """Shows the given lists in turn and records the feedback it is given."""

    def __init__(self, *lists: list[str]):
        self.lists = list(lists)
        self.heard: list[str] = []
        self.feedback_given: list[tuple[str, bool]] = []

    def say(self, message: str) -> Shown:
        self.heard.append(message)
        return Shown(self.lists.pop(0) if self.lists else [])

    def feedback(self, item_id: str, liked: bool) -> None:
        self.feedback_given.append((item_id, liked))


def _user(seed: int = 0, target: str = "t") -> TemplateUser:
    return TemplateUser(CATALOG.get(target), LeakGuard(CATALOG), domain="films", seed=seed)


@pytest.mark.parametrize(
    "message, leak",
    [
        ("Something like Harbour Lights?", "the title 'Harbour Lights'"),
        ("ideally directed by Ann Lee", "'Ann Lee', which only the target has"),
        ("a keeper and a sailor solve a smuggling case", "the plot words 'a sailor solve a smuggling'"),
    ],
)
def test_the_leak_guard_catches_what_identifies_the_target(message, leak):
    assert leak in LeakGuard(CATALOG).leaks(message, CATALOG.get("t"))


@pytest.mark.parametrize(
    "message", ["ideally with Bo Karr", "a mystery from the 1980s", "something about sailor and smuggling"]
)
def test_facts_other_items_share_are_no_leak(message):
    assert LeakGuard(CATALOG).leaks(message, CATALOG.get("t")) == []


def test_a_one_word_title_counts_only_as_a_name():
    catalog = Catalog((Item(id="1", title="It", year=2017, categories=("horror",)), *CATALOG.items))
    guard = LeakGuard(catalog)
    assert guard.leaks("It should be a drama too.", catalog.get("1")) == []
    assert guard.leaks("Something like It, please.", catalog.get("1")) == ["the title 'It'"]


def test_the_user_reveals_one_shared_fact_a_turn_and_never_a_leak():
    user = _user()
    said = [user.opening()] + [user.reply(["b"], clarifying=False, catalog=CATALOG) for _ in range(8)]
    guard = LeakGuard(CATALOG)
    assert all(guard.leaks(m, CATALOG.get("t")) == [] for m in said)
    assert "drama" in said[0]
    assert any("older, from the 1980s" in m for m in said)  # the picks shown were from 2012
    assert any("with Bo Karr" in m for m in said) and not any("Ann Lee" in m for m in said)
    assert said[-1] == "None of those, sorry. Anything else?"  # out of facts: it says so, it does not invent


def test_the_same_seed_gives_the_same_words():
    def words(seed):
        user = _user(seed)
        return [user.opening()] + [user.reply(["b"], clarifying=False, catalog=CATALOG) for _ in range(4)]

    assert words(3) == words(3)
    assert {tuple(words(seed)) for seed in range(8)} != {tuple(words(0))}  # the wording varies with the seed


def test_a_clarifying_question_is_answered_not_rejected():
    user = _user()
    user.opening()
    answer = user.reply([], clarifying=True, catalog=CATALOG)
    assert not answer.startswith(("Not quite", "Hmm", "No,"))


def test_feedback_dislikes_the_unlike_pick_and_likes_the_close_one():
    assert _user().feedback(["b", "c"], CATALOG) == {"b": False, "c": True}


def test_the_conversation_stops_when_the_target_is_shown_and_passes_feedback_on():
    conversation = ScriptedConversation(["b", "c"], ["a", "t"])
    record = simulate_one(conversation, _user(), CATALOG, "tail", turns=5)
    assert record.success_turn == 2 and len(conversation.heard) == 2
    assert conversation.feedback_given == [("b", False), ("c", True), ("t", True)]  # the target found is liked
    assert record.transcript[0]["feedback"] == {"b": "dislike", "c": "like"}


def test_a_user_gives_up_after_the_turns():
    record = simulate_one(ScriptedConversation(), _user(), CATALOG, "tail", turns=3)
    assert record.success_turn is None and len(record.transcript) == 3


def test_interactive_metrics_by_hand():
    records = [
        Simulated("1", "head", 1),
        Simulated("2", "head", 3),
        Simulated("3", "tail", None),
        Simulated("4", "tail", 5),
    ]
    metrics = interactive_metrics(records, turns=5)
    assert (metrics["success@1turns"], metrics["success@3turns"], metrics["success@5turns"]) == (0.25, 0.5, 0.75)
    assert metrics["mean_turns_to_success"] == 3.0
    assert metrics["by_bucket"]["head"]["success@3turns"] == 1.0
    assert metrics["by_bucket"]["tail"]["success@5turns"] == 0.5 and metrics["by_bucket"]["torso"]["conversations"] == 0
    assert interactive_metrics(records, turns=4)["success@4turns"] == 0.5  # the last turn is always a cut


def test_the_llm_user_rewords_the_template_and_never_leaks():
    """The model's words carry the template's facts; a rewording that names the target, or a failing model,
    sends the template message instead (and is counted)."""
    from tests.llm.fakes import failing, scripted

    template = _user()
    said = [template.opening(), template.reply(["b"], clarifying=False, catalog=CATALOG)]
    backend = scripted("hey, got any good dramas?", "Is Harbour Lights any good? Older, 80s please")
    user = LLMUser(CATALOG.get("t"), LeakGuard(CATALOG), domain="films", seed=0, backend=backend)
    assert user.opening() == "hey, got any good dramas?"
    assert user.reply(["b"], clarifying=False, catalog=CATALOG) == said[1] and user.fallbacks == 1
    vague = LLMUser(CATALOG.get("t"), LeakGuard(CATALOG), domain="films", seed=0, backend=scripted("any ideas?"))
    assert vague.opening() == said[0] and vague.fallbacks == 1  # the rewording dropped "drama"
    down = LLMUser(CATALOG.get("t"), LeakGuard(CATALOG), domain="films", seed=0, backend=failing(TimeoutError()))
    assert down.opening() == said[0] and down.fallbacks == 1


def test_the_llm_user_needs_a_model():
    with pytest.raises(UserInputError, match="needs a language model"):
        run_simulations({}, CATALOG, ["t"], SimulationConfig(turns=1, limit=1, seed=0, user="llm"), domain="films")


def test_a_bad_config_is_refused():
    with pytest.raises(ValueError, match="turns"):
        SimulationConfig(turns=0, limit=10, seed=0)


@pytest.mark.integration
def test_a_small_sample_through_the_product(redial_pipeline, redial_settings, tmp_path):
    """What CI runs of `tailtalk simulate`: 6 users each for the product (as the chat UI calls it), dense and
    popularity; the same seed gives the same transcripts; nothing leaks; the report is written."""
    from tailtalk.dialogues import load_dialogues
    from tailtalk.instances import instances_of

    catalog = redial_pipeline.catalog
    log = redial_settings.home / "datasets" / "redial" / "test.jsonl"
    targets = sample_targets(instances_of(load_dialogues(log), catalog), 6, 0)
    config = SimulationConfig(turns=3, limit=6, seed=0)
    systems = {
        "pipeline": lambda: PipelineConversation(redial_pipeline, 0.3),
        **{
            name: (lambda system=SYSTEMS[name](redial_pipeline): LogSystemConversation(system, 5))
            for name in ("dense", "popularity")
        },
    }
    results = run_simulations(systems, catalog, targets, config, domain="films", progress=False)
    again = run_simulations({"pipeline": systems["pipeline"]}, catalog, targets, config, domain="films", progress=False)
    assert [r.transcript for r in results["pipeline"]] == [r.transcript for r in again["pipeline"]]
    guard = LeakGuard(catalog)
    for records in results.values():
        assert len(records) == 6
        for record in records:
            assert all(guard.leaks(turn["user"], catalog.get(record.target)) == [] for turn in record.transcript)
            assert all(len(turn["shown"]) <= 5 for turn in record.transcript)
    report = write_report(
        tmp_path, results, config, {"dataset": "redial", "split": "test", "catalog": "c", "shown": 5}, 1.0
    )
    assert set(report["systems"]) == {"pipeline", "dense", "popularity"}
    assert (tmp_path / "success_by_turn.png").stat().st_size > 0 and "| pipeline |" in (
        tmp_path / "metrics.md"
    ).read_text()
    lines = (tmp_path / "transcripts.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 18 and json.loads(lines[0])["turns"][0]["user"]


@pytest.mark.integration
def test_users_through_the_apps_api_meet_the_same_product(app_url, redial_pipeline):
    """`tailtalk simulate --via api`: the same users through a running app's /recommend and /feedback have the
    same conversations as through the pipeline in process (the app serves that pipeline, llm=none)."""
    from tailtalk.dialogues import load_dialogues
    from tailtalk.instances import instances_of

    from eval.simulator import ApiConversation

    catalog = redial_pipeline.catalog
    log = TEST_HOME / "datasets" / "redial" / "test.jsonl"
    targets = sample_targets(instances_of(load_dialogues(log), catalog), 3, 1)
    config = SimulationConfig(turns=3, limit=3, seed=1)
    systems = {
        "api": lambda: ApiConversation(app_url),
        "pipeline": lambda: PipelineConversation(redial_pipeline, 0.3),
    }
    results = run_simulations(systems, catalog, targets, config, domain="films", progress=False)
    assert [r.transcript for r in results["api"]] == [r.transcript for r in results["pipeline"]]
    assert all(turn["shown"] for r in results["api"] for turn in r.transcript if not turn["clarifying"])
