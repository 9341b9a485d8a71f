"""The chat page in a real browser: Debian's Chromium, headless, driven by Playwright.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (``make browser``
installs it). Every request the page makes is checked to stay on 127.0.0.1, so the test also
proves the UI loads nothing from the internet (fonts, scripts, analytics).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from tests.conftest import REPO

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",  # the test may run as root in a container, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # Belt and braces with the request guard below: no host name but the loopback resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
TIMEOUT_MS = 90_000  # generous: two busy cores serve the app, run the pipeline and render the page
REQUEST = "a light romantic comedy from the 90s"
VISIBLE_CARDS = "#tt-cards .tt-card:not(.tt-gone)"


@dataclass
class Browser:
    page: Page
    off_host: list[str] = field(default_factory=list)  # requests the page tried to send elsewhere (refused)
    errors: list[str] = field(default_factory=list)  # uncaught JavaScript errors


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"the browser test needs Debian's Chromium at {CHROMIUM}: run `make browser` (it installs the "
            "`chromium` package with apt-get), then run the test again"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1100},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            session = Browser(page)

            def loopback_only(route: Route) -> None:
                if urlsplit(route.request.url).hostname == "127.0.0.1":
                    route.continue_()
                else:
                    session.off_host.append(route.request.url)
                    route.abort()

            context.route("**/*", loopback_only)
            page.on("pageerror", lambda error: session.errors.append(str(error)))
            yield session
        finally:
            context.close()


def card_ids(page: Page) -> list[str]:
    return page.locator(VISIBLE_CARDS).evaluate_all("cards => cards.map(card => card.dataset.itemId)")


def send(page: Page, text: str, replies: int) -> None:
    """Type a message, press Enter and wait until the conversation holds ``replies`` finished replies."""
    from playwright.sync_api import expect

    page.locator("#tt-message textarea").fill(text)
    page.locator("#tt-message textarea").press("Enter")
    expect(page.locator("#tt-chat [data-testid='bot']")).to_have_count(replies, timeout=TIMEOUT_MS)
    expect(page.locator("#tt-chat .pending, #tt-cards .pending")).to_have_count(0, timeout=TIMEOUT_MS)


def assert_reply_does_not_repeat_the_cards(page: Page) -> None:
    """The chat reply is a lead-in: no card's reason appears in it."""
    reply = page.locator("#tt-chat [data-testid='bot']").last.inner_text()
    reasons = page.locator(f"{VISIBLE_CARDS} p").all_inner_texts()
    assert reasons and not any(r.strip() and r.strip() in reply for r in reasons), (reply, reasons)


