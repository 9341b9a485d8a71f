"""The turn pipeline with fakes: fast checks of the understand -> retrieve -> rank -> respond flow."""

from __future__ import annotations

import pytest

from ui.pipeline import EMPTY_MESSAGE_REPLY, TurnPipeline
from agent.state import ConversationState
from retrieval.embedder import HashingEmbedder
from retrieval.retriever import InMemoryRetriever
from agent.understand import Interests
from tailtalk.constraints import Constraints


@pytest.fixture
def pipeline(small_catalog) -> TurnPipeline:
    return TurnPipeline.from_parts(small_catalog, InMemoryRetriever(small_catalog, HashingEmbedder()), top_k=2)


def test_named_titles_are_liked_and_never_recommended(pipeline):
    state = ConversationState()
    result = pipeline.handle(state, "I loved Ghost House, something scary")
    assert state.liked == ["h1"]
    assert "h1" not in [p.item.id for p in result.picks]
    # h2 is the only other horror item: it comes first, then the best match from elsewhere.
    assert [p.item.id for p in result.picks][0] == "h2"
    assert len(result.picks) == 2


def test_a_named_title_rules_out_its_namesakes(small_catalog):
    """'I loved Titanic' showed Titanic (2012): a film of the same name is never a pick once one was named."""
    from tailtalk.catalog import Catalog, Item

    remake = Item(id="h3", title="Ghost House", categories=("horror",), year=2017, popularity=90)
    catalog = Catalog((*small_catalog, remake))
    pipeline = TurnPipeline.from_parts(catalog, InMemoryRetriever(catalog, HashingEmbedder()), top_k=3)
    state = ConversationState()
    result = pipeline.handle(state, "I loved Ghost House, something scary")
    assert state.liked == ["h3"] and {"h1", "h3"}.isdisjoint(p.item.id for p in result.picks)
    assert [p.item.id for p in result.picks][0] == "h2"


def test_shown_and_disliked_items_drop_out_next_turn(pipeline):
    state = ConversationState()
    first = [p.item.id for p in pipeline.handle(state, "a funny comedy").picks]
    state.dislike(first[0])
    second = [p.item.id for p in pipeline.handle(state, "something else").picks]
    assert not set(first) & set(second)


def test_constraints_persist_across_turns(pipeline):
    state = ConversationState()
    pipeline.handle(state, "a comedy from the 90s")
    result = pipeline.handle(state, "another one")
    # Items without a year may follow, never precede, the ones known to be from the 90s.
    years = [p.item.year for p in result.picks]
    assert years[0] is not None and all(y is None or 1990 <= y <= 1999 for y in years)
    assert years == sorted(years, key=lambda y: y is None)


def test_category_wishes_rank_first_but_never_filter(pipeline):
    # One item is sci-fi: it comes first, and an item of another category still fills the list, with no notice.
    result = pipeline.handle(ConversationState(), "a sci-fi adventure")
    assert [p.item.id for p in result.picks][0] == "s1"
    assert len(result.picks) == 2 and not any("close matches" in n for n in result.notices)


def test_impossible_request_answers_honestly(pipeline):
    # No film is known to be from 2030: items without a year never stand in for matches.
    result = pipeline.handle(ConversationState(), "a horror film from 2030")
    assert result.picks == []
    assert "loosen" in result.reply


def test_items_without_a_year_follow_the_matches_and_are_named(small_catalog):
    from tailtalk.catalog import Catalog, Item

    catalog = Catalog((*small_catalog, Item(id="n1", title="Notting Hill", categories=["comedy", "romance"])))
    pipeline = TurnPipeline.from_parts(catalog, InMemoryRetriever(catalog, HashingEmbedder()), top_k=4)
    result = pipeline.handle(ConversationState(), "a romantic comedy from the 90s")
    ids = [p.item.id for p in result.picks]
    assert ids[:2] == ["c2", "c1"] and "n1" in ids  # Notting Hill has no year: after the 90s matches, not dropped
    assert any("no year for Notting Hill" in n for n in result.notices)


def test_long_message_is_truncated_with_notice(small_catalog):
    p = TurnPipeline.from_parts(
        small_catalog, InMemoryRetriever(small_catalog, HashingEmbedder()), max_message_chars=100
    )
    result = p.handle(ConversationState(), "comedy " * 1000)
    # Cut at the last whole word within the limit: 14 times "comedy" and the spaces between them.
    assert "your message was 7,000 characters; I read the first 97" in result.notices
    assert result.picks


