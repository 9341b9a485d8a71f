"""Turn public datasets into tailtalk's catalogue and dialogue-log formats.

``prepare(name, settings)`` fetches the verified source files (mirror or download),
converts them, and writes ``catalog.jsonl``, one ``<split>.jsonl`` per split and
``manifest.json`` into ``<home>/datasets/<name>/``. Every file is written through a
temporary file, and the manifest last, so an interrupted run leaves no partial dataset
that looks complete.

Splits: ReDial gives ``train``, ``valid`` (a fixed 10% of the training dialogues, chosen
by a hash of the dialogue id, for tuning and early stopping) and ``test`` (reporting only).
Item popularity counts ``train`` mentions only, so neither ``valid`` nor ``test`` leaks
into it. INSPIRED gives ``dev`` (its public dev split) over the ReDial catalogue, plus
the INSPIRED films ReDial lacks; MG-ShopDial gives ``test``.

ReDial's movie list is repaired before anything is built on it (:mod:`tailtalk.hygiene`: decoded
titles, filled years, merged duplicates, side information of another film dropped), and every
dialogue and mention list names a merged film by the id it kept.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tailtalk.catalog import DataFormatError, Item, write_jsonl_atomic
from tailtalk.config import Settings
from tailtalk.dialogues import Dialogue, Turn
from tailtalk.hygiene import SourceFilm, clean_redial_films, decode_title, read_movielens_reference
from tailtalk.mentions import FilmRecord, MentionList, link_titles, linked_lists, read_item_titles, read_mention_csv
from tailtalk.sources import fetch
from tailtalk.titles import split_title_year
from tailtalk.errors import UserInputError

_MENTION = re.compile(r"@\s?(\d+)")
_REDIAL_ITEM_TITLES = "redial/mentions/item_titles.tsv"
_MOVIELENS_MOVIES = "movielens-latest-small/movies.csv"
_MOVIELENS_LINKS = "movielens-latest-small/links.csv"


@dataclass(frozen=True)
class PreparedDataset:
    name: str
    folder: Path
    catalog: Path
    splits: dict[str, Path]
    counts: dict[str, int]
    report: list[str]


MENTIONS_FILE = "mentions.jsonl"


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            if raw.strip():
                yield json.loads(raw)


def _label(film: SourceFilm) -> str:
    """How a dialogue's text names a film: its title, with the year where known."""
    return f"{film.title} ({film.year})" if film.year else film.title


def _redial_turns(record: dict[str, Any], labels: dict[str, str], aliases: dict[str, str]) -> list[Turn]:
    """Merge consecutive messages of one speaker into a turn; write ``@id`` as the title.

    ``aliases`` maps each source movie id to its catalogue id: a merged duplicate is named by the film it is.
    """
    seeker = record["initiatorWorkerId"]
    turns: list[tuple[str, list[str], list[str]]] = []
    for message in record["messages"]:
        role = "user" if message["senderWorkerId"] == seeker else "assistant"
        ids = [aliases[m] for m in _MENTION.findall(message["text"]) if m in aliases]
        text = _MENTION.sub(
            lambda m: labels.get(m.group(1), record["movieMentions"].get(m.group(1)) or "a movie"), message["text"]
        ).strip()
        if turns and turns[-1][0] == role:
            turns[-1][1].append(text)
            turns[-1][2].extend(ids)
        else:
            turns.append((role, [text], ids))
    return [Turn(role=role, text=" ".join(texts), items=tuple(dict.fromkeys(ids))) for role, texts, ids in turns]


@dataclass(frozen=True)
class DatasetParts:
    """What a preparer makes: the catalogue, the dialogue splits, training mention lists, and lines for the user."""

    items: list[Item]
    splits: dict[str, list[Dialogue]]
    mentions: list[MentionList] = field(default_factory=list)
    report: list[str] = field(default_factory=list)


_REDIAL_TEXT_TRAINING = (
    "redial/train/ievalm_valid_data.jsonl",
    "redial/train/kgsf_valid_data.jsonl",
    "redial/train/kepler_train_data.jsonl",
    "redial/train/irreel_part1_data.jsonl",
    "redial/train/irreel_part2_data.jsonl",
)
_REDIAL_MENTION_FILES = ("redial/mentions/train_LIST.csv", "redial/mentions/val_LIST.csv")


