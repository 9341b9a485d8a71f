"""The catalogue format: one item per line of JSONL (or one row of CSV).

``{"id": str, "title": str, "description": str, "categories": [str], "year": int|null,
"price": float|null, "attributes": {..}, "popularity": number|null}`` — only ``id`` and
``title`` are required. A malformed row raises :class:`DataFormatError` naming the file,
the line and the field; nothing is returned or written for a file with any bad row.

Example::

    >>> from tailtalk.catalog import Item
    >>> Item(id="1", title="Alien", year=1979, categories=["horror", "sci-fi"]).label
    'Alien (1979)'
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from tailtalk.errors import UserError
from tailtalk.titles import normalise


class DataFormatError(UserError, ValueError):
    """A data file has a malformed row. The message names the file, line and field, and the fix."""

    def __init__(self, path: Path | str, line: int, field: str, problem: str):
        self.path, self.line, self.field, self.problem = Path(path), line, field, problem
        dataset = _prepared_dataset(self.path)
        fix = (
            f"re-run `tailtalk data prepare {dataset}` to write the file again"
            if dataset
            else "correct the file and try again"
        )
        super().__init__(f"{path}:{line}: field '{field}': {problem}; {fix}")

    @classmethod
    def from_validation(cls, path: Path, line: int, exc: ValidationError) -> DataFormatError:
        """The row's first problem as pydantic found it."""
        first = exc.errors()[0]
        return cls(path, line, ".".join(str(p) for p in first["loc"]) or "row", first["msg"])


def _prepared_dataset(path: Path) -> str | None:
    """The dataset a file under ``<home>/datasets/<name>/`` was prepared for; None for any other file."""
    return path.parent.name if path.parent.parent.name == "datasets" else None


