"""The fitted ranker on real ReDial: fit on a sample, save, load, and serve a chat turn with it."""

from __future__ import annotations

import pytest

from tailtalk.mentions import load_mention_lists
from tailtalk.prepare import MENTIONS_FILE
from agent.state import ConversationState
from retrieval.collaborative import COLLABORATIVE_FOLDER, CollaborativeConfig, CollaborativeModel
from retrieval.neighbours import NEIGHBOURS_FOLDER, ConversationNeighbours, NeighbourConfig
from ranking.diversity import DiversityReranker
from ranking.fusion import FusionRanker
from ranking.train import load_training_splits
from eval.fit_ranker import fit_ranker
from eval.systems import exact_copy

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fitted(redial_settings, redial_pipeline, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ranker")
    train, valid = load_training_splits(redial_settings.dataset_dir())
    mentions = load_mention_lists(redial_settings.dataset_dir() / MENTIONS_FILE)
    pipeline = redial_pipeline.replacing(retriever=exact_copy(redial_pipeline.retriever))
    report = fit_ranker(
        pipeline,
        train,
        valid[:40],
        mentions,
        folder,
        collaborative=CollaborativeConfig(),
        neighbours=NeighbourConfig(),
        candidates=redial_settings.candidates,
        folds=2,
        max_instances=200,
        progress=False,
    )
    return folder, report


def test_fit_saves_a_ranker_that_loads_and_learned_from_collaboration(fitted, redial_pipeline):
    folder, report = fitted
    ranker = FusionRanker.load(folder, redial_pipeline.catalog)
    assert ranker.trained and report.pools > 50
    # The out-of-fold collaborative signal is the strongest on ReDial: it must get a positive weight.
    assert ranker.weights["collaborative_rank"] > 0 and ranker.weights["popularity"] > 0
    assert CollaborativeModel.saved_in(folder / COLLABORATIVE_FOLDER)
    # The served neighbours hold every sampled training turn that named a catalogue film.
    assert 150 <= len(ConversationNeighbours.load(folder / NEIGHBOURS_FOLDER)) <= 200
    assert report.valid_recall_at_10 is not None and report.valid_recall_at_10 > 0.05


def test_a_chat_turn_draws_on_the_films_the_person_loved(fitted, redial_pipeline):
    folder, _ = fitted
    catalog = redial_pipeline.catalog
    collaborative = CollaborativeModel.load(folder / COLLABORATIVE_FOLDER)
    neighbours = ConversationNeighbours.load(folder / NEIGHBOURS_FOLDER)
    served = redial_pipeline.replacing(
        retriever=redial_pipeline.retriever.with_collaborative(collaborative).with_neighbours(neighbours),
        ranker=DiversityReranker(FusionRanker.load(folder, catalog), redial_pipeline.retriever.vectors, 0.3),
    )
    result = served.handle(ConversationState(), "I loved The Shining and It Follows, something scary")
    reasons = [p.reason for p in result.picks]
    assert any("Often recommended to people who loved" in r for r in reasons), reasons
    assert not {"The Shining", "It Follows"} & {p.item.title for p in result.picks}
    assert sum("horror" in p.item.categories for p in result.picks) >= 3