def _redial(files: dict[str, Path]) -> DatasetParts:
    with files["redial/movies_with_mentions.csv"].open(encoding="utf-8", newline="") as handle:
        movies = [(row["movieId"], row["movieName"], int(row["nbMentions"])) for row in csv.DictReader(handle)]
    info = json.loads(files["redial/ievalm/id2info.json"].read_text(encoding="utf-8"))
    reference = (
        read_movielens_reference(files[_MOVIELENS_MOVIES], files[_MOVIELENS_LINKS])
        if _MOVIELENS_MOVIES in files and _MOVIELENS_LINKS in files
        else None
    )
    clean = clean_redial_films(movies, info, reference)
    films = {film.id: film for film in clean.films}
    aliases = clean.aliases
    labels = {source_id: _label(films[kept_id]) for source_id, kept_id in aliases.items()}

    records: dict[str, dict[str, Any]] = {}

    def dialogues_of(relpaths: Iterable[str]) -> list[Dialogue]:
        result = []
        for relpath in relpaths:
            for record in _read_jsonl(files[relpath]):
                if record["conversationId"] in records:
                    continue  # the train files overlap; keep each conversation once
                records[record["conversationId"]] = record
                result.append(Dialogue(id=str(record["conversationId"]), turns=_redial_turns(record, labels, aliases)))
        return result

    test = dialogues_of(["redial/test_data.jsonl"])
    test_ids = {d.id for d in test}
    training = dialogues_of(_REDIAL_TEXT_TRAINING)
    valid = [d for d in training if _held_out(d.id)]
    train = [d for d in training if not _held_out(d.id)]

    # Held out of everything learned: the test split, and every dialogue the hash holds out for validation
    # (whether or not its text is here), so the mention lists never carry a valid or test dialogue.
    def learnable(dialogue_id: str) -> bool:
        return dialogue_id not in test_ids and not _held_out(dialogue_id)

    mentions = {d.id: _text_mentions(records[d.id], d, aliases) for d in train}
    report = [clean.counts.summary()]
    if all(relpath in files for relpath in (*_REDIAL_MENTION_FILES, _REDIAL_ITEM_TITLES)):
        lists: dict[str, list[tuple[int, bool]]] = {}
        for relpath in _REDIAL_MENTION_FILES:
            lists.update(read_mention_csv(files[relpath]))
        # Only training evidence links titles: the train split's text settles namesakes, and its mention
        # counts break the remaining ties (the movie list's own counts include the test split).
        text_named = {d.id: {i for t in d.turns for i in t.items} for d in train}
        counts = Counter(i for named in text_named.values() for i in named)
        records_to_link = [
            FilmRecord(film.id, film.title, (film.side or {}).get("genre") or [], counts.get(film.id, 0))
            for film in clean.films
        ]
        # The title index is URL-encoded as the movie list is ("What About Bob%3F"): decoded alike, so they meet.
        index_titles = {
            index: (decode_title(title), genres)
            for index, (title, genres) in read_item_titles(files[_REDIAL_ITEM_TITLES]).items()
        }
        linking = link_titles(index_titles, records_to_link, lists, text_named)
        kept = {dialogue_id: items for dialogue_id, items in lists.items() if learnable(dialogue_id)}
        from_lists = {m.id: m for m in linked_lists(kept, linking)}
        linked_mentions = sum(len(m.items) for m in from_lists.values())
        linked = linking.counts()
        report.append(
            f"mention lists: {len(lists):,} dialogues, {len(lists) - len(kept):,} held out as valid; "
            f"titles linked {linked['linked']:,}, guessed among namesakes {linked['guessed']:,}, "
            f"dropped (no such film) {linked['dropped']:,}; {linked_mentions:,} mentions kept"
        )
        # A dialogue that has text keeps the mentions read from it: its ids are exact, not linked by title.
        mentions = {**from_lists, **mentions}
    else:
        report.append(
            "mention lists not available (they come only from a data mirror): "
            "the collaborative signal learns from the dialogues with text alone"
        )
    learned = [m for m in mentions.values() if m.items and learnable(m.id)]

    # Popularity counts training mentions only, so evaluation never sees valid or test statistics.
    popularity = Counter(item for m in learned for item in m.items)
    items = []
    for film in clean.films:
        side = film.side or {}
        attributes = {
            key: side[src]
            for key, src in (("director", "director"), ("stars", "star"), ("writer", "writer"))
            if side.get(src)
        }
        items.append(
            Item(
                id=film.id,
                title=film.title,
                year=film.year,
                description=side.get("plot") or "",
                categories=side.get("genre") or [],
                attributes=attributes,
                popularity=float(popularity.get(film.id, 0)),
            )
        )
    report.append(
        f"training dialogues: {len(train):,} with text, {len(learned):,} with mentions "
        f"({sum(len(m.items) for m in learned):,} mentions)"
    )
    return DatasetParts(items, {"train": train, "valid": valid, "test": test}, learned, report)


