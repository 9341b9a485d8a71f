"""agent.understand: the rule-based interest extractor."""

from __future__ import annotations

import pytest

from agent.people import PeopleIndex
from agent.understand import Interests, RuleBasedUnderstander, title_matcher
from tailtalk.catalog import Catalog, Item
from tailtalk.titles import TitleMatcher

CATEGORIES = ["Horror", "comedy", "romance", "thriller", "sci-fi", "drama", "documentary", "animation"]


@pytest.fixture(scope="module")
def understander() -> RuleBasedUnderstander:
    titles = TitleMatcher(
        [("titanic", "Titanic", 1997), ("shining", "The Shining", 1980), ("follows", "It Follows", 2014)]
    )
    return RuleBasedUnderstander(CATEGORIES, titles)


@pytest.fixture(scope="module")
def u(understander):
    return understander.understand


# --- years ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message, years",
    [
        ("90s movies", (1990, 1999)),
        ("something from the 1990s", (1990, 1999)),
        ("80's classics", (1980, 1989)),
        ("the 2000s", (2000, 2009)),
        ("the 00s", (2000, 2009)),
        ("2010s", (2010, 2019)),
        ("the 1920s", (1920, 1929)),
        ("the eighties please", (1980, 1989)),
        ("sixties vibes", (1960, 1969)),
        ("before 2000", (None, 1999)),
        ("older than 1980", (None, 1979)),
        ("after 2010", (2011, None)),
        ("newer than 2010", (2011, None)),
        ("since 2010", (2010, None)),
        ("between 1995 and 1999", (1995, 1999)),
        ("between 1999 and 1995", (1995, 1999)),
        ("before 1990 and after 1980", (1981, 1989)),
        ("from 1994", (1994, 1994)),
        ("released in 2005", (2005, 2005)),
        ("a drama", (None, None)),
        ("I have 1000 questions", (None, None)),
    ],
)
def test_years(u, message, years):
    interests = u(message)
    assert (interests.constraints.year_min, interests.constraints.year_max) == years


# --- categories, synonyms, plurals, negation ------------------------------------------------


@pytest.mark.parametrize(
    "message, include, exclude",
    [
        ("comedies", {"comedy"}, set()),
        ("thrillers", {"thriller"}, set()),
        ("something thrilling for tonight", {"thriller"}, set()),  # it showed It and Black Panther
        ("a horror film", {"horror"}, set()),  # vocabulary is lower-cased
        ("something scary", {"horror"}, set()),
        ("funny", {"comedy"}, set()),
        ("animated", {"animation"}, set()),
        ("science fiction", {"sci-fi"}, set()),
        ("sci fi", {"sci-fi"}, set()),
        ("not horror", set(), {"horror"}),
        ("no documentaries", set(), {"documentary"}),
        ("a comedy, not a horror", {"comedy"}, {"horror"}),
        ("no horror. comedy", {"comedy"}, {"horror"}),
        ("I love scary stuff but not comedies", {"horror"}, {"comedy"}),
        ("comedy or romance, but no horror or sci-fi", {"comedy", "romance"}, {"horror", "sci-fi"}),
        ("I don't like horror", set(), {"horror"}),
        ("I hate horror", set(), {"horror"}),
        ("comedy but no comedy", set(), {"comedy"}),  # exclusion wins within a message
    ],
)
def test_categories(u, message, include, exclude):
    interests = u(message)
    assert interests.constraints.include_categories == include
    assert interests.constraints.exclude_categories == exclude


def test_synonym_needs_its_category_in_the_vocabulary():
    interests = RuleBasedUnderstander(["comedy"]).understand("something scary")
    assert interests.constraints.include_categories == set()
    assert interests.query_text == "scary"


def test_docstring_example():
    i = RuleBasedUnderstander(["horror", "comedy", "romance"]).understand(
        "a light romantic comedy from the 90s, no horror"
    )
    assert i.constraints.include_categories == {"comedy", "romance"}
    assert i.constraints.exclude_categories == {"horror"}
    assert (i.constraints.year_min, i.constraints.year_max) == (1990, 1999)
    assert i.query_text == "light romantic comedy"
    assert i.wishes == ["comedy", "romantic", "light"]


@pytest.mark.parametrize(
    "message, avoid",
    [
        ("no superhero movies", ["superhero"]),
        ("nothing too gory", ["gory"]),
        ("not horror", []),  # the category is excluded, not also avoided as a word
        ("a drama but nothing sad", ["sad"]),
        ("without zombies or vampires", ["zombies", "vampires"]),
    ],
)
def test_negated_words_become_avoid_terms(u, message, avoid):
    interests = u(message)
    assert interests.avoid_terms == avoid
    assert not set(avoid) & set(interests.query_text.split())


