"""One learned ranker: a logistic fusion of every signal a candidate carries (after Cornac: the trained
model *is* the ranker, with ``fit`` / ``score`` / ``save`` / ``load`` on one object).

The signals, each turned into features that compare across turns (scores normalised by the
pool's best, ranks as ``10 / (10 + rank)``):

* ``dense``: the text scorer's cosine (the packaged MiniLM or the fine-tuned scorer);
* ``lexical``: BM25 over the item's whole text, and ``name_match``: the dialogue names one of the item's
  people in full ("Alexandra Breckenridge"), which BM25's share of the best score understates;
* ``collaborative``: how often people name the item beside the conversation's items;
* ``neighbours``: how often human recommenders named the item in the training conversations that read most like
  this one (:mod:`retrieval.neighbours`): what people answer such a request with, which an item's own text
  rarely says;
* ``popularity``: the log-popularity prior (0 for a catalogue without popularity: a new shop);
* ``constraints``: the share of the wished categories the item has (genre wishes are scores, not filters);
* ``named``: how the item resembles the films the conversation has named (not the disliked ones):
  ``shared_people``, how many of their people it has (director, stars, writers: up to 3), and
  ``era_match``, how near its year is to theirs (1 for the same year, 0 from 30 years apart or unknown).
  ReDial's recommenders answer "I loved Forrest Gump" with another Tom Hanks film of the time more often
  than popularity and co-mentions say; on ReDial valid and INSPIRED alike the two add about a point of
  Recall@50 (docs/ranking.md).

A conversation that has named no item yet ("cold": no candidate has a collaborative score) leans on
text and popularity differently from one that has, so ``dense_cold`` and ``popularity_cold`` repeat
those features on cold turns only (on ReDial valid, +0.8 points of Recall@10 for the logistic fusion).

Recency enters through the collaborative signal: a seed named later weighs more
(``CollaborativeConfig.decay``). A feature for "this candidate was named earlier, and how
recently" learned a weight of 0 on ReDial (the product never recommends what was already
named), so it was removed.

``score = w . features(candidate)``; ``fit`` learns ``w`` by L2-regularised logistic regression on
(candidate pool, targets) pairs. Without fitting, :data:`DEFAULT_WEIGHTS` (dense and lexical only,
hand-set) serve, so a new catalogue works before any training.

Example::

    >>> from tailtalk.catalog import Catalog, Item
    >>> from retrieval.query import Candidate
    >>> from ranking.base import RankingContext
    >>> from ranking.fusion import FusionRanker
    >>> cat = Catalog((Item(id="a", title="A"), Item(id="b", title="B")))
    >>> ranker = FusionRanker(cat)
    >>> [r.item_id for r in ranker.rank(RankingContext("x"), [Candidate("a", .2), Candidate("b", .3, lexical=4.0)], 2)]
    ['b', 'a']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

from tailtalk.catalog import Catalog, write_text_atomic
from tailtalk.popularity import log_popularity_prior
from tailtalk.titles import normalise
from tailtalk.words import stems
from retrieval.query import Candidate
from ranking.base import RankingContext, ScoringRanker
from tailtalk.errors import UserInputError

_MOST_SHARED = 3  # people in common that count: a fourth shared name says little more
_ERA_YEARS = 30  # years apart at which a pick no longer shares the named films' era
_STEMS_KEPT = 20_000  # items whose plot stems the topic tier keeps (~3 KB each: 60 MB; a turn reads ~1,500)

FEATURES = (
    "dense",
    "dense_rank",
    "dense_cold",
    "lexical",
    "lexical_rank",
    "name_match",
    "collaborative",
    "collaborative_rank",
    "neighbours",
    "neighbours_rank",
    "popularity",
    "popularity_cold",
    "category_match",
    "shared_people",
    "era_match",
)
SIGNALS: dict[str, tuple[str, ...]] = {
    "dense": ("dense", "dense_rank", "dense_cold"),
    "lexical": ("lexical", "lexical_rank", "name_match"),
    "collaborative": ("collaborative", "collaborative_rank"),
    "neighbours": ("neighbours", "neighbours_rank"),
    "popularity": ("popularity", "popularity_cold"),
    "constraints": ("category_match",),
    "named": ("shared_people", "era_match"),
}
DEFAULT_WEIGHTS = {
    "dense": 4.0,
    "dense_rank": 1.0,
    "lexical": 1.0,
    "lexical_rank": 1.0,
    "name_match": 2.0,
    "category_match": 1.0,
}
FUSION_FILE = "fusion.json"
_RANK_SCALE = 10.0


def _rank_feature(scores: np.ndarray) -> np.ndarray:
    """``10 / (10 + rank)`` by descending score; 0 where the score is not positive (the source did not find it)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(len(scores))
    return np.where(scores > 0, _RANK_SCALE / (_RANK_SCALE + ranks), 0.0)


