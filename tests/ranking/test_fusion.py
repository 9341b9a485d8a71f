"""The fused ranker: features, fitting, ablation, save and load."""

from __future__ import annotations

import numpy as np
import pytest

from tailtalk.catalog import Catalog, Item
from retrieval.query import Candidate
from ranking.base import RankingContext
from ranking.fusion import FEATURES, FusionRanker


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(
        (
            Item(id="a", title="A", categories=["comedy"], popularity=10),
            Item(id="b", title="B", popularity=0),
            Item(id="c", title="C", categories=["comedy"]),
        )
    )


def test_features_are_normalised_per_pool(catalog):
    ranker = FusionRanker(catalog)
    context = RankingContext("q", wished_categories=frozenset({"comedy"}))
    x = ranker.features(
        context,
        [Candidate("a", 0.5, 4.0, 0.0, 0.5), Candidate("b", 0.2, 2.0, 3.0, 0.0), Candidate("c", 0.1, 0.0, 1.0, 2.0)],
    )
    column = {name: x[:, n] for n, name in enumerate(FEATURES)}
    assert column["lexical"] == pytest.approx([1.0, 0.5, 0.0])
    assert column["collaborative"] == pytest.approx([0.0, 1.0, 1 / 3])
    assert column["neighbours"] == pytest.approx([0.25, 0.0, 1.0])
    assert column["neighbours_rank"] == pytest.approx([10 / 11, 0.0, 1.0])
    assert column["lexical_rank"] == pytest.approx([1.0, 10 / 11, 0.0])  # not found by the source: 0
    assert column["category_match"] == pytest.approx([1.0, 0.0, 1.0])
    assert column["popularity"][0] == pytest.approx(1.0) and column["popularity"][1] == 0.0
    assert not column["popularity_cold"].any()  # the conversation named items: not a cold turn


def test_a_person_named_in_full_is_a_name_match():
    catalog = Catalog(
        (
            Item(id="r", title="Romy and Michele", attributes={"stars": ["Alexandra Breckenridge"]}),
            Item(id="s", title="Other", attributes={"stars": ["Laura Breckenridge"]}),
        )
    )
    x = FusionRanker(catalog).features(
        RankingContext("what else is alexandra breckenridge in?"), [Candidate("r", 0.1), Candidate("s", 0.1)]
    )
    assert list(x[:, FEATURES.index("name_match")]) == [1.0, 0.0]


def test_name_match_finds_whole_names_of_any_length_anywhere_in_the_text():
    catalog = Catalog(
        (
            Item(id="three", title="T", attributes={"director": ["Guillermo del Toro"]}),
            Item(id="first", title="F", attributes={"stars": ["Tom Hanks"]}),
            Item(id="longer", title="L", attributes={"stars": ["Tom Hanksworth"]}),
            Item(id="split", title="S", attributes={"stars": ["Emma Stone"]}),
            Item(id="nameless", title="N", attributes={"stars": ["Cher"]}),
        )
    )
    said = "Tom Hanks, or anything by Guillermo del Toro! Emma; Stone"  # punctuation is dropped before matching
    x = FusionRanker(catalog).features(RankingContext(said), [Candidate(i.id, 0.1) for i in catalog])
    assert list(x[:, FEATURES.index("name_match")]) == [1.0, 1.0, 0.0, 1.0, 0.0]


def test_likeness_to_the_named_items_by_hand():
    cat = Catalog(
        (
            Item(id="a", title="Forrest Gump", year=1994, attributes={"stars": ["Tom Hanks", "Robin Wright"]}),
            Item(id="b", title="Cast Away", year=2000, attributes={"stars": ["Tom Hanks", "Helen Hunt"]}),
            Item(id="c", title="Mary Poppins", year=1964, attributes={"stars": ["Julie Andrews"]}),
            Item(id="d", title="Undated"),
        )
    )
    ranker = FusionRanker(cat)
    pool = [Candidate("b", 0.5), Candidate("c", 0.5), Candidate("d", 0.5)]
    features = ranker.features(RankingContext("x", named_ids=("a",)), pool)
    shared, era = features[:, FEATURES.index("shared_people")], features[:, FEATURES.index("era_match")]
    np.testing.assert_allclose(shared, [1 / 3, 0.0, 0.0])  # one of up to three names in common
    np.testing.assert_allclose(era, [1 - 6 / 30, 0.0, 0.0])  # six years apart; thirty or more, or unknown: 0
    unnamed = ranker.features(RankingContext("x"), pool)
    assert not unnamed[:, [FEATURES.index("shared_people"), FEATURES.index("era_match")]].any()


def test_fit_learns_which_signal_finds_the_targets(catalog):
    rng = np.random.default_rng(0)
    pools, labels = [], []
    for _ in range(50):
        x = rng.random((20, len(FEATURES)))
        y = np.zeros(20)
        y[np.argmax(x[:, FEATURES.index("collaborative")])] = 1  # the target is always the collaborative best
        pools.append(x)
        labels.append(y)
    ranker = FusionRanker(catalog).fit(pools, labels)
    assert ranker.trained and ranker.weights["collaborative"] == max(ranker.weights.values())
    assert ranker.without("collaborative").weight_vector()[FEATURES.index("collaborative")] == 0.0


