"""The chat page loads the learner's handlers.js when the app serves it, else keeps its own."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Response
from playwright.sync_api import Browser, Page, expect, sync_playwright
from test_chat_browser import TIMEOUT_MS, new_page, status_was_shown

from ws_lessons.browser import ARGS
from ws_lessons.chat import create_app
from ws_lessons.chat.broker import MemoryBroker
from ws_lessons.chat.page import render
from ws_lessons.project import layers
from ws_lessons.server import serve
from ws_lessons.services import free_port

PAGE = render("en")
LEARNERS = layers()["09"]["mychat/static/handlers.js"]  # what lesson 09 has the learner write


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=ARGS)
        yield browser
        browser.close()


class ReplayAllBroker(MemoryBroker):
    """Replays every message it keeps, whatever ``since`` says: the page must skip repeats."""

    async def history(self, room: str, since: int):  # type: ignore[override]
        return await super().history(room, 0)


def chat(handlers: str | None) -> FastAPI:
    """The reference chat, serving ``handlers`` as /handlers.js (None: 404, as it does)."""
    app = create_app(broker=ReplayAllBroker())
    if handlers is not None:

        @app.get("/handlers.js")
        def served() -> Response:
            return Response(handlers, media_type="text/javascript")

    return app


def join(browser: Browser, url: str, name: str) -> Page:
    page = new_page(browser)
    page.goto(url)
    page.fill("#name", name)
    page.fill("#room", "garden")
    page.click("#join")
    expect(page.locator("#status")).to_contain_text(f"as {name}")
    return page


@pytest.mark.parametrize("handlers", [LEARNERS, None], ids=["learner's", "page's own"])
def test_a_reconnect_shows_each_message_once(browser: Browser, handlers: str | None) -> None:
    app = chat(handlers)
    with serve(app, port=free_port()) as server:
        alice = join(browser, server.url, "alice")
        bob = join(browser, server.url, "bob")
        source = alice.evaluate("String(receive) + String(reconnectDelay)")
        for function in ("function receive(", "function reconnectDelay("):
            mine = source.split(function)[1].split("\n}")[0]
            assert (mine in LEARNERS) == (handlers is not None)
            assert (mine in PAGE) == (handlers is None)
        # Backoff with jitter: 0.5 s doubling up to 30 s, a random delay in the upper half.
        drawn = alice.evaluate(
            "[...Array(400).keys()].map((n) => [n % 8 * 2, reconnectDelay(n % 8 * 2)])"
        )
        for retries, delay in drawn:
            ceiling = min(30_000, 500 * 2**retries)
            assert ceiling / 2 <= delay <= ceiling
        assert len({delay for _, delay in drawn}) > 300  # random, not a fixed step
        bob.fill("#text", "one")
        bob.press("#text", "Enter")
        expect(alice.locator("#messages .text")).to_have_text(["one"])
    status_was_shown(alice, "Disconnected (closed with 1012)")
    with serve(app, port=server.port) as server:
        expect(alice.locator("#status")).to_contain_text("Connected to garden as alice")
        expect(bob.locator("#status")).to_contain_text("Connected to garden as bob")
        bob.fill("#text", "two")
        bob.press("#text", "Enter")
        expect(alice.locator("#messages .text")).to_have_text(["one", "two"])  # "one" replayed
    assert sum('&since=1"' in line for line in server.logs) == 2


def test_the_learners_reconnect_delay_is_the_one_used(browser: Browser) -> None:
    app = chat(LEARNERS + "\nfunction reconnectDelay(retries) { return 4321; }\n")
    with serve(app, port=free_port()) as server:
        alice = join(browser, server.url, "alice")
        delays = alice.evaluate("[0, 1, 2, 20].map(reconnectDelay)")
        assert delays == [4321] * 4
    status_was_shown(alice, "reconnecting in 4.3 s")
