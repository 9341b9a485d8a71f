"""agent.state: folding messages into one conversation's state."""

from __future__ import annotations

from agent.state import ConversationState, StateTurn
from agent.understand import Interests
from tailtalk.constraints import Constraints


def test_new_gives_distinct_empty_states():
    a, b = ConversationState.new(), ConversationState.new()
    assert a.conversation_id != b.conversation_id
    assert len(a.conversation_id) == 32
    a.like("1")
    a.constraints = a.constraints.with_included({"horror"})
    assert b.liked == [] and b.constraints == Constraints()


def test_like_and_dislike_toggle():
    s = ConversationState()
    s.like("7")
    s.like("7")
    s.dislike("42")
    assert (s.liked, s.disliked) == (["7"], {"42"})
    s.dislike("7")
    assert (s.liked, s.disliked) == ([], {"42", "7"})
    s.like("42")
    assert (s.liked, s.disliked) == (["42"], {"7"})


def test_absorb_records_the_turn_and_likes():
    s = ConversationState()
    s.absorb("I loved A and B", Interests(liked_ids=["b", "a"]), items=("a",))
    assert s.turns == [StateTurn("user", "I loved A and B", ("a", "b"))]
    assert s.liked == ["a", "b"]
    assert s.mentioned == ["a", "b"]


def test_a_logged_turn_names_a_film_it_did_not_like():
    s = ConversationState()
    s.absorb("I never saw Titanic, I loved Alien", Interests(mentioned_ids=["t"]), items=("t", "a"))
    assert s.liked == ["a"] and s.disliked == set()
    assert s.mentioned == ["a", "t"] and s.seeds() == ["a", "t"]  # still a seed of the collaborative signal


def test_praise_likes_the_few_items_the_last_reply_named():
    s = ConversationState()
    s.record_assistant("Have you seen Alien?", ("a",), shown=False)
    s.absorb("Yes, good movie", Interests(praises_last=True))
    assert s.liked == ["a"]
    s.record_assistant("Here are 5 films", ("1", "2", "3", "4", "5"))
    s.absorb("good movies", Interests(praises_last=True))
    assert s.liked == ["a"]  # praise after five cards says nothing about which one


def test_praise_after_a_turn_that_named_nothing_likes_nothing():
    s = ConversationState()
    s.record_assistant("What kind of films do you like?", ())
    s.absorb("those are good movies", Interests(praises_last=True))
    assert s.liked == []


def test_absorb_dislike_removes_an_earlier_like():
    s = ConversationState()
    s.absorb("loved x", Interests(liked_ids=["x"]))
    s.absorb("actually I hated x", Interests(disliked_ids=["x"]))
    assert (s.liked, s.disliked, s.mentioned) == ([], {"x"}, ["x"])
    assert s.turns[-1].items == ()


def test_restated_categories_replace_older_ones():
    s = ConversationState()
    s.absorb("1", Interests(constraints=Constraints(include_categories=frozenset({"horror", "comedy"}))))
    s.absorb("2", Interests(constraints=Constraints(include_categories=frozenset({"drama"}))))
    assert s.constraints.include_categories == {"drama"}


def test_exclusion_removes_an_included_category_and_accumulates():
    s = ConversationState()
    s.absorb("1", Interests(constraints=Constraints(include_categories=frozenset({"horror", "comedy"}))))
    s.absorb("2", Interests(constraints=Constraints(exclude_categories=frozenset({"horror"}))))
    s.absorb("3", Interests(constraints=Constraints(exclude_categories=frozenset({"war"}))))
    assert s.constraints.include_categories == {"comedy"}
    assert s.constraints.exclude_categories == {"horror", "war"}


def test_including_again_lifts_an_exclusion():
    s = ConversationState()
    s.absorb("1", Interests(constraints=Constraints(exclude_categories=frozenset({"horror", "war"}))))
    s.absorb("2", Interests(constraints=Constraints(include_categories=frozenset({"horror"}))))
    assert s.constraints.include_categories == {"horror"}
    assert s.constraints.exclude_categories == {"war"}


def test_message_without_categories_keeps_them():
    s = ConversationState()
    s.absorb(
        "1",
        Interests(
            constraints=Constraints(include_categories=frozenset({"horror"}), exclude_categories=frozenset({"war"}))
        ),
    )
    s.absorb("2", Interests(query_text="ghosts"))
    assert (s.constraints.include_categories, s.constraints.exclude_categories) == ({"horror"}, {"war"})


