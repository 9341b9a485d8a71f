"""The grounding check on crafted hallucinating sentences (hand-written, one failure mode each)."""

from __future__ import annotations

import pytest

from tailtalk.catalog import Item
from tailtalk.titles import TitleMatcher
from explain.grounding import GroundingChecker, catalogue_people

ITEMS = [
    Item(id="1", title="Alien", year=1979, categories=("horror", "sci-fi"), attributes={"director": ["Ridley Scott"]}),
    Item(id="2", title="The Thing", year=1982, categories=("horror",), attributes={"director": ["John Carpenter"]}),
    Item(id="3", title="Heat", year=1995, categories=("crime",)),
    Item(id="4", title="Jaws", year=1975, categories=("thriller",)),
    Item(id="5", title="Paper Planner", price=14.99, categories=("office",)),
]


@pytest.fixture
def checker() -> GroundingChecker:
    titles = TitleMatcher([(i.id, i.title, i.year) for i in ITEMS])
    return GroundingChecker(
        titles,
        [ITEMS[0], ITEMS[1], ITEMS[4]],
        user_named=[ITEMS[3]],
        instructions="You recommend only the items listed below, and you use only the facts "
        "listed for them. Never mention any other title.",
        example_titles=["Moon Harbor"],
        categories=["crime", "horror", "comedy", "film-noir", "game-show"],
        people=catalogue_people(
            [*ITEMS, Item(id="9", title="Arrested Development", attributes={"stars": ["Jason Bateman"]})]
        ),
    )


@pytest.mark.parametrize(
    "sentence",
    [
        "Alien (1979) is a tense sci-fi horror set on a ship.",
        "The Thing is a paranoid horror classic from 1982.",
        "If you liked Jaws, both will keep you on edge.",  # the user named Jaws: referring to it is fine
        "The Paper Planner costs $14.99 and fits a weekly routine.",
        "Both are great picks for a scary night in.",
        "Alien, directed by Ridley Scott, is a slow-burn classic.",
        "Alien is the horror film to show a friend.",  # "film" and "show" alone claim no "film-noir" or "game-show"
    ],
)
def test_grounded_sentences_pass(checker, sentence):
    assert checker.violations(sentence) == []


@pytest.mark.parametrize(
    "sentence, problem",
    [
        ("You could also try Heat, a crime epic.", "Heat (not in the list)"),
        ('Another favourite is "The Midnight Harbour", a cult gem.', "The Midnight Harbour (not in the catalogue)"),
        ("Or watch Shadow Lake Murders (1988) for more chills.", "Shadow Lake Murders (not in the catalogue)"),
        ("Alien came out in 1986 and changed the genre.", "year 1986 (no listed item has it)"),
        ("The Paper Planner is only $9.99 today.", "price $9.99 (no listed item has it)"),
        ("Moon Harbor is a funny road trip.", "moon harbor (an example title from the instructions)"),
        (
            "Alien is a comedy about a girl haunted by her mother's ghost.",
            "unsupported by the facts: comedy, girl, haunted, mother's, ghost",
        ),
        ("The Thing is a crime story set in the snow.", "crime (not a category of the item it describes)"),
        ("Alien (1982) is a must.", "year 1982 (belongs to another listed item)"),
        ("Alien, by John Carpenter, is a classic.", "john carpenter (credited to the wrong item)"),
        ("Alien stars Jason Bateman as a space trucker.", "jason bateman (not credited to the item it describes)"),
        (
            "My rules: you recommend only the items listed below, and you use only the facts.",
            "recites the instructions",
        ),
    ],
)
def test_hallucinations_are_caught(checker, sentence, problem):
    assert problem in checker.violations(sentence)


def test_a_sentence_parroting_the_request_is_caught():
    titles = TitleMatcher([(i.id, i.title, i.year) for i in ITEMS])
    checker = GroundingChecker(titles, ITEMS[:2], request="no but i have heard it is interesting is it a funny movie")
    assert "echoes the request" in checker.violations("No! but I have heard it is interesting Is it a funny movie?")
    assert checker.violations("Alien is a funny pick if you like it dark.") == []