@pytest.mark.parametrize(
    "message, ruled_out",
    [
        ("no superhero movies", ["superhero"]),
        ("a comedy, but nothing with superheroes", ["superheroes"]),
        ("nothing too gory", []),  # a matter of degree: avoided, not ruled out
        ("it's not quite sci-fi but it's kind of close", []),  # INSPIRED: a hedge about The Martian
    ],
)
def test_only_a_firm_negation_rules_words_out(u, message, ruled_out):
    assert u(message).ruled_out_terms == ruled_out


@pytest.mark.parametrize(
    "message, wished, avoided",
    [
        ("something like Inception but less confusing", [], ["confusing"]),  # was wished: "less and confusing"
        ("a comedy that's less dumb", ["comedy"], ["dumb"]),
        ("a horror film, I'm less into gore", ["horror"], ["gore"]),
        ("something less mainstream", [], []),  # a step to lesser-known picks, no word to avoid
        ("something less dark", [], []),  # a step to lighter picks
        ("less than $30 please", [], []),
    ],
)
def test_less_is_a_degree_avoided_never_wished_nor_ruled_out(u, message, wished, avoided):
    interests = u(message)
    assert interests.avoid_terms == avoided
    assert not interests.ruled_out_terms and not interests.constraints.exclude_categories
    assert [w for w in interests.wishes if w not in ("inception",)] == wished


def test_query_text_keeps_positive_content_words_only(u):
    interests = u("I want a good drama with space pirates, nothing sad")
    assert interests.query_text == "drama space pirates"
    assert interests.avoid_terms == ["sad"]


@pytest.mark.parametrize("message", ["I didn't like horror", "I wasn't into horror"])
def test_past_tense_negations(u, message):
    interests = u(message)
    assert interests.constraints.exclude_categories == {"horror"}
    assert interests.constraints.include_categories == set()


# --- prices ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message, prices",
    [
        ("under $30", (None, 30.0)),
        ("less than 20 dollars", (None, 20.0)),
        ("under 9.99$", (None, 9.99)),
        ("cheaper than 12,50 usd", (None, 12.5)),
        ("max $25", (None, 25.0)),
        ("over $10", (10.0, None)),
        ("at least 5 bucks", (5.0, None)),
        ("over 10", (None, None)),  # a lower bound needs a money word
        ("a comedy", (None, None)),
    ],
)
def test_prices(u, message, prices):
    interests = u(message)
    assert (interests.constraints.price_min, interests.constraints.price_max) == prices


def test_price_with_thousands_separator(u):
    assert u("under $1,000").constraints.price_max == 1000.0


@pytest.mark.parametrize("message", ["a movie under 90 minutes", "something under 2 hours"])
def test_durations_are_not_prices(u, message):
    assert u(message).constraints.price_max is None


def test_no_more_than_is_an_upper_bound(u):
    interests = u("no more than 15 bucks")
    assert (interests.constraints.price_min, interests.constraints.price_max) == (None, 15.0)
    assert interests.avoid_terms == []


@pytest.mark.parametrize("message", ["before 2000", "under $30", "less than 20 dollars", "between 1995 and 1999"])
def test_bounds_leave_no_query_text(u, message):
    assert u(message).query_text == ""


# --- titles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message, liked, disliked",
    [
        ("I loved Titanic", ["titanic"], []),
        ("I hated Titanic", [], ["titanic"]),
        ("I loved the shinning but hated Titanic", ["shining"], ["titanic"]),
        ("Loved It Follows, hated Titanic", ["follows"], ["titanic"]),
        ("I dont like Titanic", [], ["titanic"]),
        ("something like It Follows but funnier", ["follows"], []),
    ],
)
def test_titles_liked_and_disliked(u, message, liked, disliked):
    interests = u(message)
    assert (interests.liked_ids, interests.disliked_ids) == (liked, disliked)


def test_titles_are_blanked_out_of_the_query(u):
    interests = u("I loved the shining but not horror")
    assert interests.liked_ids == ["shining"]
    assert interests.constraints.exclude_categories == {"horror"}
    assert "shining" not in interests.query_text


def test_no_title_matcher_means_no_titles():
    interests = RuleBasedUnderstander(CATEGORIES).understand("I loved Titanic")
    assert interests.liked_ids == [] and interests.query_text == "titanic"


def test_dont_like_a_title(u):
    interests = u("I don't like Titanic")
    assert (interests.liked_ids, interests.disliked_ids) == ([], ["titanic"])


