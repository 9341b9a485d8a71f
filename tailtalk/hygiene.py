"""Catalogue hygiene for ReDial: decoded titles, filled years, merged duplicates, side information checked.

ReDial's movie list was typed by crowd workers and its side information (iEvaLM's ``id2info.json``)
was joined to it by title alone, which leaves four defects that this module repairs:

* titles written URL-encoded (``What About Bob%3F``): decoded;
* films without a year: the year of the film their side information describes, where that film's
  title is the same (the record's IMDb id looked up in MovieLens, which has the year);
* the same film listed twice (``Frozen`` and ``Frozen (2013)``): merged into one id, so every
  mention of either counts for one item;
* side information of another film of the same title (``300 (2007)`` carrying a 2003 Hong Kong
  romance's cast, ``A Nightmare on Elm Street (1984)`` the 2010 remake's): rejected. ``id2info``'s
  own ``name`` is ReDial's name copied, so it never disagrees; the record's ``imdb_id`` is the one
  independent fact, and MovieLens (``links.csv`` + ``movies.csv``) gives that film's title and year.

Example::

    >>> reference = FilmReference.from_rows([("tt0416449", "300 (2007)")])
    >>> rejects_side_info("300", 2007, "tt0373839", reference)
    True
"""

from __future__ import annotations

import csv
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tailtalk.mentions import title_key
from tailtalk.titles import split_title_year

# Release years differ between sources (festival premiere versus release: ReDial's "Paranormal Activity
# (2007)" is MovieLens's 2009 film); a remake within two years of its original is rare.
YEAR_TOLERANCE = 2

_URL_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_TRAILING_PARENTHESES = re.compile(r"\s*\([^()]*\)\s*$")
# MovieLens writes "Shining, The" and "Misérables, Les"; the article goes back to the front to compare.
_TRAILING_ARTICLE = re.compile(r"^(.*), (The|A|An|Les|La|Le|L'|Il|El|Das|Der|Die|Los|Las|Un|Une)$")


def decode_title(title: str) -> str:
    """``"What About Bob%3F"`` -> ``"What About Bob?"``; a title without a ``%XX`` escape is left alone,
    so a literal percent sign ("100% Wolf") survives."""
    return urllib.parse.unquote(title) if _URL_ESCAPE.search(title) else title


def reference_title(movielens_title: str) -> str:
    """A MovieLens title (year already split off) as ReDial writes it: alternative titles in parentheses
    dropped, a trailing article moved to the front.

    >>> reference_title("Boot, Das (Boat, The)")
    'Das Boot'
    """
    title = movielens_title
    while _TRAILING_PARENTHESES.search(title):
        title = _TRAILING_PARENTHESES.sub("", title)
    match = _TRAILING_ARTICLE.match(title)
    return f"{match.group(2)} {match.group(1)}" if match else title


@dataclass(frozen=True)
class FilmReference:
    """Title and year per IMDb id, and IMDb ids per title and year, from a source that joined them by id."""

    by_imdb: dict[str, tuple[str, int | None]]
    by_title_year: dict[tuple[str, int], frozenset[str]]

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str]]) -> FilmReference:
        """Build from ``(imdb id "tt…", MovieLens title with "(year)")`` pairs."""
        by_imdb: dict[str, tuple[str, int | None]] = {}
        by_title_year: dict[tuple[str, int], set[str]] = {}
        for imdb_id, name in rows:
            title, year = split_title_year(name)
            title = reference_title(title)
            by_imdb[imdb_id] = (title, year)
            if year is not None:
                by_title_year.setdefault((title_key(title), year), set()).add(imdb_id)
        return cls(by_imdb, {key: frozenset(ids) for key, ids in by_title_year.items()})


def read_movielens_reference(movies_csv: Path, links_csv: Path) -> FilmReference:
    """MovieLens ``movies.csv`` (movieId, title with year) joined to ``links.csv`` (movieId, imdbId)."""
    with movies_csv.open(encoding="utf-8", newline="") as handle:
        names = {row["movieId"]: row["title"] for row in csv.DictReader(handle)}
    with links_csv.open(encoding="utf-8", newline="") as handle:
        # links.csv writes the IMDb id without its "tt" prefix, zero-padded to seven digits.
        rows = [(f"tt{row['imdbId']}", names[row["movieId"]]) for row in csv.DictReader(handle)]
    return FilmReference.from_rows(rows)


def rejects_side_info(title: str, year: int, imdb_id: str, reference: FilmReference) -> bool:
    """Whether a side-information record (by its IMDb id) describes another film than ``title (year)``.

    Either the record's film is known and its year is more than :data:`YEAR_TOLERANCE` away, or the
    film ``title (year)`` is known under other IMDb ids. Neither known: nothing contradicts the record.
    """
    known = reference.by_imdb.get(imdb_id)
    if known is not None and known[1] is not None and abs(known[1] - year) > YEAR_TOLERANCE:
        return True
    expected = reference.by_title_year.get((title_key(title), year))
    return expected is not None and imdb_id not in expected


def year_from_side_info(title: str, imdb_id: str, reference: FilmReference) -> int | None:
    """The year of the film a record describes, when that film has ``title`` (else the record was joined
    to a film of another name, and its year says nothing of this one)."""
    known = reference.by_imdb.get(imdb_id)
    if known is None or title_key(known[0]) != title_key(title):
        return None
    return known[1]


