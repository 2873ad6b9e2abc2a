"""A class in real parts: three real kernels join a real class server and run real checks;
the dashboard is the page in headless Chromium. One browser and three kernels for the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ws_lessons.browser import ARGS
from ws_lessons.classroom.app import create_app
from ws_lessons.server import RunningServer, serve

TIMEOUT_MS = 30_000  # a hang guard: expect() returns as soon as the page shows it
HOSTILE = "<img src=x onerror=alert(1)>"
NAMES = ("Ada", "李雷", HOSTILE)
RIGHT = '{"B", "D", "E"}'


class Class:
    def __init__(self, db: Path) -> None:
        self.db = db
        self.app = create_app(db)
        self.store = self.app.state.store
        self.server: RunningServer = serve(self.app, ws_max_size=4096, name="class")
        self.port = self.server.port

    def restart(self) -> None:
        self.server.stop()
        self.store.close()

    def start_again(self) -> None:
        self.app = create_app(self.db)
        self.store = self.app.state.store
        self.server = serve(self.app, port=self.port, ws_max_size=4096, name="class")

    @property
    def dashboard(self) -> str:
        return f"{self.server.url}/?token={self.store.token}"


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Class]:
    room = Class(tmp_path_factory.mktemp("class") / "class.sqlite3")
    yield room
    room.server.stop()
    assert not [line for line in room.server.logs if "Traceback" in line]


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[BlockingKernelClient]]:
    """Three kernels, started together (each is a real ipykernel process)."""
    folder = tmp_path_factory.mktemp("kernels")
    managers = [KernelManager(kernel_name="python3") for _ in NAMES]
    for manager in managers:
        manager.start_kernel(cwd=str(folder))
    clients = []
    for manager in managers:
        client = manager.blocking_client()
        client.start_channels()
        client.wait_for_ready(timeout=120)
        clients.append(client)
    yield clients
    for client, manager in zip(clients, managers, strict=True):
        client.stop_channels()
        manager.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=ARGS)
        yield browser
        browser.close()


def run(kernel: BlockingKernelClient, code: str) -> str:
    """Run ``code`` in ``kernel``; what it printed (a traceback fails the test)."""
    printed: list[str] = []

    def keep(message: dict) -> None:
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            printed.append("\n".join(message["content"]["traceback"]))

    reply = kernel.execute_interactive(code, output_hook=keep, timeout=120)
    assert reply["content"]["status"] == "ok", "".join(printed)
    return "".join(printed)


def open_dashboard(browser: Browser, address: str, locale: str = "en-US") -> Page:
    page = browser.new_context(locale=locale).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(address)
    return page


def cell(page: Page, name: str, exercise: str) -> object:
    row = page.locator("#grid tbody tr").filter(has=page.get_by_text(name, exact=True))
    return row.locator(f'td[data-exercise="{exercise}"]')


@pytest.fixture(scope="module")
def dashboard(browser: Browser, room: Class) -> Page:
    page = open_dashboard(browser, room.dashboard)
    expect(page.locator("#status")).to_have_attribute("data-state", "live")
    return page


def test_three_kernels_join_and_their_checks_show_live(
    kernels: list[BlockingKernelClient], room: Class, dashboard: Page
) -> None:
    url, code = f"ws://127.0.0.1:{room.port}", room.store.code
    for kernel, name in zip(kernels, NAMES, strict=True):
        printed = run(
            kernel,
            "from ws_lessons.classroom import join_class\n"
            "from ws_lessons.checks import check_00_1\n"
            "from ws_lessons import solutions\n"
            f"join_class({url!r}, code={code!r}, name={name!r})",
        )
        assert f"In the class at {url} as {name}." in printed
        assert "Never your code or your answers." in printed
    run(kernels[0], f"check_00_1({RIGHT})")
    run(kernels[1], 'check_00_1({"A"}); check_00_1({"B"}); solutions.reveal("00.1")')
    run(kernels[2], 'check_00_1({"A"})')
    expect(dashboard.locator("#grid tbody tr")).to_have_count(3)
    expect(dashboard.locator("#count")).to_have_text("3 learners")
    expect(cell(dashboard, "Ada", "00.1")).to_have_text("✅")
    expect(cell(dashboard, "李雷", "00.1")).to_have_text("❌2")
    expect(cell(dashboard, HOSTILE, "00.1")).to_have_text("❌1")
    run(kernels[1], f"check_00_1({RIGHT})")  # after reveal(): help opened is sent
    expect(cell(dashboard, "李雷", "00.1")).to_have_text("✅ ❌2 💡")
    # The hostile name is text: no image element, and its text as typed.
    assert dashboard.locator("#grid img").count() == 0
    expect(dashboard.locator("#grid tbody td.name")).to_have_text(sorted(NAMES))
    expect(dashboard.locator('#lessons th[data-lesson="00"]')).to_have_text("00: through 0/3")
    dashboard.fill("#fails", "1")
    dashboard.locator("#fails").dispatch_event("change")
    stuck = dashboard.locator("#grid tbody tr.stuck td.name")
    expect(stuck).to_have_text([HOSTILE])  # failed, and not yet passed


def test_an_announcement_reaches_each_kernel(
    kernels: list[BlockingKernelClient], dashboard: Page
) -> None:
    dashboard.fill("#text", "look at the hint for 00.2")
    dashboard.click("#send")
    expect(dashboard.locator("#announcements li")).to_contain_text(["look at the hint for 00.2"])
    for kernel in kernels:
        printed = run(
            kernel,
            "import time\n"
            "from ws_lessons.classroom import reporter\n"
            "deadline = time.monotonic() + 15\n"
            "while not reporter._class.reporter.unseen and time.monotonic() < deadline:\n"
            "    time.sleep(0.02)\n"
            f"check_00_1({RIGHT})",
        )
        last = printed.strip().splitlines()[-1]
        assert last.endswith("from your instructor: look at the hint for 00.2"), printed


def all_sent(kernel: BlockingKernelClient) -> bool:
    """Wait until the kernel's reporter holds no verdict the server has not acknowledged."""
    printed = run(
        kernel,
        "import time\n"
        "from ws_lessons.classroom import reporter\n"
        "deadline = time.monotonic() + 15\n"
        "while reporter._class.reporter.pending and time.monotonic() < deadline:\n"
        "    time.sleep(0.02)\n"
        "print('pending:', len(reporter._class.reporter.pending))",
    )
    return printed.strip().endswith("pending: 0")


