"""Generated dialogues for rarely named items (``tailtalk augment``): by hand, then on the real ReDial catalogue."""

from __future__ import annotations

import pytest

from eval.augment import AUGMENT_PREFIX, AugmentConfig, augment, augmented_dialogue, not_generated, rare_items
from eval.simulator import LeakGuard
from tailtalk.catalog import Catalog, Item, load_catalog
from tailtalk.dialogues import Dialogue, Turn, load_dialogues

TOY = Catalog(
    (
        Item(id="1", title="Alien", year=1979, categories=("horror", "sci-fi"), popularity=9),
        Item(id="2", title="The Thing", year=1982, categories=("horror", "sci-fi"), popularity=0),
        Item(id="3", title="Heat", year=1995, categories=("crime",), popularity=2),
        Item(id="4", title="Oddity", categories=("one-off",), popularity=0),  # nothing another item shares
    )
)


def test_only_rare_items_with_facts_to_ask_with_get_a_dialogue():
    config = AugmentConfig(max_mentions=2, limit=10, messages=3, seed=0)
    assert [i.id for i in rare_items(TOY, config)] == ["2", "3", "4"]
    assert augmented_dialogue(TOY.get("4"), LeakGuard(TOY), config, domain="films") is None
    generated = augment(TOY, config)
    assert [d.id for d in generated] == ["augment-2", "augment-3"]
    thing = generated[0].turns
    assert [t.role for t in thing] == ["user", "assistant", "user", "assistant", "user", "assistant"]
    assert thing[-1] == Turn(role="assistant", text="How about The Thing (1982)?", items=("2",))
    assert all(not t.items for t in thing[:-1])  # only the answer names an item


def test_a_blank_request_is_never_written():
    dated = Catalog((*TOY, Item(id="5", title="Nameless", year=1990, categories=("lone",), popularity=0)))
    one_message = AugmentConfig(max_mentions=0, limit=10, messages=1, seed=0)
    assert augmented_dialogue(dated.get("5"), LeakGuard(dated), one_message, domain="films") is None
    two = augmented_dialogue(
        dated.get("5"), LeakGuard(dated), one_message.model_copy(update={"messages": 2}), domain="films"
    )
    assert two is not None and "1990s" in two.turns[2].text


def test_limit_takes_a_seeded_sample():
    config = AugmentConfig(max_mentions=2, limit=1, messages=2, seed=0)
    assert len(rare_items(TOY, config)) == 1
    assert rare_items(TOY, config) == rare_items(TOY, config)
    drawn = {rare_items(TOY, config.model_copy(update={"seed": seed}))[0].id for seed in range(20)}
    assert drawn == {"2", "3", "4"}


def test_config_is_validated():
    with pytest.raises(ValueError, match="messages"):
        AugmentConfig(max_mentions=2, limit=10, messages=0, seed=0)
    with pytest.raises(ValueError, match="max_mentions"):
        AugmentConfig(max_mentions=-1, limit=10, messages=3, seed=0)


def test_a_real_log_is_told_apart_from_generated_dialogues():
    real = Dialogue(id="test-20001", turns=(Turn(role="user", text="hi"),))
    assert not_generated([*augment(TOY, AugmentConfig(max_mentions=2, limit=10, messages=3, seed=0)), real]) == [
        "test-20001"
    ]


@pytest.mark.integration
def test_generated_redial_dialogues_never_name_their_item(redial_settings):
    catalog = load_catalog(redial_settings.catalog_path)
    config = AugmentConfig(max_mentions=2, limit=300, messages=5, seed=0)
    generated = augment(catalog, config)
    assert 250 <= len(generated) <= 300  # a few rare items have nothing another item shares
    guard = LeakGuard(catalog)
    for dialogue in generated:
        item = catalog.get(dialogue.turns[-1].items[0])
        assert dialogue.id == AUGMENT_PREFIX + item.id and (item.popularity or 0) <= 2
        said = [t.text for t in dialogue.turns if t.role == "user"]
        assert 1 <= len(said) <= 5
        assert all(guard.leaks(message, item) == [] for message in said), said
    assert augment(catalog, config) == generated  # same seed, same dialogues
    # A film's facts go past its categories and era: plot words or a person for most of them.
    assert sum("about" in d.turns[-2].text or "ideally" in d.turns[-2].text for d in generated) > len(generated) / 2


@pytest.mark.integration
def test_train_refuses_an_augmentation_file_it_cannot_use(redial_settings, tmp_path):
    from tests.integration.test_demo import _cli

    test_log = redial_settings.dataset_dir() / "test.jsonl"
    elsewhere = tmp_path / "shop.jsonl"
    elsewhere.write_text(
        augment(TOY, AugmentConfig(max_mentions=2, limit=10, messages=2, seed=0))[0].model_dump_json() + "\n"
    )
    (tmp_path / "empty.jsonl").write_text("")
    rewrite = "tailtalk --dataset redial augment"
    for given, told in [
        (test_log, ("did not write", "written by `tailtalk augment`")),
        (elsewhere, ("answers with items not in", rewrite)),
        (tmp_path / "empty.jsonl", ("is empty", rewrite)),
        (tmp_path / "missing.jsonl", ("does not exist",)),
    ]:
        done = _cli(redial_settings, "train", "--profile", "quick", "--augment", str(given))
        assert done.returncode != 0 and all(t in done.stderr for t in told), (given, done.stderr[-500:])
    assert load_dialogues(test_log)  # untouched
