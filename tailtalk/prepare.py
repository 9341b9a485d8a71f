"""Turn public datasets into tailtalk's catalogue and dialogue-log formats.

``prepare(name, settings)`` fetches the verified source files (mirror or download),
converts them, and writes ``catalog.jsonl``, ``train.jsonl``, ``test.jsonl`` and
``manifest.json`` into ``<home>/datasets/<name>/``. Every file is written through a
temporary file, and the manifest last, so an interrupted run leaves no partial dataset
that looks complete.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tailtalk.catalog import Item, write_jsonl_atomic
from tailtalk.config import Settings
from tailtalk.dialogues import Dialogue, Turn
from tailtalk.sources import fetch
from tailtalk.titles import split_title_year

_MENTION = re.compile(r"@\s?(\d+)")


@dataclass(frozen=True)
class PreparedDataset:
    name: str
    folder: Path
    catalog: Path
    splits: dict[str, Path]
    counts: dict[str, int]


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            if raw.strip():
                yield json.loads(raw)


def _redial_turns(record: dict[str, Any], labels: dict[str, str]) -> list[Turn]:
    """Merge consecutive messages of one speaker into a turn; write ``@id`` as the title."""
    seeker = record["initiatorWorkerId"]
    turns: list[tuple[str, list[str], list[str]]] = []
    for message in record["messages"]:
        role = "user" if message["senderWorkerId"] == seeker else "assistant"
        ids = [m for m in _MENTION.findall(message["text"]) if m in labels]
        text = _MENTION.sub(lambda m: labels.get(m.group(1), record["movieMentions"].get(m.group(1)) or "a movie"),
                            message["text"]).strip()
        if turns and turns[-1][0] == role:
            turns[-1][1].append(text)
            turns[-1][2].extend(ids)
        else:
            turns.append((role, [text], ids))
    return [Turn(role=role, text=" ".join(texts), items=tuple(dict.fromkeys(ids))) for role, texts, ids in turns]


def _redial(files: dict[str, Path]) -> tuple[list[Item], dict[str, list[Dialogue]]]:
    with files["redial/movies_with_mentions.csv"].open(encoding="utf-8", newline="") as handle:
        movies = [(row["movieId"], row["movieName"]) for row in csv.DictReader(handle)]
    info = json.loads(files["redial/ievalm/id2info.json"].read_text(encoding="utf-8"))

    labels: dict[str, str] = {}
    parsed: dict[str, tuple[str, int | None]] = {}
    for movie_id, name in movies:
        title, year = split_title_year(name)
        if not title:
            continue  # two source rows carry only a year; a nameless item cannot be recommended
        parsed[movie_id] = (title, year)
        labels[movie_id] = f"{title} ({year})" if year else title

    def dialogues_of(relpaths: Iterable[str]) -> list[Dialogue]:
        seen: set[str] = set()
        result = []
        for relpath in relpaths:
            for record in _read_jsonl(files[relpath]):
                if record["conversationId"] in seen:
                    continue  # the train files overlap; keep each conversation once
                seen.add(record["conversationId"])
                result.append(Dialogue(id=str(record["conversationId"]), turns=_redial_turns(record, labels)))
        return result

    train = dialogues_of(["redial/train/ievalm_valid_data.jsonl", "redial/train/kgsf_valid_data.jsonl",
                          "redial/train/kepler_train_data.jsonl"])
    test = dialogues_of(["redial/test_data.jsonl"])
    overlap = {d.id for d in train} & {d.id for d in test}
    if overlap:
        raise ValueError(f"{len(overlap)} ReDial test dialogues appear in the training files, e.g. {sorted(overlap)[:3]}")

    # Popularity counts training mentions only, so evaluation never sees test statistics.
    mentions = Counter(item for d in train for t in d.turns for item in t.items)
    items = []
    for movie_id, (title, year) in parsed.items():
        side = info.get(movie_id, {})
        attributes = {key: side[src] for key, src in (("director", "director"), ("stars", "star"), ("writer", "writer"))
                      if side.get(src)}
        items.append(Item(id=movie_id, title=title, year=year, description=side.get("plot") or "",
                          categories=side.get("genre") or [], attributes=attributes,
                          popularity=float(mentions.get(movie_id, 0))))
    return items, {"train": train, "test": test}


_SHOP_CATEGORY = {"Books": "books", "Cellphones&Accessories": "cellphones & accessories",
                  "Officeproducts": "office products", "SportsandOutdoors": "sports & outdoors"}


def _product(category_file: str, index: int, raw: dict[str, Any]) -> Item:
    category = _SHOP_CATEGORY[category_file]
    facts = (raw.get("product_description") or "").replace("\u200e", "")
    attributes: dict[str, Any] = {}
    genres: list[str] = []
    for part in facts.split(" / "):
        key, sep, value = part.partition(":")
        if sep and 0 < len(key.strip()) <= 30 and value.strip():
            if key.strip().lower() == "genre":
                genres = [g.strip() for g in value.split(",") if g.strip()]
            else:
                attributes[key.strip().lower().replace(" ", "_")] = value.strip()
    if raw.get("rating"):
        attributes["rating"] = raw["rating"]
    price = raw.get("price")
    description = " ".join(x for x in (raw.get("short_description"), facts if not attributes else "") if x)
    return Item(id=f"{category_file.lower()}-{index:03d}", title=raw["name"].strip(), description=description,
                categories=[category, *genres], attributes=attributes,
                price=float(price.replace("$", "").replace(",", "")) if price else None, popularity=0.0)


def _shop_aliases(item: Item) -> str:
    """What a shop assistant calls a product: the book title before ' by ', else the first words of the name."""
    name = item.title.split(" by ")[0] if "books" in item.categories else item.title
    name = re.split(r"[,(\[|–-]", name)[0]
    return " ".join(name.split()[:6])


def _mg_shopdial(files: dict[str, Path]) -> tuple[list[Item], dict[str, list[Dialogue]]]:
    from tailtalk.titles import TitleMatcher

    items: list[Item] = []
    for relpath, path in files.items():
        if relpath.startswith("mg-shopdial/items/"):
            category_file = Path(relpath).name.removesuffix("_items.json")
            items += [_product(category_file, n, raw)
                      for n, raw in enumerate(json.loads(path.read_text(encoding="utf-8")))]
    matcher = TitleMatcher([(i.id, _shop_aliases(i), None) for i in items], min_score=88.0)
    dialogues = []
    for record in json.loads(files["mg-shopdial/MGShopDial.json"].read_text(encoding="utf-8")):
        turns = []
        for utterance in record["utterances"]:
            role = "assistant" if utterance["participant"] == "Wizard" else "user"
            ids = tuple(dict.fromkeys(h.item_id for h in matcher.find(utterance["utterance"])))
            if turns and turns[-1].role == role:
                last = turns.pop()
                turns.append(Turn(role=role, text=f"{last.text} {utterance['utterance']}".strip(),
                                  items=tuple(dict.fromkeys(last.items + ids))))
            else:
                turns.append(Turn(role=role, text=utterance["utterance"].strip(), items=ids))
        dialogues.append(Dialogue(id=record["id"], turns=turns))
    # 64 dialogues are too few to hold out: all are the evaluation log; popularity stays 0 (no training data).
    return items, {"test": dialogues}


_PREPARERS: dict[str, Callable[[dict[str, Path]], tuple[list[Item], dict[str, list[Dialogue]]]]] = {
    "redial": _redial,
    "mg-shopdial": _mg_shopdial,
}


def known_datasets() -> list[str]:
    return sorted(_PREPARERS)


def prepare(name: str, settings: Settings) -> PreparedDataset:
    if name not in _PREPARERS:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(known_datasets())}")
    files = fetch(name, mirror=settings.resolved_mirror(), cache=settings.home / "downloads")
    items, splits = _PREPARERS[name](files)
    folder = settings.dataset_dir(name)
    manifest_path = folder / "manifest.json"
    manifest_path.unlink(missing_ok=True)
    counts = {"items": write_jsonl_atomic(folder / "catalog.jsonl", items)}
    split_paths = {}
    for split, dialogues in splits.items():
        split_paths[split] = folder / f"{split}.jsonl"
        counts[split] = write_jsonl_atomic(split_paths[split], dialogues)
    manifest_path.write_text(json.dumps({"dataset": name, "counts": counts}, indent=2), encoding="utf-8")
    return PreparedDataset(name, folder, folder / "catalog.jsonl", split_paths, counts)
