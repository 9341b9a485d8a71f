"""Customer-service mode on the real MG-ShopDial catalogue, with the real Chroma index (rules and templates)."""

from __future__ import annotations

import pytest

from agent.state import ConversationState

pytestmark = pytest.mark.integration

SHOES = {
    "Nike Men's Revolution 5 Wide Running Shoe": 59.99,
    "adidas Men's Kaptir 2.0 Running Shoe": 65.0,
    "PUMA Women's Better Foam Adore Running Shoe, Intense Red Team Gold, 10": 69.99,
}


@pytest.fixture(scope="module")
def shop(shop_pipeline):
    return shop_pipeline


def test_running_shoes_under_70_are_the_three_running_shoes_under_70(shop):
    result = shop.handle(ConversationState(), "running shoes under $70")
    assert {p.item.title: p.item.price for p in result.picks} == SHOES
    assert "under $70.00" in result.reply and not any(f"${price:.2f}" in result.reply for price in SHOES.values())
    # The product type is one wish in the cards' reasons, as in the reply, not its two words.
    assert all(p.reason.startswith("Matches your wish for running shoe") for p in result.picks), result.picks
    assert not any("running, shoe" in p.reason for p in result.picks)


def test_a_running_shoe_under_40_says_none_fits_and_offers_the_cheapest(shop):
    result = shop.handle(ConversationState(), "a running shoe under $40")
    assert [p.item.price for p in result.picks] == [59.99, 65.0, 69.99, 95.24]
    assert "No running shoe is priced under $40.00" in result.reply and "over your budget" in result.reply
    assert any("outside your budget" in n and "$59.99" in n for n in result.notices)


def test_a_phone_case_not_a_charger(shop):
    result = shop.handle(ConversationState(), "a phone case, not a charger")
    assert result.picks and not any("charger" in p.item.title.lower() for p in result.picks)
    assert any("no phone case" in n for n in result.notices)  # the shop has none: said, not pretended


def test_a_question_about_a_shoe_is_answered_from_its_facts(shop):
    state = ConversationState()
    shop.handle(state, "running shoes under $70")
    price = shop.handle(state, "how much is the Nike one?")
    assert price.picks == [] and price.reply == "Nike Men's Revolution 5 Wide Running Shoe costs $59.99."
    rating = shop.handle(state, "what is its rating?")
    assert "4.6/5" in rating.reply and "Nike" in rating.reply
    unknown = shop.handle(state, "how long is the battery life?")
    assert unknown.reply.startswith("The catalogue does not say anything about battery life")
    assert state.constraints.price_max == 70 and state.type_phrases == ["running shoe"]