@dataclass(frozen=True)
class SourceFilm:
    """One row of ReDial's movie list after decoding and checking, before duplicates are merged.

    ``mentions`` (ReDial's count over the whole dataset) only chooses which id a merged film keeps.
    ``side`` is the accepted side-information record, None when absent or rejected.
    """

    id: str
    title: str
    year: int | None
    mentions: int
    side: Mapping[str, Any] | None

    @property
    def imdb_id(self) -> str | None:
        return (self.side or {}).get("imdb_id") or None


def merge_duplicates(films: Iterable[SourceFilm]) -> dict[str, str]:
    """Map every film id to the id of the film it is (itself when it has no duplicate).

    The same film: the same title (as :func:`tailtalk.mentions.title_key` compares) and the same year;
    or the same title, a year missing on one side, and the same side information (IMDb id). A film
    without a year whose record is that of several dated films stays alone: which one it is cannot be
    told. The kept id is the dated one, then the one with side information (so a merged film keeps a
    record when any of its duplicates has one), then the most mentioned, then the first in sort order.
    """
    films = list(films)
    groups: dict[tuple[str, int | None, str], list[SourceFilm]] = {}
    dated_by_record: dict[tuple[str, str], set[int]] = {}
    for film in films:
        if film.year is not None:
            groups.setdefault((title_key(film.title), film.year, ""), []).append(film)
            if film.imdb_id:
                dated_by_record.setdefault((title_key(film.title), film.imdb_id), set()).add(film.year)
    for film in films:
        if film.year is not None:
            continue
        key = title_key(film.title)
        years = dated_by_record.get((key, film.imdb_id), set()) if film.imdb_id else set()
        if len(years) == 1:
            groups[(key, next(iter(years)), "")].append(film)
        else:
            # Undated namesakes are one film only when their side information agrees; without it they stay apart.
            agreed = film.imdb_id if film.imdb_id and not years else film.id
            groups.setdefault((key, None, agreed), []).append(film)
    aliases: dict[str, str] = {}
    for members in groups.values():
        kept = min(members, key=lambda f: (f.year is None, f.side is None, -f.mentions, f.id))
        aliases.update((member.id, kept.id) for member in members)
    return aliases


@dataclass(frozen=True)
class HygieneCounts:
    """What :func:`clean_redial_films` repaired, for the ``prepare`` report."""

    titles_decoded: int
    years_filled: int
    still_undated: int
    duplicates_merged: int
    side_info_rejected: int
    side_info_rejoined: int
    reference: bool

    def summary(self) -> str:
        if not self.reference:
            checked = (
                "side information not checked and no years filled: MovieLens (the year of each "
                "record's IMDb id) comes only from a data mirror"
            )
        else:
            checked = (
                f"years filled {self.years_filled:,} ({self.still_undated:,} films still undated), "
                f"side information rejected as another film's {self.side_info_rejected:,} "
                f"(re-joined to the right record {self.side_info_rejoined:,})"
            )
        return (
            f"catalogue hygiene: titles decoded {self.titles_decoded:,}, "
            f"duplicates merged {self.duplicates_merged:,}, {checked}"
        )


@dataclass(frozen=True)
class CleanFilms:
    """The catalogue's films (one per merged group, under its kept id) and every source id's kept id."""

    films: list[SourceFilm]
    aliases: dict[str, str]
    counts: HygieneCounts


def clean_redial_films(
    rows: Iterable[tuple[str, str, int]], side_info: Mapping[str, Mapping[str, Any]], reference: FilmReference | None
) -> CleanFilms:
    """Decode, check, date and merge ReDial's ``(movieId, movieName, nbMentions)`` rows.

    Without a ``reference`` titles are still decoded and exact duplicates merged; nothing is checked.
    A rejected record is replaced by the record of the right film (by the IMDb ids the reference
    gives for title and year) where ``side_info`` holds one under another movie id.
    """
    by_imdb = {record["imdb_id"]: record for record in side_info.values() if record.get("imdb_id")}
    decoded = filled = rejected = rejoined = 0
    films = []
    for movie_id, name, mentions in rows:
        raw_title, year = split_title_year(name)
        title = decode_title(raw_title)
        decoded += title != raw_title
        if not title:
            continue  # two source rows carry only a year; a nameless item cannot be recommended
        record = side_info.get(movie_id)
        imdb_id = record.get("imdb_id") if record else None
        if reference is not None and record is not None and imdb_id:
            if year is None:
                year = year_from_side_info(title, imdb_id, reference)
                filled += year is not None
            elif rejects_side_info(title, year, imdb_id, reference):
                rejected += 1
                right = [
                    by_imdb[i]
                    for i in sorted(reference.by_title_year.get((title_key(title), year), ()))
                    if i in by_imdb
                ]
                record = right[0] if right else None
                rejoined += record is not None
        films.append(SourceFilm(movie_id, title, year, mentions, record))
    aliases = merge_duplicates(films)
    kept = [film for film in films if aliases[film.id] == film.id]
    counts = HygieneCounts(
        titles_decoded=decoded,
        years_filled=filled,
        still_undated=sum(f.year is None for f in kept),
        duplicates_merged=len(films) - len(kept),
        side_info_rejected=rejected,
        side_info_rejoined=rejoined,
        reference=reference is not None,
    )
    return CleanFilms(kept, aliases, counts)
