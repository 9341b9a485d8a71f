"""A small shop: products whose types are in their names, with prices and attribute facts."""

from __future__ import annotations

import pytest

from tailtalk.catalog import Catalog, Item
from retrieval.embedder import HashingEmbedder
from retrieval.retriever import InMemoryRetriever
from ui.pipeline import TurnPipeline


@pytest.fixture
def shop_catalog() -> Catalog:
    rows = [
        ("r1", "Nike Revolution 5 Running Shoe", "sports", 59.99, {"rating": "4.6/5"}, "A light shoe for road runs."),
        ("r2", "adidas Kaptir 2.0 Running Shoes, Black", "sports", 65.0, {}, "Cushioned midsole for daily runs."),
        ("r3", "ASICS Gel-Kayano Running Shoe", "sports", 95.24, {}, "Stable support for long runs."),
        ("t1", "Trail Hiking Boot", "sports", 35.0, {}, "A boot for muddy trails."),
        ("p1", "Leather Phone Case with Card Slot", "phones", 19.99, {}, "Protects your phone from drops."),
        ("p2", "USB Phone Charger, 20W", "phones", 15.0, {}, "Charges a phone in an hour."),
        (
            "p3",
            "Pixel 6a Phone - 24-Hour Battery",
            "phones",
            449.0,
            {"rating": "4.2/5"},
            "Fast-charging all-day battery. IP67 protection: it can take a little water and dust.",
        ),
        (
            "b1",
            "1984 by George Orwell",
            "books",
            13.39,
            {"hardcover": "384 pages", "publisher": "Everyman"},
            "A man trapped under the gaze of an authoritarian state.",
        ),
        ("b2", "Dune by Frank Herbert", "books", 20.99, {"paperback": "896 pages"}, "A desert planet and its spice."),
    ]
    return Catalog(
        tuple(Item(id=i, title=t, categories=[c], price=p, attributes=a, description=d) for i, t, c, p, a, d in rows)
    )


@pytest.fixture
def shop(shop_catalog) -> TurnPipeline:
    return TurnPipeline.from_parts(
        shop_catalog, InMemoryRetriever(shop_catalog, HashingEmbedder()), domain="products", top_k=3
    )
