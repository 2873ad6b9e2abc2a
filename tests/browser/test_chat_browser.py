"""The chat's page in headless Chromium: people talk, attackers fail, silence is noticed."""

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, Page, expect, sync_playwright
from test_check_chat import naive_contract_chat

from ws_lessons.browser import ARGS
from ws_lessons.chat import create_app
from ws_lessons.chat.page import page_for
from ws_lessons.server import RunningServer, serve
from ws_lessons.services import free_port, start_nginx

TIMEOUT_MS = 15_000  # a hang guard: every wait here ends on an event in the page


# Every text the page's status line shows, kept in window.statuses: a status shown for a
# moment (reconnecting in 0.3 s) is read from there, not caught by polling the element.
STATUS_LOG = """
window.statuses = [];
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("status");
  const note = () => window.statuses.push(status.textContent);
  note();
  new MutationObserver(note).observe(status, {childList: true, characterData: true, subtree: true});
});
"""


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    """One browser for the module (starting Chromium costs more than most tests here); each
    test opens its pages in contexts of their own, closed after it (``close_pages``)."""
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def english_course(monkeypatch: pytest.MonkeyPatch) -> None:
    """The course in English: the page's language is then the browser's (``new_page``)."""
    monkeypatch.delenv("WS_LESSONS_LANG", raising=False)


