"""Questions about shown items: which item is meant, and the answer from its own facts."""

from __future__ import annotations

import pytest

from agent.questions import QuestionReader
from agent.state import ConversationState
from retrieval.embedder import HashingEmbedder
from retrieval.retriever import InMemoryRetriever
from ui.pipeline import TurnPipeline
from explain.answer import Answerer, rule_answer, states_the_gist
from explain.respond import final_reply
from tailtalk.titles import TitleMatcher
from tests.llm.fakes import failing, scripted


def shown(*ids: str) -> ConversationState:
    return ConversationState(last_picks=ids, shown=list(ids))


@pytest.mark.parametrize(
    "message, expected",
    [
        ("how much is the Nike one?", "r1"),
        ("and the adidas?", "r2"),
        ("is the addidas one black?", "r2"),  # a typo still names it
        ("the second one, is it cushioned?", "r2"),
        ("what about number 3?", "r3"),
        ("is the last one stable?", "r3"),
    ],
)
def test_the_item_meant_is_found(shop_catalog, message, expected):
    question = QuestionReader(shop_catalog).read(message, shown("r1", "r2", "r3"))
    assert question is not None and question.item_id == expected


@pytest.mark.parametrize(
    "message, item_id, topic",
    [
        ("are they black?", "r2", ["black"]),  # the word that picks the item out is what is asked
        ("is the addidas one black?", "r2", ["black"]),  # a yes-or-no question says it last
        ("is the Nike one light?", "r1", ["light"]),  # a word of its own: as before
        ("how much is the Nike one?", "r1", []),  # no yes-or-no: the name is no topic
    ],
)
def test_a_yes_or_no_question_asks_about_the_word_that_named_the_item(shop_catalog, message, item_id, topic):
    question = QuestionReader(shop_catalog).read(message, shown("r1", "r2", "r3"))
    assert question is not None and (question.item_id, question.topic) == (item_id, topic)
    if topic:
        answer = rule_answer(shop_catalog.get(item_id), message, question.topic)
        assert answer.covered and topic[0] in answer.text.lower()


@pytest.mark.parametrize(
    "message", ["show me other running shoes", "anything cheaper?", "a phone under $50", "running shoes please"]
)
def test_new_wishes_are_not_questions(shop_catalog, message):
    assert QuestionReader(shop_catalog).read(message, shown("r1", "r2")) is None


def test_no_question_before_anything_is_shown(shop_catalog):
    assert QuestionReader(shop_catalog).read("is it hardcover?", ConversationState()) is None


def test_it_is_the_one_item_discussed_else_unclear(shop_catalog):
    reader = QuestionReader(shop_catalog)
    unclear = reader.read("is it hardcover?", shown("b1", "b2"))
    assert unclear.item_id is None and unclear.candidates == ("b1", "b2")
    state = shown("b1", "b2")
    state.focus = "b2"
    assert reader.read("is it hardcover?", state).item_id == "b2"
    assert reader.read("is it hardcover?", shown("b1")).item_id == "b1"


def test_answers_come_from_attributes_price_title_and_description(shop_catalog):
    book, phone = shop_catalog.get("b1"), shop_catalog.get("p3")
    assert rule_answer(book, "is it hardcover?", ["hardcover"]).text.startswith("Yes: 1984 by George Orwell")
    assert "384 pages" in rule_answer(book, "how many pages?", ["pages"]).text
    assert rule_answer(phone, "how much is it?", []).text == "Pixel 6a Phone - 24-Hour Battery costs $449.00."
    battery = rule_answer(phone, "how long is the battery life?", ["battery", "life"])
    assert battery.covered and "24-Hour Battery" in battery.text and "all-day battery" in battery.text
    assert "water and dust" in rule_answer(phone, "is it waterproof?", ["waterproof"]).text


def test_the_catalogue_not_saying_is_said_plainly(shop_catalog):
    answer = rule_answer(shop_catalog.get("b2"), "is it hardcover?", ["hardcover"])
    assert not answer.covered
    assert answer.text.startswith("The catalogue does not say anything about hardcover for Dune")
    assert "paperback: 896 pages" in answer.text  # what it does say


def test_a_question_turn_keeps_the_constraints_and_picks_nothing(shop):
    state = ConversationState()
    first = shop.handle(state, "running shoes under $70")
    result = shop.handle(state, "how much is the Nike one?")
    assert result.picks == [] and result.reply == "Nike Revolution 5 Running Shoe costs $59.99."
    assert state.constraints.price_max == 70 and state.type_phrases == ["running shoe"] and state.focus == "r1"
    assert state.last_picks == tuple(p.item.id for p in first.picks)
    assert "rating: 4.6/5" in shop.handle(state, "does it have a rating?").reply  # "it" is the Nike now