def test_year_range_is_replaced_as_a_whole():
    s = ConversationState()
    s.absorb("90s", Interests(constraints=Constraints(year_min=1990, year_max=1999)))
    s.absorb("nothing", Interests())
    assert (s.constraints.year_min, s.constraints.year_max) == (1990, 1999)
    s.absorb("after 2000", Interests(constraints=Constraints(year_min=2001)))
    assert (s.constraints.year_min, s.constraints.year_max) == (2001, None)


def test_price_bounds_update_independently():
    s = ConversationState()
    s.absorb("under 20", Interests(constraints=Constraints(price_max=20.0)))
    s.absorb("over 5", Interests(constraints=Constraints(price_min=5.0)))
    assert (s.constraints.price_min, s.constraints.price_max) == (5.0, 20.0)
    s.absorb("under 10", Interests(constraints=Constraints(price_max=10.0)))
    assert (s.constraints.price_min, s.constraints.price_max) == (5.0, 10.0)


def test_avoid_terms_deduplicate_and_keep_the_last_eight():
    s = ConversationState()
    s.absorb("1", Interests(avoid_terms=["gory", "sad"]))
    s.absorb("2", Interests(avoid_terms=["sad", "loud"]))
    assert s.avoid_terms == ["gory", "sad", "loud"]
    s.absorb("3", Interests(avoid_terms=[f"w{n}" for n in range(7)]))
    assert s.avoid_terms == ["loud", "w0", "w1", "w2", "w3", "w4", "w5", "w6"]


def test_wishes_newest_first_capped_at_six():
    s = ConversationState()
    s.absorb("1", Interests(wishes=["a", "b"]))
    s.absorb("2", Interests(wishes=["c", "a"]))
    assert s.wishes == ["c", "a", "b"]
    s.absorb("3", Interests(wishes=["d", "e", "f", "g"]))
    assert s.wishes == ["d", "e", "f", "g", "c", "a"]


def test_context_text_is_the_recent_dialogue_newest_first_with_suggestions_as_titles():
    s = ConversationState()
    assert s.context_text({}.get) == ""
    for text in ["q1", "", "q2"]:
        s.absorb(text, Interests(query_text=text))
    s.record_assistant("a long templated reply about A and B", ("a", "b"))
    assert s.user_queries == ["q1", "q2"]  # empty query texts are not stored
    assert s.context_text({"a": "A (1999)", "b": "B"}.get) == "assistant: A (1999), B | user: q2 | user: q1"


def test_record_assistant_tracks_shown_and_mentioned():
    s = ConversationState()
    s.absorb("loved y", Interests(liked_ids=["y"]))
    s.record_assistant("try a, b or y", ("a", "b", "y"))
    s.record_assistant("did you mean c?", ("c",), shown=False)
    s.record_assistant("again a", ("a",))
    assert s.shown == ["a", "b", "y"]
    assert s.mentioned == ["y", "a", "b", "c"]
    assert s.turns[-2] == StateTurn("assistant", "did you mean c?", ("c",))
    assert s.liked == ["y"]  # recommending an item is not liking it


def test_dialogue_text():
    s = ConversationState()
    s.absorb("hi", Interests())
    s.record_assistant("hello", ())
    assert s.dialogue_text() == "user: hi\nassistant: hello"


def test_the_topics_asked_for_last_until_a_new_search_and_a_negation_asks_for_none():
    from agent.understand import RuleBasedUnderstander

    understand = RuleBasedUnderstander(["comedy", "horror"]).understand
    state = ConversationState()
    for message in ("a christmas movie", "one with time travel maybe"):
        state.absorb(message, understand(message))
    assert state.topics == ["time travel", "christmas"]
    state.absorb("now a horror film", understand("now a horror film"))  # a new search: its own words only
    assert state.topics == []
    fresh = ConversationState()
    fresh.absorb("not a christmas movie", understand("not a christmas movie"))
    fresh.absorb("no zombies please", understand("no zombies please"))
    assert fresh.topics == []


def test_a_series_seen_whole_is_kept_across_turns():
    state = ConversationState()
    state.absorb("we've seen every Harry Potter movie", Interests(mentioned_ids=["hp1"], seen_series_ids=["hp1"]))
    state.absorb("something similar", Interests(query_text="similar"))
    assert state.seen_series == ["hp1"] and "hp1" in state.seeds() and "hp1" not in state.liked