def test_a_restart_mid_class_loses_nothing_and_shows_nothing_twice(
    kernels: list[BlockingKernelClient], room: Class, dashboard: Page
) -> None:
    assert all(all_sent(kernel) for kernel in kernels)  # the last test's verdicts are in
    before = room.store.verdict_count()
    room.restart()
    expect(dashboard.locator("#status")).to_have_attribute("data-state", "down")
    for kernel in kernels:
        printed = run(kernel, 'check_00_1({"C"})')  # made while the server is down
        assert "Traceback" not in printed
    room.start_again()
    expect(dashboard.locator("#status")).to_have_attribute("data-state", "live")
    expect(cell(dashboard, "Ada", "00.1")).to_have_text("✅ ❌1")
    expect(cell(dashboard, "李雷", "00.1")).to_have_text("✅ ❌3 💡")
    expect(cell(dashboard, HOSTILE, "00.1")).to_have_text("✅ ❌2")
    assert room.store.verdict_count() == before + 3
    expect(dashboard.locator("body")).to_have_attribute("data-seq", str(room.store.last_seq()))
    # The grid is whole: a fresh page, built from the file alone, shows the same.
    fresh = open_dashboard(dashboard.context.browser, room.dashboard)
    expect(cell(fresh, "李雷", "00.1")).to_have_text("✅ ❌3 💡")
    expect(fresh.locator("#grid tbody tr")).to_have_count(3)
    fresh.close()


def test_the_chinese_dashboard(browser: Browser, room: Class) -> None:
    page = open_dashboard(browser, room.dashboard, locale="zh-CN")
    expect(page.locator("#title")).to_have_text("课堂")
    expect(page.locator("#status")).to_have_text("实时")
    expect(page.locator("#exercises th").first).to_have_text("学员")
    expect(page.locator("#count")).to_have_text("3 名学员")
    expect(page.locator('#lessons th[data-lesson="00"]')).to_contain_text("已完成")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.click('button[data-lang="en"]')  # the switch
    expect(page.locator("#exercises th").first).to_have_text("learner")
    page.close()


def test_the_token_leaves_the_address_bar_and_a_refused_announcement_is_said(
    browser: Browser, room: Class
) -> None:
    page = open_dashboard(browser, room.dashboard)
    expect(page.locator("#status")).to_have_attribute("data-state", "live")
    assert room.store.token not in page.url  # a projected dashboard does not show it
    page.reload()  # the tab kept it
    expect(page.locator("#status")).to_have_attribute("data-state", "live")
    page.fill("#text", "a\ttab")  # not one line of plain text: the server says no
    page.press("#text", "Enter")
    expect(page.locator("#problem")).to_have_text(
        "Not sent: one line of text, up to 280 characters."
    )
    expect(page.locator("#text")).to_have_value("a\ttab")  # kept, to mend and send again
    page.fill("#text", "back in 5")
    page.press("#text", "Enter")
    expect(page.locator("#announcements li").last).to_contain_text("back in 5")
    expect(page.locator("#problem")).to_be_hidden()
    expect(page.locator("#text")).to_have_value("")
    page.close()


def test_a_wrong_token_is_shown_on_the_page(browser: Browser, room: Class) -> None:
    page = open_dashboard(browser, f"{room.server.url}/?token=wrong")
    expect(page.locator("#status")).to_contain_text("wrong instructor token")
    assert page.locator("#grid tbody tr").count() == 0
    page.close()