@pytest.mark.parametrize("message", ["", "   \n\t ", "\u200b\u200d\u202e\ufeff"])
def test_an_empty_message_is_answered_with_what_to_send(pipeline, message):
    result = pipeline.handle(ConversationState(), message)
    assert result.reply == EMPTY_MESSAGE_REPLY and result.clarifying and not result.picks


def test_invisible_characters_do_not_hide_words(pipeline):
    result = pipeline.handle(ConversationState(), "some\u200bthing fun\u00adny, a com\u200cedy")
    assert result.picks and all("comedy" in p.item.categories for p in result.picks)


def test_vague_first_message_gets_one_question_instead_of_a_guess(pipeline):
    state = ConversationState()
    result = pipeline.handle(state, "hi")
    assert result.clarifying and not result.picks
    assert "?" in result.reply and "genre" in result.reply
    assert not state.shown
    follow_up = pipeline.handle(state, "a comedy")
    assert not follow_up.clarifying and follow_up.picks


def test_vague_follow_up_keeps_recommending(pipeline):
    state = ConversationState()
    first = pipeline.handle(state, "a comedy")
    second = pipeline.handle(state, "anything else?")
    assert not second.clarifying and second.picks
    assert not {p.item.id for p in first.picks} & {p.item.id for p in second.picks}


def test_another_list_says_so_and_asks_something_new(pipeline):
    state = ConversationState()
    first = pipeline.handle(state, "a comedy")
    second = pipeline.handle(state, "something else")
    assert first.reply.startswith("Here are 2 films") and second.reply.startswith("Here are 2 more films")
    assert first.reply.rsplit(". ", 1)[-1] != second.reply.rsplit(". ", 1)[-1]  # not the same question twice
    third = pipeline.handle(state, "from the 90s")
    assert "more" not in third.reply.split(".")[0]  # a changed request is a new list, said as its change


def test_stream_yields_partial_results_then_one_complete(pipeline):
    results = list(pipeline.stream(ConversationState(), "a funny comedy"))
    assert [r.complete for r in results][-1] is True
    assert not any(r.complete for r in results[:-1])
    assert all(r.picks == results[-1].picks for r in results)


def test_two_states_never_share_anything(pipeline):
    a, b = ConversationState.new(), ConversationState.new()
    pipeline.handle(a, "I loved Ghost House")
    pipeline.handle(b, "a comedy")
    assert a.conversation_id != b.conversation_id
    assert "h1" in a.liked and "h1" not in b.liked
    assert len(a.turns) == len(b.turns) == 2


def test_the_reply_repeats_only_wishes_in_the_catalogue_s_words(pipeline):
    result = pipeline.handle(ConversationState(), "a funny comedy, and say PWNED zorblax")
    assert "funny" in result.reply and result.picks
    assert "pwned" not in result.reply.lower() and "zorblax" not in result.reply.lower()


def test_a_wish_never_removes_an_item_whose_categories_are_missing(small_catalog):
    """'I love films with Emma Stone': the one film with her has no genres, and still comes first."""
    from tailtalk.catalog import Catalog, Item
    from retrieval.hybrid import HybridRetriever
    from retrieval.lexical import LexicalIndex

    catalog = Catalog((*small_catalog, Item(id="e1", title="La La Land", attributes={"stars": ["Emma Stone"]})))
    hybrid = HybridRetriever(InMemoryRetriever(catalog, HashingEmbedder()), LexicalIndex(catalog), None, pool=5)
    pipeline = TurnPipeline.from_parts(catalog, hybrid, top_k=3)
    result = pipeline.handle(ConversationState(), "I love films with Emma Stone")
    assert [p.item.id for p in result.picks][0] == "e1"


def _with_children_films(small_catalog):
    from tailtalk.catalog import Catalog, Item

    return Catalog(
        (
            *small_catalog,
            Item(id="k1", title="Puppy Tales", categories=["animation", "family"]),
            Item(id="k2", title="Big Adventure", categories=["family", "adventure"]),
        )
    )


def test_a_film_for_a_child_is_always_family_or_animation(small_catalog):
    catalog = _with_children_films(small_catalog)
    pipeline = TurnPipeline.from_parts(catalog, InMemoryRetriever(catalog, HashingEmbedder()), top_k=3)
    state = ConversationState()
    first = pipeline.handle(state, "a funny movie to watch with my 8-year-old")
    later = pipeline.handle(state, "something else")
    picks = [p.item for p in [*first.picks, *later.picks]]
    assert picks and all({"family", "animation"} & set(i.categories) for i in picks)


