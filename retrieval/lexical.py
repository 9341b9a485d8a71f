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

import json
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import bm25s
import numpy as np

from tailtalk.catalog import Catalog, Item

log = logging.getLogger(__name__)
_META = "tailtalk_lexical.json"  # written last: the catalogue fingerprint the saved index was built from


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
    ("I saw that one") that would otherwise match a title (Saw). ``folder`` keeps the index between
    processes (`tailtalk index` writes it): it is read when it was built from this very catalogue, else
    built and written there, so a start-up reads 3 MB instead of tokenising every item.

    >>> cat = Catalog((Item(id="1", title="Saw"), Item(id="2", title="Up")))
    >>> float(LexicalIndex(cat, ignored_words={"saw"}).scores("I saw that one").max())
    0.0
    """

    def __init__(self, catalog: Catalog, ignored_words: Iterable[str] = (), *, folder: Path | None = None):
        self.ids = catalog.ids()
        self._query_stopwords = sorted({*bm25s.stopwords.STOPWORDS_EN, *ignored_words})
        fingerprint = catalog.fingerprint()
        saved = _load(folder, fingerprint) if folder is not None else None
        if saved is not None:
            self._bm25 = saved
            return
        self._bm25 = bm25s.BM25()
        self._bm25.index(
            bm25s.tokenize([lexical_text(i) for i in catalog], stopwords="en", show_progress=False), show_progress=False
        )
        if folder is not None:
            _save(self._bm25, folder, fingerprint)

    def scores(self, text: str) -> np.ndarray:
        """BM25 of each item for ``text`` (all zeros when no word of it is in the catalogue)."""
        tokens = bm25s.tokenize([text], stopwords=self._query_stopwords, return_ids=False, show_progress=False)[0]
        if not tokens:
            return np.zeros(len(self.ids), dtype=np.float64)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float64)


def _load(folder: Path, fingerprint: str) -> bm25s.BM25 | None:
    """The index saved in ``folder`` for the catalogue ``fingerprint``; None when there is none for it."""
    try:
        if json.loads((folder / _META).read_text(encoding="utf-8")).get("catalog") != fingerprint:
            return None
        return bm25s.BM25.load(str(folder))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as exc:  # torn or garbled: rebuilt, and the log says so
        log.warning("the lexical index in %s cannot be read (%s); it is rebuilt", folder, exc)
        return None


def _save(bm25: bm25s.BM25, folder: Path, fingerprint: str) -> None:
    """Write the index into ``folder``, whole or not at all (a reader never sees half of one)."""
    staging = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    try:
        shutil.rmtree(staging, ignore_errors=True)
        bm25.save(str(staging))
        (staging / _META).write_text(json.dumps({"catalog": fingerprint}), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        staging.replace(folder)
    except OSError as exc:  # a read-only home still serves; each start-up then builds the index again
        log.warning("the lexical index cannot be saved in %s (%s); every start-up builds it again", folder, exc)
        shutil.rmtree(staging, ignore_errors=True)
