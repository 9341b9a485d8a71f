"""What the agent asks retrieval for, and what retrieval hands to ranking.

The hard constraints are the shared :class:`tailtalk.constraints.Constraints`.

Example::

    >>> from retrieval.query import RetrievalQuery
    >>> from tailtalk.constraints import Constraints
    >>> RetrievalQuery("a 90s comedy", Constraints(year_min=1990, year_max=1999)).constraints.bounded_fields
    frozenset({'year'})
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from tailtalk.catalog import Item
from tailtalk.constraints import Constraints


@dataclass(frozen=True)
class RetrievalQuery:
    """``text`` says what is wanted; ``like_ids`` pull towards items, ``avoid_text`` pushes away.

    ``seed_ids`` are the items the conversation has named, oldest first, and ``disliked_ids`` those of
    them the person rejected: the collaborative source finds what people name beside them.
    """

    text: str
    constraints: Constraints = field(default_factory=Constraints)
    like_ids: tuple[str, ...] = ()
    avoid_text: str = ""
    ruled_out_text: str = ""  # what the person firmly ruled out, among avoid_text ("no superhero films")
    k: int = 50
    seed_ids: tuple[str, ...] = ()
    disliked_ids: tuple[str, ...] = ()
    language: str = "en"  # of the person's latest message: "zh" is read by the multilingual index


@dataclass(frozen=True)
class Candidate:
    item_id: str
    similarity: float  # cosine similarity between the composed query vector and the item
    lexical: float = 0.0  # BM25 of the item's whole text for the query text (hybrid retrieval)
    collaborative: float = 0.0  # how often people name it beside the conversation's items (hybrid retrieval)
    neighbours: float = 0.0  # how often recommenders named it in conversations that read like this one
    # Whether the conversations asking for what the person wants to avoid ("no superhero films") name it more
    # than those reading like this request do (HybridRetriever's ``avoid_share``).
    avoided: bool = False


def encoded_texts(query: RetrievalQuery) -> list[str]:
    """The texts a retriever encodes for ``query`` (:meth:`VectorRetriever.query_vectors`), each once: the text,
    what to avoid, what is ruled out, and the text less the words to avoid.

    >>> encoded_texts(RetrievalQuery("a comedy, no superhero", avoid_text="superhero", ruled_out_text="superhero"))
    ['a comedy, no superhero', 'superhero', 'a comedy, no']
    """
    texts = (query.text, query.avoid_text, query.ruled_out_text, without_words(query.text, query.avoid_text))
    return [t for t in dict.fromkeys(t.strip() for t in texts) if t]


def without_words(text: str, avoid: str) -> str:
    """``text`` less every word of ``avoid`` (whole words, any case).

    >>> without_words("an action movie but nothing with Superheroes", "superheroes")
    'an action movie but nothing with '
    """
    avoided = set(re.findall(r"\w+", avoid.lower()))
    if not avoided:
        return text
    return re.sub(r"\w+", lambda word: "" if word.group().lower() in avoided else word.group(), text)


def compose_query_vector(
    text_vector: np.ndarray | None,
    liked_vectors: np.ndarray | None,
    avoid_vector: np.ndarray | None,
    *,
    liked_weight: float,
    avoid_weight: float,
) -> np.ndarray | None:
    """q = normalise(t + w_like * mean(liked) - w_avoid * a): Rocchio-style query shaping.

    Returns None when nothing positive was stated (no text, no liked items): there is
    then no direction to search in, and retrieval falls back to popularity.
    """
    parts = []
    if text_vector is not None:
        parts.append(text_vector)
    if liked_vectors is not None and len(liked_vectors):
        parts.append(liked_weight * liked_vectors.mean(axis=0))
    if not parts:
        return None
    query = np.sum(parts, axis=0)
    if avoid_vector is not None:
        query = query - avoid_weight * avoid_vector
    norm = float(np.linalg.norm(query))
    return (query / norm).astype(np.float32) if norm > 0 else None


def most_popular(items: list[Item] | tuple[Item, ...], constraints: Constraints, k: int) -> list[Candidate]:
    """The k most popular admissible items, for a query with no direction yet."""
    admitted = [item for item in items if constraints.admits(item)]
    admitted.sort(key=lambda item: (-(item.popularity or 0.0), item.id))
    return [Candidate(item.id, 0.0) for item in admitted[:k]]
