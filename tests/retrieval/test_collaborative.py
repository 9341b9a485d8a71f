"""The collaborative model on a toy log, with every expected score computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tailtalk.mentions import MentionList
from retrieval.collaborative import CollaborativeConfig, CollaborativeModel

ITEMS = ["a", "b", "c", "d"]
# Dialogue rows (liked = 1, not liked = w):   a  b  c  d
#   1: a, b                                   1  1  .  .
#   2: a, b, c (c not liked)                  1  1  w  .
#   3: c, d                                   .  .  1  1
LOG = [
    MentionList(id="1", items=("a", "b"), liked=(True, True)),
    MentionList(id="2", items=("a", "b", "c"), liked=(True, True, False)),
    MentionList(id="3", items=("c", "d"), liked=(True, True)),
]


def model(**options) -> CollaborativeModel:
    return CollaborativeModel(CollaborativeConfig(method="cooc", **options)).fit(LOG, ITEMS)


def test_cosine_damping_by_hand():
    # w = 0.5. Gram: G[a,b] = 2, G[a,c] = 0.5, G[c,d] = 1; diagonal n = (2, 2, 1.25, 1).
    # alpha = 0.5 is the cosine: S[a,b] = 2/sqrt(2*2) = 1, S[a,c] = 0.5/sqrt(2*1.25) = 0.3162.
    scores = model(alpha=0.5, disliked_weight=0.5).score(["a"])
    assert scores == pytest.approx([0.0, 1.0, 0.5 / np.sqrt(2 * 1.25), 0.0])


def test_popularity_damping_by_hand():
    # alpha = 0.9: S[c,d] = 1 / (1.25^0.9 * 1^0.1) = 0.8180; S[c,a] = 0.5 / (1.25^0.9 * 2^0.1) = 0.3816.
    scores = model(alpha=0.9, disliked_weight=0.5).score(["c"])
    assert scores == pytest.approx([0.5 / (1.25**0.9 * 2**0.1), 0.5 / (1.25**0.9 * 2**0.1), 0.0, 1 / 1.25**0.9])


def test_recent_seeds_weigh_more_and_dislikes_count_less():
    m = model(alpha=0.5, disliked_weight=0.5, decay=0.5)
    # Seeds a (older) then d (newer): weight(d) = 1, weight(a) = 0.5. S[a,b] = 1; S[d,c] = 1/sqrt(1.25*1).
    assert m.score(["a", "d"]) == pytest.approx([0.0, 0.5, 0.5 * 0.5 / np.sqrt(2.5) + 1 / np.sqrt(1.25), 0.0])
    # A disliked seed counts disliked_weight: b scores 0.5 * S[a,b].
    assert m.score([], ["a"]) == pytest.approx(0.5 * m.score(["a"]))


def test_unknown_seeds_and_candidates_score_zero():
    m = model()
    assert not m.score(["zzz"]).any()
    assert m.score(["a"], candidates=["b", "zzz"]) == pytest.approx([m.score(["a"])[1], 0.0])


def test_evidence_names_the_liked_item_behind_a_score():
    m = model()
    assert m.evidence("b", ["d", "a"]) == "a"
    assert m.evidence("b", ["d"]) is None


def test_ease_learns_that_a_and_b_go_together():
    m = CollaborativeModel(CollaborativeConfig(method="ease", ease_lambda=1.0)).fit(LOG, ITEMS)
    scores = m.score(["a"])
    assert scores[1] == scores.max() > 0 and scores[0] == 0.0


def test_save_and_load_give_the_same_scores(tmp_path):
    m = model()
    m.save(tmp_path / "cf")
    assert CollaborativeModel.saved_in(tmp_path / "cf")
    loaded = CollaborativeModel.load(tmp_path / "cf")
    assert loaded.config == m.config and loaded.score(["a", "c"]) == pytest.approx(m.score(["a", "c"]))


@pytest.mark.parametrize(
    "options", [{"method": "knn"}, {"alpha": 1.5}, {"decay": -0.1}, {"min_count": 0}, {"ease_lambda": 0.0}]
)
def test_config_is_validated_at_construction(options):
    with pytest.raises(ValueError):
        CollaborativeConfig(**options)


def test_a_disliked_seed_keeps_its_place_in_the_order():
    m = model(alpha=0.5, disliked_weight=0.5, decay=0.5)
    # a (disliked) was named before d (liked): d is the newest (weight 1), a the older and rejected (0.5 * 0.5).
    assert m.score(["a", "d"], ["a"]) == pytest.approx([0.0, 0.25, 0.25 * 0.5 / np.sqrt(2.5) + 1 / np.sqrt(1.25), 0.0])


def test_feedback_conversations_teach_the_model_a_new_pair(tmp_path):
    """The loop's mechanism: people who liked d and then a in the chat make d pull a up once refitted."""
    from tailtalk.feedback import FeedbackLog, feedback_mention_lists, read_feedback

    log = FeedbackLog(tmp_path / "feedback.jsonl")
    for conversation in ("x", "y"):
        log.append(conversation, "shown", ["d", "b"])
        log.append(conversation, "like", ["d"])
        log.append(conversation, "dislike", ["b"])
        log.append(conversation, "like", ["a"])
    before = model(alpha=0.5).score(["d"])
    after = CollaborativeModel(CollaborativeConfig(method="cooc", alpha=0.5)).fit(
        [*LOG, *feedback_mention_lists(read_feedback(log.path)[0])], ITEMS
    )
    assert before[0] == 0.0 and after.score(["d"])[0] > after.score(["d"])[1] > 0.0


def test_a_large_catalogue_fits_without_a_dense_item_by_item_matrix():
    # 300,000 products: a dense Gram matrix would be 720 GB; the sparse fit scores as the toy log does.
    items = [f"p{n}" for n in range(300_000)]
    log = [MentionList(id=str(n), items=(items[n], items[n + 1]), liked=(True, True)) for n in range(0, 1000, 2)]
    m = CollaborativeModel(CollaborativeConfig(method="cooc", alpha=0.5)).fit(log, items)
    scores = m.score(["p0"])
    assert scores.shape == (300_000,) and scores[1] == pytest.approx(1.0) and np.count_nonzero(scores) == 1


def test_scores_by_columns_equal_scores_by_ids():
    m = model(alpha=0.5)
    candidates = ["d", "zz", "b"]
    columns = m.columns_of(candidates)
    assert columns.tolist() == [3, -1, 1]
    np.testing.assert_array_equal(m.score_columns(["a", "c"], ["c"], columns), m.score(["a", "c"], ["c"], candidates))
