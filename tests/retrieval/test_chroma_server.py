"""The Chroma server path (`chroma_host`): `chroma run` on 127.0.0.1, two embedding models' indexes side by
side in its one database, and the retriever serving from it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retrieval.embedder import HashingEmbedder
from retrieval.index import build_index, collection_name, make_client
from retrieval.query import RetrievalQuery
from retrieval.retriever import ChromaRetriever
from tailtalk.config import Settings
from tests.conftest import free_port

pytestmark = pytest.mark.integration

CHROMA = Path(sys.executable).with_name("chroma")


@pytest.fixture
def chroma_server(tmp_path):
    if not CHROMA.is_file():
        pytest.fail(f"{CHROMA} is missing: the chromadb package installs it (make install)")
    port = free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    server = subprocess.Popen(
        [str(CHROMA), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(tmp_path / "server")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        settings = Settings(home=tmp_path / "home", dataset="small", chroma_host="127.0.0.1", chroma_port=port)
        deadline = time.monotonic() + 60
        while True:
            try:
                make_client(settings, None).heartbeat()
                break
            except ValueError as exc:  # chromadb's "Could not connect to a Chroma server": not up yet
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"chroma run did not start on 127.0.0.1:{port}") from exc
                time.sleep(0.3)
        yield settings
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp_path / "server", ignore_errors=True)


def test_two_models_indexes_live_side_by_side_on_a_server(chroma_server, small_catalog):
    small, large = HashingEmbedder(dimension=64), HashingEmbedder(dimension=128)
    assert collection_name(chroma_server, small.name) != collection_name(chroma_server, large.name)
    build_index(small_catalog, small, chroma_server, progress=False)
    build_index(small_catalog, large, chroma_server, progress=False)
    names = {c.name for c in make_client(chroma_server, None).list_collections()}
    assert {collection_name(chroma_server, small.name), collection_name(chroma_server, large.name)} <= names
    for embedder in (small, large):  # the second build replaced nothing: both serve
        retriever = ChromaRetriever(small_catalog, embedder, chroma_server)
        found = retriever.retrieve(RetrievalQuery("haunted house ghosts", k=3))
        assert found[0].item_id == "h1"
