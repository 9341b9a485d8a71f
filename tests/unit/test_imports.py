"""Start-up: with llm=none nothing imports LangChain or openai (they cost about a second; issue 17)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

RULES_ONLY_TURN = """
import sys
from tailtalk.catalog import Catalog, Item
from retrieval.embedder import HashingEmbedder
from retrieval.retriever import InMemoryRetriever
from ui.pipeline import TurnPipeline
from agent.state import ConversationState
import ui.assemble, ui.cli, eval.cli  # the front ends and the wiring, as `tailtalk ask` loads them

cat = Catalog((Item(id="1", title="Ghost House", categories=["horror"]),))
pipeline = TurnPipeline.from_parts(cat, InMemoryRetriever(cat, HashingEmbedder()))
assert pipeline.handle(ConversationState(), "something scary").picks
print(sorted({m.split(".")[0] for m in sys.modules} & {"langchain_core", "langchain_openai", "openai"}))
"""


def test_a_turn_without_a_language_model_imports_no_langchain_or_openai():
    done = subprocess.run(
        [sys.executable, "-c", RULES_ONLY_TURN], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
