"""explain.templates: grounded one-line reasons and the reply text."""

from __future__ import annotations

import pytest

from explain.templates import Explained, TemplateExplainer
from tailtalk.catalog import Item

EX = TemplateExplainer()

ALIEN = Item(id="1", title="Alien", year=1979, categories=["horror", "sci-fi"],
             description="The crew of a ship meets a deadly creature. It hunts them one by one.",
             attributes={"director": ["Ridley Scott"], "stars": ["Sigourney Weaver", "Tom Skerritt", "John Hurt"]})
PLANNER = Item(id="p", title="Paper Planner", categories=["office", "stationery", "paper", "gifts"], price=1234.5,
               description="A weekly paper planner.")


def test_reason_for_a_film():
    assert EX.reason(ALIEN, wishes=["horror"], liked_titles=[]) == (
        "Horror, sci-fi (1979), directed by Ridley Scott, with Sigourney Weaver, Tom Skerritt. "
        "Matches your wish for horror. The crew of a ship meets a deadly creature."
    )


def test_reason_for_a_product_shows_price_and_three_categories():
    assert EX.reason(PLANNER, wishes=["PLANNER", "jazz", "office"], liked_titles=["X"]) == (
        "Office, stationery, paper ($1,234.50). Matches your wish for PLANNER, office. A weekly paper planner."
    )


def test_reason_only_claims_wishes_found_in_the_item():
    reason = EX.reason(ALIEN, wishes=["romance", "comedy"], liked_titles=[])
    assert "Matches" not in reason
    assert "romance" not in reason and "comedy" not in reason


def test_reason_falls_back_to_liked_titles():
    assert EX.reason(ALIEN, wishes=["romance"], liked_titles=["Aliens", "Predator", "Jaws"]) == (
        "Horror, sci-fi (1979), directed by Ridley Scott, with Sigourney Weaver, Tom Skerritt. "
        "For fans of Aliens, Predator. The crew of a ship meets a deadly creature."
    )


def test_reason_of_a_bare_item():
    assert EX.reason(Item(id="x", title="Bare"), wishes=[], liked_titles=[]) == "An item."
    assert EX.reason(Item(id="x", title="Bare", year=2001), wishes=[], liked_titles=[]) == "An item (2001)."


def test_reason_with_a_single_director_string():
    item = Item(id="x", title="Heat", year=1995, attributes={"director": "Michael Mann"})
    assert EX.reason(item, wishes=[], liked_titles=[]) == "An item (1995), directed by Michael Mann."


def test_reason_truncates_a_long_first_sentence():
    reason = EX.reason(Item(id="x", title="L", description="x" * 300), wishes=[], liked_titles=[])
    summary = reason.split(". ", 1)[1]
    assert summary.startswith("x" * 159 + "…")
    assert len(summary.rstrip(".")) == 160


def test_reason_uses_only_catalogue_facts():
    reason = EX.reason(ALIEN, wishes=["horror"], liked_titles=[])
    facts = " ".join([*ALIEN.categories, ALIEN.description, str(ALIEN.year), *ALIEN.attributes["director"],
                      *ALIEN.attributes["stars"], "directed by with matches your wish for"]).lower()
    words = {w.strip(".,()").lower() for w in reason.split()}
    assert words <= set(facts.replace(",", " ").replace(".", " ").split())


def picks() -> list[Explained]:
    return [Explained(ALIEN, "Scary.", 0.9, True), Explained(Item(id="2", title="Heat"), "Tense.", 0.5, False)]


def test_reply_lists_picks_with_badges_and_notices():
    assert EX.reply(picks(), wishes=["horror", "tense", "space", "extra"], notices=["n1", "n2"]) == (
        "Note: n1\n"
        "Note: n2\n"
        "Here are 2 picks for horror, tense, space:\n"
        "1. Alien (1979) [long-tail pick]: Scary.\n"
        "2. Heat: Tense."
    )


def test_reply_without_wishes_or_notices():
    assert EX.reply(picks(), wishes=[], notices=[]).splitlines()[0] == "Here are 2 picks:"


@pytest.mark.parametrize("notices", [[], ["I relaxed the category."]])
def test_reply_with_no_picks_asks_to_loosen_constraints(notices):
    reply = EX.reply([], wishes=["horror"], notices=notices)
    assert reply.splitlines() == [f"Note: {n}" for n in notices] + [
        "I found nothing in the catalogue that satisfies all of that. "
        "Could you loosen a constraint (a year range, a price limit or a category)?"
    ]


def test_reply_with_one_pick_is_grammatical():
    reply = EX.reply(picks()[1:], wishes=[], notices=[])
    assert reply.splitlines()[0] == "Here is 1 pick:"


def test_collaborative_evidence_is_the_reason():
    reason = EX.reason(ALIEN, wishes=[], liked_titles=["Aliens", "Jaws"], recommended_with="Aliens")
    assert "Often recommended to people who loved Aliens" in reason and "For fans of" not in reason