def test_mentioned_ids_finds_the_listed_items_a_sentence_names(checker):
    assert checker.mentioned_ids("Alien and The Thing are both cold, dark horror.") == ["1", "2"]
    assert checker.mentioned_ids("Both are great.") == []


def test_a_listed_title_with_small_words_is_not_taken_for_an_unknown_one():
    """Before "(2003)" the capitalised run is "10 Days", the tail of the listed title, not a title of its own."""
    listed = Item(id="7", title="How to Lose a Guy in 10 Days", year=2003, categories=("comedy", "romance"))
    checker = GroundingChecker(TitleMatcher([(i.id, i.title, i.year) for i in [*ITEMS, listed]]), [listed])
    assert checker.violations("How to Lose a Guy in 10 Days (2003) is a comedy and a romance.") == []
    assert "10 Days (not in the catalogue)" in checker.violations("Try Guy in 10 Days (2003) tonight.")


def test_a_name_the_user_brought_up_that_the_catalogue_lacks_is_not_repeated():
    titles = TitleMatcher([(i.id, i.title, i.year) for i in ITEMS])
    checker = GroundingChecker(titles, [ITEMS[0]], request="something like The Zorblax Chronicles, or Ridley Scott")
    assert "the zorblax chronicles (not in the catalogue)" in checker.violations(
        "If you liked The Zorblax Chronicles, Alien is a tense ride."
    )
    assert "zorblax chronicles (not in the catalogue)" in checker.violations("Alien beats Zorblax Chronicles.")
    assert checker.violations("Alien, directed by Ridley Scott, is a tense ride.") == []  # a fact of the item


@pytest.mark.parametrize(
    "sentence",
    [
        "Alien is a classic; call +1-555-0100 for free films.",
        "Alien is a classic, see http://192.0.2.1/free for more.",
        "Alien is a classic, write to films@example.com for a copy.",
    ],
)
def test_contact_details_outside_the_facts_are_dropped(checker, sentence):
    assert any("contact details not in the facts" in p for p in checker.violations(sentence))


def test_a_title_inside_a_longer_listed_title_is_not_named():
    items = [Item(id="it", title="It", year=2017), Item(id="f", title="It Follows", year=2014)]
    checker = GroundingChecker(TitleMatcher([(i.id, i.title, i.year) for i in items]), items)
    assert checker.mentioned_ids("It Follows is a slow, creeping horror.") == ["f"]
    assert checker.mentioned_ids("it is a classic") == []  # the pronoun names no film
    assert checker.mentioned_ids("Pennywise haunts a town in It, and It Follows has a curse.") == ["it", "f"]


def test_a_wished_category_is_no_licence_to_claim_it():
    up = Item(id="u", title="Up", year=2009, categories=("animation", "comedy"))
    checker = GroundingChecker(
        TitleMatcher([(up.id, up.title, up.year)]),
        [up],
        request="a family film",
        categories=["family", "animation", "comedy"],
    )
    assert "family (not a category of the item it describes)" in checker.violations(
        "1. Up (2009): a comedy about a family's holiday."
    )
    assert checker.violations("1. Up (2009): an animated comedy.") == []


def test_a_claim_that_the_person_named_a_pick_is_caught():
    """The pick was never named by the person: "you enjoyed Jumanji" is false (the case eval-replies shipped)."""
    items = [Item(id="1", title="Jumanji", year=2017), Item(id="2", title="Superbad", year=2007)]
    liked = [Item(id="3", title="Super Troopers", year=2001)]
    titles = TitleMatcher([(i.id, i.title, i.year) for i in [*items, *liked]])
    checker = GroundingChecker(titles, items, liked)
    checker = GroundingChecker(titles, items, liked, request="glad to hear")  # words the facts back, as live
    assert checker.violations("I'm glad to hear that you enjoyed the movie Jumanji.") == [
        "Jumanji (claims the person named it; they did not)"
    ]
    assert "claims the person named it" in " ".join(checker.violations("You've seen Superbad, right?"))
    assert checker.violations("If you loved Super Troopers, Superbad is a good pick.") == []
