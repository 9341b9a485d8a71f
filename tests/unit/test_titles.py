"""tailtalk.titles: fuzzy, greedy title spotting and split_title_year."""

from __future__ import annotations

import pytest

from tailtalk.titles import TitleMatcher, normalise, split_title_year


@pytest.fixture(scope="module")
def matcher() -> TitleMatcher:
    return TitleMatcher(
        [
            ("shining", "The Shining", 1980),
            ("follows", "It Follows", 2014),
            ("it17", "It", 2017),
            ("it90", "It", 1990),
            ("loved", "Loved", 1997),
            ("up", "Up", 2009),
            ("heat", "Heat", 1995),
            ("titanic", "Titanic", 1997),
            ("american", "The American", 2010),
            ("scary3", "Scary Movie 3", 2003),
            ("scary", "Scary Movie", 2000),
        ],
        popularity={"it17": 10, "it90": 3},
    )


def ids(matcher: TitleMatcher, text: str) -> list[str]:
    return [hit.item_id for hit in matcher.find(text)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I loved the shinning", ["shining"]),  # a typo
        ("i loved THE SHINING!", ["shining"]),
        ("It Follows was great", ["follows"]),  # the longer title claims "It"
        ("I liked It Follows and the shining", ["follows", "shining"]),  # in text order
        ("the shining, then Titanic", ["shining", "titanic"]),
        ("a trip to italy", []),  # "it" inside a word is no mention
        ("a war film that isn't American", []),  # the "t" of "isn't" is not the "the" of The American
        ("I loved the American", ["american"]),
        ("I loved Scary Movie", ["scary"]),  # the exact title, not its sequel matching the same words at 92
        ("I loved Scary Movie 3", ["scary3"]),
        ("", []),
        ("!!!", []),
    ],
)
def test_find(matcher, text, expected):
    assert ids(matcher, text) == expected


def test_hit_spans_index_the_normalised_text(matcher):
    text = "I liked It Follows and the shinning"
    norm = normalise(text)
    follows, shining = matcher.find(text)
    assert norm[follows.start : follows.end] == "it follows"
    assert norm[shining.start : shining.end] == "the shinning"
    assert follows.title == "it follows" and follows.score == 100.0
    assert 90.0 <= shining.score < 100.0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I loved It", []),  # bare short title: too common a word
        ("I loved it", []),
        ('I loved "It"', ["it17"]),
        ("I loved 'It'", ["it17"]),
        ("I loved “It”", ["it17"]),
        ("I liked Up", []),
        ('I liked "Up"', ["up"]),
        ("Up (2009) was sweet", ["up"]),
        ("up for anything", []),
    ],
)
def test_short_titles_need_quotes_or_a_year(matcher, text, expected):
    assert ids(matcher, text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I loved It (1990)", ["it90"]),
        ("I loved It 1990", ["it90"]),
        ("I loved 'It' (2017)", ["it17"]),
        ('"It" (2005)', ["it17"]),  # unknown year: the more popular edition
        ('"It"', ["it17"]),
    ],
)
def test_year_picks_the_remake(matcher, text, expected):
    assert ids(matcher, text) == expected


def test_year_extends_the_span(matcher):
    (hit,) = matcher.find("I loved It (1990)")
    assert normalise("I loved It (1990)")[hit.start : hit.end] == "it 1990"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I loved that one", []),
        ("loved it", []),
        ("I watched Loved last night", ["loved"]),
        ("Loved was good", ["loved"]),
        ("heat", []),
        ("Heat", ["heat"]),
        ("Heats", []),
    ],
)
def test_one_word_titles_need_capitalisation(matcher, text, expected):
    assert ids(matcher, text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I want a good scary movie for a sleepover", []),
        ("any good heist films?", []),
        ("I loved Scary Movie", ["scary"]),
        ("The Heist was fun", ["heist"]),
        ("I loved scary movie", []),  # lower case: a request, not a title
        ("I loved Scary Movie 3", ["scary3"]),  # a word outside the everyday ones: spotted as before
        ("i loved scary movie 3", ["scary3"]),
    ],
)
def test_titles_of_everyday_words_need_capitalisation(text, expected):
    everyday = frozenset({"scary", "movie", "the", "heist", "good", "films"})
    m = TitleMatcher(
        [("scary", "Scary Movie", 2000), ("scary3", "Scary Movie 3", 2003), ("heist", "The Heist", 2001)],
        everyday_words=everyday,
    )
    assert ids(m, text) == expected


@pytest.mark.parametrize("pop_a, pop_b, expected", [(5, 2, "a"), (2, 5, "b"), (0, 0, "a")])
def test_popularity_breaks_ties_between_same_titles(pop_a, pop_b, expected):
    matcher = TitleMatcher([("a", "Psycho", 1960), ("b", "Psycho", 1998)], popularity={"a": pop_a, "b": pop_b})
    assert ids(matcher, "I loved Psycho") == [expected]
    assert ids(matcher, "I loved Psycho (1998)") == ["b"]
    assert ids(matcher, "Psycho 1960") == ["a"]


