"""What people named lately, on a toy log, with every expected score computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tailtalk.mentions import MentionList
from retrieval.recent import RecentConfig, RecentMentions

ITEMS = ["a", "b", "c"]


def mentions(dialogue_id: str, *items: str) -> MentionList:
    return MentionList(id=dialogue_id, items=items, liked=tuple(True for _ in items))


# Logged out of order on purpose: the log's order is the integer ids' (9 before 10), then the others as given.
LOG = [
    mentions("10", "c"),
    mentions("9", "a", "b", "a"),  # a dialogue names an item once however often it says it
    mentions("feedback-1", "b"),
    mentions("11", "b", "c"),
]


def model(window: int) -> RecentMentions:
    return RecentMentions(RecentConfig(window=window)).fit(LOG, ITEMS)


def test_a_live_conversation_reads_the_latest_lists_by_hand():
    # Order: 9 (a, b), 10 (c), 11 (b, c), feedback-1 (b). The latest 2: b twice, c once.
    assert model(2).score() == pytest.approx([0.0, 1.0, math.log(2) / math.log(3)])
    # All four: a 1, b 3, c 2.
    assert model(10).score() == pytest.approx([math.log(2) / math.log(4), 1.0, math.log(3) / math.log(4)])


def test_a_replayed_dialogue_reads_only_what_was_logged_before_it():
    m = model(10)
    assert m.place("11") == 2 and m.place("10") == 1 and m.place("9") == 0 and m.place("12") == 3
    # Dialogue 11 replayed: lists 9 and 10 only, never its own mentions nor the feedback logged after.
    assert m.score("11") == pytest.approx([1.0, 1.0, 1.0])
    assert m.score("11") == pytest.approx(RecentMentions(RecentConfig(window=10)).fit(LOG[:2], ITEMS).score())
    # The first dialogue of the log has nothing before it.
    assert not m.score("9").any()
    # A dialogue after every integer id (a later test split) reads them all, but not the product's feedback:
    # a 1, b 2, c 2.
    assert m.score("12") == pytest.approx([math.log(2) / math.log(3), 1.0, 1.0])


def test_an_id_that_is_not_a_number_is_live():
    m = model(2)
    assert m.place("20191202-103716_425_live") == m.place(None) == 4
    assert m.score("Books:45:109:118") == pytest.approx(m.score())


def test_unknown_items_score_zero_and_columns_follow_the_callers_order():
    m = model(10)
    columns = m.columns_of(["c", "zzz", "a"])
    assert m.score_columns(None, columns) == pytest.approx([math.log(3) / math.log(4), 0.0, math.log(2) / math.log(4)])
    assert not RecentMentions(RecentConfig(window=3)).fit([], ITEMS).score().any()


def test_save_and_load_give_the_same_scores(tmp_path):
    m = model(2)
    m.save(tmp_path / "recent")
    assert RecentMentions.saved_in(tmp_path / "recent")
    loaded = RecentMentions.load(tmp_path / "recent")
    assert loaded.config == m.config
    for dialogue in (None, "10", "11", "feedback-1"):
        assert np.array_equal(loaded.score(dialogue), m.score(dialogue))


def test_the_window_is_validated():
    with pytest.raises(ValueError, match="window must be at least 1"):
        RecentConfig(window=0)
