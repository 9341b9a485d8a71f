"""eval.replies on the real ReDial pipeline (rule path: the same counts the embedded model's run reports)."""

from __future__ import annotations

import json

import pytest

from eval.replies import replay_replies

pytestmark = pytest.mark.integration


def test_replayed_replies_are_counted_and_written(redial_pipeline, redial_settings, tmp_path):
    log = redial_settings.home / "datasets" / "redial" / "test.jsonl"
    report = replay_replies(redial_pipeline, redial_pipeline, log, tmp_path, limit=12, progress=False)
    written = json.loads((tmp_path / "replies.json").read_text(encoding="utf-8"))
    assert report["turns"] == len(written["turns"]) == 12
    assert report["out_of_list_titles_shipped"] == 0 and report["misattributions_shipped"] == 0
    citable = [t for t in written["turns"] if t["person_said_something"]]
    assert citable and 0 < report["reasons_citing_the_person"] <= report["reasons_citing_the_person_when_citable"]
    assert "reasons_citing_the_person_when_citable" in (tmp_path / "replies.md").read_text(encoding="utf-8")
    assert not (tmp_path / "replies.partial.jsonl").exists()