def test_limit_caps_hits():
    matcher = TitleMatcher([("a", "The Shining", 1980), ("b", "Titanic", 1997), ("c", "Jurassic Park", 1993)])
    assert ids(matcher, "Titanic, Jurassic Park and The Shining") == ["b", "c", "a"]
    assert [h.item_id for h in matcher.find("Titanic, Jurassic Park and The Shining", limit=2)] == ["b", "c"]


def test_accented_titles_match_with_accents():
    matcher = TitleMatcher([("a", "Amélie", 2001)])
    assert ids(matcher, "I loved Amélie") == ["a"]


@pytest.mark.parametrize("text", ["I loved Airplane!", "Airplane! was funny"])
def test_one_word_title_ending_in_punctuation(text):
    assert ids(TitleMatcher([("a", "Airplane!", 1980)]), text) == ["a"]


def test_accented_one_word_title_matches_without_accents():
    assert ids(TitleMatcher([("a", "Amélie", 2001)]), "I loved Amelie") == ["a"]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("The Shining", "the shining"),
        ("  Amélie!!  ", "amelie"),
        ("M*A*S*H", "m a s h"),
        ("Don't\tLook   Up", "don t look up"),
    ],
)
def test_normalise(raw, expected):
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Police Academy  (1984)", ("Police Academy", 1984)),
        ("Alien", ("Alien", None)),
        ("Blade Runner 2049", ("Blade Runner 2049", None)),
        ("1984 (1984)", ("1984", 1984)),
        ("  Up (2009) ", ("Up", 2009)),
        ("M*A*S*H (1970)", ("M*A*S*H", 1970)),
        ("Movie (19)", ("Movie (19)", None)),
    ],
)
def test_split_title_year(name, expected):
    assert split_title_year(name) == expected


def test_a_title_sharing_few_trigrams_with_the_text_is_not_scored():
    """The full scan found "The Sowers" in "the owners" and "The Shining" in "the singing" (both in ReDial's
    logs); the blocking index never scores them, and still finds a title written with a typo."""
    m = TitleMatcher([("sowers", "The Sowers", 1980), ("shining", "The Shining", 1980)])
    assert ids(m, "the movie about what the pets do when the owners are gone?") == []
    assert ids(m, "aside from all the singing LOL") == []
    assert ids(m, "I loved the shinning") == ["shining"]


@pytest.mark.integration
def test_blocking_finds_what_scoring_every_title_finds_on_redial(redial_settings, monkeypatch):
    """On 2,000 logged ReDial messages the blocked matcher finds no title the full scan misses, and differs
    from it on at most 2 (on 30,000 training messages it differed on 4, each a false match of the full scan)."""
    from tailtalk.catalog import load_catalog
    from tailtalk.dialogues import load_dialogues
    from tailtalk.titles import _TrigramBlocking

    matcher = TitleMatcher((i.id, i.title, i.year) for i in load_catalog(redial_settings.catalog_path))
    dialogues = load_dialogues(redial_settings.dataset_dir() / "valid.jsonl")
    messages = [t.text for d in dialogues for t in d.turns][:2000]
    blocked = [matcher.find(text) for text in messages]
    monkeypatch.setattr(_TrigramBlocking, "candidates", lambda self, text: self.titles)
    scanned = [matcher.find(text) for text in messages]

    assert len(messages) == 2000 and sum(map(bool, blocked)) > 300  # the messages do name titles
    assert all({h.item_id for h in b} <= {h.item_id for h in s} for b, s in zip(blocked, scanned))
    assert sum(b != s for b, s in zip(blocked, scanned)) <= 2


def test_a_titles_series_is_the_titles_that_hold_it_whole():
    from tailtalk.titles import TitleSeries

    series = TitleSeries(
        [
            ("sw", "Star Wars"),
            ("r1", "Rogue One: A Star Wars Story"),
            ("kid", "Star Wars Kid"),
            ("wars", "Wars of the Stars"),  # the same words, not the title
            ("m", "The Matrix"),
            ("m2", "The Matrix Reloaded"),
            ("h", "The Heat"),
            ("n", "In the Heat of the Night"),  # "The X" counts only at the start
            ("up", "Up"),
            ("upa", "Up in the Air"),  # a title of one word says too little
        ]
    )
    assert series.of(["sw"]) == {"r1", "kid"}
    assert series.of(["m"]) == {"m2"}
    assert series.of(["h"]) == set() and series.of(["up"]) == set()
    assert series.of(["unknown"]) == set() and series.of([]) == set()
    assert series.of(["r1"]) == set()  # a spin-off does not take its original with it
