"""Shared fixtures. Integration fixtures build the real ReDial catalogue and Chroma index once
per session in ``.cache/test-home`` (git-ignored), so later runs only upsert what changed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tailtalk.catalog import Catalog, Item
from tailtalk.config import Settings
from tailtalk.privacy import free_loopback_port

if TYPE_CHECKING:
    from ui.vllm_server import VLLMServer

REPO = Path(__file__).resolve().parents[1]
TEST_HOME = REPO / ".cache" / "test-home"


free_port = free_loopback_port  # the tests' name for it

VLLM_VENV = REPO / ".venv-vllm"
_VLLM_ENV_LOG = TEST_HOME / "vllm-env.log"
_vllm_install: subprocess.Popen[bytes] | None = None
_vllm_server: Future[VLLMServer] | None = None
_vllm_wanted = False


@pytest.hookimpl(trylast=True)  # after ``-m`` has deselected: a run without vLLM's tests installs nothing
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """vLLM's tests run last, and their server is readied in the background beside the other tests (which
    leave a core idle much of the time): on a clean clone a process installs vLLM's virtualenv (about 3.5 GB
    from pip) and converts the packaged SmolLM2, then the server is launched, so that its cold start (2-4
    minutes here) is over when they run. It begins once the session's ReDial index is built
    (:func:`ready_vllm_in_background`), since the index's encoding is the one step that keeps both cores busy.
    Progress goes to ``.cache/test-home/vllm-env.log``, the server's own log to ``.cache/test-home/logs``."""
    global _vllm_wanted
    needs_vllm = [item for item in items if item.get_closest_marker("vllm")]
    if not needs_vllm or config.option.collectonly:
        return
    items[:] = [item for item in items if not item.get_closest_marker("vllm")] + needs_vllm
    _vllm_wanted = True


def ready_vllm_in_background() -> None:
    """Start readying vLLM's server (once, and only when this session runs vLLM's tests)."""
    global _vllm_install, _vllm_server
    if not _vllm_wanted or _vllm_install is not None:
        return
    _VLLM_ENV_LOG.parent.mkdir(parents=True, exist_ok=True)
    with _VLLM_ENV_LOG.open("ab") as log:
        _vllm_install = subprocess.Popen(
            [sys.executable, "-c", _READY_VLLM, str(VLLM_VENV), str(Settings(home=TEST_HOME).models_dir)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, ended whole if the session stops first
        )
    _vllm_server = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vllm-start").submit(_start_vllm_server)


_READY_VLLM = """
import sys
from pathlib import Path
from tailtalk.llm import ensure_local_model
from ui.vllm_server import ensure_vllm_env
ensure_vllm_env(Path(sys.argv[1]))
ensure_local_model(Path(sys.argv[2]))
"""


def _start_vllm_server() -> VLLMServer:
    """Once vLLM's virtualenv and model are ready, launch the server for tests/integration/test_vllm.py (its
    fixture waits for it to be healthy)."""
    vllm_env()
    from ui.vllm_server import VLLMServer

    with _VLLM_ENV_LOG.open("a", encoding="utf-8") as log:
        server = VLLMServer.from_settings(
            Settings(home=TEST_HOME),
            port=free_port(),
            venv=VLLM_VENV,
            progress=lambda line: print(line, file=log, flush=True),
        )
    return server.start()


def pytest_sessionfinish() -> None:
    """A session that ends before vLLM's tests ran (``-x``, Ctrl-C) leaves no install or server behind."""
    if _vllm_install is not None and _vllm_install.poll() is None:
        os.killpg(_vllm_install.pid, signal.SIGTERM)  # the next run redoes the install
        _vllm_install.wait()
    if _vllm_server is not None and _vllm_server.done() and _vllm_server.exception() is None:
        _vllm_server.result().stop()  # safe after the fixture's own stop()


def vllm_env() -> None:
    """Wait for the background install of vLLM's virtualenv (when this session started one) and raise with
    its log when it failed."""
    if _vllm_install is not None and _vllm_install.wait() != 0:
        tail = _VLLM_ENV_LOG.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"installing vLLM's virtualenv {VLLM_VENV} failed ({_VLLM_ENV_LOG}):\n{tail}")


def started_vllm_server() -> VLLMServer:
    """The server launched in the background for this session (started here when the session launched
    none); it may still be starting: enter it (``with server:``) to wait until it is healthy."""
    ready_vllm_in_background()
    if _vllm_server is not None:
        return _vllm_server.result()
    from ui.vllm_server import VLLMServer

    return VLLMServer.from_settings(Settings(home=TEST_HOME), port=free_port(), venv=VLLM_VENV).start()