def _share_of_best(scores: np.ndarray) -> np.ndarray:
    best = float(scores.max()) if len(scores) else 0.0
    return scores / best if best > 0 else np.zeros_like(scores)


def _names_said(text: str, people: Sequence[frozenset[str]], longest: int) -> np.ndarray:
    """1 for each item whose people include a full name (two or more words, normalised, at most ``longest``)
    that ``text`` says word for word, else 0. The runs of words in the text are looked up in each item's
    names, rather than each name searched in the text: a thousand candidates' names against a long
    conversation on every turn.

    >>> _names_said("What else is Alexandra Breckenridge in?", [frozenset({"alexandra breckenridge"}),
    ...     frozenset({"alexandra daddario"})], 2).tolist()
    [1.0, 0.0]
    """
    words = normalise(text).split()
    runs = {
        " ".join(words[start : start + size])
        for size in range(2, longest + 1)
        for start in range(len(words) - size + 1)
    }
    return np.array([0.0 if names.isdisjoint(runs) else 1.0 for names in people])


def _tier(scores: np.ndarray, chosen: np.ndarray, *, above: bool) -> np.ndarray:
    """Move the ``chosen`` scores just above (or below) all the others, keeping their order and spread.

    The spread matters: the diversity re-ranker normalises scores over the pool, and a tier that widened
    the range would squash the relevance of everything else (it cost 4 points of valid Recall@10 at 0.3).

    >>> _tier(np.array([3.0, 1.0, 2.0]), np.array([False, True, False]), above=True).tolist()
    [3.0, 3.01, 2.0]
    """
    if not chosen.any() or chosen.all():
        return scores
    gap = 0.01
    if above:
        shift = scores[~chosen].max() + gap - scores[chosen].min()
    else:
        shift = scores[~chosen].min() - gap - scores[chosen].max()
    return np.where(chosen, scores + shift, scores)