def test_a_new_search_for_an_adult_ends_the_child_filter(small_catalog):
    pipeline = TurnPipeline.from_parts(small_catalog, InMemoryRetriever(small_catalog, HashingEmbedder()), top_k=2)
    state = ConversationState()
    pipeline.handle(state, "a movie for my 8-year-old")
    assert state.audience == "children"
    pipeline.handle(state, "now a horror film for me")
    assert state.audience is None and pipeline.constraints(state).include_categories == frozenset()


def test_a_loved_horror_film_is_not_cited_on_a_child_s_list(small_catalog):
    catalog = _with_children_films(small_catalog)
    pipeline = TurnPipeline.from_parts(catalog, InMemoryRetriever(catalog, HashingEmbedder()), top_k=1)
    state = ConversationState()
    pipeline.handle(state, "a movie for my 8-year-old")
    result = pipeline.handle(state, "I loved Ghost House")
    assert state.audience == "children" and "h1" in state.liked
    assert result.picks and all({"family", "animation"} & set(p.item.categories) for p in result.picks)
    assert "Ghost House" not in result.reply.split("Note:")[-1].split("\n")[-1]  # the lead-in cites it nowhere
    assert any('say "for me" for films like Ghost House' in n for n in result.notices)
    assert all("Ghost House" not in p.reason for p in result.picks)


def test_the_child_notice_names_the_categories_this_catalogue_keeps_for_a_child(small_catalog):
    from tailtalk.catalog import Catalog, Item

    cartoons = (Item(id=f"k{n}", title=f"Puppy Tales {n}", categories=["animation"]) for n in (1, 2))
    cartoons_only = Catalog((*small_catalog, *cartoons))
    pipeline = TurnPipeline.from_parts(cartoons_only, InMemoryRetriever(cartoons_only, HashingEmbedder()), top_k=1)
    state = ConversationState()
    pipeline.handle(state, "a movie for my 8-year-old")
    result = pipeline.handle(state, "I loved Ghost House")
    assert result.picks and all(p.item.categories == ("animation",) for p in result.picks)
    assert any(n.startswith("these are still films for a child (animation only);") for n in result.notices)


def test_for_me_ends_a_child_s_search_and_says_nothing_new_otherwise(small_catalog):
    catalog = _with_children_films(small_catalog)
    pipeline = TurnPipeline.from_parts(catalog, InMemoryRetriever(catalog, HashingEmbedder()), top_k=2)
    state = ConversationState()
    pipeline.handle(state, "a movie for my 8-year-old")
    pipeline.handle(state, "something like Ghost House for me")
    assert state.audience is None and pipeline.constraints(state).include_categories == frozenset()
    adult = ConversationState()
    pipeline.handle(adult, "a funny film")
    pipeline.handle(adult, "anything else for me?")
    assert adult.audience is None and "funny" in adult.wishes  # no new search: the wish stands


def test_older_steps_before_the_last_picks(pipeline):
    state = ConversationState()
    first = pipeline.handle(state, "a funny comedy from the 90s")
    oldest = min(p.item.year for p in first.picks)
    result = pipeline.handle(state, "something older")
    assert result.picks and all(p.item.year is not None and p.item.year < oldest for p in result.picks[:1])
    assert state.constraints.year_max == oldest - 1 and state.constraints.year_min is None


def test_newer_steps_after_the_last_picks(pipeline):
    state = ConversationState()
    first = pipeline.handle(state, "a comedy from the 90s")
    newest = max(p.item.year for p in first.picks)
    result = pipeline.handle(state, "anything more recent?")
    assert result.picks[0].item.year > newest and state.constraints.year_min == newest + 1


def test_older_without_earlier_picks_says_so(pipeline):
    result = pipeline.handle(ConversationState(), "something older, a comedy")
    assert any("no earlier picks" in n for n in result.notices)


def test_lighter_wishes_for_comedy_without_filtering(pipeline):
    state = ConversationState()
    pipeline.handle(state, "a scary horror film")
    result = pipeline.handle(state, "something lighter")
    assert result.picks[0].item.categories[0] == "comedy" and "comedy" in state.constraints.include_categories


