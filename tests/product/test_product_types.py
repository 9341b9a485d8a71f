"""Product types matched in the names of titles, and the hard filter they become in a shop's turn."""

from __future__ import annotations

from agent.product_types import ProductTypes, name_parts
from agent.state import ConversationState


def test_descriptive_words_are_dropped_and_plurals_match(shop_catalog):
    match = ProductTypes(shop_catalog).match("comfortable running shoes")
    assert match is not None and match.phrase == "running shoe"
    assert match.ids == {"r1", "r2", "r3"}


def test_a_type_the_shop_lacks_filters_nothing_but_is_noticed(shop_catalog):
    types = ProductTypes(shop_catalog)
    assert types.match("laptop stand") is None
    assert types.names_a_missing_type("charger case") == "charger case"  # "case" names products, not this
    assert types.names_a_missing_type("for my dad") is None


def test_only_the_name_parts_of_a_title_count():
    assert name_parts("Google Pixel 6a - 5G Android Phone") == ["Google Pixel 6a", "5G Android Phone"]
    assert name_parts("Tripod Stand with Phone Holder for iPhone") == ["Tripod Stand"]
    assert name_parts("1984 by George Orwell") == ["1984 by George Orwell"]  # the author is part of a book's name


def test_a_type_in_any_piece_of_the_name_and_in_either_spelling_matches():
    from tailtalk.catalog import Catalog, Item

    types = ProductTypes(
        Catalog(
            (
                Item(id="b", title="Botas - Attack - Men's Ice Hockey Skates | Made in Europe"),
                Item(id="y", title="YONEX GR 303 Badminton Racket 2018"),
                Item(id="t", title="Tripod Stand with Phone Holder"),
            )
        )
    )
    assert types.match("ice hockey skates").ids == {"b"}
    assert types.match("badminton racquet").ids == {"y"}
    assert types.match("phone") is None  # named only in the tail, after "with"


def test_running_shoes_under_a_budget_are_only_running_shoes_within_it(shop):
    result = shop.handle(ConversationState(), "running shoes under $70")
    assert {p.item.id for p in result.picks} == {"r1", "r2"}
    assert sorted(p.item.price for p in result.picks) == [59.99, 65.0]
    # The prices are on the cards.
    assert result.reply.startswith("Here are 2 products for your wish: running shoe, under $70.00.")


def test_over_budget_says_so_and_offers_the_cheapest_matches(shop):
    result = shop.handle(ConversationState(), "a running shoe under $40")
    assert [p.item.id for p in result.picks] == ["r1", "r2", "r3"]  # cheapest first; the $35 boot is no shoe
    assert "No running shoe is priced under $40.00" in result.reply
    assert "over your budget" in result.reply and "Here are" not in result.reply
    assert any("outside your budget" in n and "($59.99)" in n for n in result.notices)


def test_a_rejected_type_is_excluded(shop):
    result = shop.handle(ConversationState(), "something for my phone, not a charger")
    ids = {p.item.id for p in result.picks}
    assert ids and "p2" not in ids and ids <= {"p1", "p3"}


def test_a_phone_case_not_a_charger_gets_the_case(shop):
    result = shop.handle(ConversationState(), "a phone case, not a charger")
    assert [p.item.id for p in result.picks] == ["p1"]


def test_a_new_category_clears_an_old_type(shop):
    state = ConversationState()
    shop.handle(state, "running shoes")
    result = shop.handle(state, "any books?")
    assert {p.item.id for p in result.picks[:2]} == {"b1", "b2"}  # the two books, then close matches


def test_films_have_no_product_types_but_questions_about_shown_films_are_answered(small_catalog):
    from retrieval.embedder import HashingEmbedder
    from retrieval.retriever import InMemoryRetriever
    from ui.pipeline import TurnPipeline

    films = TurnPipeline.from_parts(small_catalog, InMemoryRetriever(small_catalog, HashingEmbedder()), top_k=2)
    assert films.shop is None
    state = ConversationState()
    shown = [p.item.id for p in films.handle(state, "a funny comedy").picks]
    both = films.handle(state, "is it funny?")  # two shown: answered for each, not asked back
    assert not both.clarifying and both.picks == []
    assert all(small_catalog.get(i).title in both.reply for i in shown) and state.last_picks == tuple(shown)
    first = small_catalog.get(shown[0])
    answer = films.handle(state, "what is the first one about?")
    assert answer.picks == [] and first.description in answer.reply and state.last_picks == tuple(shown)
    # A question naming no shown film and saying no "it" is a new wish, not a question about the list.
    assert films.handle(state, "have you seen Star Voyage?").picks
