"""A logged dialogue replayed into a state: what was recent is read as of the dialogue, a live one reads now."""

from __future__ import annotations

from tailtalk.catalog import Catalog, Item
from tailtalk.dialogues import Turn
from tailtalk.instances import Instance
from retrieval.embedder import HashingEmbedder
from retrieval.retriever import InMemoryRetriever
from ui.pipeline import TurnPipeline
from agent.state import ConversationState
from eval.replay import replay_state
from eval.systems import PipelineSystem


def pipeline() -> TurnPipeline:
    catalog = Catalog((Item(id="1", title="Alien", categories=["horror"]),))
    return TurnPipeline.from_parts(catalog, InMemoryRetriever(catalog, HashingEmbedder()))


def test_the_replayed_dialogue_reaches_the_retrieval_query():
    turns = [Turn(role="user", text="something scary")]
    served = pipeline()
    state = replay_state(served, turns, "20001:1", logged_dialogue="20001")
    assert served.retrieval_query(state, k=5).logged_dialogue == "20001"
    assert served.retrieval_query(replay_state(served, turns, "x"), k=5).logged_dialogue is None
    assert served.retrieval_query(ConversationState(), k=5).logged_dialogue is None  # a person chatting now


def test_the_eval_system_replays_each_instance_as_of_its_dialogue():
    instance = Instance("417", 1, (Turn(role="user", text="something scary"),), ("1",), ("1",), frozenset())
    assert PipelineSystem(pipeline()).replay(instance).logged_dialogue == "417"