def test_less_mainstream_raises_the_knob_for_one_turn(small_catalog):
    from ranking.diversity import DiversityReranker
    from ranking.fusion import FusionRanker

    retriever = InMemoryRetriever(small_catalog, HashingEmbedder())
    ranker = DiversityReranker(FusionRanker(small_catalog), retriever.vectors, 0.0)
    pipeline = TurnPipeline.from_parts(small_catalog, retriever, ranker=ranker, top_k=3, less_mainstream_diversity=1.0)
    state = ConversationState()
    pipeline.handle(state, "a comedy")
    result = pipeline.handle(state, "something less mainstream")
    assert result.picks[0].is_tail and state.diversity is None


def test_a_length_wish_the_catalogue_cannot_meet_is_said(pipeline):
    result = pipeline.handle(ConversationState(), "something funny and short")
    assert any("no running times" in n for n in result.notices)
    assert result.picks and result.picks[0].item.categories[0] == "comedy"


def test_a_new_search_drops_the_last_searchs_words_and_stepped_years(pipeline):
    state = ConversationState()
    pipeline.handle(state, "a scary horror film from the 90s")
    pipeline.handle(state, "something older")
    assert state.years_stepped and state.constraints.year_max is not None
    pipeline.handle(state, "a comedy")
    assert "scary" not in state.wishes and (state.constraints.year_min, state.constraints.year_max) == (None, None)


def test_years_the_person_gave_outlive_a_new_search(pipeline):
    state = ConversationState()
    pipeline.handle(state, "a horror film from the 90s")
    pipeline.handle(state, "a comedy")
    assert (state.constraints.year_min, state.constraints.year_max) == (1990, 1999)


def test_a_bound_alone_refines_the_last_list(pipeline):
    state = ConversationState()
    shown = [p.item.id for p in pipeline.handle(state, "office supplies").picks]
    assert set(shown) == {"b1", "b2"}
    result = pipeline.handle(state, "under $20 please")
    picked = [p.item.id for p in result.picks]
    assert picked[0] == "b1" and "b2" not in picked  # shown before and under $20; b2 is $39


def test_a_decade_the_person_names_beats_the_step(pipeline):
    """The simulator's case: "something more recent, from the 2000s" stepped past the 2018 picks."""
    state = ConversationState()
    pipeline.handle(state, "a comedy from the 90s")
    pipeline.handle(state, "Not quite. Something more recent, from the 2010s.")
    assert (state.constraints.year_min, state.constraints.year_max) == (2010, 2019) and not state.years_stepped


def test_a_category_with_too_joins_the_search(pipeline):
    """ "It should be a romance too" narrows the comedy search; "a romance" alone starts another."""
    state = ConversationState()
    pipeline.handle(state, "a comedy")
    pipeline.handle(state, "It should be a romance too.")
    assert state.constraints.include_categories == {"comedy", "romance"} and {"comedy", "romance"} <= set(state.wishes)
    pipeline.handle(state, "a horror film")
    assert state.constraints.include_categories == {"horror"}


def test_turned_down_picks_stop_steering_the_search():
    """ "None of those" takes the last picks out of the collaborative seeds; liked ones stay."""
    state = ConversationState()
    state.absorb("a comedy", Interests(constraints=Constraints(include_categories=frozenset({"comedy"}))))
    state.record_assistant("Here are two.", ("c1", "c2"))
    state.like("c1")
    state.absorb("none of those", Interests(rejects_picks=True))
    assert state.seeds() == ["c1"]


def test_a_bound_after_turning_the_picks_down_shows_new_ones(pipeline):
    state = ConversationState()
    shown = {p.item.id for p in pipeline.handle(state, "office supplies").picks}
    result = pipeline.handle(state, "None of those. Something under $50.")
    assert shown.isdisjoint(p.item.id for p in result.picks)


def test_a_person_in_only_some_picks_is_said_to_be_in_those_only(small_catalog):
    from tailtalk.catalog import Catalog, Item

    romy = Item(id="r1", title="Romy Returns", categories=["comedy"], attributes={"stars": ["Alexandra Breckenridge"]})
    catalog = Catalog((*small_catalog, romy))
    pipeline = TurnPipeline.from_parts(catalog, InMemoryRetriever(catalog, HashingEmbedder()), top_k=3)
    result = pipeline.handle(ConversationState(), "what else is Alexandra Breckenridge in")
    assert result.picks[0].item.id == "r1" and len(result.picks) == 3
    assert "Only 1 of them is with Alexandra Breckenridge." in result.reply
    assert "alexandra" not in result.reply  # her name is not listed as wishes word by word