def test_clause_breaks_survive_after_a_title(u):
    interests = u("I loved Titanic. Something funny. No gore.")
    assert interests.constraints.include_categories == {"comedy"}
    assert interests.constraints.exclude_categories == set()
    assert interests.avoid_terms == ["gore"]


def test_negation_in_an_earlier_clause_does_not_reach_a_title(u):
    interests = u("not horror, I liked Titanic")
    assert (interests.liked_ids, interests.disliked_ids) == (["titanic"], [])


# --- vagueness ------------------------------------------------------------------------------


@pytest.mark.parametrize("message", ["", "   ", "hi", "Hello, thanks!", "can you recommend something?"])
def test_vague_messages(u, message):
    assert u(message).is_vague


@pytest.mark.parametrize("message", ["", "  \n "])
def test_empty_message_gives_empty_interests(u, message):
    assert u(message) == Interests()


@pytest.mark.parametrize(
    "message", ["90s", "under $30", "no superhero movies", "not horror", "I loved Titanic", "space pirates"]
)
def test_specific_messages_are_not_vague(u, message):
    assert not u(message).is_vague


def test_wishes_are_deduplicated_and_capped(u):
    interests = u("funny funny romantic thriller horror drama animated documentary")
    assert len(interests.wishes) == 6
    assert len(set(interests.wishes)) == 6


@pytest.mark.parametrize(
    "message",
    [
        "Oh cool, have you seen it? Sounds interesting, I'll check it out. Something with dragons",
        "I'm gonna need some ideas, something with dragons",  # the replayed turn whose lead-in cited "gonna, ideas"
        "she likes something with dragons",  # a reply once read "for likes, romantic"
    ],
)
def test_words_about_the_conversation_are_no_wishes(u, message):
    assert u(message).wishes == ["dragons"]


@pytest.mark.parametrize(
    "message",
    [
        "Hi! Help me find something for the weekend, I'm finishing up watching a show",
        "thanks, goodbye, have a good night",
    ],
)
def test_greetings_time_and_talk_about_talking_are_no_wishes(u, message):
    assert u(message).wishes == []  # never "Matches your wish for goodbye"


@pytest.mark.parametrize(
    "message, wishes",
    [
        ("a comedy with Tom Hanks", ["comedy", "tom", "hanks"]),  # the whole name, for "with Tom Hanks" replies
        ("Al Pacino films", ["al", "pacino"]),
        ("an old fun comedy", ["comedy"]),  # a short word outside a capitalised name is still no wish
    ],
)
def test_a_capitalised_name_keeps_its_short_words_as_wishes(u, message, wishes):
    assert u(message).wishes == wishes


def test_a_tear_jerker_is_a_drama(u):
    interests = u("I like tear jerker movies")
    assert interests.constraints.include_categories == {"drama"}
    assert interests.wishes == ["tear-jerker"]  # not also "tear" and "jerker"


# --- ordinary requests against a ReDial-like catalogue ----------------------------------------

REDIAL = [
    "action",
    "adventure",
    "animation",
    "biography",
    "comedy",
    "crime",
    "documentary",
    "drama",
    "family",
    "fantasy",
    "film-noir",
    "history",
    "horror",
    "music",
    "musical",
    "mystery",
    "romance",
    "sci-fi",
    "short",
    "sport",
    "thriller",
    "war",
    "western",
]


@pytest.fixture(scope="module")
def redial():
    titles = TitleMatcher(
        [
            ("titanic", "Titanic", 1997),
            ("shining", "The Shining", 1980),
            ("no-country", "No Country for Old Men", 2007),
            ("children-of-men", "Children of Men", 2006),
            ("the-other", "The Other", 1972),
            ("scary", "Scary Movie", 2000),
            ("superhero", "Superhero Movie", 2008),
            ("date-night", "Date Night", 2010),
            ("the-family", "The Family", 2013),
            ("a-haunted-house", "A Haunted House", 2013),
        ]
    )
    return RuleBasedUnderstander(REDIAL, titles).understand


@pytest.mark.parametrize(
    "message",
    [
        "I love films with Emma Stone",
        "I love stories about dogs",  # "love stories" after "I" is a verb and its object, not the romance genre
        "films like the ones my dad watches",
        "I'm looking for a film to watch tonight",
    ],
)
def test_ordinary_words_give_no_category(redial, message):
    interests = redial(message)
    assert interests.constraints.include_categories == set() and interests.constraints.exclude_categories == set()


