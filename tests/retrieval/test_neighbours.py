"""The conversation neighbours on a toy log, with every expected score computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.neighbours import ConversationNeighbours, NeighbourConfig

ITEMS = ["a", "b", "c"]
# Training turns: the context's unit vector, and what the recommender named next.
#   c0 (1, 0)      -> a
#   c1 (0.6, 0.8)  -> a, b
#   c2 (0, 1)      -> c
#   c3 (1, 0)      -> zzz (not in the catalogue: the turn is dropped)
CONTEXTS = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
NAMED = [("a",), ("a", "b"), ("c",), ("zzz",)]


def model(**options) -> ConversationNeighbours:
    return ConversationNeighbours(NeighbourConfig(**options)).fit(CONTEXTS, NAMED, ITEMS)


def test_the_nearest_contexts_vote_by_hand():
    # Query (1, 0): cosines c0 = 1, c1 = 0.6, c2 = 0. k = 2 keeps c0 and c1; votes exp((cos - 1) / 0.2):
    # c0 = 1, c1 = exp(-2). a is named by both, b by c1 alone, c by no one of the two.
    scores = model(k=2, temperature=0.2).score(np.array([1.0, 0.0]))
    assert scores == pytest.approx([1 + np.exp(-2), np.exp(-2), 0.0])


def test_a_wider_neighbourhood_lets_farther_contexts_vote_less():
    # k = 3 adds c2 (cosine 0): its vote exp(-5) goes to c.
    scores = model(k=3, temperature=0.2).score(np.array([1.0, 0.0]))
    assert scores == pytest.approx([1 + np.exp(-2), np.exp(-2), np.exp(-5)])
    # A higher temperature evens the votes out: c1's vote is exp(-0.4 / 1).
    assert model(k=2, temperature=1.0).score(np.array([1.0, 0.0])) == pytest.approx(
        [1 + np.exp(-0.4), np.exp(-0.4), 0.0]
    )


def test_turns_that_named_nothing_known_are_dropped_and_unknown_columns_score_zero():
    m = model(k=2, temperature=0.2)
    assert len(m) == 3  # c3 named only an item outside the catalogue
    columns = m.columns_of(["b", "not-an-item", "a"])
    assert columns.tolist() == [1, -1, 0]
    assert m.score(np.array([1.0, 0.0]), columns) == pytest.approx([np.exp(-2), 0.0, 1 + np.exp(-2)])


def test_a_model_without_contexts_scores_everything_zero():
    empty = ConversationNeighbours().fit(np.zeros((0, 2), dtype=np.float32), [], ITEMS)
    assert len(empty) == 0
    assert not empty.score(np.array([1.0, 0.0])).any()


def test_save_and_load_give_the_same_scores(tmp_path):
    m = model(k=3, temperature=0.2)
    assert not ConversationNeighbours.saved_in(tmp_path)
    m.save(tmp_path)
    assert ConversationNeighbours.saved_in(tmp_path)
    loaded = ConversationNeighbours.load(tmp_path)
    assert loaded.config == m.config and loaded.item_ids == ITEMS
    query = np.array([0.8, 0.6])
    assert loaded.score(query) == pytest.approx(m.score(query))


@pytest.mark.parametrize(("options", "message"), [({"k": 0}, "k must be"), ({"temperature": 0.0}, "temperature")])
def test_bad_configs_are_refused_at_construction(options, message):
    with pytest.raises(ValueError, match=message):
        NeighbourConfig(**options)


def test_contexts_and_named_lists_must_pair_up():
    with pytest.raises(ValueError, match="4 contexts but 3"):
        ConversationNeighbours().fit(CONTEXTS, NAMED[:3], ITEMS)


def test_closeness_is_the_mean_cosine_of_the_nearest_contexts():
    contexts = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    model = ConversationNeighbours().fit(contexts, [("a",), ("b",), ("a",)], ["a", "b"])
    assert model.closeness(np.array([1.0, 0.0]), k=2) == pytest.approx((1.0 + 0.6) / 2)
    assert model.closeness(np.array([0.0, 1.0]), k=1) == pytest.approx(1.0)
    assert ConversationNeighbours().closeness(np.array([1.0, 0.0])) == 0.0  # nothing fitted: nothing talked about