def jsonl_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a JSONL file with their 1-based numbers; a line that is not UTF-8 is an error.

    Lines are decoded one by one (not the file through a text stream) so that bad bytes are
    reported on their own line, not as a decoder error somewhere in the file.
    """
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataFormatError(
                    path, line_no, "row", f"is not UTF-8 text (bad byte at column {exc.start + 1})"
                ) from None
            if text.strip():
                yield line_no, text


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    description: str = ""
    categories: tuple[str, ...] = ()
    year: int | None = Field(default=None, ge=1800, le=2200)
    price: float | None = Field(default=None, ge=0)
    attributes: dict[str, Any] = Field(default_factory=dict)
    popularity: float | None = Field(default=None, ge=0)

    @field_validator("id", "title")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("categories", mode="before")
    @classmethod
    def _normalise_categories(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError("must be a list of strings, not one string")
        if isinstance(value, list | tuple):
            return tuple(dict.fromkeys(str(v).strip().lower() for v in value if str(v).strip()))
        return value

    @property
    def label(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title

    def names(self) -> list[str]:
        """What a person may call the item: its title, and a title that ends in " by <author>" without it.

        >>> Item(id="1", title="1984 by George Orwell", attributes={"author": ["George Orwell"]}).names()
        ['1984 by George Orwell', '1984']
        """
        authors = self.attributes.get("author")
        shorter = [self.title.removesuffix(f" by {a}") for a in authors] if isinstance(authors, list | tuple) else []
        return list(dict.fromkeys([self.title, *(s for s in shorter if s)]))

    def credited_people(self) -> dict[str, str]:
        """The full names the item credits, normalised, each with the name as first written: every value of
        two or more words in a list attribute (``director``, ``stars``, ``writer``, ``author``, ``brand``).
        One word alone ("Madonna", "Lego") could be any word, so the name tier, the people to avoid and the
        grounding check all count full names only.

        >>> Item(id="1", title="Heat", attributes={"stars": ["Al Pacino", "Robert De Niro"], "studio": "Warner",
        ...      "brand": ["Lego"]}).credited_people()
        {'al pacino': 'Al Pacino', 'robert de niro': 'Robert De Niro'}
        """
        credited: dict[str, str] = {}
        for value in self.attributes.values():
            if isinstance(value, list | tuple):
                for name in map(str, value):
                    if " " in (key := normalise(name)):
                        credited.setdefault(key, name.strip())
        return credited

    def embedding_text(self) -> str:
        """The text a bi-encoder sees: the facts a person would use to describe the item."""
        parts = [self.label]
        if self.categories:
            parts.append("Categories: " + ", ".join(self.categories) + ".")
        if self.description:
            parts.append(self.description)
        for key, value in self.attributes.items():
            if isinstance(value, list | tuple):
                value = ", ".join(str(v) for v in value[:4])
            if value not in (None, ""):
                parts.append(f"{key.replace('_', ' ').capitalize()}: {value}.")
        return " ".join(parts)

    def unknown(self, fields: Iterable[str]) -> list[str]:
        """Which of ``fields`` ("year", "price") this item has no value for.

        >>> Item(id="1", title="Notting Hill").unknown(["price", "year"])
        ['price', 'year']
        """
        return [name for name in fields if getattr(self, name) is None]

    def content_hash(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Catalog:
    """An ordered, id-indexed set of items with the file it was read from."""

    items: tuple[Item, ...]
    source: str = "<memory>"

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {item.id: item for item in self.items})

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._by_id  # type: ignore[attr-defined]

    def get(self, item_id: str) -> Item:
        try:
            return self._by_id[item_id]  # type: ignore[attr-defined]
        except KeyError:
            raise KeyError(f"item {item_id!r} is not in the catalogue {self.source}") from None

    def label_of(self, item_id: str) -> str | None:
        """ "Title (Year)" of a catalogue item, None for an id the catalogue lacks."""
        return self.get(item_id).label if item_id in self else None

    def ids(self) -> list[str]:
        return [item.id for item in self.items]

    def categories(self) -> list[str]:
        return sorted({c for item in self.items for c in item.categories})

    def fingerprint(self) -> str:
        """A digest of the whole catalogue's content: an index built from it records this. Computed once (the
        catalogue and its items are frozen): a start-up asks for it for each index it opens."""
        if "_fingerprint" not in self.__dict__:
            digest = hashlib.sha256()
            for item in self.items:
                digest.update(item.model_dump_json().encode())
            object.__setattr__(self, "_fingerprint", digest.hexdigest()[:16])
        return self.__dict__["_fingerprint"]


def _parse_row(row: dict[str, Any], path: Path, line: int) -> Item:
    try:
        return Item.model_validate(row)
    except ValidationError as exc:
        raise DataFormatError.from_validation(path, line, exc) from None


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for line_no, raw in jsonl_lines(path):
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataFormatError(path, line_no, "row", f"not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DataFormatError(path, line_no, "row", "must be a JSON object")
        yield line_no, row


_CSV_JSON_FIELDS = ("categories", "attributes")


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, data.count(b"\n", 0, exc.start) + 1, "row", "is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    while True:
        line_no = reader.line_num + 1  # where the next record starts: a quoted cell may span lines
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            raise DataFormatError(path, line_no, "row", f"not valid CSV ({exc})") from None
        if cells is None:
            return
        if not cells:
            continue
        if header is None:
            header = cells
            continue
        if len(cells) > len(header):
            raise DataFormatError(path, line_no, "row", "has more cells than the header")
        clean: dict[str, Any] = {k: v for k, v in zip(header, cells) if v != ""}
        for name in _CSV_JSON_FIELDS:
            if name in clean:
                value = clean[name]
                if name == "categories" and not value.lstrip().startswith("["):
                    clean[name] = value.split("|")
                    continue
                try:
                    clean[name] = json.loads(value)
                except json.JSONDecodeError:
                    raise DataFormatError(path, line_no, name, "must be JSON (or '|'-separated categories)") from None
        yield line_no, clean


def load_catalog(path: Path | str) -> Catalog:
    """Read a whole catalogue file (``.jsonl`` or ``.csv``); any malformed row is an error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"catalogue {path} does not exist; run `tailtalk data prepare {_prepared_dataset(path) or 'redial'}` "
            "or point --set catalog=PATH at a catalogue file"
        )
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _jsonl_rows(path)
    items: list[Item] = []
    seen: dict[str, int] = {}
    for line_no, row in rows:
        item = _parse_row(row, path, line_no)
        if item.id in seen:
            raise DataFormatError(path, line_no, "id", f"duplicate id {item.id!r} (first on line {seen[item.id]})")
        seen[item.id] = line_no
        items.append(item)
    if not items:
        raise DataFormatError(path, 1, "row", "the catalogue has no items")
    return Catalog(tuple(items), source=str(path))


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` and rename it into place, so a reader never sees half a file (a saved
    model's description, written last, then says the model is complete)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_jsonl_atomic(path: Path, records: Iterable[BaseModel]) -> int:
    """Write models as JSONL through a temporary file, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for record in records:
                handle.write(record.model_dump_json(exclude_defaults=False) + "\n")
                count += 1
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return count
