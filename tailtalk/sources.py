"""Where the public dataset files come from, and how they are fetched and verified.

A file is read from a local mirror folder when one is configured (the layout of
``../shared/data``), otherwise downloaded from its original public address into the
cache. Either way its SHA-256 must match the published one before anything reads it.
"""

from __future__ import annotations

import hashlib
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm
from tailtalk.errors import UserError

_GH = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class SourceFile:
    relpath: str  # path inside the mirror folder
    url: str | None  # None: no public file to download (a converted file only a data mirror holds)
    sha256: str
    optional: bool = False  # the dataset prepares without it (with less training data); missing is not an error


_REDIAL = (
    SourceFile(
        "redial/test_data.jsonl",
        f"{_GH}/ReDialData/website/data/test_data.jsonl",
        "d7781750787d104ac005e829cc7e6277d25b14644a223b0c2445aaaded6b19ac",
    ),
    SourceFile(
        "redial/movies_with_mentions.csv",
        f"{_GH}/ReDialData/website/data/movies_with_mentions.csv",
        "0d408daa474ac95b959a739a261dddd997dd800f5ea585da15a434a26187dbb0",
    ),
    SourceFile(
        "redial/train/kgsf_valid_data.jsonl",
        f"{_GH}/Lancelot39/KGSF/master/data/valid_data.jsonl",
        "037d2be6bd375e1869dda26375523067c7e997b4aa9826825793ad7e4978a88c",
    ),
    SourceFile(
        "redial/train/ievalm_valid_data.jsonl",
        f"{_GH}/RUCAIBox/iEvaLM-CRS/main/data/redial/valid_data.jsonl",
        "69b7cf81d0671c3dd0a1167df2e7e1e51ca76b3edce97022343d68f6974510a1",
    ),
    SourceFile(
        "redial/train/kepler_train_data.jsonl",
        f"{_GH}/baazouziwiem/Kepler-aSI-CRS/main/train_data.jsonl",
        "920828563531de58210518c1b2952bd1d1bb2a31ae05d2ed235036a500b6d22c",
    ),
    SourceFile(
        "redial/ievalm/id2info.json",
        f"{_GH}/RUCAIBox/iEvaLM-CRS/main/data/redial/id2info.json",
        "7bdfe9a9c7f1b4d59aa9a5aeba0029071fd5a7232b61c8257212a335ffe424f7",
    ),
    SourceFile(
        "redial/train/irreel_part1_data.jsonl",
        f"{_GH}/Irreel/ConversationRecSys/main/data/valid_data.jsonl",
        "d8ecd065b71e89b0486f18fc6f5284aed9a2ba4ce58d64f17e1cfdddfd26bf7a",
    ),
    SourceFile(
        "redial/train/irreel_part2_data.jsonl",
        f"{_GH}/Irreel/ConversationRecSys/main/data/test_data.jsonl",
        "dc0180d0d2ca1f2b3a02bb9629f861db0f1a04ea659deb69e7fec07c7900baa1",
    ),
    # The ordered mention lists of 9,875 training dialogues. Their title index was published only as a
    # pickled array; the mirror holds it converted to text, so without a mirror they are left out.
    SourceFile(
        "redial/mentions/train_LIST.csv",
        f"{_GH}/Vachonni/ReDial_CF2_MLP_dot/master/Data/DataReDial/Train_LIST.csv",
        "91b91b4a22fcde1b6c43cfc8488015278e5ccd0bd7126bb2d7e2ddaee92c123e",
        optional=True,
    ),
    SourceFile(
        "redial/mentions/val_LIST.csv",
        f"{_GH}/Vachonni/ReDial_CF2_MLP_dot/master/Data/DataReDial/Val_LIST.csv",
        "43922f547e7629050d9904ca2dee7de9ad803bda16d62c640bc10bcd167cc07e",
        optional=True,
    ),
    SourceFile(
        "redial/mentions/item_titles.tsv",
        None,
        "78301988cb478d380949d3fb184f54ab5408538f0243d3502db997d41b923bfa",
        optional=True,
    ),
    # MovieLens's IMDb id -> title and year checks which film each side-information record describes
    # (tailtalk.hygiene). GroupLens publishes it only as a zip archive, so only a data mirror has the files.
    SourceFile(
        "movielens-latest-small/movies.csv",
        None,
        "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
        optional=True,
    ),
    SourceFile(
        "movielens-latest-small/links.csv",
        None,
        "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31",
        optional=True,
    ),
)