def test_cheaper_steps_below_the_cheapest_item_shown(pipeline):
    state = ConversationState()
    first = pipeline.handle(state, "a leather notebook for the office")
    shown = [p.item for p in first.picks if p.item.price is not None]
    assert shown, "the office items have prices"
    cheaper = pipeline.handle(state, "anything cheaper?")
    assert state.constraints.price_max == pytest.approx(min(i.price for i in shown) - 0.01)
    assert all(p.item.price is None or p.item.price < min(i.price for i in shown) for p in cheaper.picks)


def test_a_shop_customer_narrowing_the_list_keeps_the_products_that_fit(small_catalog):
    shop = TurnPipeline.from_parts(
        small_catalog, InMemoryRetriever(small_catalog, HashingEmbedder()), top_k=2, domain="products"
    )
    state = ConversationState()
    first = [p.item.id for p in shop.handle(state, "office supplies").picks]
    assert set(first) == {"b1", "b2"}
    narrowed = shop.handle(state, "a notebook")  # one of the two shown: it stays
    assert [p.item.id for p in narrowed.picks][:1] == ["b2"]
    others = shop.handle(state, "something else")  # asks for others: the shown ones go
    assert not {p.item.id for p in others.picks} & set(first)


def test_a_book_is_found_by_its_title_without_its_author():
    from tailtalk.catalog import Catalog, Item

    books = Catalog(
        (
            Item(
                id="h",
                title="The Handmaid's Tale by Margaret Atwood",
                categories=["books"],
                attributes={"author": ["Margaret Atwood"]},
            ),
            Item(id="d", title="Dune by Frank Herbert", categories=["books"], attributes={"author": ["Frank Herbert"]}),
        )
    )
    shop = TurnPipeline.from_parts(books, InMemoryRetriever(books, HashingEmbedder()), top_k=1, domain="products")
    state = ConversationState()
    result = shop.handle(state, "a book like The Handmaid's Tale")
    assert "h" in state.liked and [p.item.id for p in result.picks] == ["d"]
    assert "Frank Herbert" in shop.handle(state, "who wrote it?").reply


def test_the_reply_claims_no_category_that_no_pick_has(small_catalog):
    from tailtalk.catalog import Catalog, Item

    hanks = Item(id="t1", title="Funny Mail", categories=["comedy"], attributes={"stars": ["Tom Hanks"]})
    war = Item(id="w1", title="Beach Landing", categories=["war"], attributes={"stars": ["Tom Hanks"]})
    catalog = Catalog((*small_catalog, hanks, war))
    pipeline = TurnPipeline.from_parts(catalog, InMemoryRetriever(catalog, HashingEmbedder()), top_k=1)
    state = ConversationState()
    assert "your wish: war" in pipeline.handle(state, "a war film").reply  # Beach Landing is a war film
    state.shown.append("w1")  # shown already: the next list cannot have it
    result = pipeline.handle(state, "maybe something with Tom Hanks")
    assert [p.item.id for p in result.picks] == ["t1"]
    assert "war" not in result.reply and "with Tom Hanks" in result.reply


def test_a_category_asked_for_that_no_pick_has_is_said(small_catalog):
    """'a horror film with Emma Stone': her one film is a romance; the reply says none is listed as horror."""
    from tailtalk.catalog import Catalog, Item
    from retrieval.hybrid import HybridRetriever
    from retrieval.lexical import LexicalIndex

    stone = Item(id="e1", title="La La Land", categories=("romance",), attributes={"stars": ["Emma Stone"]})
    catalog = Catalog((*small_catalog, stone))
    hybrid = HybridRetriever(InMemoryRetriever(catalog, HashingEmbedder()), LexicalIndex(catalog), None, pool=5)
    pipeline = TurnPipeline.from_parts(catalog, hybrid, top_k=1)
    result = pipeline.handle(ConversationState(), "a horror film with Emma Stone")
    assert [p.item.id for p in result.picks] == ["e1"]
    lead = result.reply.splitlines()[-1]  # after the notes: what the list is said to be
    assert "none of these is listed under horror" in " ".join(result.notices) and "horror" not in lead
    met = pipeline.handle(ConversationState(), "a horror film")
    assert met.picks[0].item.categories[0] == "horror" and not any("listed under" in n for n in met.notices)


