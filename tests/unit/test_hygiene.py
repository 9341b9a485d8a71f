"""tailtalk.hygiene: decoded titles, years from side information, merged duplicates, wrong joins rejected."""

from __future__ import annotations

from tailtalk.hygiene import (
    FilmReference,
    SourceFilm,
    clean_redial_films,
    decode_title,
    merge_duplicates,
    read_movielens_reference,
    reference_title,
    rejects_side_info,
    year_from_side_info,
)

# MovieLens as it knows the films below: IMDb id -> "Title (year)", its own way of writing titles.
REFERENCE = FilmReference.from_rows(
    [
        ("tt0416449", "300 (2007)"),
        ("tt0087800", "Nightmare on Elm Street, A (1984)"),
        ("tt1179056", "Nightmare on Elm Street, A (2010)"),
        ("tt2294629", "Frozen (2013)"),
        ("tt0117218", "Nutty Professor, The (1996)"),
    ]
)


def record(imdb_id: str, star: str, genre: str = "drama") -> dict:
    """A side-information record as iEvaLM's id2info.json writes it (its name is ReDial's, so left out)."""
    return {"imdb_id": imdb_id, "star": [star], "genre": [genre], "plot": f"A film with {star}."}


def film(film_id: str, title: str, year: int | None, side: dict | None = None, mentions: int = 1) -> SourceFilm:
    return SourceFilm(film_id, title, year, mentions, side)


def test_url_encoded_titles_are_decoded_and_a_literal_percent_is_kept():
    assert decode_title("What About Bob%3F") == "What About Bob?"
    assert decode_title("%22Crocodile%22 Dundee") == '"Crocodile" Dundee'
    assert decode_title("100% Wolf") == "100% Wolf"


def test_movielens_titles_are_written_as_redial_writes_them():
    assert reference_title("Nightmare on Elm Street, A") == "A Nightmare on Elm Street"
    assert reference_title("Boot, Das (Boat, The)") == "Das Boot"
    assert reference_title("How the Grinch Stole Christmas (a.k.a. The Grinch)") == "How the Grinch Stole Christmas"


def test_movielens_files_are_joined_on_movie_id(tmp_path):
    movies = tmp_path / "movies.csv"
    links = tmp_path / "links.csv"
    movies.write_text('movieId,title,genres\n1,"Shining, The (1980)",Horror\n', encoding="utf-8")
    links.write_text("movieId,imdbId,tmdbId\n1,0081505,694\n", encoding="utf-8")
    reference = read_movielens_reference(movies, links)
    assert reference.by_imdb == {"tt0081505": ("The Shining", 1980)}
    assert reference.by_title_year == {("the shining", 1980): frozenset({"tt0081505"})}


def test_the_two_known_wrong_joins_are_rejected():
    # "300 (2007)" carries the record of a 2003 Hong Kong romance (tt0373839, unknown to MovieLens):
    # MovieLens knows 300 (2007) under another id.
    assert rejects_side_info("300", 2007, "tt0373839", REFERENCE)
    # "A Nightmare on Elm Street (1984)" carries the 2010 remake's record: its year is 26 years away.
    assert rejects_side_info("A Nightmare on Elm Street", 1984, "tt1179056", REFERENCE)
    # The right records, and a record nothing is known of, stand.
    assert not rejects_side_info("300", 2007, "tt0416449", REFERENCE)
    assert not rejects_side_info("A Nightmare on Elm Street", 2010, "tt1179056", REFERENCE)
    assert not rejects_side_info("Some Obscure Film", 1999, "tt9999999", REFERENCE)


def test_years_a_source_or_two_apart_are_the_same_release():
    # MovieLens dates The Nutty Professor 1996; a source saying 1997 or 1998 still means that film.
    assert not rejects_side_info("The Nutty Professor", 1998, "tt0117218", REFERENCE)
    assert rejects_side_info("The Nutty Professor", 2008, "tt0117218", REFERENCE)


def test_a_missing_year_comes_from_the_record_only_when_its_film_has_the_title():
    assert year_from_side_info("Frozen", "tt2294629", REFERENCE) == 2013
    assert year_from_side_info("Frozen Planet", "tt2294629", REFERENCE) is None
    assert year_from_side_info("Frozen", "tt0000001", REFERENCE) is None


def test_same_title_and_year_merge_into_the_most_mentioned_id():
    aliases = merge_duplicates([film("1", "Triangle", 2009, mentions=1), film("2", "Triangle", 2009, mentions=3)])
    assert aliases == {"1": "2", "2": "2"}


