"""Dataset preparation from the real mirror, checksum checks, and the download path over loopback."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections import Counter

import pytest

from tailtalk.catalog import load_catalog
from tailtalk.config import Settings
from tailtalk.dialogues import load_dialogues
from tailtalk.mentions import load_mention_lists, title_key
from tailtalk.prepare import MENTIONS_FILE, _held_out, prepare
from tailtalk.sources import SOURCES, SourceError, SourceFile

pytestmark = pytest.mark.integration


def test_redial_counts_and_split_hygiene(redial_settings):
    folder = redial_settings.dataset_dir("redial")
    catalog = load_catalog(folder / "catalog.jsonl")
    train, valid, test = (load_dialogues(folder / f"{split}.jsonl") for split in ("train", "valid", "test"))
    assert (len(catalog), len(train) + len(valid), len(test)) == (6834, 3458, 1342)
    assert 0.07 < len(valid) / 3458 < 0.13  # the hashed 10% hold-out
    ids = [{d.id for d in split} for split in (train, valid, test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    # The mention lists carry no valid or test dialogue, nor any other dialogue the hash holds out.
    mentions = load_mention_lists(folder / MENTIONS_FILE)
    mention_ids = {m.id for m in mentions}
    assert len(mentions) > 8000 and not mention_ids & (ids[1] | ids[2])
    assert not any(_held_out(m.id) for m in mentions)
    assert ids[0] <= mention_ids  # every training dialogue with text counts, read from its own text
    # Popularity counts training mentions only (one per film per dialogue): no held-out dialogue leaks into it.
    assert sum(i.popularity for i in catalog) == sum(len(m.items) for m in mentions)
    # Titles are written out, never as @123 placeholders, and items point into the catalogue.
    turn = test[0].turns[0]
    assert "@" not in turn.text and "Super Troopers (2001)" in turn.text and turn.items == ("111776",)
    assert all(i in catalog for d in test for t in d.turns for i in t.items)
    shining = [i for i in catalog if i.title == "The Shining"][0]
    assert shining.year == 1980 and "horror" in shining.categories and shining.attributes["director"]


def test_redial_catalogue_hygiene_on_the_real_mirror(mirror, tmp_path):
    """The known defects of ReDial's movie list and of its title-only side-information join are repaired."""
    result = prepare("redial", Settings(home=tmp_path, data_mirror=mirror))
    catalog = load_catalog(result.catalog)
    # "300 (2007)" carried a 2003 Hong Kong romance's cast and genres; now it has title and year only.
    three_hundred = catalog.get("136877")
    assert (three_hundred.title, three_hundred.year) == ("300", 2007)
    assert not three_hundred.categories and "stars" not in three_hundred.attributes
    # "A Nightmare on Elm Street (1984)" carried the 2010 remake's record; the remake keeps it.
    original, remake = catalog.get("77161"), catalog.get("119295")
    assert original.year == 1984 and "Rooney Mara" not in original.attributes.get("stars", [])
    assert remake.year == 2010 and "Rooney Mara" in remake.attributes["stars"]
    titles = [item.title for item in catalog]
    assert "What About Bob?" in titles and not any("%3F" in title or "%22" in title for title in titles)
    # "Frozen" (undated, the 2013 film's side information) is merged into "Frozen (2013)".
    assert "107018" not in catalog and catalog.get("82894").year == 2013
    dated = Counter((title_key(item.title), item.year) for item in catalog if item.year is not None)
    assert not [key for key, count in dated.items() if count > 1]
    assert any(line.startswith("catalogue hygiene: titles decoded 21,") for line in result.report)


def test_inspired_dev_is_linked_to_the_redial_catalogue(mirror, tmp_path):
    result = prepare("inspired", Settings(home=tmp_path, data_mirror=mirror))
    catalog = load_catalog(result.catalog)
    dev = load_dialogues(result.splits["dev"])
    assert len(dev) == 99 and set(result.splits) == {"dev"}
    recommender_turn = next(t for d in dev for t in d.turns if t.role == "assistant" and t.items)
    assert recommender_turn.items[0] in catalog
    # Full Metal Jacket (1987) is in ReDial: linked, not duplicated; films ReDial lacks join with their year.
    jackets = [i for i in catalog if i.title == "Full Metal Jacket"]
    assert len(jackets) == 1 and not jackets[0].id.startswith("inspired-")
    added = [i for i in catalog if i.id.startswith("inspired-")]
    assert 0 < len(added) < 300 and all(i.popularity == 0 for i in added)
    assert "QUOTATION_MARK" not in " ".join(t.text for d in dev for t in d.turns)


def test_corrupt_mirror_file_is_refused(mirror, tmp_path):
    copy = tmp_path / "mirror"
    for source in SOURCES["redial"]:
        (copy / source.relpath).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(mirror / source.relpath, copy / source.relpath)
    with (copy / "redial/test_data.jsonl").open("a") as handle:
        handle.write("\n")
    with pytest.raises(SourceError, match="SHA-256"):
        prepare("redial", Settings(home=tmp_path / "home", data_mirror=copy))
    assert not (tmp_path / "home/datasets/redial/manifest.json").exists()


def test_download_from_public_source_verifies_checksum(mirror, tmp_path, monkeypatch):
    """Serve the mirror on loopback and point the sources at it: the real download path runs."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setitem(
        SOURCES,
        "mg-shopdial",
        tuple(
            SourceFile(s.relpath, f"{base}/{s.relpath.replace('&', '%26')}", s.sha256) for s in SOURCES["mg-shopdial"]
        ),
    )
    try:
        from tailtalk.sources import fetch

        paths = fetch("mg-shopdial", mirror=None, cache=tmp_path / "downloads")
        assert all(p.is_file() and str(p).startswith(str(tmp_path)) for p in paths.values())
        broken = SourceFile("mg-shopdial/MGShopDial.json", f"{base}/mg-shopdial/MGShopDial.json", "0" * 64)
        monkeypatch.setitem(SOURCES, "mg-shopdial", (broken,))
        with pytest.raises(SourceError, match="SHA-256"):
            fetch("mg-shopdial", mirror=None, cache=tmp_path / "other")
        assert not (tmp_path / "other/mg-shopdial/MGShopDial.json").exists()
    finally:
        server.shutdown()


def test_unreachable_source_says_to_use_a_mirror(tmp_path, monkeypatch):
    monkeypatch.setitem(SOURCES, "inspired", (SourceFile("inspired/dev.tsv", "http://127.0.0.1:9/dev.tsv", "0" * 64),))
    from tailtalk.sources import fetch

    with pytest.raises(SourceError, match="TAILTALK_DATA_MIRROR"):
        fetch("inspired", mirror=None, cache=tmp_path)


def test_mg_shopdial_catalogue_and_linked_dialogues(mirror, tmp_path):
    result = prepare("mg-shopdial", Settings(home=tmp_path, data_mirror=mirror))
    catalog = load_catalog(result.catalog)
    dialogues = load_dialogues(result.splits["test"])
    assert (len(catalog), len(dialogues)) == (57, 64)
    book = catalog.get("books-000")
    assert book.title == "1984 by George Orwell" and book.price == 13.39 and "books" in book.categories
    assert book.attributes["author"] == ["George Orwell"] and book.names() == ["1984 by George Orwell", "1984"]
    assert all("author" not in i.attributes for i in catalog if "books" not in i.categories)
    linked = [t for d in dialogues for t in d.turns if t.role == "assistant" and t.items]
    assert len(linked) >= 50
    assert any(catalog.get(i).title.startswith("Regretting You") for t in linked for i in t.items)
