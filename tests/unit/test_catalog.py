"""tailtalk.catalog: Item validation, Catalog, load_catalog (.jsonl/.csv) and atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from tailtalk.catalog import Catalog, DataFormatError, Item, load_catalog, write_jsonl_atomic


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(*rows: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


# --- Item -----------------------------------------------------------------------------------


def test_item_strips_id_and_title_and_builds_label():
    item = Item(id=" 7 ", title=" Alien ", year=1979)
    assert (item.id, item.title, item.label) == ("7", "Alien", "Alien (1979)")
    assert Item(id="1", title="Notebook").label == "Notebook"


def test_categories_lowercased_stripped_deduplicated_in_order():
    item = Item(id="1", title="A", categories=["Horror", " horror ", "Sci-Fi", "", "  "])
    assert item.categories == ("horror", "sci-fi")


def test_categories_as_plain_string_is_rejected():
    with pytest.raises(ValidationError, match="must be a list of strings, not one string"):
        Item(id="1", title="A", categories="horror")


@pytest.mark.parametrize(
    "field, value",
    [("id", ""), ("id", "   "), ("title", "  "), ("year", 1799), ("year", 2201), ("price", -0.01), ("popularity", -1)],
)
def test_item_rejects_bad_values(field, value):
    row = {"id": "1", "title": "A", field: value}
    with pytest.raises(ValidationError) as info:
        Item(**row)
    assert info.value.errors()[0]["loc"] == (field,)


def test_item_rejects_unknown_fields_and_is_frozen():
    with pytest.raises(ValidationError, match="extra"):
        Item(id="1", title="A", rating=5)
    item = Item(id="1", title="A")
    with pytest.raises(ValidationError):
        item.title = "B"


def test_embedding_text_contains_label_categories_description_and_attributes():
    item = Item(
        id="1",
        title="Alien",
        year=1979,
        categories=["Horror", "Sci-Fi"],
        description="The crew meets a creature.",
        attributes={
            "director": ["Ridley Scott"],
            "stars": ["A", "B", "C", "D", "E"],
            "run_time": 117,
            "tagline": "",
            "studio": None,
        },
    )
    assert item.embedding_text() == (
        "Alien (1979) Categories: horror, sci-fi. The crew meets a creature. "
        "Director: Ridley Scott. Stars: A, B, C, D. Run time: 117."
    )


def test_embedding_text_of_a_bare_item_is_its_title():
    assert Item(id="1", title="Notebook").embedding_text() == "Notebook"


def test_credited_people_are_full_names_from_list_attributes_only():
    item = Item(
        id="1",
        title="Breakin'",
        attributes={"stars": ["Ice-T", "Lucinda Dickey", "Madonna", "  Lucinda Dickey "], "director": "Joel Silberg"},
    )
    # "Ice-T" is two words once normalised, as the name tier reads a message; one word alone is never a person,
    # and a plain string attribute is not a list of credits.
    assert item.credited_people() == {"ice t": "Ice-T", "lucinda dickey": "Lucinda Dickey"}


def test_content_hash_tracks_content():
    a = Item(id="1", title="A", popularity=1)
    assert a.content_hash() == Item(id="1", title="A", popularity=1.0).content_hash()
    assert a.content_hash() != Item(id="1", title="A", popularity=2).content_hash()
    assert len(a.content_hash()) == 16


# --- Catalog --------------------------------------------------------------------------------


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(
        (Item(id="b", title="B", categories=["Drama"]), Item(id="a", title="A", categories=["comedy", "drama"])),
        source="cat.jsonl",
    )


def test_catalog_container_behaviour(catalog):
    assert len(catalog) == 2
    assert catalog.ids() == ["b", "a"]
    assert [i.id for i in catalog] == ["b", "a"]
    assert "a" in catalog and "z" not in catalog
    assert catalog.get("a").title == "A"
    assert catalog.categories() == ["comedy", "drama"]


def test_catalog_get_unknown_names_id_and_source(catalog):
    with pytest.raises(KeyError, match=r"item 'z' is not in the catalogue cat\.jsonl"):
        catalog.get("z")


def test_fingerprint_is_stable_and_ignores_source():
    items = (Item(id="1", title="A"), Item(id="2", title="B"))
    assert Catalog(items).fingerprint() == Catalog(items, source="elsewhere").fingerprint()
    assert Catalog(items).fingerprint() == Catalog((Item(id="1", title="A"), Item(id="2", title="B"))).fingerprint()
    assert len(Catalog(items).fingerprint()) == 16


@pytest.mark.parametrize(
    "changed",
    [
        Item(id="2", title="B", popularity=1),
        Item(id="2", title="B", description="new plot"),
        Item(id="2", title="B!"),
        Item(id="2", title="B", categories=["x"]),
    ],
)
def test_fingerprint_changes_when_an_item_changes(changed):
    before = Catalog((Item(id="1", title="A"), Item(id="2", title="B")))
    after = Catalog((Item(id="1", title="A"), changed))
    assert before.fingerprint() != after.fingerprint()


def test_fingerprint_changes_when_an_item_is_added():
    one = Catalog((Item(id="1", title="A"),))
    assert one.fingerprint() != Catalog((Item(id="1", title="A"), Item(id="2", title="B"))).fingerprint()


# --- load_catalog: JSONL --------------------------------------------------------------------


def test_load_jsonl_skips_blank_lines_and_keeps_order(tmp_path):
    path = write(
        tmp_path / "c.jsonl",
        jsonl({"id": "2", "title": "Two", "year": 2001})
        + "\n   \n"
        + jsonl({"id": "1", "title": "One", "categories": ["Comedy"], "price": 9.5}),
    )
    catalog = load_catalog(path)
    assert catalog.ids() == ["2", "1"]
    assert catalog.source == str(path)
    assert catalog.get("2").year == 2001
    assert catalog.get("1").categories == ("comedy",)
    assert catalog.get("1").price == 9.5


@pytest.mark.parametrize(
    "lines, line, field, problem",
    [
        (
            [{"id": "1", "title": "A"}, {"id": "2", "title": "B", "categories": "horror"}],
            2,
            "categories",
            "must be a list of strings, not one string",
        ),
        (
            [{"id": "1", "title": "A"}, {"id": "2", "title": "B", "year": 1700}],
            2,
            "year",
            "greater than or equal to 1800",
        ),
        ([{"id": "1", "title": "   "}], 1, "title", "must not be blank"),
        ([{"id": "1"}], 1, "title", "Field required"),
        ([{"id": "1", "title": "A", "rating": 4}], 1, "rating", "Extra inputs are not permitted"),
        ([{"id": "1", "title": "A"}, {"id": "1", "title": "B"}], 2, "id", "duplicate id '1' (first on line 1)"),
    ],
)
def test_load_jsonl_errors_name_file_line_and_field(tmp_path, lines, line, field, problem):
    path = write(tmp_path / "c.jsonl", jsonl(*lines))
    with pytest.raises(DataFormatError) as info:
        load_catalog(path)
    err = info.value
    assert (err.path, err.line, err.field) == (path, line, field)
    assert problem in err.problem
    assert str(err).startswith(f"{path}:{line}: field '{field}': ")


def test_load_jsonl_line_numbers_count_blank_lines(tmp_path):
    path = write(tmp_path / "c.jsonl", jsonl({"id": "1", "title": "A"}) + "\n\n" + "not json\n")
    with pytest.raises(DataFormatError) as info:
        load_catalog(path)
    assert (info.value.line, info.value.field) == (4, "row")
    assert info.value.problem.startswith("not valid JSON")


def test_load_jsonl_rejects_non_object_rows(tmp_path):
    path = write(tmp_path / "c.jsonl", "[1, 2]\n")
    with pytest.raises(DataFormatError, match=r":1: field 'row': must be a JSON object"):
        load_catalog(path)


def test_load_empty_catalogue_is_an_error(tmp_path):
    path = write(tmp_path / "c.jsonl", "\n\n")
    with pytest.raises(DataFormatError, match="the catalogue has no items"):
        load_catalog(path)


def test_missing_catalogue_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="tailtalk data prepare redial"):
        load_catalog(tmp_path / "missing.jsonl")


def test_missing_prepared_catalogue_names_its_dataset(tmp_path):
    with pytest.raises(FileNotFoundError, match="tailtalk data prepare mg-shopdial"):
        load_catalog(tmp_path / "datasets" / "mg-shopdial" / "catalog.jsonl")


# --- load_catalog: CSV ----------------------------------------------------------------------


def test_load_csv_parses_pipes_json_and_numbers(tmp_path):
    path = write(
        tmp_path / "c.csv",
        "id,title,categories,year,price,popularity,attributes\n"
        '1,Alien,Horror|Sci-Fi,1979,,12,"{""director"": [""Ridley Scott""]}"\n'
        '2,Notebook,"[""Office""]",,3.5,,\n',
    )
    alien, notebook = load_catalog(path)
    assert alien.categories == ("horror", "sci-fi")
    assert (alien.year, alien.price, alien.popularity) == (1979, None, 12.0)
    assert alien.attributes == {"director": ["Ridley Scott"]}
    assert notebook.categories == ("office",)
    assert (notebook.year, notebook.price, notebook.popularity, notebook.attributes) == (None, 3.5, None, {})


def test_load_csv_uppercase_suffix_is_csv(tmp_path):
    path = write(tmp_path / "C.CSV", "id,title,categories\n1,Alien,horror|sci-fi\n")
    assert load_catalog(path).get("1").categories == ("horror", "sci-fi")


@pytest.mark.parametrize(
    "text, line, field",
    [
        ("id,title,year\n1,Alien,1979\n2,B,notayear\n", 3, "year"),
        ("id,title,categories\n1,Alien,horror\n2,B,x,extra\n", 3, "row"),
        ('id,title,categories\n1,Alien,"[bad json"\n', 2, "categories"),
        ("id,title,attributes\n1,Alien,{oops}\n", 2, "attributes"),
        ("id,title\n1,Alien\n1,Again\n", 3, "id"),
    ],
)
def test_load_csv_errors_name_line_and_field(tmp_path, text, line, field):
    path = write(tmp_path / "c.csv", text)
    with pytest.raises(DataFormatError) as info:
        load_catalog(path)
    assert (info.value.line, info.value.field) == (line, field)


def test_load_csv_reports_the_line_a_multiline_record_starts_on(tmp_path):
    path = write(tmp_path / "c.csv", 'id,title,description\n1,Alien,"two\nlines"\n1,Dup,x\n')
    with pytest.raises(DataFormatError) as info:
        load_catalog(path)
    assert info.value.line == 4
    assert "(first on line 2)" in info.value.problem


# --- write_jsonl_atomic ---------------------------------------------------------------------


def test_write_jsonl_atomic_round_trips_and_leaves_no_temp(tmp_path):
    items = [Item(id="1", title="A", categories=["x"], year=2000), Item(id="2", title="B", price=1.5)]
    path = tmp_path / "sub" / "catalog.jsonl"
    assert write_jsonl_atomic(path, items) == 2
    assert list(load_catalog(path)) == items
    assert sorted(p.name for p in path.parent.iterdir()) == ["catalog.jsonl"]
    first = json.loads(path.read_text().splitlines()[0])
    assert first["popularity"] is None and first["attributes"] == {}  # defaults are written too


def test_write_jsonl_atomic_keeps_old_file_when_iterable_raises(tmp_path):
    path = tmp_path / "catalog.jsonl"
    write_jsonl_atomic(path, [Item(id="old", title="Old")])
    before = path.read_bytes()

    def records():
        yield Item(id="1", title="A")
        yield Item(id="2", title="B")
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        write_jsonl_atomic(path, records())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["catalog.jsonl"]


def test_write_jsonl_atomic_creates_no_file_when_first_write_fails(tmp_path):
    path = tmp_path / "catalog.jsonl"

    def records():
        raise KeyboardInterrupt
        yield  # pragma: no cover

    with pytest.raises(KeyboardInterrupt):
        write_jsonl_atomic(path, records())
    assert list(tmp_path.iterdir()) == []