@pytest.mark.parametrize(
    "message",
    [
        "I love films with Emma Stone",
        "something funny and short",
        "a war film that isn't American",
        "a movie to watch with my 8-year-old",
        "I never saw Titanic",
        "something older, less mainstream",
        "not too gory, no horror",
        "shorts",
        "a love story",
        "based on a true story",
    ],
)
def test_categories_always_come_from_the_catalogue(redial, message):
    interests = redial(message)
    assert interests.constraints.include_categories | interests.constraints.exclude_categories <= set(REDIAL)


@pytest.mark.parametrize(
    "message, include",
    [
        ("a short film", {"short"}),
        ("any good shorts?", {"short"}),
        ("a love story", {"romance"}),
        ("a movie based on a true story", {"biography"}),  # a dramatised story, not a documentary
        # Films for a child, as a child's audience reads them: ReDial files Moana and Coco under animation only.
        ("some good kids movies this weekend", {"family", "animation"}),
        ("a feel-good movie for a rainy sunday", {"comedy", "family"}),
        ("a movie that will make me cry", {"drama"}),
    ],
)
def test_categories_named_in_everyday_words(redial, message, include):
    assert redial(message).constraints.include_categories == include


@pytest.mark.parametrize("message", ["I have no kids, something funny", "we have no children so a comedy"])
def test_having_no_children_rules_no_category_out(redial, message):
    interests = redial(message)
    assert interests.constraints.exclude_categories == frozenset()
    assert interests.constraints.include_categories == {"comedy"}


@pytest.mark.parametrize(
    "message",
    [
        "I never saw Titanic",
        "I haven't seen Titanic",
        "I've not seen Titanic yet",
        "I have never watched Titanic",
        "Titanic I never saw",
        "I haven't see Titanic",  # ReDial valid's typo
        "I have not heard of Titanic",
        "I have never heard of Titanic but will check it out",
    ],
)
def test_an_unseen_title_is_neither_liked_nor_disliked(redial, message):
    interests = redial(message)
    assert (interests.liked_ids, interests.disliked_ids, interests.mentioned_ids) == ([], [], ["titanic"])
    assert interests.avoid_terms == []


@pytest.mark.parametrize(
    "message",
    [
        "I didn't know there were so many Titanic",  # ReDial valid read it so
        "is it like how at the end of Titanic you decide whether it was real or not?",  # INSPIRED dev
    ],
)
def test_not_knowing_is_no_dislike(redial, message):
    assert redial(message).disliked_ids == []


@pytest.mark.parametrize(
    "message, liked, disliked, mentioned",
    [
        ("I didn't see Titanic, but I loved The Shining", ["shining"], [], ["titanic"]),
        ("I never saw The Shining and I hated Titanic", [], ["titanic"], ["shining"]),
        ("not Titanic", [], ["titanic"], []),
        ("The Shining is not my thing", [], ["shining"], []),
        ("I loved No Country for Old Men", ["no-country"], [], []),  # the title's own "No" negates nothing
    ],
)
def test_titles_liked_disliked_and_mentioned(redial, message, liked, disliked, mentioned):
    interests = redial(message)
    assert (interests.liked_ids, interests.disliked_ids, interests.mentioned_ids) == (liked, disliked, mentioned)


@pytest.mark.parametrize(
    "message, liked, disliked",
    [
        ("That's really not romance that's lust, something like Titanic", ["titanic"], []),
        ("That's really not romance that lust Something like Titanic", ["titanic"], []),  # typed without commas
        ("I hate horror I love Titanic", ["titanic"], []),
        ("not something like Titanic", [], ["titanic"]),  # nothing negated before "something like" to end
        ("I don't like Titanic", [], ["titanic"]),
        ("I'd rather not see Titanic", [], ["titanic"]),
    ],
)
def test_a_wish_after_a_negation_ends_its_scope(redial, message, liked, disliked):
    interests = redial(message)
    assert (interests.liked_ids, interests.disliked_ids) == (liked, disliked)


@pytest.mark.parametrize(
    "message, praises",
    [
        ("Yes I saw that one too good movie", True),
        ("those are good movies", True),
        ("I loved it!", True),
        ("it was hilarious", True),
        ("one of my all time favorites", True),
        ("That's great", False),  # glad of the suggestion, no verdict on the film
        ("Oh, those sound good you like them all?", False),  # interest, and a question to the other side
        ("great movie ok haven't seen that", False),  # half of it unseen: which one was great?
        ("I didn't like it", False),
        ("not a good movie", False),
        ("I loved Titanic", False),  # names its own title, which is liked by name
        ("a feel good movie for tonight", False),  # a request, not a verdict
        ("any good movies like that?", False),
    ],
)
def test_praise_of_what_was_just_named(redial, message, praises):
    assert redial(message).praises_last is praises