@pytest.fixture
def small_catalog() -> Catalog:
    """Eight hand-made items covering categories, years, prices and popularity."""
    rows = [
        ("h1", "Ghost House", ["horror"], 1980, None, "A family moves into a haunted house full of ghosts.", 40),
        ("h2", "Night Screams", ["horror", "thriller"], 1995, None, "A slasher stalks teenagers at a summer camp.", 5),
        ("c1", "Sunny Days", ["comedy"], 1994, None, "A funny road trip of two clumsy friends.", 30),
        ("c2", "Love and Laughs", ["comedy", "romance"], 1998, None, "A romantic comedy about a wedding planner.", 2),
        ("c3", "Office Jokes", ["comedy"], 2012, None, "A funny satire of office life and meetings.", 0),
        ("s1", "Star Voyage", ["sci-fi", "adventure"], 1977, None, "Ships fight among the stars in space.", 50),
        ("b1", "Paper Planner", ["office"], None, 14.99, "A weekly paper planner with a spiral binding.", 3),
        ("b2", "Leather Notebook", ["office"], None, 39.0, "A hardcover leather notebook for notes.", 1),
    ]
    return Catalog(
        tuple(
            Item(id=i, title=t, categories=c, year=y, price=p, description=d, popularity=pop)
            for i, t, c, y, p, d, pop in rows
        )
    )


@pytest.fixture(scope="session")
def mirror() -> Path:
    found = Settings().resolved_mirror()
    if found is None or not (found / "redial").is_dir():
        pytest.skip("no data mirror: set TAILTALK_DATA_MIRROR to a folder with the ReDial files")
    return found


@pytest.fixture(scope="session")
def redial_settings(mirror: Path) -> Settings:
    """Real ReDial catalogue and a real Chroma index built with the packaged MiniLM model."""
    from tailtalk.catalog import load_catalog
    from tailtalk.prepare import prepare
    from retrieval.embedder import make_embedder
    from retrieval.index import build_index

    # Pinned to the baseline scorer and the rule path: a checkpoint left in the test home, or an LLM server
    # running on this machine, must not change what these tests see. LLM tests opt in with model_copy.
    settings = Settings(home=TEST_HOME, data_mirror=mirror, dataset="redial", scorer="baseline", llm="none")
    prepare("redial", settings)
    build_index(load_catalog(settings.catalog_path), make_embedder(settings.embedding_model), settings, progress=False)
    ready_vllm_in_background()  # after the index: its encoding keeps both cores busy
    return settings


@pytest.fixture(scope="session")
def redial_pipeline(redial_settings: Settings):
    from ui.assemble import build_pipeline

    return build_pipeline(redial_settings)


@pytest.fixture(scope="session")
def shop_pipeline(mirror: Path):
    """Customer-service mode on the real MG-ShopDial catalogue and its Chroma index (rules and templates)."""
    from tailtalk.catalog import load_catalog
    from tailtalk.prepare import prepare
    from retrieval.embedder import make_embedder
    from retrieval.index import build_index
    from ui.assemble import build_pipeline

    settings = Settings(home=TEST_HOME, data_mirror=mirror, domain="products", scorer="baseline", llm="none")
    assert settings.dataset == "mg-shopdial"
    prepare("mg-shopdial", settings)
    build_index(load_catalog(settings.catalog_path), make_embedder(settings.embedding_model), settings, progress=False)
    return build_pipeline(settings)


@pytest.fixture(scope="session")
def shop_app_url(shop_pipeline):
    """The chat app in shop mode (domain=products) on the real MG-ShopDial pipeline, 127.0.0.1, a free port."""
    from ui.app import launch

    settings = Settings(home=TEST_HOME, domain="products", scorer="baseline", llm="none", ui_port=free_port())
    demo = launch(settings, block=False, pipeline=shop_pipeline)
    yield f"http://127.0.0.1:{settings.ui_port}/"
    demo.close()


@pytest.fixture(scope="session")
def app_url(redial_settings: Settings, redial_pipeline):
    """The chat app served once for the UI and reliability tests: 127.0.0.1, a free port, the real ReDial
    pipeline (llm=none). Conversations live in per-session state, so tests sharing it cannot see each other."""
    from ui.app import launch

    settings = redial_settings.model_copy(update={"ui_port": free_port()})
    demo = launch(settings, block=False, pipeline=redial_pipeline)
    yield f"http://127.0.0.1:{settings.ui_port}/"
    demo.close()
