"""The Chroma item index: build it, update it in place, and refuse mismatched queries.

An index records, in its collection metadata, the embedding model and the catalogue
fingerprint it was built from. Opening it for a different model or catalogue raises
:class:`IndexMismatchError` with the command that fixes it.

A first build writes into a temporary sibling folder and renames it into place only
when complete, so a build killed half-way leaves the previous index (or none), never a
half one; the next build removes what a killed one left behind. Later builds against the
same model upsert only new or changed items, into the live collection too (conversations
running meanwhile keep working), and mark the index incomplete while they do: an update
killed half-way is refused at the next open until ``tailtalk index`` completes it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from tailtalk.catalog import Catalog, Item
from tailtalk.config import Settings
from retrieval.embedder import CachedEmbedder, Embedder
from tailtalk.errors import UserError

INDEX_FORMAT = 1
_BATCH = 256
_UPDATING = "updating"  # the catalogue fingerprint while an in-place update runs
# Chroma waits forever to open a database another process is writing; a write of ours takes
# milliseconds, so a lock held this long belongs to a stuck or suspended process.
LOCK_WAIT_S = 3.0


class IndexError_(UserError, RuntimeError):
    """Base for index problems the user can fix; the message says how."""


class IndexMissingError(IndexError_):
    pass


class IndexMismatchError(IndexError_):
    pass


class IndexUnavailableError(IndexError_):
    """The index exists but cannot be used: another process holds it locked, or it is damaged."""


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "-", Path(text).name if os.sep in text else text).strip("-").lower() or "model"


def index_folder(settings: Settings, model_name: str) -> Path:
    return settings.indexes_dir / f"{_slug(settings.dataset)}-{_slug(model_name)}"


def collection_name(settings: Settings, model_name: str) -> str:
    """The collection's name. A local index has a folder per dataset and model; a Chroma server holds every
    collection in one database, so there the name carries the embedding model too (a second model's
    index, the trained scorer's, must not replace the first's)."""
    name = f"tailtalk-{_slug(settings.dataset)}"[:40]
    if settings.chroma_host:
        model_hash = hashlib.sha256(model_name.encode()).hexdigest()[:8]
        name = f"{name.rstrip('-')}-{_slug(model_name)[:12].strip('-')}-{model_hash}"
    return name.rstrip("-")  # Chroma names end with a letter or digit


def index_command(settings: Settings) -> str:
    """The command that builds or updates the index these settings serve."""
    source = (
        f"--set catalog={shlex.quote(str(settings.catalog))}"
        if settings.catalog is not None
        else f"--dataset {settings.dataset}"
    )
    return f"tailtalk {source} index"


def index_location(settings: Settings, model_name: str) -> str:
    if settings.chroma_host:
        return f"Chroma server {settings.chroma_host}:{settings.chroma_port}"
    return str(index_folder(settings, model_name))


# Folders this process has opened a Chroma client on. Chroma keeps one SQLite connection per folder
# and process; probing such a folder with a second connection and closing it would drop that
# connection's POSIX locks, so only folders not yet opened here are probed.
_opened_here: set[Path] = set()


def make_client(settings: Settings, folder: Path | None):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
    if folder is None:
        raise ValueError("a local Chroma index needs a folder")
    if folder.resolve() not in _opened_here:
        _wait_for_writers(settings, folder)
    client = chromadb.PersistentClient(path=str(folder), settings=chroma_settings)
    _opened_here.add(folder.resolve())
    return client


def _wait_for_writers(settings: Settings, folder: Path) -> None:
    """Take and release the write lock that opening the index needs, giving up after ``LOCK_WAIT_S``."""
    database = folder / "chroma.sqlite3"
    if not database.is_file():
        return
    probe = sqlite3.connect(database, timeout=LOCK_WAIT_S, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise IndexUnavailableError(
                f"the Chroma index at {folder} cannot be opened for writing ({exc}); "
                "check that the folder and its chroma.sqlite3 are writable by you"
            ) from exc
        raise IndexUnavailableError(
            f"the Chroma index at {folder} is locked by another process (still locked after {LOCK_WAIT_S:g} s); "
            "let the other tailtalk command using it finish, or stop it (a suspended `tailtalk index` holds "
            "the lock too), then try again"
        ) from exc
    except sqlite3.DatabaseError as exc:
        raise _damaged(settings, str(folder), exc) from exc
    finally:
        probe.close()


def _damaged(settings: Settings, where: str, exc: Exception) -> IndexUnavailableError:
    return IndexUnavailableError(
        f"the Chroma index at {where} is damaged and cannot be read ({exc}); "
        f"run `{index_command(settings)} --rebuild` to build it again"
    )


def store_failure(settings: Settings, model_name: str, exc: Exception) -> IndexUnavailableError:
    """What to tell the user when Chroma fails while serving: its collection deleted (a rebuild on a
    shared Chroma server replaces it), its folder removed or its database damaged."""
    return IndexUnavailableError(
        f"the Chroma index at {index_location(settings, model_name)} stopped answering ({exc}); restart tailtalk "
        f"to open it again, after running `{index_command(settings)}` if the index was removed or damaged"
    )


def item_metadata(item: Item) -> dict[str, Any]:
    """What the index keeps beside an item's vector: only what a query filters on (categories, year, price,
    ``item_id`` for a shop's long exclusions) and the content hash an update compares. Chroma indexes every key
    it is given, and titles, popularity and head flags that nothing read cost a third of a build's time."""
    meta: dict[str, Any] = {"item_id": item.id, "content_hash": item.content_hash()}
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


