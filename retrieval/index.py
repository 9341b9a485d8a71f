"""The Chroma item index: build it, update it in place, and refuse mismatched queries.

An index records, in its collection metadata, the embedding model and the catalogue
fingerprint it was built from. Opening it for a different model or catalogue raises
:class:`IndexMismatchError` with the command that fixes it.

A first build writes into a temporary sibling folder and renames it into place only
when complete, so a build killed half-way leaves the previous index (or none), never a
half one. Later builds against the same model upsert only new or changed items.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from tailtalk.catalog import Catalog, Item
from tailtalk.config import Settings
from tailtalk.popularity import head_tail_split
from retrieval.embedder import CachedEmbedder, Embedder

INDEX_FORMAT = 1
_BATCH = 256


class IndexError_(RuntimeError):
    """Base for index problems the user can fix; the message says how."""


class IndexMissingError(IndexError_):
    pass


class IndexMismatchError(IndexError_):
    pass


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "-", Path(text).name if os.sep in text else text).strip("-").lower() or "model"


def index_folder(settings: Settings, model_name: str) -> Path:
    return settings.indexes_dir / f"{_slug(settings.dataset)}-{_slug(model_name)}"


def collection_name(settings: Settings) -> str:
    return f"tailtalk-{_slug(settings.dataset)}"[:60]


def make_client(settings: Settings, folder: Path | None):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
    if folder is None:
        raise ValueError("a local Chroma index needs a folder")
    return chromadb.PersistentClient(path=str(folder), settings=chroma_settings)


def item_metadata(item: Item, is_head: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "item_id": item.id,
        "title": item.title,
        "popularity": float(item.popularity or 0.0),
        "head": is_head,
        "content_hash": item.content_hash(),
    }
    if item.categories:  # Chroma rejects empty lists; a missing key passes $not_contains
        meta["categories"] = list(item.categories)
    if item.year is not None:
        meta["year"] = item.year
    if item.price is not None:
        meta["price"] = float(item.price)
    return meta


@dataclass(frozen=True)
class IndexReport:
    folder: Path | None
    added: int
    updated: int
    removed: int
    unchanged: int
    rebuilt: bool


def _manifest(catalog: Catalog, embedder: Embedder) -> dict[str, Any]:
    return {
        "tailtalk_format": INDEX_FORMAT,
        "tailtalk_model": embedder.name,
        "tailtalk_dimension": embedder.dimension,
        "tailtalk_catalog": catalog.fingerprint(),
        "tailtalk_count": len(catalog),
    }


def _upsert(collection, items: Sequence[Item], embedder: Embedder, head: frozenset[str], progress: bool) -> None:
    with tqdm(total=len(items), desc="embedding items", unit="item", disable=not progress) as bar:
        for start in range(0, len(items), _BATCH):
            batch = list(items[start : start + _BATCH])
            vectors = embedder.embed([item.embedding_text() for item in batch])
            collection.upsert(
                ids=[item.id for item in batch],
                embeddings=vectors.tolist(),
                metadatas=[item_metadata(item, item.id in head) for item in batch],
                documents=[item.embedding_text() for item in batch],
            )
            bar.update(len(batch))


def _fill(client, name: str, catalog: Catalog, embedder: Embedder, progress: bool):
    collection = client.create_collection(
        name, configuration={"hnsw": {"space": "cosine"}}, metadata={"tailtalk_format": INDEX_FORMAT},
        embedding_function=None,
    )
    _upsert(collection, list(catalog), embedder, head_tail_split(_popularity(catalog)), progress)
    collection.modify(metadata=_manifest(catalog, embedder))
    return collection


def _popularity(catalog: Catalog) -> dict[str, float]:
    return {item.id: float(item.popularity or 0.0) for item in catalog}


def build_index(
    catalog: Catalog, embedder: Embedder, settings: Settings, *, progress: bool = True, rebuild: bool = False
) -> IndexReport:
    """Create the index, or bring an existing one up to date with ``catalog`` by upserting."""
    name = collection_name(settings)
    folder = None if settings.chroma_host else index_folder(settings, embedder.name)
    embedder = CachedEmbedder(embedder, settings.home / "embeddings")
    if not rebuild and (folder is None or folder.is_dir()):
        client = make_client(settings, folder)
        existing = _get_collection(client, name)
        if existing is not None and existing.metadata.get("tailtalk_model") == embedder.name:
            return _update_in_place(existing, catalog, embedder, folder, progress)
        if folder is not None:
            client.close()  # the folder is about to be replaced
    if folder is None:
        return _rebuild_on_server(settings, name, catalog, embedder, progress)
    return _rebuild_folder(settings, folder, name, catalog, embedder, progress)


def _get_collection(client, name: str):
    try:
        collection = client.get_collection(name)
    except Exception as exc:  # chromadb raises NotFoundError or a ValueError depending on the backend
        if "does not exist" in str(exc) or "not found" in str(exc).lower():
            return None
        raise
    if collection.metadata.get("tailtalk_format") != INDEX_FORMAT or "tailtalk_catalog" not in collection.metadata:
        return None  # an interrupted or foreign collection: rebuild rather than trust it
    return collection


def _update_in_place(collection, catalog: Catalog, embedder: Embedder, folder: Path | None, progress: bool):
    stored = collection.get(include=["metadatas"])
    stored_meta = {i: (m or {}) for i, m in zip(stored["ids"], stored["metadatas"])}
    head = head_tail_split(_popularity(catalog))
    changed = [item for item in catalog if stored_meta.get(item.id, {}).get("content_hash") != item.content_hash()]
    changed_ids = {item.id for item in changed}
    # The head set depends on every item's popularity, so an unchanged item's flag can flip.
    reflagged = [
        item for item in catalog
        if item.id in stored_meta and item.id not in changed_ids and stored_meta[item.id].get("head") != (item.id in head)
    ]
    removed = sorted(set(stored_meta) - set(catalog.ids()))
    # Mark the index stale first: if this update dies half-way, queries are refused until it is re-run.
    collection.modify(metadata={**collection.metadata, "tailtalk_catalog": "updating"})
    if changed:
        _upsert(collection, changed, embedder, head, progress)
    for start in range(0, len(reflagged), _BATCH):
        batch = reflagged[start : start + _BATCH]
        collection.update(ids=[i.id for i in batch], metadatas=[item_metadata(i, i.id in head) for i in batch])
    if removed:
        collection.delete(ids=removed)
    collection.modify(metadata=_manifest(catalog, embedder))
    added = sum(1 for item in changed if item.id not in stored_meta)
    return IndexReport(folder, added, len(changed) - added, len(removed), len(catalog) - len(changed), rebuilt=False)


def _rebuild_folder(settings, folder: Path, name: str, catalog, embedder, progress) -> IndexReport:
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = folder.parent / f".{folder.name}.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    client = make_client(settings, building)
    try:
        _fill(client, name, catalog, embedder, progress)
    finally:
        client.close()
    retired = folder.parent / f".{folder.name}.old-{os.getpid()}"
    if folder.exists():
        folder.rename(retired)
    building.rename(folder)
    shutil.rmtree(retired, ignore_errors=True)
    return IndexReport(folder, len(catalog), 0, 0, 0, rebuilt=True)


def _rebuild_on_server(settings, name: str, catalog, embedder, progress) -> IndexReport:
    client = make_client(settings, None)
    building = f"{name}-building"[:63]
    for stale in (building,):
        try:
            client.delete_collection(stale)
        except Exception as exc:  # absent is fine; anything else is a real server problem
            if "does not exist" not in str(exc) and "not found" not in str(exc).lower():
                raise
    collection = _fill(client, building, catalog, embedder, progress)
    try:
        client.delete_collection(name)
    except Exception as exc:
        if "does not exist" not in str(exc) and "not found" not in str(exc).lower():
            raise
    collection.modify(name=name)
    return IndexReport(None, len(catalog), 0, 0, 0, rebuilt=True)


def open_index(settings: Settings, catalog: Catalog, embedder: Embedder):
    """The collection for ``catalog`` and ``embedder``, checked against its manifest."""
    name = collection_name(settings)
    folder = None if settings.chroma_host else index_folder(settings, embedder.name)
    where = f"Chroma server {settings.chroma_host}:{settings.chroma_port}" if folder is None else str(folder)
    collection = None if folder is not None and not folder.is_dir() else _get_collection(make_client(settings, folder), name)
    if collection is None:
        raise IndexMissingError(f"no complete tailtalk index at {where}; build it with "
                                f"`tailtalk --dataset {settings.dataset} index`")
    meta = collection.metadata
    if meta.get("tailtalk_model") != embedder.name:
        raise IndexMismatchError(
            f"the index at {where} was built with embedding model {meta.get('tailtalk_model')!r}, "
            f"but {embedder.name!r} is configured; run `tailtalk index --rebuild` or set embedding_model to match"
        )
    if meta.get("tailtalk_catalog") != catalog.fingerprint():
        raise IndexMismatchError(
            f"the index at {where} does not match the catalogue {catalog.source} "
            f"(items were added or changed since it was built); run `tailtalk --dataset {settings.dataset} index` "
            "to update it"
        )
    return collection


def vectors_of(collection, ids: Sequence[str]) -> dict[str, np.ndarray]:
    if not ids:
        return {}
    got = collection.get(ids=list(ids), include=["embeddings"])
    return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"])}