def _text_mentions(record: dict[str, Any], dialogue: Dialogue, aliases: dict[str, str]) -> MentionList:
    """A dialogue's films in order of mention, liked as the seeker said (unknown verdicts count as liked:
    a film the seeker brings up or is recommended is, in most dialogues, one of interest).

    The seeker's answers are keyed by source movie id; a merged film is disliked if any of its ids was.
    """
    answers = record.get("initiatorQuestions") or {}
    disliked = {
        aliases[movie_id]
        for movie_id, answer in answers.items()
        if movie_id in aliases and isinstance(answer, dict) and answer.get("liked") == 0
    }
    order = list(dict.fromkeys(i for t in dialogue.turns for i in t.items))
    liked = tuple(i not in disliked for i in order)
    return MentionList(id=dialogue.id, items=tuple(order), liked=liked)


VALID_SHARE = 0.1


def _held_out(dialogue_id: str) -> bool:
    """A stable 10% of training dialogues, independent of file order and Python's hash seed."""
    return int(hashlib.sha256(dialogue_id.encode()).hexdigest()[:8], 16) < VALID_SHARE * 16**8


def _inspired(files: dict[str, Path]) -> DatasetParts:
    """INSPIRED dev replayed over the ReDial catalogue (models trained on ReDial, tested zero-shot).

    Films are linked by exact title and year first, then by title alone; films ReDial
    lacks join the catalogue with their title and year, so every target stays rankable.
    """
    redial = _redial(files)
    items = redial.items
    by_title_year = {(i.title.casefold(), i.year): i.id for i in items}
    by_title: dict[str, str] = {}
    for item in sorted(items, key=lambda i: -(i.popularity or 0.0)):
        by_title.setdefault(item.title.casefold(), item.id)
    added: dict[tuple[str, int | None], Item] = {}

    def link(name: str) -> str:
        title, year = split_title_year(name)
        key = (title.casefold(), year)
        found = by_title_year.get(key) or (by_title.get(key[0]) if year is None else None)
        if found:
            return found
        if key not in added:
            added[key] = Item(id=f"inspired-{len(added) + 1:04d}", title=title, year=year, popularity=0.0)
        return added[key].id

    with files["inspired/dev.tsv"].open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = {"dialog_id", "speaker", "text", "movies"} - set(reader.fieldnames or ())
        if missing:
            raise DataFormatError(
                files["inspired/dev.tsv"], 1, "header", f"lacks column(s) {', '.join(sorted(missing))}"
            )
        by_dialogue: dict[str, list[dict[str, str]]] = {}
        for row in reader:
            by_dialogue.setdefault(row["dialog_id"], []).append(row)
    dialogues = []
    for dialogue_id, rows in by_dialogue.items():
        turns: list[Turn] = []
        for speaker, text, movies in ((r["speaker"], r["text"], r["movies"]) for r in rows):
            role = "assistant" if speaker == "RECOMMENDER" else "user"
            text = text.replace("QUOTATION_MARK", '"').strip()
            ids = tuple(dict.fromkeys(link(m.strip()) for m in movies.split(";") if m.strip()))
            if turns and turns[-1].role == role:
                last = turns.pop()
                turns.append(
                    Turn(role=role, text=f"{last.text} {text}".strip(), items=tuple(dict.fromkeys(last.items + ids)))
                )
            else:
                turns.append(Turn(role=role, text=text, items=ids))
        dialogues.append(Dialogue(id=str(dialogue_id).removesuffix(".pkl"), turns=turns))
    # The ReDial training mentions come along: INSPIRED is served by what was learned on ReDial.
    return DatasetParts([*items, *added.values()], {"dev": dialogues}, redial.mentions, redial.report)


