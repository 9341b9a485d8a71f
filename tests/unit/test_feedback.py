"""tailtalk.feedback: the log's lines, malformed lines named and skipped, and the lists the collaborative model
learns from; then the pipeline writing it (shown picks, likes, dislikes; text only when asked)."""

from __future__ import annotations

import json
import threading

import pytest

from agent.state import ConversationState
from retrieval.embedder import HashingEmbedder
from retrieval.retriever import InMemoryRetriever
from tailtalk.errors import UserInputError
from tailtalk.feedback import FeedbackLog, feedback_mention_lists, read_feedback
from ui.pipeline import TurnPipeline


def test_malformed_lines_are_named_skipped_and_counted(tmp_path):
    path = tmp_path / "feedback.jsonl"
    FeedbackLog(path).append("c1", "like", ["a"])
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"conversation_id": "c1", "event": "lik\n')  # a line cut by a crash
        handle.write('{"conversation_id": "c2", "event": "shrug", "items": [], "timestamp": 1}\n')
        handle.write("\n")
    FeedbackLog(path).append("c1", "dislike", ["b"])
    events, skipped = read_feedback(path)
    assert [e.event for e in events] == ["like", "dislike"]
    assert len(skipped) == 2 and skipped[0].startswith(f"{path}:2: ") and skipped[1].startswith(f"{path}:3: ")


def test_a_missing_log_says_how_to_get_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="set feedback_log"):
        read_feedback(tmp_path / "none.jsonl")


def test_the_last_verdict_on_an_item_counts_and_shown_alone_is_no_list(tmp_path):
    path = tmp_path / "f.jsonl"
    log = FeedbackLog(path)
    log.append("c1", "like", ["a"])
    log.append("c1", "like", ["b"])
    log.append("c1", "dislike", ["a"])
    log.append("c2", "shown", ["a", "b"])
    lists = feedback_mention_lists(read_feedback(path)[0])
    assert [(m.id, m.items, m.liked) for m in lists] == [("feedback:c1", ("b", "a"), (True, False))]


def test_concurrent_writers_never_break_a_line(tmp_path):
    path = tmp_path / "f.jsonl"
    log = FeedbackLog(path)

    def write(n: int) -> None:
        for i in range(200):
            log.append(f"c{n}", "shown", [f"item-{i}"] * 20)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events, skipped = read_feedback(path)
    assert len(events) == 800 and skipped == []


@pytest.fixture
def pipeline_with_log(small_catalog, tmp_path):
    def build(with_text: bool) -> tuple[TurnPipeline, FeedbackLog]:
        log = FeedbackLog(tmp_path / "feedback.jsonl", with_text=with_text)
        retriever = InMemoryRetriever(small_catalog, HashingEmbedder())
        return TurnPipeline.from_parts(small_catalog, retriever, top_k=2, feedback_log=log), log

    return build


def test_the_pipeline_logs_shown_picks_and_verdicts_without_text(pipeline_with_log):
    pipeline, log = pipeline_with_log(with_text=False)
    state = ConversationState()
    shown = [p.item.id for p in pipeline.handle(state, "a funny comedy").picks]
    pipeline.feedback(state, shown[0], liked=True)
    pipeline.feedback(state, shown[1], liked=False)
    lines = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]
    assert [(x["event"], x["items"]) for x in lines] == [("shown", shown), ("like", shown[:1]), ("dislike", shown[1:])]
    assert all(x["conversation_id"] == state.conversation_id and "message" not in x for x in lines)
    assert state.liked == shown[:1] and shown[1] in state.disliked


def test_message_text_is_logged_only_when_asked(pipeline_with_log):
    pipeline, log = pipeline_with_log(with_text=True)
    pipeline.handle(ConversationState(), "a funny comedy")
    assert json.loads(log.path.read_text(encoding="utf-8"))["message"] == "a funny comedy"


def test_feedback_on_an_unknown_item_is_refused(pipeline_with_log):
    pipeline, log = pipeline_with_log(with_text=False)
    with pytest.raises(UserInputError, match="no item with id 'zz'"):
        pipeline.feedback(ConversationState(), "zz", liked=True)
    assert not log.path.exists()


def test_a_log_that_cannot_be_written_warns_and_the_turn_goes_on(tmp_path, caplog):
    (tmp_path / "taken").mkdir()
    FeedbackLog(tmp_path / "taken").append("c1", "like", ["a"])  # a folder where the file should be
    assert "could not append to the feedback log" in caplog.text