def test_the_shop_page_speaks_shop_and_answers_about_a_card(shop_app_url, browser):
    from playwright.sync_api import expect

    page = browser.page
    page.goto(shop_app_url)
    expect(page.locator("body")).to_contain_text("the kind of product, your budget")
    assert "running shoes" in page.locator("#tt-message textarea").get_attribute("placeholder")
    expect(page.locator("#tt-status")).to_contain_text("products")
    assert "films" not in page.locator("body").inner_text().lower()
    send(page, "running shoes under $70", replies=1)
    expect(page.locator(VISIBLE_CARDS).nth(2)).to_be_visible()
    shown = card_ids(page)
    assert_reply_does_not_repeat_the_cards(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-shop.png"), full_page=True)
    send(page, "how much is the Nike one?", replies=2)
    expect(page.locator("#tt-chat [data-testid='bot']").last).to_contain_text("$59.99")
    assert card_ids(page) == shown  # the question is answered and the cards stay
    page.screenshot(path=str(ARTIFACTS / "browser-shop-question.png"), full_page=True)
    assert browser.errors == [] and browser.off_host == []


class _SlowReplies:
    """The real pipeline, with each turn taking 2 s before its reply starts, as a language model's does: long
    enough that the second message is always sent while the first reply is on its way."""

    def __init__(self, pipeline):
        self._pipeline = pipeline

    def __getattr__(self, name):
        return getattr(self._pipeline, name)

    def stream(self, state, message):
        time.sleep(2.0)
        yield from self._pipeline.stream(state, message)


@pytest.fixture
def slow_app_url(redial_settings, redial_pipeline):
    from tests.conftest import free_port
    from ui.app import launch

    settings = redial_settings.model_copy(update={"ui_port": free_port()})
    demo = launch(settings, block=False, pipeline=_SlowReplies(redial_pipeline))
    yield f"http://127.0.0.1:{settings.ui_port}/"
    demo.close()


def test_a_message_sent_while_a_reply_streams_is_answered_after_it(slow_app_url, browser):
    from playwright.sync_api import expect

    page = browser.page
    page.goto(slow_app_url)
    box = page.locator("#tt-message textarea")
    expect(box).to_be_editable()
    asked = page.locator("#tt-chat [data-testid='user']")
    replies = page.locator("#tt-chat [data-testid='bot']")
    box.fill(REQUEST)
    box.press("Enter")
    expect(asked).to_have_count(1)  # the message shows at once and the box is free for the next one
    box.fill("something older")
    box.press("Enter")
    answered_before_the_second = replies.count()
    expect(replies).to_have_count(2, timeout=TIMEOUT_MS)
    expect(page.locator("#tt-chat .pending, #tt-cards .pending")).to_have_count(0, timeout=TIMEOUT_MS)
    assert [a.strip() for a in asked.all_inner_texts()] == [REQUEST, "something older"]
    assert answered_before_the_second == 0  # the case under test: sent while the first reply was on its way
    assert "Since your last message" in replies.last.inner_text()  # the second turn continued the first
    assert box.input_value() == ""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-queued-message.png"), full_page=True)
    assert browser.errors == [] and browser.off_host == []


def test_cards_with_feedback_in_a_real_browser(app_url, browser):
    from playwright.sync_api import expect

    page, timings, started = browser.page, {}, time.perf_counter()

    def lap(name: str) -> None:
        timings[name] = round(time.perf_counter() - started, 2)

    page.goto(app_url)
    expect(page.locator("#tt-message textarea")).to_be_editable()
    expect(page.locator("#tt-status")).to_contain_text("language model: none")
    expect(page.locator("#tt-status")).to_contain_text("films")
    lap("page ready")

    send(page, REQUEST, replies=1)
    expect(page.locator(VISIBLE_CARDS).nth(2)).to_be_visible()  # at least 3 cards
    first = card_ids(page)
    for item_id in first:
        card = page.locator(f"#tt-card-{item_id}")
        expect(card.locator("h4")).not_to_be_empty()
        expect(card.locator("p")).not_to_be_empty()  # the reason
    assert_reply_does_not_repeat_the_cards(page)
    lap("first cards")

    disliked = first[0]
    page.locator(f"#tt-dislike-{disliked}").click()
    expect(page.locator(f"#tt-card-{disliked}")).to_be_hidden(timeout=2_000)  # at once, before the server answers
    lap("disliked card hidden")
    expect(page.locator("#tt-cards .tt-note")).to_contain_text("will not be suggested again")
    expect(page.locator(f"#tt-card-{disliked}")).to_have_count(0)  # the server's re-render dropped it
    assert card_ids(page) == first[1:]
    lap("dislike recorded")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-chat-first-turn.png"), full_page=True)

    send(page, "something else", replies=2)
    second = card_ids(page)
    assert len(second) >= 3 and disliked not in second
    assert not set(first) & set(second)  # a new turn, not the old cards minus one
    lap("second cards")

    liked = second[0]
    page.locator(f"#tt-like-{liked}").click()
    expect(page.locator("#tt-cards .tt-note")).to_contain_text("your next message will lean towards")
    expect(page.locator(f"#tt-like-{liked}")).to_have_text("👍 Liked")
    lap("like recorded")

    page.screenshot(path=str(ARTIFACTS / "browser-chat.png"), full_page=True)

    page.locator("#tt-new").click()
    expect(page.locator("#tt-cards .tt-card")).to_have_count(0)
    expect(page.locator("#tt-chat [data-testid='bot']")).to_have_count(0)
    lap("new conversation")
    (ARTIFACTS / "browser-timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    assert browser.errors == [], f"JavaScript errors on the page: {browser.errors}"
    assert browser.off_host == [], f"the page tried to reach beyond 127.0.0.1: {browser.off_host}"


def test_a_childs_list_in_a_real_browser_never_cites_a_loved_horror_film(app_url, browser):
    """After "a movie with my 8-year-old", "I loved The Shining" keeps the child's filter, cites the horror
    film nowhere on the page (reply or cards), and says how to ask for films like it for oneself."""
    from playwright.sync_api import expect

    page = browser.page
    page.goto(app_url)
    expect(page.locator("#tt-message textarea")).to_be_editable()

    send(page, "a movie to watch with my 8-year-old", replies=1)
    expect(page.locator(VISIBLE_CARDS).nth(2)).to_be_visible()
    send(page, "I loved The Shining and It Follows", replies=2)
    expect(page.locator(VISIBLE_CARDS).nth(2)).to_be_visible()
    metas = page.locator(f"{VISIBLE_CARDS} .tt-meta").all_inner_texts()
    assert metas and all("family" in m or "animation" in m for m in metas), metas  # still for the child
    reply = page.locator("#tt-chat [data-testid='bot']").last.inner_text()
    cards = page.locator("#tt-cards").inner_text()
    for loved in ("The Shining", "It Follows"):
        assert f"fans of {loved}" not in reply and loved not in cards, (reply, cards)
    assert 'say "for me"' in reply, reply  # the way to films like them, for the grown-up
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-child-loved-horror.png"), full_page=True)
    assert browser.errors == [] and browser.off_host == []
