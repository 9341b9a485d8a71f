"""retrieval.lexical: BM25 over the whole item text, and the saved index a start-up reads instead of building."""

from __future__ import annotations

import logging

import bm25s
import numpy as np
import pytest

from retrieval.lexical import LexicalIndex
from tailtalk.catalog import Catalog, Item

CATALOG = Catalog(
    (
        Item(id="1", title="Inception", attributes={"director": ["Christopher Nolan"]}),
        Item(id="2", title="Up", description="An old man flies his house with balloons"),
        Item(id="3", title="Saw", categories=["horror"]),
    )
)


def test_names_anywhere_in_the_item_text_are_found():
    scores = LexicalIndex(CATALOG).scores("films by christopher nolan")
    assert scores.argmax() == 0 and scores[1] == scores[2] == 0


def test_ignored_words_never_match_a_title():
    assert LexicalIndex(CATALOG).scores("I saw that one")[2] > 0
    assert LexicalIndex(CATALOG, ignored_words={"saw"}).scores("I saw that one").max() == 0


def test_a_saved_index_is_read_back_instead_of_built(tmp_path, monkeypatch):
    built = LexicalIndex(CATALOG, folder=tmp_path / "bm25")
    monkeypatch.setattr(bm25s.BM25, "index", lambda *a, **k: pytest.fail("built again"))
    loaded = LexicalIndex(CATALOG, folder=tmp_path / "bm25")
    for text in ("old man balloons", "christopher nolan", "horror"):
        np.testing.assert_array_equal(loaded.scores(text), built.scores(text))


def test_another_catalogue_rebuilds_and_replaces_the_saved_index(tmp_path):
    LexicalIndex(CATALOG, folder=tmp_path / "bm25")
    other = Catalog((Item(id="9", title="Alien", categories=["sci-fi"]),))
    assert LexicalIndex(other, folder=tmp_path / "bm25").scores("alien")[0] > 0
    assert LexicalIndex(other, folder=tmp_path / "bm25").ids == ["9"]
    assert [p.name for p in tmp_path.iterdir()] == ["bm25"]  # no staging folder left behind


def test_a_garbled_saved_index_is_rebuilt_and_the_log_says_so(tmp_path, caplog):
    LexicalIndex(CATALOG, folder=tmp_path / "bm25")
    (tmp_path / "bm25" / "tailtalk_lexical.json").write_text("{not json", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="retrieval.lexical"):
        index = LexicalIndex(CATALOG, folder=tmp_path / "bm25")
    assert index.scores("christopher nolan").argmax() == 0
    assert "cannot be read" in caplog.text


def test_an_unwritable_folder_still_serves(tmp_path, caplog):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="retrieval.lexical"):
        index = LexicalIndex(CATALOG, folder=blocked / "bm25")
    assert index.scores("christopher nolan").argmax() == 0
    assert "cannot be saved" in caplog.text