class FusionRanker(ScoringRanker):
    """Scores candidates by a weighted sum of their signal features; ``fit`` learns the weights."""

    name = "fusion"

    def __init__(
        self,
        catalog: Catalog,
        weights: dict[str, float] | None = None,
        *,
        signals: Sequence[str] = tuple(SIGNALS),
        description: str | None = None,
        report: dict[str, Any] | None = None,
        category_floor: float = 0.0,
        categories_first_when_cold: bool = False,
    ):
        """``category_floor``: the least weight a wished category gets, whatever was fitted. ReDial's logs
        teach a small one (their recommenders often answer "a musical" with a blockbuster of another
        genre), and a person who asks for a war film should get war films first.
        ``categories_first_when_cold``: on a turn whose collaborative signal is empty (nothing named yet),
        items of a wished category, or of no known category, come before the others: there popularity
        outweighs any category weight, and "documentaries" was answered with It and Black Panther. Among
        them, the films whose title, categories or plot say a topic asked for (``RankingContext.topics``:
        "a christmas movie") come first."""
        super().__init__(catalog)
        unknown = set(signals) - set(SIGNALS)
        if unknown:
            raise ValueError(f"unknown signal(s) {', '.join(sorted(unknown))}; choose from {', '.join(SIGNALS)}")
        self.signals = tuple(signals)
        self.weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
        self.trained = weights is not None
        self.description = description
        self.report = dict(report or {})
        self.category_floor = category_floor
        self.categories_first_when_cold = categories_first_when_cold
        self._prior = log_popularity_prior({i.id: float(i.popularity or 0.0) for i in catalog})
        # An item's people (normalised) and the most words in one name; filled as items are scored.
        self._names: dict[str, tuple[frozenset[str], int]] = {}
        self._stems: dict[str, frozenset[str]] = {}

    def features(self, context: RankingContext, candidates: Sequence[Candidate]) -> np.ndarray:
        """The feature matrix, one row per candidate, columns in :data:`FEATURES` order."""
        dense = np.array([c.similarity for c in candidates], dtype=np.float64)
        lexical = np.array([c.lexical for c in candidates], dtype=np.float64)
        collaborative = np.array([c.collaborative for c in candidates], dtype=np.float64)
        neighbours = np.array([c.neighbours for c in candidates], dtype=np.float64)
        wished = context.wished_categories
        known_people = [self._people_and_longest(c.item_id) for c in candidates]
        people = [names for names, _ in known_people]
        longest = max((words for _, words in known_people), default=0)
        cold = 0.0 if collaborative.any() else 1.0
        popularity = np.array([self._prior.get(c.item_id, 0.0) for c in candidates])
        columns = {
            "dense": dense,
            "dense_rank": _rank_feature(dense),
            "dense_cold": dense * cold,
            "lexical": _share_of_best(lexical),
            "lexical_rank": _rank_feature(lexical),
            "name_match": _names_said(context.query_text, people, longest),
            "collaborative": _share_of_best(collaborative),
            "collaborative_rank": _rank_feature(collaborative),
            "neighbours": _share_of_best(neighbours),
            "neighbours_rank": _rank_feature(neighbours),
            "popularity": popularity,
            "popularity_cold": popularity * cold,
            "category_match": np.array(
                [len(wished & set(self.catalog.get(c.item_id).categories)) / len(wished) for c in candidates]
            )
            if wished
            else np.zeros(len(candidates)),
            **self._likeness(context.named_ids, candidates, people),
        }
        return np.column_stack([columns[name] for name in FEATURES]) if candidates else np.zeros((0, len(FEATURES)))

    def _stems_of(self, item_id: str) -> frozenset[str]:
        """The stems of an item's title, categories and plot; computed once an item."""
        if item_id not in self._stems:
            if len(self._stems) >= _STEMS_KEPT:  # a long-running server over a large catalogue: start again
                self._stems.clear()
            item = self.catalog.get(item_id)
            self._stems[item_id] = frozenset(stems(" ".join([item.title, *item.categories, item.description])))
        return self._stems[item_id]

    def _people(self, item_id: str) -> frozenset[str]:
        """The item's full names (normalised; ``Item.credited_people``)."""
        return self._people_and_longest(item_id)[0]

    def _people_and_longest(self, item_id: str) -> tuple[frozenset[str], int]:
        """The item's full names and the most words in one of them (0 without names); computed once an item."""
        if item_id not in self._names:
            names = frozenset(self.catalog.get(item_id).credited_people())
            self._names[item_id] = (names, max((name.count(" ") + 1 for name in names), default=0))
        return self._names[item_id]

    def _likeness(
        self, named: Sequence[str], candidates: Sequence[Candidate], people_of: Sequence[frozenset[str]]
    ) -> dict[str, np.ndarray]:
        """``shared_people`` and ``era_match`` of each candidate (whose people are ``people_of``, in order)
        against the items named (see the module)."""
        known = [i for i in named if i in self.catalog]
        if not known:  # a turn that has named nothing yet: nothing to resemble
            return {"shared_people": np.zeros(len(candidates)), "era_match": np.zeros(len(candidates))}
        people = frozenset().union(*(self._people(i) for i in known))
        years = [y for y in (self.catalog.get(i).year for i in known) if y is not None]
        era = float(np.median(years)) if years else None
        shared, near = np.zeros(len(candidates)), np.zeros(len(candidates))
        for n, (c, theirs) in enumerate(zip(candidates, people_of)):
            shared[n] = min(len(theirs & people), _MOST_SHARED) / _MOST_SHARED
            year = self.catalog.get(c.item_id).year
            if year is not None and era is not None:
                near[n] = 1.0 - min(abs(year - era), _ERA_YEARS) / _ERA_YEARS
        return {"shared_people": shared, "era_match": near}

    @property
    def enabled_features(self) -> frozenset[str]:
        """The features of the signals switched on."""
        return frozenset(f for s in self.signals for f in SIGNALS[s])

    def fitted_on(self) -> int | None:
        """How many training dialogues the weights were fitted on; None for the hand-set weights."""
        learned = self.report.get("training_dialogues")
        return int(learned) if learned else None

    def weight_vector(self) -> np.ndarray:
        enabled = self.enabled_features
        weights = {**self.weights, "category_match": max(self.weights.get("category_match", 0.0), self.category_floor)}
        return np.array([weights[f] if f in enabled and f in weights else 0.0 for f in FEATURES])

    def score(self, context: RankingContext, candidates: list[Candidate]) -> np.ndarray:
        """The weighted features, in tiers: on a turn that has named nothing, the wished categories and topics
        first (``categories_first_when_cold``); an item whose people the person named in full ("what else is
        Alexandra Breckenridge in") comes before the others, since ReDial's weights let popular films outrank a
        one-mention film with that actor; an item missing a bounded field ("from the 90s" and no year)
        comes after every item known to meet the bound; last of all come the items the conversations name for
        what the person wants to avoid (``Candidate.avoided``: "no superhero films" and Deadpool)."""
        features = self.features(context, candidates)
        scores = features @ self.weight_vector()
        cold = not features[:, FEATURES.index("collaborative")].any()
        if self.categories_first_when_cold and "constraints" in self.signals and cold and len(candidates):
            wished = np.ones(len(candidates), dtype=bool)
            if context.wished_categories:
                categories = (self.catalog.get(c.item_id).categories for c in candidates)
                wished = np.array(
                    [not known or not context.wished_categories.isdisjoint(known) for known in categories]
                )
                scores = _tier(scores, wished, above=True)
            if context.topics:  # among those, the films about what was asked ("a christmas movie")
                topics = [frozenset(stems(t)) for t in context.topics]
                about = np.array([any(t <= self._stems_of(c.item_id) for t in topics) for c in candidates])
                scores = _tier(scores, wished & about, above=True)
        if "lexical" in self.signals and len(candidates):  # after the categories: a named person's films come first
            scores = _tier(scores, features[:, FEATURES.index("name_match")] > 0, above=True)
        if context.bounded_fields and len(candidates):
            unknown = np.array([bool(self.catalog.get(c.item_id).unknown(context.bounded_fields)) for c in candidates])
            scores = _tier(scores, unknown, above=False)
        if "neighbours" in self.signals and len(candidates):
            scores = _tier(scores, np.array([c.avoided for c in candidates]), above=False)
        return scores

    def described(self, description: str | None) -> FusionRanker:
        """The same ranker with another status-line description (None: the default one)."""
        return self._copy(description=description)

    def with_wished_categories(self, floor: float, *, first_when_cold: bool) -> FusionRanker:
        """The same ranker with another least weight for a wished category and tier on cold turns (see
        ``__init__``)."""
        return self._copy(category_floor=floor, categories_first_when_cold=first_when_cold)

    def without(self, signal: str) -> FusionRanker:
        """An ablation: the same weights with one signal switched off."""
        if signal not in self.signals:
            raise ValueError(f"signal {signal!r} is not on; on: {', '.join(self.signals)}")
        return self._copy(signals=[s for s in self.signals if s != signal])

    def _copy(self, **changes: Any) -> FusionRanker:
        settings: dict[str, Any] = {
            "signals": self.signals,
            "description": self.description,
            "report": self.report,
            "category_floor": self.category_floor,
            "categories_first_when_cold": self.categories_first_when_cold,
        }
        return FusionRanker(self.catalog, self.weights if self.trained else None, **{**settings, **changes})

    def fit(self, pools: Sequence[np.ndarray], labels: Sequence[np.ndarray], *, l2: float = 1.0) -> FusionRanker:
        """Learn the weights of the enabled signals from candidate pools (feature matrices) and 0/1 labels.

        Each pool's rows are weighted so that every pool counts the same, whatever its size.
        """
        if len(pools) != len(labels) or not pools:
            raise ValueError("fit needs one label vector per pool, and at least one pool")
        on = self.enabled_features
        enabled = [n for n, f in enumerate(FEATURES) if f in on]
        x = np.vstack([p[:, enabled] for p in pools])
        y = np.concatenate(labels).astype(np.float64)
        if not 0 < y.sum() < len(y):
            raise ValueError("fit needs both positive and negative candidates")
        weight = np.concatenate([np.full(len(p), 1.0 / len(p)) for p in pools])
        weight *= len(weight) / weight.sum()
        x1 = np.column_stack([x, np.ones(len(x))])

        def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
            z = x1 @ w
            p = 1.0 / (1.0 + np.exp(-z))
            value = float(np.sum(weight * (np.logaddexp(0.0, z) - y * z))) + 0.5 * l2 * float(w[:-1] @ w[:-1])
            grad = x1.T @ (weight * (p - y))
            grad[:-1] += l2 * w[:-1]
            return value, grad

        result = minimize(loss, np.zeros(x1.shape[1]), jac=True, method="L-BFGS-B")
        self.weights = {FEATURES[n]: float(w) for n, w in zip(enabled, result.x[:-1])}
        self.trained = True
        return self

    def save(self, folder: Path, report: dict[str, Any] | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.report = {**self.report, **(report or {})}
        payload = {
            "features": list(FEATURES),
            "weights": self.weights,
            "signals": list(self.signals),
            "report": self.report,
        }
        write_text_atomic(folder / FUSION_FILE, json.dumps(payload, indent=2))

    @classmethod
    def load(cls, folder: Path, catalog: Catalog) -> FusionRanker:
        payload = json.loads((folder / FUSION_FILE).read_text(encoding="utf-8"))
        if list(payload["features"]) != list(FEATURES):
            raise UserInputError(
                f"{folder / FUSION_FILE} was fitted on other features; run `tailtalk fit-ranker` again"
            )
        return cls(
            catalog,
            {k: float(v) for k, v in payload["weights"].items()},
            signals=payload["signals"],
            report=payload.get("report"),
        )

    def describe(self) -> str:
        if self.description:
            return self.description
        return "fused ranker (" + ", ".join(self.signals) + (")" if self.trained else "; hand-set weights)")