def test_fit_refuses_pools_without_a_positive(catalog):
    with pytest.raises(ValueError, match="positive"):
        FusionRanker(catalog).fit([np.zeros((3, len(FEATURES)))], [np.zeros(3)])


def test_save_and_load_round_trip(catalog, tmp_path):
    ranker = FusionRanker(catalog, {name: float(n) for n, name in enumerate(FEATURES)}, signals=("dense", "lexical"))
    ranker.save(tmp_path, report={"valid_recall_at_10_new": 0.2})
    loaded = FusionRanker.load(tmp_path, catalog)
    assert loaded.weight_vector() == pytest.approx(ranker.weight_vector())
    assert loaded.signals == ("dense", "lexical") and loaded.report["valid_recall_at_10_new"] == 0.2


def test_unknown_signal_is_refused(catalog):
    with pytest.raises(ValueError, match="unknown signal"):
        FusionRanker(catalog, signals=("dense", "vibes"))


def test_a_wished_category_comes_first_on_a_cold_turn_only():
    cat = Catalog(
        (
            Item(id="blockbuster", title="It", categories=["horror"], popularity=500),
            Item(id="doc", title="Food, Inc.", categories=["documentary"], popularity=2),
            Item(id="unknown", title="Untagged", popularity=1),  # no known category: never pushed down
        )
    )
    weights = {"popularity": 10.0, "category_match": 1.0}
    context = RankingContext("documentaries", wished_categories=frozenset({"documentary"}))
    cold = [Candidate("blockbuster", 0.5), Candidate("doc", 0.5), Candidate("unknown", 0.5)]
    warm = [Candidate(c.item_id, 0.5, collaborative=1.0) for c in cold]

    def order(ranker: FusionRanker, pool: list[Candidate]) -> list[str]:
        return [pool[n].item_id for n in np.argsort(-ranker.score(context, pool), kind="stable")]

    tiered = FusionRanker(cat, weights, categories_first_when_cold=True)
    assert order(tiered, cold) == ["doc", "unknown", "blockbuster"]
    assert order(tiered, warm)[0] == "blockbuster"  # a named film's co-mentions speak: the weights decide
    assert order(FusionRanker(cat, weights), cold)[0] == "blockbuster"  # off: popularity outweighs the wish
    assert order(tiered.without("constraints"), cold)[0] == "blockbuster"  # the ablation switches it off too
    assert tiered.described("x").categories_first_when_cold  # copies keep it


def test_a_film_about_the_topic_asked_comes_first_on_a_cold_turn_only():
    cat = Catalog(
        (
            Item(id="blockbuster", title="Black Panther", categories=["action"], popularity=500),
            Item(id="elf", title="Elf", categories=["comedy"], description="Raised at the North Pole at Christmas."),
            Item(id="xmas", title="A Christmas Story", categories=["comedy", "family"]),
            Item(id="horror", title="Krampus", categories=["horror"], description="A Christmas horror."),
        )
    )
    weights = {"popularity": 10.0, "category_match": 1.0}
    cold = [Candidate(i, 0.5) for i in ("blockbuster", "elf", "xmas", "horror")]
    warm = [Candidate(c.item_id, 0.5, collaborative=1.0) for c in cold]

    def order(ranker: FusionRanker, context: RankingContext, pool: list[Candidate]) -> list[str]:
        return [pool[n].item_id for n in np.argsort(-ranker.score(context, pool), kind="stable")]

    tiered = FusionRanker(cat, weights, categories_first_when_cold=True)
    christmas = RankingContext("a christmas movie", topics=("christmas",))
    assert order(tiered, christmas, cold)[0] != "blockbuster" and order(tiered, christmas, cold)[-1] == "blockbuster"
    # Within the wished categories only: a christmas comedy is no Christmas horror film.
    funny = RankingContext("a christmas comedy", topics=("christmas",), wished_categories=frozenset({"comedy"}))
    assert order(tiered, funny, cold)[:2] in (["elf", "xmas"], ["xmas", "elf"])
    assert order(tiered, funny, cold)[2] == "blockbuster"  # the categories' tier alone would put it above Krampus
    assert order(tiered, christmas, warm)[0] == "blockbuster"  # a named film's co-mentions speak
    assert order(FusionRanker(cat, weights), christmas, cold)[0] == "blockbuster"  # off with the category tier


def test_an_item_named_for_what_to_avoid_comes_last(catalog):
    """ "a comedy, no superhero films please": the retriever marks what the conversations name for superhero films
    (Candidate.avoided) and the ranker puts it after every other candidate, whatever its weight."""
    pool = [Candidate("a", 0.9, avoided=True), Candidate("b", 0.1), Candidate("c", 0.5)]
    scores = FusionRanker(catalog, {"dense": 1.0}).score(RankingContext("a comedy"), pool)
    assert [pool[n].item_id for n in np.argsort(-scores)] == ["c", "b", "a"]
    # Without the neighbours (their ablation), nothing is marked by them and the weights decide.
    ablated = FusionRanker(catalog, {"dense": 1.0}).without("neighbours").score(RankingContext("a comedy"), pool)
    assert [pool[n].item_id for n in np.argsort(-ablated)] == ["a", "c", "b"]