def test_never_watching_a_genre_is_still_a_dislike(redial):
    assert redial("I never watch horror").constraints.exclude_categories == {"horror"}


def test_negation_governs_only_what_follows_it(redial):
    interests = redial("a war film that isn't American")
    assert interests.constraints.include_categories == {"war"}
    assert interests.constraints.exclude_categories == set()
    assert interests.avoid_terms == ["american"]
    assert interests.query_text == "war"


@pytest.mark.parametrize(
    "message, include, exclude, avoid",
    [
        ("not too gory", set(), set(), ["gory"]),
        ("nothing too scary", set(), set(), ["scary"]),  # a little fright is fine: horror is not ruled out
        ("no horror", set(), {"horror"}, []),
        ("a comedy that doesn't have any violence", {"comedy"}, set(), ["violence"]),
        ("horror is not my thing", set(), {"horror"}, []),
        ("comedies don't do it for me", set(), {"comedy"}, []),
        ("I'm not a fan of gore", set(), set(), ["gore"]),
        ("I don't mind horror", {"horror"}, set(), []),
        ("I'm not sure what I want, maybe a western", {"western"}, set(), []),
        ("I'm not sure what I want maybe a western", {"western"}, set(), []),
        ("violence is not a problem for me a western", {"western"}, set(), []),
        ("no problem, a western", {"western"}, set(), []),
        ("the length doesn't matter a western", {"western"}, set(), []),
        ("a western, the director does not matter", {"western"}, set(), []),
        ("a western the director does not matter", {"western"}, set(), []),
        ("I didn't like it much do you have any westerns", {"western"}, set(), []),
        ("I do not have a director in mind, a western", {"western"}, set(), []),
        ("not interested in a particular actor, a western", {"western"}, set(), []),
        ("no I want a western", {"western"}, set(), []),
        ("I don't know, surprise me with a western", {"western"}, set(), []),
        ("it does not need to be a western", set(), set(), []),  # allowed, not ruled out (ReDial valid)
        ("it doesn't have to be a western", set(), set(), []),
        ("I never tried westerns", set(), set(), []),  # unknown, not rejected
        ("I didn't like how they ended it", set(), set(), ["ended"]),
        ("a comedy I haven't seen yet", {"comedy"}, set(), []),  # the wish stands; "seen" governs only titles
        ("a comedy and nothing else", {"comedy"}, set(), []),
        ("nothing that is scary", set(), {"horror"}, []),
        ("not that scary", set(), set(), ["scary"]),
        ("it's not quite a western", set(), set(), ["western"]),  # a description (INSPIRED), no rejection
        ("a comedy my kids won't hate", {"comedy", "family", "animation"}, {"horror", "thriller"}, []),
    ],
)
def test_negation_scope(redial, message, include, exclude, avoid):
    interests = redial(message)
    assert (
        interests.constraints.include_categories,
        interests.constraints.exclude_categories,
        interests.avoid_terms,
    ) == (
        include,
        exclude,
        avoid,
    )


@pytest.mark.parametrize(
    "message",
    [
        "a movie to watch with my 8-year-old",
        "something for my kids",
        "what would a 10 year old like?",
        "a horror movie for my 8 year old",
        "something scary for my eight-year-old",
        "is there anything kid-friendly?",
        "something different for my kids",
        "is that kid-friendly?",
        "something as a family with the kids",
    ],
)
def test_a_child_audience_never_allows_horror(redial, message):
    interests = redial(message)
    assert interests.audience == "children"
    assert {"family", "animation"} <= interests.constraints.include_categories
    assert {"horror", "thriller"} <= interests.constraints.exclude_categories
    assert "horror" not in interests.constraints.include_categories


@pytest.mark.parametrize(
    "message", ["a movie to watch with my 8-year-old", "my 40-year-old husband likes war films", "for a 10 year old"]
)
def test_year_old_is_neither_a_year_nor_a_wish(redial, message):
    interests = redial(message)
    assert (interests.constraints.year_min, interests.constraints.year_max) == (None, None)
    assert not {"year", "old", "year-old"} & set(interests.query_text.split() + interests.wishes + interests.phrases)


@pytest.mark.parametrize(
    "message, audience",
    [
        ("my 40-year-old husband likes war films", None),
        ("something for my 15 year old", "teen"),
        ("nothing for kids, please", None),
        ("I loved Children of Men", None),  # a title's words are no audience
        # A child in a story is no audience (ReDial valid: each of these ruled horror out)
        ("I loved horror when I was a kid", None),
        ("That was one of my favorites as a child!", None),
        ("one of the first films she was in when she was a child", None),
        ("I like horror, the one with that goofy kid with the bowl cut", None),
    ],
)
def test_audience_only_where_someone_young_watches(redial, message, audience):
    interests = redial(message)
    assert interests.audience == audience
    assert "horror" not in interests.constraints.exclude_categories


