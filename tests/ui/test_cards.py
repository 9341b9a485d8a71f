"""The recommendation cards as HTML (fast: no server, no browser)."""

from __future__ import annotations

from tailtalk.catalog import Catalog, Item
from agent.state import ConversationState
from explain.templates import Explained
from ui.app import render_cards


def picks(catalog: Catalog, *ids: str) -> list[Explained]:
    return [Explained(catalog.get(i), f"Because of {i}.", 1.0, is_tail=i == "c2") for i in ids]


def test_each_card_has_its_facts_reason_badge_and_buttons(small_catalog):
    html = render_cards(picks(small_catalog, "c1", "c2", "b1"))
    assert html.count('class="tt-card"') == 3
    assert 'id="tt-card-c1"' in html and 'id="tt-like-c1"' in html and 'id="tt-dislike-c1"' in html
    assert "Sunny Days" in html and "1994" in html and "comedy" in html and "Because of c1." in html
    assert "$14.99" in html  # a shop item shows its price
    assert html.count("long-tail pick") == 1  # only c2 is a tail item here


def test_disliked_cards_go_and_liked_cards_are_marked(small_catalog):
    state = ConversationState()
    state.dislike("c1")
    state.like("c2")
    html = render_cards(picks(small_catalog, "c1", "c2", "c3"), state, "Noted.")
    assert "tt-card-c1" not in html
    assert '<div class="tt-card" id="tt-card-c2" data-item-id="c2" data-liked>' in html and "👍 Liked" in html
    assert html.startswith('<p class="tt-note">Noted.</p>')


def test_when_every_card_is_disliked_the_user_is_told_what_to_do(small_catalog):
    state = ConversationState()
    state.dislike("c1")
    html = render_cards(picks(small_catalog, "c1"), state)
    assert "tt-card-c1" not in html and "send another message" in html


def test_catalogue_text_is_escaped():
    item = Item(id='x"1', title="<script>alert(1)</script>", description="d")
    html = render_cards([Explained(item, "a <b>reason</b>", 0.5, False)])
    assert "<script>" not in html and "<b>" not in html and 'data-item-id="x&quot;1"' in html