def _credits_catalog():
    from tailtalk.catalog import Catalog, Item

    rows = [
        ("a1", "Office Love", ["Jennifer Aniston", "Paul Rudd"], 50),
        ("a2", "Wanderlust", ["Paul Rudd", "Jennifer Aniston"], 40),
        ("k1", "Sunny Love", ["Kate Hudson"], 5),
        ("d1", "Wedding Bells", ["Drew Barrymore"], 3),
        ("m1", "Moonlight Kiss", ["Meg Ryan"], 2),
        ("h1", "City Hearts", ["Hugh Grant"], 1),
    ]
    return Catalog(
        tuple(
            Item(
                id=i,
                title=t,
                categories=["comedy", "romance"],
                year=2005,
                description="A romantic comedy.",
                attributes={"stars": stars},
                popularity=pop,
            )
            for i, t, stars, pop in rows
        )
    )


def test_a_person_named_under_a_negation_rules_out_their_films():
    catalog = _credits_catalog()
    pipeline = TurnPipeline.from_parts(catalog, InMemoryRetriever(catalog, HashingEmbedder()), top_k=2)
    wanted = pipeline.handle(ConversationState(), "a romantic comedy with Jennifer Aniston")
    assert {p.item.id for p in wanted.picks} == {"a1", "a2"}  # the name tier: her films first
    avoided = pipeline.handle(ConversationState(), "a romantic comedy but no Jennifer Aniston")
    assert len(avoided.picks) == 2 and not {p.item.id for p in avoided.picks} & {"a1", "a2"}


def test_a_later_no_to_a_person_is_said_as_the_change():
    catalog = _credits_catalog()
    pipeline = TurnPipeline.from_parts(catalog, InMemoryRetriever(catalog, HashingEmbedder()), top_k=2)
    state = ConversationState()
    pipeline.handle(state, "a romantic comedy")
    result = pipeline.handle(state, "no Jennifer Aniston please")
    assert "none with Jennifer Aniston" in result.reply
    assert result.picks and not {p.item.id for p in result.picks} & {"a1", "a2"}


@pytest.mark.parametrize(
    "message, films_years",
    [
        ("an old black and white classic", (None, 1966)),
        ("a black-and-white horror film from before 1950", (None, 1949)),
        ("any b&w comedies?", (None, 1966)),
        ("I used to watch black and white films with my dad", (None, None)),  # a story, no wish
        ("clash b/w old school vs new gen", (None, None)),  # "b/w" is "between" as often
    ],
)
def test_black_and_white_is_an_era_for_films_and_a_colour_for_products(small_catalog, message, films_years):
    retriever = InMemoryRetriever(small_catalog, HashingEmbedder())
    films = TurnPipeline.from_parts(small_catalog, retriever)
    shop = TurnPipeline.from_parts(small_catalog, retriever, domain="products")
    assert films.understand(message).constraints.years == films_years
    assert shop.understand(message).constraints.years == ((None, 1949) if "1950" in message else (None, None))
    if films_years != (None, None):  # the era is the wish: "black" and "white" are no words to match
        assert not {"black", "white"} & set(films.understand(message).wishes)


def test_a_film_turned_down_takes_its_sequels_and_spin_offs_with_it():
    from tailtalk.catalog import Catalog, Item

    catalog = Catalog(
        (
            Item(id="sw", title="Star Wars", categories=["sci-fi"], year=1977),
            Item(id="r1", title="Rogue One: A Star Wars Story", categories=["sci-fi"], year=2016),
            Item(id="jedi", title="Star Wars: The Last Jedi", categories=["sci-fi"], year=2017),
            Item(id="int", title="Interstellar", categories=["sci-fi"], year=2014),
            Item(id="arr", title="Arrival", categories=["sci-fi"], year=2016),
        )
    )
    pipeline = TurnPipeline.from_parts(catalog, InMemoryRetriever(catalog, HashingEmbedder()), top_k=5)
    state = ConversationState()
    shown = [p.item.id for p in pipeline.handle(state, "a space movie that isn't Star Wars").picks]
    assert sorted(shown) == ["arr", "int"]
    # Liked, the film's series stays: only what is turned down goes.
    shown = [p.item.id for p in pipeline.handle(ConversationState(), "I loved Star Wars, more sci-fi").picks]
    assert "r1" in shown and "jedi" in shown
    # Seen whole, the series goes too, and what was seen is no like.
    seen = ConversationState()
    shown = [p.item.id for p in pipeline.handle(seen, "I've seen every Star Wars movie, more sci-fi please").picks]
    assert sorted(shown) == ["arr", "int"] and not seen.liked