def test_a_childrens_film_only_uses_the_catalogues_categories():
    interests = RuleBasedUnderstander(["horror", "comedy", "animation"]).understand("something for my kids")
    assert (interests.constraints.include_categories, interests.constraints.exclude_categories) == (
        {"animation"},
        {"horror"},
    )


def test_funny_and_short_is_a_comedy_with_a_runtime_wish(redial):
    interests = redial("something funny and short")
    assert interests.constraints.include_categories == {"comedy"}
    assert "short" not in interests.constraints.include_categories | set(interests.wishes)
    assert interests.max_runtime_minutes == 100


@pytest.mark.parametrize(
    "message, minutes",
    [
        ("a movie under 90 minutes", 90),
        ("less than an hour and a half please", 90),
        ("something under 2 hours", 120),
        ("a short comedy", 100),
        ("a quick watch", 100),
        ("nothing too long", 120),
        ("a short film", None),
        ("a comedy", None),
    ],
)
def test_runtime(redial, message, minutes):
    assert redial(message).max_runtime_minutes == minutes


@pytest.mark.parametrize(
    "message, relative",
    [
        ("something older", "older"),
        ("anything more recent?", "newer"),
        ("newer ones please", "newer"),
        ("something darker", "darker"),
        ("lighter please", "lighter"),
        ("can you give me something more light-hearted", "lighter"),
        ("something shorter", "shorter"),
        ("less mainstream", "less_mainstream"),
        ("something more obscure", "less_mainstream"),
        ("any lesser-known ones?", "less_mainstream"),
        ("not so mainstream this time", "less_mainstream"),
        ("a comedy", None),
        ("nothing darker", None),
        ("something my older brother would like", None),
    ],
)
def test_relative_requests(redial, message, relative):
    assert redial(message).relative == relative


def test_a_relative_request_is_not_vague_and_not_a_query(redial):
    interests = redial("something older")
    assert not interests.is_vague
    assert interests.query_text == "" and interests.constraints.include_categories == set()


def test_a_more_light_hearted_request_is_a_step_not_a_comedy(redial):
    assert redial("more light-hearted please").constraints.include_categories == set()


def test_a_negation_that_governs_something_else_rules_out_no_category():
    """'I do not have any idea about books' (MG-ShopDial) asks for a book; it must never exclude books."""
    u = RuleBasedUnderstander(["books", "office products", "horror"])
    assert not u.understand(
        "I do not have any idea about books. Do you have any recommendation?"
    ).constraints.exclude_categories
    assert u.understand("I don't want to watch horror").constraints.exclude_categories == {"horror"}


@pytest.mark.parametrize(
    "message, low, high",
    [
        ("my budget is limited so I can't go above 500$", None, 500.0),
        ("I don't want to spend more than 30 usd", None, 30.0),
        ("not too much, not more than 20 euro, please", None, 20.0),
        ("no more than $40", None, 40.0),
        ("something over $100 but under $300", 100.0, 300.0),
    ],
)
def test_a_negated_lower_bound_is_a_ceiling(message, low, high):
    i = RuleBasedUnderstander(["office products"]).understand(message)
    assert (i.constraints.price_min, i.constraints.price_max) == (low, high)


@pytest.mark.parametrize(
    "message, high",
    [("My budget would be $15", 15.0), ("my budget is around 20 dollars", 20.0), ("budget: $30", 30.0)],
)
def test_a_budget_said_any_way_is_a_ceiling(message, high):  # MG-ShopDial: "My budget would be $15" was no bound
    assert RuleBasedUnderstander(["books"]).understand(message).constraints.prices == (None, high)


def test_a_bound_on_another_unit_is_no_price():
    i = RuleBasedUnderstander(["cellphones & accessories"]).understand(
        "I would like not to spend too much, do you have anything with at least 16gb of memory"
    )
    assert (i.constraints.price_min, i.constraints.price_max) == (None, None)


@pytest.mark.parametrize(
    "message, adds",
    [
        ("It should be a drama too.", True),
        ("I also like horror", True),
        ("a comedy as well", True),
        ("not too gory", False),
        ("a drama", False),
        ("too scary for me", False),
    ],
)
def test_a_message_that_adds_to_the_search_is_told_apart(u, message, adds):
    assert u(message).adds is adds