SOURCES: dict[str, tuple[SourceFile, ...]] = {
    "redial": _REDIAL,
    "mg-shopdial": (
        SourceFile(
            "mg-shopdial/MGShopDial.json",
            f"{_GH}/iai-group/MG-ShopDial/main/MGShopDial/MGShopDial.json",
            "9e879293623a12302fa9aeb888bf20b7c52f71a17904e5fd36922c58335f0ab5",
        ),
        SourceFile(
            "mg-shopdial/items/Books_items.json",
            f"{_GH}/iai-group/MG-ShopDial/main/CCC/data/items/Books_items.json",
            "a42aaa107781ef9637c21a1d1199fa18f0bda660448fe706d48eee6c316560c2",
        ),
        SourceFile(
            "mg-shopdial/items/Cellphones&Accessories_items.json",
            f"{_GH}/iai-group/MG-ShopDial/main/CCC/data/items/Cellphones%26Accessories_items.json",
            "10dd75900b0e1748bf2da066ea69bc0c2c7f9f102c169db07e92bb17cfbea552",
        ),
        SourceFile(
            "mg-shopdial/items/Officeproducts_items.json",
            f"{_GH}/iai-group/MG-ShopDial/main/CCC/data/items/Officeproducts_items.json",
            "519e098b69ca77e1ce2c30ab59bb61af50bd68172ff0d72be85ce4c4b7ab774d",
        ),
        SourceFile(
            "mg-shopdial/items/SportsandOutdoors_items.json",
            f"{_GH}/iai-group/MG-ShopDial/main/CCC/data/items/SportsandOutdoors_items.json",
            "bad06a3c84b193b099b6becb9b8fb9d662573c5736474fb98b8f1853fab06abe",
        ),
    ),
    "inspired": (
        *_REDIAL,  # INSPIRED is replayed over the ReDial catalogue
        SourceFile(
            "inspired/dev.tsv",
            f"{_GH}/sweetpeach/Inspired/master/data/dialog_data/dev.tsv",
            "15a955be002222ba9e95f886802e06a91fb5e457f8a25deae3e7908d58faa947",
        ),
    ),
}


class SourceError(UserError, RuntimeError):
    """A dataset file could not be found, fetched or verified; the message says what to do."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, expected: str, origin: str) -> Path:
    actual = sha256_of(path)
    if actual != expected:
        raise SourceError(
            f"{path} (from {origin}) has SHA-256 {actual}, expected {expected}; "
            "the file is corrupt or a different version: delete it and fetch it again"
        )
    return path


def _download(source: SourceFile, target: Path) -> None:
    if source.url is None:
        raise SourceError(f"{source.relpath} has no public download: put it in a data mirror (TAILTALK_DATA_MIRROR)")
    url = source.url
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(fd, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {source.relpath}") as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
        _verify(tmp, source.sha256, url)
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SourceError(
            f"could not download {source.url} ({exc}); on a machine without internet, "
            "set TAILTALK_DATA_MIRROR (or --set data_mirror=DIR) to a folder holding the dataset files"
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fetch(dataset: str, *, mirror: Path | None, cache: Path) -> dict[str, Path]:
    """Return verified local paths of ``dataset``'s files, keyed by their mirror-relative path.

    An optional file that cannot be had (absent from the mirror, or with no public download) is left out.
    """
    if dataset not in SOURCES:
        raise SourceError(f"unknown dataset {dataset!r}; known: {', '.join(sorted(SOURCES))}")
    paths: dict[str, Path] = {}
    for source in SOURCES[dataset]:
        if mirror is not None:
            local = mirror / source.relpath
            if source.optional and not local.is_file():
                continue
            if not local.is_file():
                raise SourceError(
                    f"{local} is missing from the data mirror {mirror}; check the folder, or unset the mirror "
                    "to download from the public source"
                )
            paths[source.relpath] = _verify(local, source.sha256, f"mirror {mirror}")
            continue
        local = cache / source.relpath
        if local.is_file() and sha256_of(local) == source.sha256:
            paths[source.relpath] = local
            continue
        if source.url is None:
            continue  # only a mirror holds it; optional by construction
        try:
            _download(source, local)
        except SourceError:
            if source.optional:
                continue  # the dataset prepares without it, and says what it lacks
            raise
        paths[source.relpath] = local
    return paths