_SHOP_CATEGORY = {
    "Books": "books",
    "Cellphones&Accessories": "cellphones & accessories",
    "Officeproducts": "office products",
    "SportsandOutdoors": "sports & outdoors",
}


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
    title = raw["name"].strip()
    if category == "books" and " by " in title:  # "1984 by George Orwell": who wrote it is a fact to answer from
        attributes["author"] = [a.strip() for a in re.split(r",\s*|\s+and\s+", title.rsplit(" by ", 1)[1]) if a.strip()]
    price = raw.get("price")
    description = " ".join(x for x in (raw.get("short_description"), facts if not attributes else "") if x)
    return Item(
        id=f"{category_file.lower()}-{index:03d}",
        title=title,
        description=description,
        categories=[category, *genres],
        attributes=attributes,
        price=float(price.replace("$", "").replace(",", "")) if price else None,
        popularity=0.0,
    )


def _shop_aliases(item: Item) -> str:
    """What a shop assistant calls a product: the book title without its author, else the first words of the
    name."""
    name = re.split(r"[,(\[|–-]", item.names()[-1])[0]
    return " ".join(name.split()[:6])


def _mg_shopdial(files: dict[str, Path]) -> DatasetParts:
    from tailtalk.titles import TitleMatcher

    items: list[Item] = []
    for relpath, path in files.items():
        if relpath.startswith("mg-shopdial/items/"):
            category_file = Path(relpath).name.removesuffix("_items.json")
            items += [
                _product(category_file, n, raw) for n, raw in enumerate(json.loads(path.read_text(encoding="utf-8")))
            ]
    matcher = TitleMatcher([(i.id, _shop_aliases(i), None) for i in items], min_score=88.0)
    dialogues = []
    for record in json.loads(files["mg-shopdial/MGShopDial.json"].read_text(encoding="utf-8")):
        turns: list[Turn] = []
        for utterance in record["utterances"]:
            role = "assistant" if utterance["participant"] == "Wizard" else "user"
            ids = tuple(dict.fromkeys(h.item_id for h in matcher.find(utterance["utterance"])))
            if turns and turns[-1].role == role:
                last = turns.pop()
                turns.append(
                    Turn(
                        role=role,
                        text=f"{last.text} {utterance['utterance']}".strip(),
                        items=tuple(dict.fromkeys(last.items + ids)),
                    )
                )
            else:
                turns.append(Turn(role=role, text=utterance["utterance"].strip(), items=ids))
        dialogues.append(Dialogue(id=record["id"], turns=turns))
    # 64 dialogues are too few to hold out: all are the evaluation log; popularity stays 0 (no training data).
    return DatasetParts(items, {"test": dialogues})


_PREPARERS: dict[str, Callable[[dict[str, Path]], DatasetParts]] = {
    "redial": _redial,
    "mg-shopdial": _mg_shopdial,
    "inspired": _inspired,
}


def known_datasets() -> list[str]:
    return sorted(_PREPARERS)


def prepare(name: str, settings: Settings) -> PreparedDataset:
    if name not in _PREPARERS:
        raise UserInputError(f"unknown dataset {name!r}; choose one of: {', '.join(known_datasets())}")
    files = fetch(name, mirror=settings.resolved_mirror(), cache=settings.home / "downloads")
    parts = _PREPARERS[name](files)
    folder = settings.dataset_dir(name)
    manifest_path = folder / "manifest.json"
    manifest_path.unlink(missing_ok=True)
    counts = {"items": write_jsonl_atomic(folder / "catalog.jsonl", parts.items)}
    split_paths = {}
    for split, dialogues in parts.splits.items():
        split_paths[split] = folder / f"{split}.jsonl"
        counts[split] = write_jsonl_atomic(split_paths[split], dialogues)
    mentions_path = folder / MENTIONS_FILE
    if parts.mentions:
        counts["mention_lists"] = write_jsonl_atomic(mentions_path, parts.mentions)
    else:
        mentions_path.unlink(missing_ok=True)  # a catalogue without training mentions: no collaborative signal
    manifest_path.write_text(json.dumps({"dataset": name, "counts": counts}, indent=2), encoding="utf-8")
    return PreparedDataset(name, folder, folder / "catalog.jsonl", split_paths, counts, parts.report)
