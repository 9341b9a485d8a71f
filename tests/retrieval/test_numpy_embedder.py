"""The numpy run of the packaged MiniLM: the same vectors as sentence-transformers, and a serving process that
never imports torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from retrieval.embedder import (
    NumpyBertEmbedder,
    SentenceTransformerEmbedder,
    make_embedder,
    numpy_unservable,
    packaged_model_path,
)
from tests.conftest import REPO

TEXTS = [
    "a light romantic comedy from the 90s",
    "user: I loved The Shining and It Follows, something scary but not too gory | assistant: Alien (1979)",
    "我想看一部轻松的爱情喜剧",
    "",
    "WHAT ABOUT BOB%3F!!! ... Dr. Strangelove, or: How I Learned to Stop Worrying",
    " ".join(["a very long request about heists, car chases and betrayal"] * 60),  # past the 256-token cut
]


@pytest.fixture(scope="module")
def both():
    return NumpyBertEmbedder(), SentenceTransformerEmbedder()


def test_numpy_vectors_equal_sentence_transformers(both):
    numpy_run, torch_run = both
    mine, theirs = numpy_run.embed(TEXTS), torch_run.embed(TEXTS)
    assert mine.shape == theirs.shape == (len(TEXTS), 384) and mine.dtype == np.float32
    assert np.abs(mine - theirs).max() < 1e-5
    assert numpy_run.name == torch_run.name == "all-MiniLM-L6-v2"  # the index's manifest names the same model


def test_only_a_quick_start_embeds_in_numpy():
    assert isinstance(make_embedder("all-MiniLM-L6-v2", quick_start=True), NumpyBertEmbedder)
    assert isinstance(make_embedder("all-MiniLM-L6-v2"), SentenceTransformerEmbedder)


def test_a_model_numpy_cannot_run_is_named_with_why(tmp_path):
    assert numpy_unservable(packaged_model_path()) is None
    folder = tmp_path / "model"
    shutil.copytree(packaged_model_path(), folder, ignore=shutil.ignore_patterns("model.safetensors"))
    assert "model.safetensors" in numpy_unservable(folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "xlm-roberta"}))
    assert "xlm-roberta" in numpy_unservable(folder)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    assert "mean" in numpy_unservable(folder)
    (folder / "modules.json").write_text("{not json")
    assert "unreadable" in numpy_unservable(folder)
    with pytest.raises(ValueError, match="SentenceTransformerEmbedder"):
        NumpyBertEmbedder(str(folder))


@pytest.mark.integration
def test_a_quick_start_process_answers_without_importing_torch(redial_settings, redial_pipeline):
    script = (
        "import sys\n"
        "from agent.state import ConversationState\n"
        "from tailtalk.config import Settings\n"
        "from ui.assemble import build_serving_pipeline\n"
        "pipeline = build_serving_pipeline(Settings(llm='none'), quick_start=True)\n"
        "picks = pipeline.handle(ConversationState(), 'a light romantic comedy from the 90s').picks\n"
        "print(len(picks), sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    environment = {
        **os.environ,
        "TAILTALK_HOME": str(redial_settings.home),
        "TAILTALK_DATA_MIRROR": str(redial_settings.data_mirror),
        "TAILTALK_SCORER": redial_settings.scorer,
    }
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, cwd=REPO, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "5 []"
