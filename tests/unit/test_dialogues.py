"""tailtalk.dialogues: Turn/Dialogue validation and load_dialogues errors with line numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from tailtalk.catalog import DataFormatError
from tailtalk.dialogues import Dialogue, Turn, dump_dialogue, iter_dialogues, load_dialogues


def line(id_: str, *turns: tuple[str, str] | dict) -> str:
    rows = [t if isinstance(t, dict) else {"role": t[0], "text": t[1]} for t in turns]
    return json.dumps({"id": id_, "turns": rows}) + "\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dialogues.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


def test_turn_defaults_and_roles():
    turn = Turn(role="assistant", text="Try Alien", items=["42"])
    assert turn.items == ("42",)
    assert Turn(role="user", text="hi").items == ()


@pytest.mark.parametrize("role", ["bot", "system", "User", ""])
def test_turn_rejects_unknown_roles(role):
    with pytest.raises(ValidationError) as info:
        Turn(role=role, text="x")
    assert info.value.errors()[0]["loc"] == ("role",)


def test_dialogue_needs_an_id_and_a_turn():
    with pytest.raises(ValidationError, match="at least 1"):
        Dialogue(id="d", turns=[])
    with pytest.raises(ValidationError, match="at least 1 character"):
        Dialogue(id="", turns=[Turn(role="user", text="x")])


def test_load_dialogues_reads_all_lines_skipping_blanks(tmp_path):
    path = write(
        tmp_path,
        line("d1", ("user", "Any comedies?"), {"role": "assistant", "text": "Airplane! (1980)", "items": ["42"]})
        + "\n  \n"
        + line("d2", ("user", "hi")),
    )
    d1, d2 = load_dialogues(path)
    assert (d1.id, d2.id) == ("d1", "d2")
    assert [t.role for t in d1.turns] == ["user", "assistant"]
    assert d1.turns[1].items == ("42",)
    assert d2.turns == (Turn(role="user", text="hi"),)


def test_empty_file_has_no_dialogues(tmp_path):
    assert load_dialogues(write(tmp_path, "")) == []


@pytest.mark.parametrize(
    "bad, field, problem",
    [
        (line("d2", ("user", "ok"), ("bot", "x")), "turns.1.role", "'user' or 'assistant'"),
        (line("d2"), "turns", "at least 1 item"),
        (json.dumps({"id": "d2", "turns": [{"role": "user"}]}) + "\n", "turns.0.text", "Field required"),
        (json.dumps({"id": "d2", "turns": [{"role": "user", "text": "x"}], "x": 1}) + "\n", "x", "Extra inputs"),
        ("garbage\n", "row", "Invalid JSON"),
        ("[1]\n", "row", "object"),
    ],
)
def test_malformed_line_names_line_and_field(tmp_path, bad, field, problem):
    path = write(tmp_path, line("d1", ("user", "hi")) + "\n" + bad)  # the bad row is on line 3
    with pytest.raises(DataFormatError) as info:
        load_dialogues(path)
    err = info.value
    assert (err.path, err.line, err.field) == (path, 3, field)
    assert problem in err.problem
    assert str(err).startswith(f"{path}:3: field '{field}': ")


def test_iter_dialogues_yields_good_lines_before_the_bad_one(tmp_path):
    path = write(tmp_path, line("d1", ("user", "hi")) + "oops\n")
    iterator = iter_dialogues(path)
    assert next(iterator)[1].id == "d1"
    with pytest.raises(DataFormatError, match=":2: field 'row'"):
        next(iterator)


def test_duplicate_dialogue_id_is_rejected(tmp_path):
    path = write(tmp_path, line("d1", ("user", "a")) + line("d1", ("user", "b")))
    with pytest.raises(DataFormatError, match="duplicate dialogue id 'd1'") as info:
        load_dialogues(path)
    assert info.value.field == "id"


def test_duplicate_dialogue_id_names_its_line(tmp_path):
    path = write(tmp_path, line("d1", ("user", "a")) + line("d2", ("user", "b")) + line("d1", ("user", "c")))
    with pytest.raises(DataFormatError) as info:
        load_dialogues(path)
    assert info.value.line == 3


def test_missing_log_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="tailtalk data prepare DATASET"):
        load_dialogues(tmp_path / "none.jsonl")


def test_dump_dialogue_round_trips_and_keeps_unicode():
    dialogue = Dialogue(
        id="d1", turns=[Turn(role="user", text="Amélie?", items=["1"]), Turn(role="assistant", text="Yes")]
    )
    text = dump_dialogue(dialogue)
    assert "Amélie" in text and "\n" not in text
    assert json.loads(text) == {
        "id": "d1",
        "turns": [
            {"role": "user", "text": "Amélie?", "items": ["1"]},
            {"role": "assistant", "text": "Yes", "items": []},
        ],
    }
    assert Dialogue.model_validate_json(text) == dialogue
