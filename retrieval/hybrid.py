"""Hybrid retrieval: the dense index, the lexical index, the collaborative model and the conversation
neighbours, pooled.

Each source proposes candidates (dense: nearest by the composed query vector; lexical: the
best BM25 matches of the query text; collaborative: what people name beside the items the
conversation named; neighbours: what recommenders named in the training conversations that read most like
this one; and the most popular items). Every pooled candidate then carries every source's score, so the ranker
sees a lexical or collaborative find with its dense similarity too. Hard constraints hold
for every source. A request in another language than English (``RetrievalQuery.language``)
is read by the ``multilingual`` index (multilingual-e5) instead of the English one, when
there is one.

Example::

    >>> from tailtalk.catalog import Catalog, Item
    >>> from retrieval.embedder import HashingEmbedder
    >>> from retrieval.retriever import InMemoryRetriever
    >>> from retrieval.lexical import LexicalIndex
    >>> from retrieval.hybrid import HybridRetriever
    >>> from retrieval.query import RetrievalQuery
    >>> cat = Catalog((Item(id="1", title="Inception", attributes={"director": ["Christopher Nolan"]}),
    ...                Item(id="2", title="Up", description="An old man flies his house with balloons")))
    >>> hybrid = HybridRetriever(InMemoryRetriever(cat, HashingEmbedder()), LexicalIndex(cat), None, pool=1)
    >>> [(c.item_id, c.lexical > 0) for c in hybrid.retrieve(RetrievalQuery("christopher nolan", k=1))]
    [('1', True)]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from tailtalk.catalog import Catalog
from tailtalk.config import setting_default
from retrieval.collaborative import CollaborativeModel
from retrieval.embedder import Embedder
from retrieval.lexical import LexicalIndex
from retrieval.neighbours import ConversationNeighbours
from retrieval.query import Candidate, RetrievalQuery, without_words
from tailtalk.constraints import AdmissionMasks
from retrieval.retriever import VectorRetriever, top_rows


SOURCES = ("lexical", "collaborative", "neighbours")  # the sources an ablation can remove


class HybridRetriever:
    """Dense candidates plus up to ``pool`` lexical, ``pool`` collaborative, ``pool`` neighbours' and ``pool``
    popular ones, each with all scores (a catalogue without popularity adds no popular ones)."""

    def __init__(
        self,
        dense: VectorRetriever,
        lexical: LexicalIndex | None,
        collaborative: CollaborativeModel | None,
        *,
        pool: int,
        multilingual: VectorRetriever | None = None,
        neighbours: ConversationNeighbours | None = None,
        avoid_share: float = setting_default("avoid_share"),
        avoid_closeness: float = setting_default("avoid_closeness"),
    ):
        """``avoid_share``: a candidate is marked ``avoided`` when its votes from the conversations that read like
        what the person firmly ruled out (``RetrievalQuery.ruled_out_text``) exceed this share of the best-voted
        item's, and are a larger part of all those votes than its votes for the request are of the request's
        (the catalogue's texts never say Deadpool is a superhero film; the conversations that asked for
        superhero films named it); 1 marks none. Only what the training conversations talked about marks
        anything (``avoid_closeness``, see :meth:`ConversationNeighbours.closeness`): the contexts nearest to a
        vague "too much talking" named the popular films of every request."""
        if pool < 0:
            raise ValueError(f"pool must be at least 0, got {pool}")
        self.avoid_share = avoid_share
        self.avoid_closeness = avoid_closeness
        self.dense = dense
        self.multilingual = multilingual
        self.lexical = lexical
        self.collaborative = collaborative
        self.neighbours = neighbours
        self.pool = pool
        self.catalog: Catalog = dense.catalog
        self._ids = self.catalog.ids()
        self._row = {item_id: n for n, item_id in enumerate(self._ids)}
        # Popular items are candidates too: when nothing was named yet, they are what people are recommended.
        self._popularity = np.array([float(i.popularity or 0.0) for i in self.catalog])
        # Computed once, not per turn: at a million items each is a scan of the catalogue.
        self._masks = AdmissionMasks(self.catalog.items)
        self._collaborative_columns = collaborative.columns_of(self._ids) if collaborative is not None else None
        self._neighbour_columns = neighbours.columns_of(self._ids) if neighbours is not None else None

    @property
    def embedder(self) -> Embedder:
        return self.dense.embedder

    def with_dense(self, dense: VectorRetriever) -> HybridRetriever:
        """The same sources around another dense retriever (the harness's exact in-memory copy)."""
        return self._replace(dense=dense)

    def with_collaborative(self, collaborative: CollaborativeModel | None) -> HybridRetriever:
        """The same sources with another collaborative model (fitting uses out-of-fold models)."""
        return self._replace(collaborative=collaborative)

    def with_neighbours(self, neighbours: ConversationNeighbours | None) -> HybridRetriever:
        """The same sources with another neighbours model (fitting uses out-of-fold models)."""
        return self._replace(neighbours=neighbours)

    def without(self, source: str) -> HybridRetriever:
        """An ablation: the same retriever without one of :data:`SOURCES`."""
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}; choose from {', '.join(SOURCES)}")
        return self._replace(**{source: None})

    def _replace(self, **changes) -> HybridRetriever:
        parts = {
            "dense": self.dense,
            "lexical": self.lexical,
            "collaborative": self.collaborative,
            "pool": self.pool,
            "multilingual": self.multilingual,
            "neighbours": self.neighbours,
            "avoid_share": self.avoid_share,
            "avoid_closeness": self.avoid_closeness,
        }
        return HybridRetriever(**{**parts, **changes})

    def reads(self, language: str) -> bool:
        """Whether a request in ``language`` is read by an index made for it (English always is)."""
        return language == "en" or self.multilingual is not None

    def retrieve(self, query: RetrievalQuery) -> list[Candidate]:
        reader = self.multilingual if query.language != "en" and self.multilingual is not None else self.dense
        vector, text_vector, ruled_out_vector = reader.query_vectors(query)
        dense = reader.search(vector, query.constraints, query.k)
        lexical = self._lexical_scores(without_words(query.text, query.avoid_text))
        collaborative = self._collaborative_scores(query)
        # The neighbours' contexts were encoded by the English index's encoder: another reader's vector is not
        # in their space.
        neighbours = self._neighbour_scores(text_vector if reader is self.dense else None)
        avoided_votes = self._ruled_out_votes(ruled_out_vector if reader is self.dense else None)
        chosen = [c.item_id for c in dense]
        taken = set(chosen)
        admitted = self._masks.admitted(query.constraints)
        for scores in (lexical, collaborative, neighbours, self._popularity):
            if scores is not None:
                extra = self._best_admitted(np.where(admitted, scores, 0.0), taken)
                chosen += extra
                taken.update(extra)
        # One matrix product and one gather per source, not three numpy calls per candidate.
        similarity = np.zeros(len(chosen))
        if vector is not None:
            stored = reader.vectors(chosen)
            found = [n for n, item_id in enumerate(chosen) if item_id in stored]
            if found:
                similarity[found] = np.stack([stored[chosen[n]] for n in found]) @ vector
        rows = np.array([self._row[item_id] for item_id in chosen], dtype=np.int64)
        lexical_of = lexical[rows] if lexical is not None else np.zeros(len(chosen))
        collaborative_of = collaborative[rows] if collaborative is not None else np.zeros(len(chosen))
        neighbours_of = neighbours[rows] if neighbours is not None else np.zeros(len(chosen))
        avoided = np.zeros(len(chosen), dtype=bool)
        if neighbours is not None and avoided_votes is not None and avoided_votes.max() > 0:
            avoided_of = avoided_votes[rows]
            # Proportions of all votes, not shares of the best: Black Panther is the best-voted film for "an
            # action movie" and for "superheroes" alike, but holds more of the second's votes.
            wanted_proportion = neighbours_of / neighbours.sum() if neighbours.sum() > 0 else np.zeros(len(chosen))
            avoided = (avoided_of / avoided_votes.max() > self.avoid_share) & (
                avoided_of / avoided_votes.sum() > wanted_proportion
            )
        return [
            Candidate(item_id, *scores)
            for item_id, scores in zip(
                chosen,
                zip(
                    similarity.tolist(),
                    lexical_of.tolist(),
                    collaborative_of.tolist(),
                    neighbours_of.tolist(),
                    avoided.tolist(),
                ),
            )
        ]

    def _lexical_scores(self, text: str) -> np.ndarray | None:
        return self.lexical.scores(text) if self.lexical is not None and text.strip() else None

    def _collaborative_scores(self, query: RetrievalQuery) -> np.ndarray | None:
        if self.collaborative is None or not (query.seed_ids or query.disliked_ids):
            return None
        return self.collaborative.score_columns(query.seed_ids, query.disliked_ids, self._collaborative_columns)

    def _neighbour_scores(self, text_vector: np.ndarray | None) -> np.ndarray | None:
        if self.neighbours is None or text_vector is None:
            return None
        return self.neighbours.score(text_vector, self._neighbour_columns)

    def _ruled_out_votes(self, vector: np.ndarray | None) -> np.ndarray | None:
        """The neighbours' votes for what was ruled out; None when nothing was, or when the training
        conversations hardly talked about it (``avoid_closeness``)."""
        if self.neighbours is None or vector is None or self.neighbours.closeness(vector) < self.avoid_closeness:
            return None
        return self._neighbour_scores(vector)

    def _best_admitted(self, scores: np.ndarray, taken: set[str]) -> list[str]:
        """The ``pool`` best-scoring items (score > 0; a row the constraints reject scores 0) not pooled yet,
        best first, ties in catalogue order."""
        found: list[str] = []
        if self.pool == 0:
            return found
        for row in best_rows(scores, self.pool + len(taken)):
            item_id = self._ids[row]
            if item_id not in taken:
                found.append(item_id)
                if len(found) == self.pool:  # before the generator sorts a wider slice no one will read
                    break
        return found

    def evidence(self, item_id: str, liked: Sequence[str]) -> str | None:
        """The liked item beside which people most often named ``item_id`` (None without collaborative data)."""
        return self.collaborative.evidence(item_id, liked) if self.collaborative is not None else None

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return self.dense.vectors(ids)

    def describe(self) -> str:
        sources = [
            name
            for name, part in (
                ("lexical", self.lexical),
                ("collaborative", self.collaborative),
                ("neighbours", self.neighbours),
                ("multilingual", self.multilingual),
            )
            if part is not None
        ]
        return self.dense.describe() + (f" + {' + '.join(sources)}" if sources else "")


def best_rows(scores: np.ndarray, first: int) -> Iterator[int]:
    """Rows of positive ``scores``, best first and ties in row order, read lazily: the best ``first`` by a
    partial sort (:func:`~retrieval.retriever.top_rows`), twice as many each time the reader wants more.
    Sorting a million scores on every turn took longer than the rest of the turn."""
    positive = int(np.count_nonzero(scores > 0))
    done = 0
    while done < positive:
        wanted = min(max(first, 2 * done, 1), positive)
        yield from (int(r) for r in top_rows(scores, wanted)[done:])
        done = wanted