@pytest.fixture(autouse=True)
def close_pages(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "browser" in request.fixturenames:
        for context in request.getfixturevalue("browser").contexts:
            context.close()


def new_page(browser: Browser, locale: str = "en-US") -> Page:
    """A page in a fresh context, a browser speaking ``locale`` (its Accept-Language), that
    keeps a log of its status line."""
    page = browser.new_page(locale=locale)
    page.set_default_timeout(TIMEOUT_MS)
    page.add_init_script(STATUS_LOG)
    return page


def status_was_shown(page: Page, text: str) -> None:
    """Wait until the status line has shown ``text``, for however short a time."""
    page.wait_for_function("text => window.statuses.some(s => s.includes(text))", arg=text)


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with serve(create_app()) as server:
        yield server
    assert not [line for line in server.logs if "Traceback" in line]


def open_chat(browser: Browser, server: RunningServer | str, name: str) -> Page:
    """A page that joined the garden as ``name``; ``server`` or the page's own URL."""
    page = new_page(browser)
    page.goto(server if isinstance(server, str) else server.url)
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


# -- the page's language ----------------------------------------------------------------------


def chinese_page(browser: Browser, url: str, locale: str) -> Page:
    """The page in Chinese, joined to the garden as ``mei``."""
    page = new_page(browser, locale)
    page.goto(url)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.title() == "聊天室"
    expect(page.locator("h1")).to_have_text("聊天室")
    expect(page.locator("aside h2")).to_have_text("在线")
    expect(page.locator("#join")).to_have_text("加入")
    expect(page.locator("#send")).to_have_text("发送")
    expect(page.locator("#name")).to_have_attribute("placeholder", "你的名字")
    expect(page.locator("#status")).to_have_text("选好名字和房间，然后点“加入”。")
    page.fill("#name", "mei")
    page.fill("#room", "garden")
    page.click("#join")
    expect(page.locator("#status")).to_have_text("已连接到 garden，你是 mei。")
    return page


def test_the_page_speaks_chinese_to_a_chinese_browser(browser: Browser) -> None:
    """Accept-Language: zh-CN (Chromium's, from its locale): headings, buttons, statuses."""
    with serve(create_app(), port=free_port()) as server:
        mei = chinese_page(browser, server.url, "zh-CN")
        open_chat(browser, server, "bob")  # an English browser, beside her
        expect(mei.locator("#messages .notice")).to_have_text(["bob 加入了"])
    # uvicorn closes the connections with 1012 as it stops: the page says so, and retries
    status_was_shown(mei, "连接已断开（关闭码 1012），")
    assert any(
        re.fullmatch(r"连接已断开（关闭码 1012），\d+\.\d 秒后重连…", s) for s in statuses(mei)
    )


def test_the_chinese_edition_serves_the_page_in_chinese(
    browser: Browser, server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WS_LESSONS_LANG=zh (the Chinese edition): Chinese even for an English browser."""
    monkeypatch.setenv("WS_LESSONS_LANG", "zh")
    chinese_page(browser, server.url, "en-US")


def test_the_page_speaks_english_to_an_english_browser(browser: Browser) -> None:
    with serve(create_app(), port=free_port()) as server:
        page = new_page(browser, "en-US")
        page.goto(server.url)
        assert page.locator("html").get_attribute("lang") == "en"
        expect(page.locator("h1")).to_have_text("Chat")
        expect(page.locator("#join")).to_have_text("Join")
        expect(page.locator("#send")).to_have_text("Send")
        expect(page.locator("#status")).to_have_text("Pick a name and a room, then join.")
        page.fill("#name", "ann")
        page.fill("#room", "garden")
        page.click("#join")
        expect(page.locator("#status")).to_have_text("Connected to garden as ann.")
        chinese_page(browser, server.url, "zh-CN")
        expect(page.locator("#messages .notice")).to_have_text(["mei joined"])
    status_was_shown(page, "Disconnected (closed with 1012); reconnecting in ")
    assert not re.search(r"[\u4e00-\u9fff]", page.locator("body").inner_text())


def statuses(page: Page) -> list[str]:
    return page.evaluate("window.statuses")


def test_page_reconnects_and_resumes(browser: Browser) -> None:
    app = create_app()
    # Served again on the same port: one no other server is handed meanwhile.
    with serve(app, port=free_port()) as server:
        alice = open_chat(browser, server, "alice")
        bob = open_chat(browser, server, "bob")
        bob.fill("#text", "one")
        bob.press("#text", "Enter")
        expect(alice.locator("#messages .text")).to_have_text(["one"])
    # The same app served again: its rooms and history are still there.
    for page in (alice, bob):
        status_was_shown(page, "reconnecting")
    with serve(app, port=server.port) as server:
        expect(bob.locator("#status")).to_contain_text("Connected to garden as bob")
        bob.fill("#text", "two")
        bob.press("#text", "Enter")
        # Live or replayed with ?since=, whichever came first: each message shows once.
        expect(alice.locator("#messages .text")).to_have_text(["one", "two"])
        expect(alice.locator("#status")).to_contain_text("Connected to garden as alice")
    assert sum('&since=1"' in line for line in server.logs) == 2  # both resumed after "one"


@pytest.mark.needs("nginx")
def test_two_pages_chat_under_a_path_prefix_behind_nginx(browser: Browser) -> None:
    """nginx serves the chat under /chat/ (`location /chat/`); the page's URLs follow it.

    The pages' origin is nginx's, which the chat cannot know: it is in the allowlist.
    """
    upstream = free_port()
    with (
        start_nginx([upstream], prefix="/chat/") as proxy,
        serve(create_app(allowed_origins=[proxy.url]), port=upstream) as server,
    ):
        alice = open_chat(browser, f"{proxy.url}/chat/", "alice")
        bob = open_chat(browser, f"{proxy.url}/chat/", "bob")
        expect(alice.locator("#members li")).to_have_text(["alice", "bob"])
        bob.fill("#text", "through the proxy")
        bob.press("#text", "Enter")
        for page in (alice, bob):
            expect(page.locator("#messages .text")).to_have_text(["through the proxy"])
    handshakes = [line for line in server.logs if '"WebSocket /ws/garden?' in line]
    assert len(handshakes) == 2  # nginx took /chat/ off: the app saw its own paths
    assert any('"POST /token HTTP/1.1" 200' in line for line in server.logs)


def test_the_page_talks_to_a_chat_without_tokens(browser: Browser) -> None:
    """A chat like lesson 09's: no POST /token (404), the user named by ?user= alone."""
    app = naive_contract_chat()
    app.get("/", response_class=HTMLResponse)(page_for)  # the chat's page, as lesson 09 serves it

    with serve(app) as server:
        alice = open_chat(browser, server, "alice")
        bob = open_chat(browser, server, "bob")
        expect(alice.locator("#members li")).to_have_text(["alice", "bob"])
        alice.fill("#text", "no tokens here")
        alice.press("#text", "Enter")
        expect(bob.locator("#messages .text")).to_have_text(["no tokens here"])
    assert any('"POST /token HTTP/1.1" 404' in line for line in server.logs)
    assert any('"WebSocket /ws/garden?user=bob" [accepted]' in line for line in server.logs)


# -- defences (lesson 10) and heartbeats (lesson 11) -----------------------------------------


def test_markup_in_a_message_is_shown_as_text_and_runs_nothing(
    browser: Browser, server: RunningServer
) -> None:
    alice = open_chat(browser, server, "alice")
    bob = open_chat(browser, server, "bob")
    attacks = [
        '<img src=x onerror="window.pwned = 1">',
        "<script>window.pwned = 2</script>",
        '<a href="javascript:window.pwned = 3">click</a>',
    ]
    for text in attacks:
        alice.fill("#text", text)
        alice.press("#text", "Enter")
    expect(bob.locator("#messages .text")).to_have_text(attacks)
    for page in (alice, bob):
        for tag in ("img", "script", "a"):
            assert page.locator(f"#messages {tag}").count() == 0
        assert page.evaluate("window.pwned") is None


class Recorder:
    """ASGI middleware that notes the headers of every WebSocket handshake it passes on."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.handshakes: list[dict[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            self.handshakes.append(headers)
        await self.app(scope, receive, send)


def attacker_site(target: str) -> FastAPI:
    """A page on another origin that opens a socket to ``target`` with no token at all."""
    site = FastAPI()
    script = f"""<script>
    window.result = new Promise((resolve) => {{
      const ws = new WebSocket("{target}");
      ws.onmessage = (event) => resolve({{opened: true, first: JSON.parse(event.data)}});
      ws.onclose = (event) => resolve({{opened: false, code: event.code}});
    }});
    </script>"""

    @site.get("/", response_class=HTMLResponse)
    def page() -> str:
        return f"<!doctype html><title>Free prizes</title>{script}"

    return site


@pytest.mark.parametrize("allowed_origins", [["*"], None], ids=["no origin check", "default"])
def test_cross_site_websocket_hijacking(browser: Browser, allowed_origins: Any) -> None:
    recorder = Recorder(create_app(allowed_origins=allowed_origins))
    with serve(recorder) as chat:
        context = browser.new_context()
        victim = context.new_page()
        victim.set_default_timeout(TIMEOUT_MS)
        victim.goto(chat.url)
        victim.fill("#name", "victim")
        victim.click("#join")  # POST /token: the chat sets its cookie in the victim's browser
        expect(victim.locator("#status")).to_contain_text("as victim")
        with serve(attacker_site(chat.ws_url("/ws/lobby"))) as attacker:
            page = context.new_page()
            page.goto(attacker.url)  # another port: another origin, but the same site
            result = page.evaluate("window.result")
        context.close()
    handshake = recorder.handshakes[-1]
    assert handshake["origin"] == attacker.url
    assert "chat_token=" in handshake["cookie"]  # cookies ignore ports (RFC 6265 §8.5)
    if allowed_origins == ["*"]:
        assert result == {
            "opened": True,
            "first": {
                "type": "welcome",
                "room": "lobby",
                "user": "victim",
                "seq": 0,
                "members": ["victim"],
            },
        }
    else:
        assert result == {"opened": False, "code": 1006}  # refused: HTTP 403, seen as 1006


def test_the_page_stops_retrying_when_refused_by_policy(browser: Browser) -> None:
    with serve(create_app(max_connections=1)) as server:
        open_chat(browser, server, "alice")
        second = new_page(browser)
        second.goto(server.url)
        second.fill("#name", "alice")
        second.click("#join")
        expect(second.locator("#status")).to_have_text(
            "Refused by the server: too many connections: at most 1 per user."
        )


def silent_chat() -> tuple[FastAPI, list[str]]:
    """Serves the chat's page, then welcomes every socket and never says another word."""
    app = FastAPI()
    heard: list[str] = []
    app.get("/", response_class=HTMLResponse)(page_for)

    @app.post("/token")
    def token() -> dict[str, str]:
        return {"token": "anything"}

    @app.websocket("/ws/{room}")
    async def silent(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        heard.append("connected")
        welcome = {"type": "welcome", "room": room, "user": "alice", "seq": 0, "members": []}
        await websocket.send_json(welcome)
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                heard.append(await websocket.receive_text())  # read, never answer

    return app, heard


def test_the_page_heartbeat_notices_a_silent_server(browser: Browser) -> None:
    app, heard = silent_chat()
    with serve(app) as server:
        page = new_page(browser)
        page.goto(f"{server.url}/?heartbeat=0.3")
        page.fill("#name", "alice")
        page.click("#join")
        # Within two heartbeats of silence, the page gives up on the connection, and comes back.
        status_was_shown(page, "no answer to the heartbeat")
        expect(page.locator("#status")).to_contain_text("Connected to lobby as alice")
    assert heard.count("connected") >= 2
    assert '{"type":"ping"}' in heard
