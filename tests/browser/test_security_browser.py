"""Lesson 10's browser facts in headless Chromium: SameSite cookies, Origin, subprotocols.

The chat's ``chat_token`` cookie is ``SameSite=Strict``. Chromium withholds it from a
WebSocket handshake started by a page of another *site* (``localhost`` is not the site of
``127.0.0.1``) and sends it from another *origin* of the same site (another port): there,
only the server's Origin allowlist stops a hijacking (RFC 6455 §10.2).
"""

from typing import Any

import test_chat_browser
from fastapi import FastAPI, WebSocket, WebSocketException, status
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, BrowserContext, expect

from ws_lessons.chat import create_app
from ws_lessons.server import RunningServer, serve

TIMEOUT_MS = 5000
browser = test_chat_browser.browser  # the fixture: headless Chromium

OPEN = """([url, protocols]) => new Promise((resolve) => {
    const ws = new WebSocket(url, protocols);
    let opened = false;
    ws.onopen = () => { opened = true; };
    ws.onmessage = (event) => resolve({opened, protocol: ws.protocol, first: event.data});
    ws.onclose = (event) => resolve({opened, code: event.code, reason: event.reason});
})"""
"""Open a WebSocket from the page; resolve with its first message or how it closed."""


class Recorder:
    """ASGI middleware: the Origin and whether the chat's cookie came, per handshake."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.handshakes: list[tuple[str | None, bool]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            headers = dict(scope["headers"])
            origin = headers.get(b"origin")
            cookie = b"chat_token=" in headers.get(b"cookie", b"")
            self.handshakes.append((origin and origin.decode(), cookie))
        await self.app(scope, receive, send)


def blank_site() -> FastAPI:
    site = FastAPI()

    @site.get("/", response_class=HTMLResponse)
    def page() -> str:
        return "<!doctype html><title>another page</title>"

    return site


def logged_in(browser: Browser, chat: RunningServer) -> BrowserContext:
    """A browser context in which a victim has joined the chat (so it holds the cookie)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(chat.url)
    page.fill("#name", "victim")
    page.click("#join")  # POST /token sets chat_token, SameSite=Strict
    expect(page.locator("#status")).to_contain_text("as victim")
    page.close()
    return context


def open_from(context: BrowserContext, page_url: str, ws_url: str, protocols: Any = ()) -> Any:
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(page_url)
    try:
        return page.evaluate(OPEN, [ws_url, list(protocols)])
    finally:
        page.close()


def test_a_cross_site_page_gets_no_samesite_cookie(browser: Browser) -> None:
    recorder = Recorder(create_app(allowed_origins=["*"]))  # Origin unchecked: cookie only
    with serve(recorder) as chat, serve(blank_site()) as other:
        context = logged_in(browser, chat)
        target = chat.ws_url("/ws/lobby")
        same_site = open_from(context, other.url, target)  # 127.0.0.1, another port
        same_site_handshake = recorder.handshakes[-1]
        cross_site = open_from(context, other.url.replace("127.0.0.1", "localhost"), target)
        cross_site_handshake = recorder.handshakes[-1]
        context.close()
    assert same_site_handshake == (other.url, True)  # cookies ignore ports
    assert same_site["opened"] and '"user":"victim"' in same_site["first"]
    assert cross_site_handshake == (other.url.replace("127.0.0.1", "localhost"), False)
    assert cross_site == {"opened": False, "code": 1006, "reason": ""}  # no token: refused


def test_the_origin_allowlist_refuses_another_origin_of_the_same_site(
    browser: Browser,
) -> None:
    with serve(blank_site()) as front_end, serve(blank_site()) as attacker:
        recorder = Recorder(create_app(allowed_origins=[front_end.url]))
        with serve(recorder) as chat:
            context = logged_in(browser, chat)
            target = chat.ws_url("/ws/lobby")
            allowed = open_from(context, front_end.url, target)
            refused = open_from(context, attacker.url, target)
            context.close()
    # Both pages are 127.0.0.1 on other ports: the cookie came with both handshakes.
    assert recorder.handshakes[-2:] == [(front_end.url, True), (attacker.url, True)]
    assert allowed["opened"] and '"user":"victim"' in allowed["first"]
    assert refused == {"opened": False, "code": 1006, "reason": ""}  # HTTP 403, seen as 1006


def protocols_app() -> FastAPI:
    app = FastAPI()

    def offered_token(websocket: WebSocket) -> None:
        if not any(name.startswith("token.") for name in websocket.scope["subprotocols"]):
            raise WebSocketException(status.WS_1008_POLICY_VIOLATION)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return "<!doctype html><title>protocols</title>"

    @app.websocket("/answered")
    async def answered(websocket: WebSocket) -> None:
        offered_token(websocket)
        await websocket.accept(subprotocol="chat.v1")
        await websocket.send_text("welcome")

    @app.websocket("/unanswered")
    async def unanswered(websocket: WebSocket) -> None:
        offered_token(websocket)
        await websocket.accept()
        await websocket.send_text("welcome")

    @app.websocket("/after")
    async def after(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close(status.WS_1008_POLICY_VIOLATION, "bad token")

    return app


def test_a_page_keeps_a_connection_only_if_the_server_names_an_offered_subprotocol(
    browser: Browser,
) -> None:
    offer = ["chat.v1", "token.abc"]
    with serve(protocols_app()) as server:
        context = browser.new_context()
        answered = open_from(context, server.url, server.ws_url("/answered"), offer)
        unanswered = open_from(context, server.url, server.ws_url("/unanswered"), offer)
        context.close()
    assert answered == {"opened": True, "protocol": "chat.v1", "first": "welcome"}
    assert unanswered == {"opened": False, "code": 1006, "reason": ""}


def test_a_page_learns_why_only_from_a_close_after_accept(browser: Browser) -> None:
    with serve(protocols_app()) as server:
        context = browser.new_context()
        refused = open_from(context, server.url, server.ws_url("/answered"))  # no token
        closed = open_from(context, server.url, server.ws_url("/after"))
        context.close()
    assert refused == {"opened": False, "code": 1006, "reason": ""}
    assert closed == {"opened": True, "code": 1008, "reason": "bad token"}


def test_a_page_cannot_set_headers_on_a_websocket(browser: Browser) -> None:
    """The second argument of ``new WebSocket()`` names subprotocols, nothing else."""
    with serve(protocols_app()) as server:
        page = browser.new_page()
        page.goto(server.url)
        outcome = page.evaluate(
            """(url) => {
                try {
                    new WebSocket(url, {headers: {Authorization: "Bearer abc"}});
                    return "no error";
                } catch (error) {
                    return error.name;
                }
            }""",
            server.ws_url("/answered"),
        )
        page.close()
    assert outcome == "SyntaxError"
