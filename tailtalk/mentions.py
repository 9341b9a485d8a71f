"""Mention lists: which items each training dialogue named, in order, and whether the seeker liked them.

This is the input of the collaborative signal (:mod:`retrieval.collaborative`): no text, only
``{"id": dialogue id, "items": [item ids in order], "liked": [true/false per item]}``, one
dialogue per line of ``mentions.jsonl`` in a prepared dataset.

ReDial's published mention lists (``redial/mentions/``) name films by an index into
``item_titles.tsv`` ("Title: X.  Genres: a, b", no year), not by ReDial movie id.
:func:`link_titles` links each index to a movie id: by title; where several films share a
title, the training dialogues that have text settle it (the index's dialogues name the
film), then shared genres, then the larger mention count.

Example::

    >>> lists = {"c1": [(0, True), (1, False), (2, True)]}
    >>> titles = {0: ("Alien", ["sci-fi"]), 1: ("Heat", ["crime"]), 2: ("Nowhere Film", [])}
    >>> films = [FilmRecord("10", "Alien", ["sci-fi"], 5), FilmRecord("11", "Heat", ["crime"], 4),
    ...          FilmRecord("12", "Heat", ["drama"], 1)]
    >>> linking = link_titles(titles, films, lists, text_mentions={})
    >>> linking.index_to_id, linking.counts()
    ({0: '10', 1: '11'}, {'linked': 1, 'guessed': 1, 'dropped': 1})
"""

from __future__ import annotations

import ast
import csv
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tailtalk.catalog import DataFormatError, jsonl_lines


class MentionList(BaseModel):
    """One dialogue's mentioned items in order, with the seeker's verdict on each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    items: tuple[str, ...]
    liked: tuple[bool, ...]

    @model_validator(mode="after")
    def _same_length(self) -> MentionList:
        if len(self.items) != len(self.liked):
            raise ValueError(f"items has {len(self.items)} entries but liked has {len(self.liked)}")
        return self


def load_mention_lists(path: Path | str) -> list[MentionList]:
    """Read ``mentions.jsonl``; a malformed line raises with its number."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mention lists {path} do not exist; run `tailtalk data prepare redial` first")
    result = []
    for line_no, raw in jsonl_lines(path):
        try:
            result.append(MentionList.model_validate_json(raw))
        except ValidationError as exc:
            raise DataFormatError.from_validation(path, line_no, exc) from None
    return result


def title_key(title: str) -> str:
    """A title as a comparison key: accents and mis-decoded characters dropped, punctuation folded.

    >>> title_key("Fight Club \\u00c2 Members Only") == title_key("Fight Club \\u2013 Members Only")
    True
    """
    # "\u00c2" is what a UTF-8 dash or non-breaking space leaves behind when mis-decoded as Latin-1.
    text = unicodedata.normalize("NFKD", title.replace("\u00c2", " ")).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


_TITLE_LINE = re.compile(r"^Title: (?P<title>.*?)\.\s+Genres:\s*(?P<genres>.*)$")


def read_item_titles(path: Path) -> dict[int, tuple[str, list[str]]]:
    """``item_titles.tsv``: index -> (title, genres)."""
    result: dict[int, tuple[str, list[str]]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows, None)
        if header != ["index", "text"]:
            raise DataFormatError(path, 1, "header", f"expected 'index<TAB>text', found {header!r}")
        for line_no, row in enumerate(rows, start=2):
            match = _TITLE_LINE.match(row[1]) if len(row) == 2 else None
            if match is None or not row[0].isdigit():
                raise DataFormatError(path, line_no, "text", f"expected 'N<TAB>Title: T.  Genres: G', found {row!r}")
            genres = [g.strip().lower() for g in match["genres"].split(",") if g.strip()]
            result[int(row[0])] = (match["title"], genres)
    return result


