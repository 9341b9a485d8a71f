"""A turn that fails inside the server shows the user one clear sentence, never a stack trace.

The app is served on 127.0.0.1 with a pipeline whose retriever fails the way a store can
fail while the app runs (its folder deleted, an internal fault); the turn goes through the
UI's API exactly as the page sends it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ui.pipeline import TurnPipeline
from retrieval.embedder import HashingEmbedder
from retrieval.index import IndexMissingError
from retrieval.retriever import InMemoryRetriever
from tailtalk.config import Settings
from tests.conftest import free_port
from ui.app import INTERNAL_ERROR

pytestmark = pytest.mark.integration
MISSING = "no index in /data/tailtalk/index: run `tailtalk index` to build it"


class FailingRetriever(InMemoryRetriever):
    """Raises ``error`` when the test sets one; retrieves as usual when it is None."""

    error: Exception | None = None

    def retrieve(self, query):
        if self.error is not None:
            raise self.error
        return super().retrieve(query)


@pytest.fixture(scope="module")
def broken_app(small_catalog_module) -> Iterator[tuple[str, FailingRetriever]]:
    from ui.app import launch

    retriever = FailingRetriever(small_catalog_module, HashingEmbedder())
    pipeline = TurnPipeline.from_parts(small_catalog_module, retriever)
    settings = Settings(ui_port=free_port(), llm="none")
    demo = launch(settings, block=False, pipeline=pipeline)
    yield f"http://127.0.0.1:{settings.ui_port}/", retriever
    demo.close()


@pytest.fixture(scope="module")
def small_catalog_module():
    from tailtalk.catalog import Catalog, Item

    return Catalog(
        (
            Item(id="h1", title="Ghost House", categories=["horror"], description="A haunted house."),
            Item(id="c1", title="Sunny Days", categories=["comedy"], description="A funny road trip."),
        )
    )


@pytest.mark.parametrize("api_name, args", [("/recommend", ("a funny comedy",)), ("/chat", ("a funny comedy",))])
@pytest.mark.parametrize(
    "error, shown",
    [
        (RuntimeError("disk I/O error in /srv/secret/chroma.sqlite3"), INTERNAL_ERROR),
        (IndexMissingError(MISSING), MISSING),
    ],
)
def test_a_failing_turn_shows_one_sentence_and_no_traceback(broken_app, api_name, args, error, shown):
    from gradio_client import Client

    url, retriever = broken_app
    retriever.error = error
    with pytest.raises(Exception) as raised:
        Client(url, verbose=False).predict(*args, api_name=api_name)
    said = str(raised.value)
    assert shown in said
    assert "Traceback" not in said and "/srv/secret" not in said  # internals stay in the server's log


def test_the_same_session_answers_again_once_the_store_is_back(broken_app):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    url, retriever = broken_app
    client = Client(url, verbose=False)
    retriever.error = IndexMissingError(MISSING)
    with pytest.raises(AppError, match="tailtalk index"):
        client.predict("a funny comedy", api_name="/recommend")
    retriever.error = None  # the store is back
    turn = client.predict("a funny comedy", api_name="/recommend")
    assert [i["id"] for i in turn["items"]][0] == "c1"