def test_different_years_stay_separate_films():
    aliases = merge_duplicates(
        [film("1", "A Nightmare on Elm Street", 1984), film("2", "A Nightmare on Elm Street", 2010)]
    )
    assert aliases == {"1": "1", "2": "2"}


def test_an_undated_entry_joins_the_dated_film_whose_side_information_it_shares():
    frozen = record("tt2294629", "Kristen Bell")
    aliases = merge_duplicates(
        [
            film("7", "Frozen", None, frozen, mentions=13),
            film("8", "Frozen", 2013, frozen, mentions=220),
            film("9", "Frozen", 2010, record("tt1323045", "Emma Bell")),
        ]
    )
    assert aliases == {"7": "8", "8": "8", "9": "9"}


def test_an_undated_entry_without_agreeing_side_information_stays_alone():
    aliases = merge_duplicates(
        [
            film("1", "The Mummy", None, record("tt0000002", "Boris Karloff")),
            film("2", "The Mummy", 1999, record("tt0120616", "Brendan Fraser")),
            film("3", "The Mummy", None),
        ]
    )
    assert aliases == {"1": "1", "2": "2", "3": "3"}


def test_an_undated_entry_whose_record_two_dated_films_share_stays_alone():
    shared = record("tt1179056", "Rooney Mara")
    aliases = merge_duplicates(
        [
            film("1", "A Nightmare on Elm Street", None, shared),
            film("2", "A Nightmare on Elm Street", 1984, shared),
            film("3", "A Nightmare on Elm Street", 2010, shared),
        ]
    )
    assert aliases["1"] == "1"


def test_clean_redial_films_repairs_and_counts():
    rows = [
        ("136877", "300  (2007)", 72),
        ("77161", "A Nightmare on Elm Street (1984)", 164),
        ("119295", "A Nightmare on Elm Street  (2010)", 25),
        ("119662", "What About Bob%3F (1991)", 32),
        ("107018", "Frozen", 13),
        ("82894", "Frozen (2013)", 220),
        ("999", "(1999)", 1),
    ]
    remake = record("tt1179056", "Rooney Mara", "horror")
    side_info = {
        "136877": record("tt0373839", "Shawn Yue", "romance"),
        "77161": remake,
        "119295": remake,
        "107018": record("tt2294629", "Kristen Bell", "animation"),
        "82894": record("tt2294629", "Kristen Bell", "animation"),
    }
    clean = clean_redial_films(rows, side_info, REFERENCE)
    films = {f.id: f for f in clean.films}
    assert films["136877"].side is None and films["136877"].year == 2007
    assert films["77161"].side is None and films["119295"].side == remake
    assert films["119662"].title == "What About Bob?"
    assert clean.aliases["107018"] == "82894" and "107018" not in films
    assert "999" not in clean.aliases  # a row with only a year names no film
    counts = clean.counts
    assert (
        counts.titles_decoded,
        counts.years_filled,
        counts.duplicates_merged,
        counts.side_info_rejected,
        counts.side_info_rejoined,
        counts.still_undated,
    ) == (1, 1, 1, 2, 0, 0)
    assert "titles decoded 1" in counts.summary() and "rejected as another film's 2" in counts.summary()


def test_a_rejected_record_is_replaced_by_the_right_film_s_record_when_the_file_has_it():
    right = record("tt0087800", "Heather Langenkamp", "horror")
    side_info = {"1": record("tt1179056", "Rooney Mara"), "2": right}
    clean = clean_redial_films(
        [("1", "A Nightmare on Elm Street (1984)", 5), ("2", "Elm Street Classic (1984)", 1)], side_info, REFERENCE
    )
    assert clean.films[0].side == right and clean.counts.side_info_rejoined == 1


def test_without_a_reference_titles_are_decoded_and_duplicates_merged_but_nothing_is_checked():
    shared = record("tt1179056", "Rooney Mara")
    clean = clean_redial_films(
        [("1", "A Nightmare on Elm Street (1984)", 5), ("2", "Why Him%3F (2016)", 1), ("3", "Why Him?  (2016)", 2)],
        {"1": shared},
        None,
    )
    assert clean.films[0].side == shared
    assert clean.aliases == {"1": "1", "2": "3", "3": "3"}
    assert "not checked" in clean.counts.summary()