@pytest.mark.parametrize(
    "message, rejects",
    [
        ("Hmm, none of those. Something older", True),
        ("Not quite.", True),
        ("No, not those", True),
        ("none of those are scary", True),
        ("I liked those", False),
        ("quite funny please", False),
    ],
)
def test_turning_down_the_picks_is_read(u, message, rejects):
    assert u(message).rejects_picks is rejects


@pytest.mark.parametrize(
    "message, named",
    [
        ("I didn't know the other one was a sequel", []),  # everyday words: no film (ReDial valid disliked it)
        ("I loved The Other", ["the-other"]),  # written as a title
        ("I loved the other 1972", ["the-other"]),  # or with its year
        ("i loved the shining", ["shining"]),  # a title with a word of its own needs no capitals
    ],
)
def test_a_title_of_everyday_words_counts_only_when_written_as_one(redial, message, named):
    interests = redial(message)
    assert interests.liked_ids + interests.disliked_ids + interests.mentioned_ids == named


@pytest.mark.parametrize(
    "message, named, wished, ruled_out",
    [
        ("a scary movie", [], {"horror"}, set()),  # a kind of film after "a", not the film Scary Movie
        ("looking for another superhero movie", [], set(), set()),
        ("a date night movie with my wife", [], set(), set()),
        ("I like scary movies", [], {"horror"}, set()),  # in the plural
        ("I do not like scary movies", [], set(), {"horror"}),
        ("I loved Scary Movie", ["scary"], set(), set()),  # written as the title
        ("have you seen scary movie?", ["scary"], set(), set()),  # no "a", singular: the film
        ("a scary movie like the shining", ["shining"], {"horror"}, set()),
        ("a christmas movie for the family", [], {"family"}, set()),  # category words alone: the category
        ("I loved The Family", ["the-family"], set(), set()),
        ("a haunted house film", [], set(), set()),  # the article is the title's, the words a topic
        ("i loved a haunted house, so funny", ["a-haunted-house"], {"comedy"}, set()),  # no film word: the title
        ("I loved A Haunted House movie", ["a-haunted-house"], set(), set()),  # written as the title
    ],
)
def test_a_kind_of_film_is_no_title(redial, message, named, wished, ruled_out):
    interests = redial(message)
    assert interests.liked_ids + interests.disliked_ids + interests.mentioned_ids == named
    assert interests.constraints.include_categories == wished
    assert interests.constraints.exclude_categories == ruled_out


@pytest.mark.parametrize(
    "message, named",
    [
        ("we have no children so anything goes, something thrilling", []),
        ("I'm up for anything, whatever works", []),
        ("I loved Anything Goes", ["anything-goes"]),  # written as a title
        ("have you seen Whatever Works?", ["whatever-works"]),
    ],
)
def test_a_title_of_chat_words_counts_only_when_written_as_one(message, named):
    catalog = Catalog(
        (
            Item(id="anything-goes", title="Anything Goes", year=1956),
            Item(id="whatever-works", title="Whatever Works", year=2009),
        )
    )
    interests = RuleBasedUnderstander(["thriller"], title_matcher(catalog)).understand(message)
    assert interests.liked_ids + interests.disliked_ids + interests.mentioned_ids == named


@pytest.mark.parametrize(
    "message, years, notices",
    [
        ("a classic western, nothing after 1970", (None, 1970), []),  # was read as "1971 or later"
        ("a comedy but nothing before 1990", (1990, None), []),
        ("I don't want anything before 1990", (1990, None), []),
        ("no movies older than 1980 please", (1980, None), []),
        ("nothing released since 2010", (None, 2009), []),
        ("nothing later than 2000", (None, 2000), []),
        ("a western from before 1970", (None, 1969), []),  # no negation: as before
        ("a horror movie made after 1990", (1991, None), []),
        ("I don't mind anything before 1990", (None, 1989), []),  # not minding is no negation
        ("not a fan of the eighties", (None, None), ["say 'before 1980' or 'after 1989'"]),
        ("a comedy, no 90s movies", (None, None), ["say 'before 1990' or 'after 1999'"]),
    ],
)
def test_a_negated_year_bound_is_turned_round(message, years, notices):
    interests = RuleBasedUnderstander(["comedy", "western", "horror"], dated=True).understand(message)
    assert interests.constraints.years == years
    assert [n for n in notices if not any(n in said for said in interests.notices)] == []
    assert bool(interests.notices) == bool(notices)


def test_a_negated_bound_rules_out_no_category():
    """'a western not after 1970': the negation is the bound's, not the western's."""
    interests = RuleBasedUnderstander(["western"], dated=True).understand("a western not after 1970")
    assert interests.constraints.include_categories == {"western"} and not interests.constraints.exclude_categories


