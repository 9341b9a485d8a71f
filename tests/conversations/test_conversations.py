"""The conversation suite: the cases are valid data, the checks catch what they promise, and every case
holds on the real pipelines (films and shop, English and Chinese; rules, and the embedded model on the
cases the issue named)."""

from __future__ import annotations

import pytest

from agent.state import ConversationState
from eval.conversations import Case, Expect, check_turn, load_cases, run_suite
from explain.templates import Explained
from ui.pipeline import TurnResult
from tailtalk.catalog import Item

CASES = load_cases()
# The cases the issue names, also played with the embedded model in CI (the whole suite with it is
# `tailtalk --set llm=embedded eval-conversations`, in docs/llm.md).
WITH_THE_MODEL = [
    "child-8-year-old",
    "war-not-american",
    "older-after-90s",
    "question-gory",
    "shop-running-shoes-under-70",
    "shop-price-question",
    "zh-light-romcom",
]


def test_the_suite_covers_films_and_shop_in_english_and_chinese():
    assert len(CASES) >= 60
    assert {c.domain for c in CASES} == {"films", "products"} and {c.language for c in CASES} == {"en", "zh"}
    assert all(any(t.expect != Expect() for t in c.turns) for c in CASES)  # every case checks something
    assert set(WITH_THE_MODEL) <= {c.id for c in CASES}


def test_a_misspelt_expectation_is_refused():
    with pytest.raises(ValueError, match="extra"):
        Case.model_validate({"id": "x", "domain": "films", "turns": [{"say": "hi", "expect": {"min_pick": 3}}]})


def _result(*items: Item, reply: str = "Here are picks.") -> TurnResult:
    return TurnResult(reply, [Explained(i, "", 1.0, False) for i in items], [], complete=True)


def test_check_turn_reports_each_broken_expectation():
    saw = Item(id="s", title="Saw", year=2004, categories=("horror",))
    expect = Expect(
        min_picks=2,
        categories_none=["horror"],
        year_max=1999,
        not_picked=["Saw"],
        reply_has=["kids"],
        reply_language="zh",
    )
    failures = check_turn(expect, _result(saw), ConversationState(), [], ())
    assert failures == [
        "1 picks, expected at least 2",
        "Saw (2004) is horror",
        "Saw (2004) is after 1999",
        "picked ['Saw']",
        "the reply lacks 'kids'",
        "the reply is not in Chinese",
    ]


def test_check_turn_passes_a_turn_that_meets_everything():
    up = Item(id="u", title="Up", year=2009, categories=("animation", "family"))
    expect = Expect(
        min_picks=1, categories_each_any=["family"], categories_none=["horror"], picked_any=["up"], reply_language="zh"
    )
    assert check_turn(expect, _result(up, reply="为你找到1部电影"), ConversationState(), [], ()) == []


def test_older_than_before_compares_with_the_last_list():
    old, new = Item(id="o", title="Old", year=1950), Item(id="n", title="New", year=1995)
    expect = Expect(older_than_before=True)
    assert check_turn(expect, _result(old), ConversationState(), [new], ()) == []
    assert check_turn(expect, _result(new), ConversationState(), [old], ())


def _runnable(pipeline, cases):
    """The cases this pipeline can play: one that needs the multilingual index needs it built."""
    return [c for c in cases if "multilingual" not in c.needs or pipeline.retriever.reads("zh")]


def test_every_conversation_holds_with_the_rules(redial_pipeline, shop_pipeline):
    cases = _runnable(redial_pipeline, CASES)
    report = run_suite({"films": redial_pipeline, "products": shop_pipeline}, cases)
    assert report["failed_turns"] == [], report["failed_turns"]
    assert report["cases"] >= 60


def test_a_chinese_request_is_read_by_its_meaning_with_the_multilingual_model(small_catalog):
    """The real multilingual-e5 over a small catalogue: a Chinese request with no category word finds the
    English item it describes."""
    from retrieval.embedder import E5Embedder
    from retrieval.hybrid import HybridRetriever
    from retrieval.lexical import LexicalIndex
    from retrieval.retriever import InMemoryRetriever
    from retrieval.embedder import HashingEmbedder
    from ui.pipeline import TurnPipeline

    english = InMemoryRetriever(small_catalog, HashingEmbedder())
    hybrid = HybridRetriever(
        english,
        LexicalIndex(small_catalog),
        None,
        pool=0,
        multilingual=InMemoryRetriever(small_catalog, E5Embedder("passage")),
    )
    pipeline = TurnPipeline.from_parts(small_catalog, hybrid, top_k=2)
    result = pipeline.handle(
        ConversationState(), "一部关于宇宙飞船在星际间战斗的电影"
    )  # ships fighting among the stars
    assert result.picks[0].item.id == "s1" and "为你找到" in result.reply


@pytest.mark.integration
def test_the_named_conversations_hold_with_the_embedded_model(redial_settings, shop_pipeline):
    from ui.assemble import build_pipeline
    from tailtalk.config import Settings

    films = build_pipeline(redial_settings.model_copy(update={"llm": "embedded"}))
    shop_settings = Settings(
        home=redial_settings.home,
        data_mirror=redial_settings.data_mirror,
        domain="products",
        scorer="baseline",
        llm="embedded",
    )
    shop = build_pipeline(shop_settings)
    cases = [c for c in CASES if c.id in WITH_THE_MODEL]
    report = run_suite({"films": films, "products": shop}, cases)
    assert report["failed_turns"] == [], report["failed_turns"]
