"""The lexical index: BM25 over each item's whole text, beside the dense Chroma index.

Dense retrieval barely matches names ("films by Christopher Nolan", "what else is
Alexandra Breckenridge in"); BM25 matches them exactly. The text holds every fact of the
item: title, categories, description and every value of every attribute (no list cut short).

Example::

    >>> from tailtalk.catalog import Catalog, Item
    >>> from retrieval.lexical import LexicalIndex
    >>> cat = Catalog((Item(id="1", title="Inception", attributes={"director": ["Christopher Nolan"]}),
    ...                Item(id="2", title="Up", description="An old man flies his house")))
    >>> [round(float(s), 2) > 0 for s in LexicalIndex(cat).scores("films by christopher nolan")]
    [True, False]
"""

from __future__ import annotations

from collections.abc import Iterable

import bm25s
import numpy as np

from tailtalk.catalog import Catalog, Item


def lexical_text(item: Item) -> str:
    """Everything the catalogue says about an item, as one text (attribute names included: "director")."""
    parts = [item.title, str(item.year or ""), " ".join(item.categories), item.description]
    for key, value in item.attributes.items():
        values = value if isinstance(value, list | tuple) else [value]
        parts.append(f"{key.replace('_', ' ')}: {', '.join(str(v) for v in values if v not in (None, ''))}")
    return " ".join(p for p in parts if p)


class LexicalIndex:
    """BM25 scores of every catalogue item for a text, in catalogue order.

    ``ignored_words`` are left out of every query besides English stopwords: words about the conversation
    ("I saw that one") that would otherwise match a title (Saw).

    >>> cat = Catalog((Item(id="1", title="Saw"), Item(id="2", title="Up")))
    >>> float(LexicalIndex(cat, ignored_words={"saw"}).scores("I saw that one").max())
    0.0
    """

    def __init__(self, catalog: Catalog, ignored_words: Iterable[str] = ()):
        self.ids = catalog.ids()
        self._query_stopwords = sorted({*bm25s.stopwords.STOPWORDS_EN, *ignored_words})
        self._bm25 = bm25s.BM25()
        self._bm25.index(
            bm25s.tokenize([lexical_text(i) for i in catalog], stopwords="en", show_progress=False), show_progress=False
        )

    def scores(self, text: str) -> np.ndarray:
        """BM25 of each item for ``text`` (all zeros when no word of it is in the catalogue)."""
        tokens = bm25s.tokenize([text], stopwords=self._query_stopwords, return_ids=False, show_progress=False)[0]
        if not tokens:
            return np.zeros(len(self.ids), dtype=np.float64)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float64)
