"""The chat's page in headless Chromium: two people join a room and talk."""

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ws_lessons.chat import create_app
from ws_lessons.server import RunningServer, serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 5000


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with serve(create_app()) as server:
        yield server
    assert not [line for line in server.logs if "Traceback" in line]


def open_chat(browser: Browser, server: RunningServer, name: str) -> Page:
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url)
    page.fill("#name", name)
    page.fill("#room", "garden")
    page.click("#join")
    expect(page.locator("#status")).to_contain_text(f"as {name}")
    return page


def test_two_people_talk(browser: Browser, server: RunningServer) -> None:
    alice = open_chat(browser, server, "alice")
    bob = open_chat(browser, server, "bob")
    for page in (alice, bob):
        expect(page.locator("#members li")).to_have_text(["alice", "bob"])

    alice.fill("#text", "<b>hello</b> bob")
    alice.press("#text", "Enter")
    for page in (alice, bob):
        expect(page.locator("#messages .text")).to_have_text(["<b>hello</b> bob"])
    assert bob.locator("#messages b").count() == 0  # shown as text, never as markup

    bob.fill("#text", "hi alice")
    bob.click("#send")
    expect(alice.locator("#messages .text")).to_have_text(["<b>hello</b> bob", "hi alice"])

    bob.close()
    expect(alice.locator("#members li")).to_have_text(["alice"])


def test_page_reconnects_and_resumes(browser: Browser) -> None:
    app = create_app()
    with serve(app) as server:
        alice = open_chat(browser, server, "alice")
        bob = open_chat(browser, server, "bob")
        bob.fill("#text", "one")
        bob.press("#text", "Enter")
        expect(alice.locator("#messages .text")).to_have_text(["one"])
    # The same app served again: its rooms and history are still there.
    for page in (alice, bob):
        expect(page.locator("#status")).to_contain_text("reconnecting")
    with serve(app, port=server.port) as server:
        expect(bob.locator("#status")).to_contain_text("Connected to garden as bob")
        bob.fill("#text", "two")
        bob.press("#text", "Enter")
        # Live or replayed with ?since=, whichever came first: each message shows once.
        expect(alice.locator("#messages .text")).to_have_text(["one", "two"])
        expect(alice.locator("#status")).to_contain_text("Connected to garden as alice")
    assert sum('&since=1"' in line for line in server.logs) == 2  # both resumed after "one"