@pytest.mark.parametrize(
    "message, named, wishes",
    [
        ("a horror movie with Jack Nicholson", [], ["horror", "jack", "nicholson"]),  # his name, not the film Jack
        ("I loved Jack", ["jack"], []),
        ("I loved Jack, Jack Nicholson was great", ["jack"], ["jack", "nicholson"]),  # the title alone still counts
        ("I loved Jack Reacher", ["jack-reacher"], []),  # a longer title, no name
        ("a drama starring Meryl Streep", [], ["drama", "meryl", "streep"]),  # "starring" is no wish
    ],
)
def test_a_title_inside_a_credited_name_is_no_title(message, named, wishes):
    catalog = Catalog(
        (
            Item(id="jack", title="Jack", year=1996, attributes={"stars": ["Robin Williams"]}),
            Item(id="jack-reacher", title="Jack Reacher", year=2012, attributes={"stars": ["Tom Cruise"]}),
            Item(id="shining", title="The Shining", year=1980, attributes={"stars": ["Jack Nicholson"]}),
            Item(id="kramer", title="Kramer vs. Kramer", year=1979, attributes={"stars": ["Meryl Streep"]}),
        )
    )
    understander = RuleBasedUnderstander(
        ["horror", "drama"], title_matcher(catalog), dated=True, people=PeopleIndex(catalog)
    )
    interests = understander.understand(message)
    assert interests.liked_ids + interests.disliked_ids + interests.mentioned_ids == named
    assert interests.wishes == wishes


@pytest.mark.parametrize(
    "message, wishes",
    [
        ("a time travel movie", ["time travel"]),  # was "travel": "time" is a chat word
        ("a road trip comedy", ["comedy", "road trip"]),
        ("a christmas movie", ["christmas"]),
        ("a martial arts movie", ["martial arts"]),  # was "martial" and "arts": two wishes in the reply
    ],
)
def test_a_topic_of_two_words_is_one_wish(u, message, wishes):
    assert u(message).wishes == wishes


@pytest.mark.parametrize(
    "message, topics, wishes",
    [
        ("a romantic movie set in Paris", ["paris"], ["romantic", "paris"]),
        ("a film set in New York", ["new york"], ["new york"]),
        ("a comedy that takes place in a small town", ["small town"], ["comedy", "small town"]),  # not "takes"
        ("a christmas movie set in London", ["christmas", "london"], ["christmas", "london"]),
        ("a drama set in the 1920s", [], ["drama"]),  # a time, not a place: the years say it
        ("anything but a film set in Paris", [], []),
    ],
)
def test_where_a_story_is_set_is_what_it_is_about(u, message, topics, wishes):
    interests = u(message)
    assert interests.topics == topics
    assert interests.wishes == wishes


@pytest.mark.parametrize(
    "message, wished, ruled_out",
    [
        ("anything but horror please", set(), {"horror"}),  # it asked for horror
        ("I like everything but fantasy movies.", set(), {"fantasy"}),  # ReDial valid: it asked for fantasy
        ("a little bit of everything but right now I would like action", {"action"}, set()),  # "but" joins
        ("I love everything but I really want a comedy", {"comedy"}, set()),
    ],
)
def test_anything_but_negates_what_follows(message, wished, ruled_out):
    interests = RuleBasedUnderstander(["comedy", "horror", "fantasy", "action"]).understand(message)
    assert interests.constraints.include_categories == wished
    assert interests.constraints.exclude_categories == ruled_out


def test_a_verb_or_a_possessive_is_no_wish_nor_a_product_type(u):
    interests = u("a gift for a coworker who likes to organise their desk")
    assert interests.wishes == ["gift", "coworker", "organise", "desk"]
    assert interests.phrases == ["gift", "coworker", "organise", "desk"]  # no "likes": it named the type "like"


def test_seen_them_all_steers_away_softly_and_names_no_like(redial):
    interests = redial("I've seen all the superhero movies, what else?")
    assert "superhero" in interests.avoid_terms and not interests.ruled_out_terms  # soft: nothing ruled out
    assert not interests.constraints.exclude_categories and "superhero" not in interests.wishes
    seen = redial("we've seen every Titanic movie")
    assert seen.mentioned_ids == seen.seen_series_ids == ["titanic"]  # seen, neither liked nor disliked
    assert not seen.liked_ids and not seen.disliked_ids


def test_a_category_found_in_the_singular_is_one_wish():
    shop = RuleBasedUnderstander(["books", "office products"])
    assert shop.understand("a mystery book").wishes == ["books", "mystery"]  # not "books" and "book" as well