def _upsert(collection, items: Sequence[Item], embedder: Embedder, progress: bool) -> None:
    # Texts of like length share a batch, so the encoder pads less: ReDial's item texts embed 1.14-1.18x
    # faster (bench/indexing.py). The order of an upsert does not change the index.
    texted = sorted(((item, item.embedding_text()) for item in items), key=lambda pair: len(pair[1]))
    with tqdm(total=len(texted), desc="embedding items", unit="item", disable=not progress) as bar:
        for start in range(0, len(texted), _BATCH):
            batch = texted[start : start + _BATCH]
            texts = [text for _, text in batch]
            collection.upsert(
                ids=[item.id for item, _ in batch],
                embeddings=embedder.embed(texts).tolist(),
                # No documents: nothing reads them back, and Chroma indexed each for full-text search, which
                # made a 1M-item build of real-length texts run at about 200 items/s.
                metadatas=[item_metadata(item) for item, _ in batch],
            )
            bar.update(len(batch))


def _fill(client, name: str, catalog: Catalog, embedder: Embedder, progress: bool):
    collection = client.create_collection(
        name,
        configuration={"hnsw": {"space": "cosine"}},
        metadata={"tailtalk_format": INDEX_FORMAT},
        embedding_function=None,
    )
    _upsert(collection, list(catalog), embedder, progress)
    collection.modify(metadata=_manifest(catalog, embedder))
    return collection


def build_index(
    catalog: Catalog, embedder: Embedder, settings: Settings, *, progress: bool = True, rebuild: bool = False
) -> IndexReport:
    """Create the index, or bring an existing one up to date with ``catalog`` by upserting.

    The upserts go into the live collection: a pipeline of this process serving from it keeps
    answering while they run (items its catalogue lacks are skipped by the retriever).
    """
    name = collection_name(settings, embedder.name)
    folder = None if settings.chroma_host else index_folder(settings, embedder.name)
    cached = CachedEmbedder(embedder, settings.home / "embeddings")
    try:
        if not rebuild and (folder is None or folder.is_dir()):
            client, existing = _open_collection(settings, folder, name, cached.name)
            if existing is not None and existing.metadata.get("tailtalk_model") == cached.name:
                return _update_in_place(existing, catalog, cached, folder, progress)
            if folder is not None:
                client.close()  # the folder is about to be replaced
        if folder is None:
            return _rebuild_on_server(settings, name, catalog, cached, progress)
        return _rebuild_folder(settings, folder, name, catalog, cached, progress)
    finally:
        cached.flush()  # an interrupted build keeps the vectors it computed


def _open_collection(settings: Settings, folder: Path | None, name: str, model_name: str):
    """The client and the tailtalk collection in it (None when there is none, or only a half-built one)."""
    from chromadb.errors import ChromaError

    try:
        client = make_client(settings, folder)
        return client, _get_collection(client, name)
    except ChromaError as exc:  # e.g. "file is not a database": a damaged or foreign chroma.sqlite3
        raise _damaged(settings, index_location(settings, model_name), exc) from exc