def read_mention_csv(path: Path) -> dict[str, list[tuple[int, bool]]]:
    """A ``*_LIST.csv`` file: dialogue id -> its whole ordered mention list (the ``qt_movies_mentioned == 0`` row)."""
    result: dict[str, list[tuple[int, bool]]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"ConvID", "qt_movies_mentioned", "movie_ReDOrId", "rating"} - set(reader.fieldnames or ())
        if missing:
            raise DataFormatError(path, 1, "header", f"lacks column(s) {', '.join(sorted(missing))}")
        for line_no, row in enumerate(reader, start=2):
            if row["qt_movies_mentioned"] != "0":
                continue  # the other rows are suffixes of the whole list
            try:
                indexes, ratings = ast.literal_eval(row["movie_ReDOrId"]), ast.literal_eval(row["rating"])
            except (ValueError, SyntaxError) as exc:
                raise DataFormatError(path, line_no, "movie_ReDOrId", f"not a list of numbers ({exc})") from None
            if not (isinstance(indexes, list) and isinstance(ratings, list)) or len(indexes) != len(ratings):
                raise DataFormatError(path, line_no, "rating", "must be a list as long as movie_ReDOrId")
            result[row["ConvID"]] = [(int(i), bool(r)) for i, r in zip(indexes, ratings)]
    return result


@dataclass(frozen=True)
class FilmRecord:
    """What linking knows of a catalogue film: id, title (no year), genres, mentions in the whole dataset."""

    id: str
    title: str
    genres: list[str]
    mentions: int


@dataclass
class Linking:
    index_to_id: dict[int, str]
    linked: set[int] = field(default_factory=set)  # one film has the title, or the dialogues with text settle it
    guessed: set[int] = field(default_factory=set)  # several films share the title: genres or counts chose
    dropped: set[int] = field(default_factory=set)  # no film has the title

    def counts(self) -> dict[str, int]:
        return {"linked": len(self.linked), "guessed": len(self.guessed), "dropped": len(self.dropped)}


def link_titles(
    titles: Mapping[int, tuple[str, Sequence[str]]],
    films: Iterable[FilmRecord],
    lists: Mapping[str, Sequence[tuple[int, bool]]],
    text_mentions: Mapping[str, set[str]],
) -> Linking:
    """Link each used title index to a film id (see the module docstring for the order of evidence).

    ``text_mentions`` maps dialogue ids that have text to the film ids their text names.
    Only indexes some list uses are linked.
    """
    by_key: dict[str, list[FilmRecord]] = {}
    for film in films:
        by_key.setdefault(title_key(film.title), []).append(film)
    used = sorted({index for items in lists.values() for index, _ in items})
    votes: dict[int, Counter[str]] = {index: Counter() for index in used}
    for dialogue_id, items in lists.items():
        named = text_mentions.get(dialogue_id)
        if named:
            for index, _ in items:
                title = titles.get(index, ("", []))[0]
                votes[index].update(f.id for f in by_key.get(title_key(title), []) if f.id in named)
    linking = Linking({})
    for index in used:
        title, genres = titles.get(index, ("", []))
        candidates = by_key.get(title_key(title), []) if title_key(title) else []
        if not candidates:
            linking.dropped.add(index)
            continue
        if len(candidates) == 1 or votes[index]:
            chosen = votes[index].most_common(1)[0][0] if votes[index] else candidates[0].id
            linking.linked.add(index)
        else:
            best = max(candidates, key=lambda f: (len(set(f.genres) & set(genres)), f.mentions, f.id))
            chosen = best.id
            linking.guessed.add(index)
        linking.index_to_id[index] = chosen
    return linking


def linked_lists(lists: Mapping[str, Sequence[tuple[int, bool]]], linking: Linking) -> Iterator[MentionList]:
    """The mention lists in film ids; unlinked mentions left out, a repeated film kept at its first mention."""
    for dialogue_id, items in lists.items():
        seen: dict[str, bool] = {}
        for index, liked in items:
            film = linking.index_to_id.get(index)
            if film is not None and film not in seen:
                seen[film] = liked
        if seen:
            yield MentionList(id=dialogue_id, items=tuple(seen), liked=tuple(seen.values()))