def test_which_one_is_asked_back_and_the_answer_completes_the_question(shop):
    state = ConversationState()
    shop.handle(state, "books")
    unclear = shop.handle(state, "is it hardcover?")
    assert unclear.clarifying and unclear.reply.startswith("Which one do you mean?")
    answer = shop.handle(state, "the Orwell one")
    assert answer.reply.startswith("Yes: 1984 by George Orwell") and not answer.clarifying


def test_a_question_about_two_shown_is_answered_for_each(shop_catalog, shop):
    state = ConversationState(last_picks=("b1", "b2"), shown=["b1", "b2"])
    both = shop.handle(state, "is it hardcover?")
    assert not both.clarifying and both.picks == [] and state.last_picks == ("b1", "b2")
    assert both.reply.splitlines() == [
        "Yes: 1984 by George Orwell is listed with hardcover: 384 pages.",
        "The catalogue does not say anything about hardcover for Dune by Frank Herbert. "
        "What it lists: price: $20.99; categories: books; paperback: 896 pages.",
    ]
    assert state.focus is None and state.open_question is None  # "it" still means neither of them


def test_answering_each_can_be_turned_off(shop_catalog):
    asks = TurnPipeline.from_parts(
        shop_catalog, InMemoryRetriever(shop_catalog, HashingEmbedder()), domain="products", answer_each_up_to=0
    )
    state = ConversationState(last_picks=("b1", "b2"), shown=["b1", "b2"])
    assert asks.handle(state, "is it hardcover?").clarifying


def _answerer(catalog, backend):
    return Answerer(TitleMatcher((i.id, i.title, i.year) for i in catalog), backend)


def test_a_grounded_phrasing_is_shown(shop_catalog):
    backend = scripted("Yes, 1984 by George Orwell is a hardcover edition of 384 pages.")
    reply = final_reply(
        _answerer(shop_catalog, backend).stream(shop_catalog.get("b1"), "is it hardcover?", ["hardcover"])
    )
    assert reply.generated and reply.text == "Yes, 1984 by George Orwell is a hardcover edition of 384 pages."


@pytest.mark.parametrize(
    "generated",
    [
        "Yes, it is a hardcover of 400 pages.",  # a number the facts lack
        "Yes, and Dune by Frank Herbert is hardcover too.",  # another item
        "Yes, it is hardcover and",  # cut off
        "It is a book by George Orwell.",  # grounded, but the question is left unanswered
    ],
)
def test_an_ungrounded_phrasing_falls_back_to_the_rule_answer(shop_catalog, generated):
    reply = final_reply(
        _answerer(shop_catalog, scripted(generated)).stream(shop_catalog.get("b1"), "is it hardcover?", ["hardcover"])
    )
    assert not reply.generated and reply.text.startswith("Yes: 1984 by George Orwell is listed with hardcover")
    assert reply.grounding.fell_back and reply.grounding.dropped


def test_a_failing_model_falls_back_with_a_notice(shop_catalog):
    reply = final_reply(
        _answerer(shop_catalog, failing(TimeoutError("slow"))).stream(
            shop_catalog.get("b1"), "is it hardcover?", ["hardcover"]
        )
    )
    assert reply.text.startswith("Yes: 1984") and any("did not answer in time" in n for n in reply.notices)


def test_the_model_is_not_asked_to_phrase_an_unknown(shop_catalog):
    backend = scripted("Yes, it is hardcover.")
    reply = final_reply(
        _answerer(shop_catalog, backend).stream(shop_catalog.get("b2"), "is it hardcover?", ["hardcover"])
    )
    assert reply.text.startswith("The catalogue does not say") and backend.chat_model.calls == []


@pytest.mark.parametrize(
    ("text", "gist", "stated"),
    [
        ("It is rated 4.6 out of 5.", "4.6/5", True),
        ("The product is a shoe designed by Nike.", "4.6/5", False),  # the embedded model, on CI
        ("It is rated 4.6.", "4.6/5", False),  # half the number
        ("It costs $59.99.", "$59.99", True),
        ("The answer to this question is: 59.99.", "$59.99", False),  # the embedded model, on CI: in what?
        ("It is made by Nike.", "Nike", True),
        ("It is a running shoe.", "Nike", False),
        ("Anything grounded.", "", True),  # quotes and plots may be shortened
    ],
)
def test_a_phrasing_must_state_the_answer(text, gist, stated):
    assert states_the_gist(text, gist) is stated


def test_the_rule_answer_names_its_gist(shop_catalog):
    assert rule_answer(shop_catalog.get("r1"), "does it have a rating?", ["rating"]).gist == "4.6/5"
    assert rule_answer(shop_catalog.get("r1"), "how much is it?", []).gist == "$59.99"