def _get_collection(client, name: str):
    try:
        collection = client.get_collection(name)
    except Exception as exc:  # chromadb raises NotFoundError or a ValueError depending on the backend
        if "does not exist" in str(exc) or "not found" in str(exc).lower():
            return None
        raise
    if collection.metadata.get("tailtalk_format") != INDEX_FORMAT or "tailtalk_catalog" not in collection.metadata:
        return None  # a first build that never finished, or a foreign collection: rebuild rather than trust it
    return collection


def _update_in_place(collection, catalog: Catalog, embedder: Embedder, folder: Path | None, progress: bool):
    stored = collection.get(include=["metadatas"])
    stored_meta = {i: (m or {}) for i, m in zip(stored["ids"], stored["metadatas"])}
    changed = [item for item in catalog if stored_meta.get(item.id, {}).get("content_hash") != item.content_hash()]
    removed = sorted(set(stored_meta) - set(catalog.ids()))
    # Mark the index incomplete first: if this update dies half-way, opening it is refused until it is re-run,
    # and the re-run resumes (items already upserted carry their new content hash).
    collection.modify(metadata={**collection.metadata, "tailtalk_catalog": _UPDATING})
    if changed:
        _upsert(collection, changed, embedder, progress)
    if removed:
        collection.delete(ids=removed)
    collection.modify(metadata=_manifest(catalog, embedder))
    added = sum(1 for item in changed if item.id not in stored_meta)
    return IndexReport(folder, added, len(changed) - added, len(removed), len(catalog) - len(changed), rebuilt=False)


def _rebuild_folder(settings, folder: Path, name: str, catalog, embedder, progress) -> IndexReport:
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(folder)
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
    _forget_replaced(folder)
    return IndexReport(folder, len(catalog), 0, 0, 0, rebuilt=True)


def _forget_replaced(folder: Path) -> None:
    """Let the next client of this process open the new index in ``folder``, not the one it replaced.

    Chroma keeps one open database per folder path and process and hands it to every new client
    of that path, so without this a process that had opened the old index would go on reading it
    (deleted, but still open). Clients already open keep the old one until they are dropped. The
    folder now holds a database no client here has open, so it may be probed for locks again.
    The cache is Chroma's own, not public API: the rebuild tests in tests/reliability fail loudly
    if an upgrade moves it.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(folder), None)
    _opened_here.discard(folder.resolve())


def _remove_abandoned(folder: Path) -> None:
    """Delete the staging and retired folders of builds whose process was killed; they are never used again."""
    pattern = re.compile(rf"\.{re.escape(folder.name)}\.(?:building|old)-(\d+)")
    for path in folder.parent.iterdir():
        match = pattern.fullmatch(path.name)
        if match and not _running(int(match.group(1))):
            shutil.rmtree(path)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and its folder is not ours to remove
        return True
    return True


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
    name = collection_name(settings, embedder.name)
    folder = None if settings.chroma_host else index_folder(settings, embedder.name)
    where = index_location(settings, embedder.name)
    command = index_command(settings)
    collection = (
        None
        if folder is not None and not folder.is_dir()
        else _open_collection(settings, folder, name, embedder.name)[1]
    )
    if collection is None:
        raise IndexMissingError(f"no complete tailtalk index at {where}; build it with `{command}`")
    meta = collection.metadata
    if meta.get("tailtalk_catalog") == _UPDATING:
        raise IndexMissingError(
            f"the index at {where} is incomplete: an update was interrupted before it finished; "
            f"run `{command}` to complete it"
        )
    if meta.get("tailtalk_model") != embedder.name:
        raise IndexMismatchError(
            f"the index at {where} was built with embedding model {meta.get('tailtalk_model')!r}, "
            f"but {embedder.name!r} is configured; run `{command}` to rebuild it with the configured model, "
            "or set embedding_model to match"
        )
    if meta.get("tailtalk_catalog") != catalog.fingerprint():
        raise IndexMismatchError(
            f"the index at {where} does not match the catalogue {catalog.source} "
            f"(items were added or changed since it was built); run `{command}` to update it"
        )
    return collection


def vectors_of(collection, ids: Sequence[str]) -> dict[str, np.ndarray]:
    if not ids:
        return {}
    got = collection.get(ids=list(ids), include=["embeddings"])
    return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"])}
