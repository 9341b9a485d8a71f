"""tailtalk.config: defaults, environment and --set overrides, readable errors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tailtalk.config import ConfigError, Settings, load_settings, parse_assignments


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.upper().startswith("TAILTALK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def test_defaults():
    s = load_settings()
    assert (s.top_k, s.candidates, s.source_pool, s.ranker, s.dataset) == (5, 300, 300, "fused", "redial")
    assert s.ui_auth is None


def test_default_home_follows_xdg_cache_home(tmp_path):
    assert Settings().home == tmp_path / "xdg" / "tailtalk"


def test_env_override(monkeypatch):
    monkeypatch.setenv("TAILTALK_TOP_K", "8")
    assert load_settings().top_k == 8


def test_explicit_override_beats_env(monkeypatch):
    monkeypatch.setenv("TAILTALK_TOP_K", "8")
    assert load_settings({"top_k": "3"}).top_k == 3


def test_override_values_are_coerced():
    s = load_settings({"popularity_weight": "0.25", "chroma_port": "9000", "catalog": "/x/c.jsonl"})
    assert s.popularity_weight == 0.25
    assert s.chroma_port == 9000
    assert s.catalog == Path("/x/c.jsonl")


def test_unknown_key_lists_known_settings():
    with pytest.raises(ConfigError) as info:
        load_settings({"topk": "3"})
    message = str(info.value)
    assert message.startswith("unknown setting(s) topk; known settings: ")
    known = message.split("known settings: ", 1)[1].split(", ")
    assert known == sorted(Settings.model_fields)
    assert "top_k" in known


def test_several_unknown_keys_are_sorted():
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) aa, zz;"):
        load_settings({"zz": "1", "aa": "2"})


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("top_k", "0", "greater than or equal to 1"),
        ("top_k", "abc", "valid integer"),
        ("popularity_weight", "2", "less than or equal to 1"),
        ("chroma_port", "70000", "less than or equal to 65535"),
        ("dataset", "", "at least 1 character"),
    ],
)
def test_invalid_value_names_the_field(field, value, fragment):
    with pytest.raises(ConfigError) as info:
        load_settings({field: value})
    message = str(info.value)
    assert message.startswith(f"invalid configuration: {field}: ")
    assert fragment in message


def test_invalid_env_value_is_a_config_error(monkeypatch):
    monkeypatch.setenv("TAILTALK_TOP_K", "many")
    with pytest.raises(ConfigError, match="top_k: Input should be a valid integer"):
        load_settings()


@pytest.mark.parametrize("auth", ["nocolon", ""])
def test_ui_auth_without_colon_is_rejected(auth):
    with pytest.raises(ConfigError, match="ui_auth must look like 'user:password'"):
        load_settings({"ui_auth": auth})


def test_ui_auth_with_colon_is_accepted():
    assert load_settings({"ui_auth": "ann:s3cret:x"}).ui_auth == "ann:s3cret:x"


def test_validation_on_assignment():
    s = Settings(top_k=3)
    with pytest.raises(ValueError, match="top_k"):
        s.top_k = 0
    assert s.top_k == 3


def test_paths_derive_from_home(tmp_path):
    s = Settings(home=tmp_path, dataset="mg-shopdial")
    assert s.datasets_dir == tmp_path / "datasets"
    assert s.indexes_dir == tmp_path / "indexes"
    assert s.dataset_dir() == tmp_path / "datasets" / "mg-shopdial"
    assert s.dataset_dir("redial") == tmp_path / "datasets" / "redial"
    assert s.catalog_path == tmp_path / "datasets" / "mg-shopdial" / "catalog.jsonl"


def test_explicit_catalog_path_wins(tmp_path):
    s = Settings(home=tmp_path, catalog=tmp_path / "mine.csv")
    assert s.catalog_path == tmp_path / "mine.csv"


def test_configured_mirror_is_used_as_is(tmp_path):
    assert Settings(data_mirror=tmp_path / "nowhere").resolved_mirror() == tmp_path / "nowhere"


@pytest.mark.parametrize(
    "pairs, expected",
    [
        ([], {}),
        (["top_k=3"], {"top_k": "3"}),
        ([" top_k =3", "dataset=mg-shopdial"], {"top_k": "3", "dataset": "mg-shopdial"}),
        (["ui_auth=a:b=c"], {"ui_auth": "a:b=c"}),  # only the first '=' separates
        (["catalog="], {"catalog": ""}),
        (["top_k=1", "top_k=2"], {"top_k": "2"}),  # the last one wins
    ],
)
def test_parse_assignments(pairs, expected):
    assert parse_assignments(pairs) == expected


@pytest.mark.parametrize("bad", ["top_k", "=3", " =3"])
def test_parse_assignments_rejects_malformed_pairs(bad):
    with pytest.raises(ConfigError, match=r"--set expects KEY=VALUE, got "):
        parse_assignments(["top_k=1", bad])


def test_parse_then_load_round_trip():
    s = load_settings(parse_assignments(["top_k=7", "candidates=70"]))
    assert (s.top_k, s.candidates) == (7, 70)


def test_domain_products_serves_mg_shopdial_unless_a_dataset_is_named(tmp_path, monkeypatch):
    assert Settings().domain == "films" and Settings().dataset == "redial"
    assert Settings(domain="products").dataset == "mg-shopdial"
    assert Settings(domain="products", dataset="myshop").dataset == "myshop"
    monkeypatch.setenv("TAILTALK_DOMAIN", "products")
    assert load_settings().catalog_path.parts[-2:] == ("mg-shopdial", "catalog.jsonl")
    with pytest.raises(ConfigError, match="domain"):
        load_settings({"domain": "shop"})


def test_the_multilingual_index_is_switched_off_by_none_and_other_models_are_refused(small_catalog):
    from ui.assemble import multilingual_retriever

    assert load_settings(overrides={"multilingual_model": "none"}).multilingual_model == "none"
    assert multilingual_retriever(Settings(multilingual_model="none"), small_catalog) is None
    with pytest.raises(ConfigError, match="multilingual_model"):
        load_settings(overrides={"multilingual_model": "some-other-model"})


def test_a_domains_own_dataset_picks_the_domain():
    assert load_settings({"dataset": "mg-shopdial"}).domain == "products"
    assert load_settings({"dataset": "mg-shopdial", "domain": "films"}).domain == "films"  # named: it stays
    assert load_settings({"dataset": "inspired"}).domain == "films"


def test_a_serving_process_sets_its_threads_and_only_ask_starts_quick(monkeypatch):
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    import ui.assemble

    class Built:
        def replacing(self, **parts):
            return parts

    built_for = []
    monkeypatch.setattr(
        ui.assemble, "build_pipeline", lambda settings, quick_start: built_for.append(quick_start) or Built()
    )
    before = torch.get_num_threads()
    restore_blas = threadpool_limits(limits=None)  # remembers numpy's BLAS threads, to put them back
    try:
        torch.set_num_threads(2)
        assert ui.assemble.build_serving_pipeline(Settings(serving_threads=1)) == {"feedback_log": None}
        assert ui.assemble.build_serving_pipeline(Settings(), quick_start=True) == {"feedback_log": None}
        assert torch.get_num_threads() == 1 and built_for == [False, True]
        assert {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"} == {1}
    finally:
        torch.set_num_threads(before)
        restore_blas.restore_original_limits()


def test_another_dataset_drops_a_domain_derived_from_the_last_one(monkeypatch):
    import eval.cli

    monkeypatch.setattr(eval.cli, "current_settings", lambda: load_settings({"dataset": "mg-shopdial"}))
    assert eval.cli._served("redial").domain == "films"
    monkeypatch.setattr(eval.cli, "current_settings", lambda: load_settings({"domain": "products", "dataset": "x"}))
    assert eval.cli._served("redial").domain == "products"  # named, not derived: it stays


def test_every_setting_is_documented_in_the_readme():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    # A settings row names one or more settings in its first cell: "| `chroma_host`, `chroma_port` | ..."
    first_cells = [line.split("|")[1] for line in readme.splitlines() if line.startswith("| `")]
    documented = {name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)}
    assert [name for name in Settings.model_fields if name not in documented] == []
