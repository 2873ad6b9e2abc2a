"""Turn the errors learners meet most into a line that says what to do.

In a notebook, the first ``from ws_lessons import serve`` (or ``stop_all``...) installs a
handler: the usual traceback is shown, followed by a hint when the error is one of these.
``hint_for(error)`` gives the same text anywhere else, in the learner's language. Each hint
comes from watching the lessons being run and broken.
"""

from __future__ import annotations

import errno
import sys
import warnings
from collections.abc import Callable
from typing import Any, TextIO

import httpx
from starlette.routing import WebSocketRoute
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from ws_lessons.i18n import N_, _
from ws_lessons.server import running

__all__ = [
    "EVENT_LOOP_RUNNING",
    "HANDLED",
    "NO_WEBSOCKET_LIBRARY",
    "WEBSOCKET_LIBRARY_HINT",
    "hint_for",
    "install",
]

HANDLED: tuple[type[BaseException], ...] = (
    OSError,
    httpx.ConnectError,
    InvalidStatus,
    InvalidURI,
    ConnectionClosed,
    RuntimeError,
    TypeError,
    AttributeError,
    KeyboardInterrupt,
)

EVENT_LOOP_RUNNING = (
    "cannot be called from a running event loop",
    "Cannot run the event loop while another loop is running",
    "This event loop is already running",
)


def _servers() -> str:
    servers = running()
    if not servers:
        return _("No server is running in this kernel: run the cell that calls serve(app) first.")
    at = _("{name} at {url}")
    listing = "; ".join(at.format(name=repr(server.name), url=server.url) for server in servers)
    return _("Servers running in this kernel: {listing}.").format(listing=listing)


def _websocket_paths() -> str:
    paths = sorted(
        {
            route.path
            for server in running()
            for route in getattr(getattr(server, "app", None), "routes", [])
            if isinstance(route, WebSocketRoute) or type(route).__name__ == "APIWebSocketRoute"
        }
    )
    if not paths:
        return ""
    return " " + _("WebSocket routes being served: {paths}.").format(paths=", ".join(paths))


NO_WEBSOCKET_LIBRARY = "No supported WebSocket library detected"
"""What uvicorn logs (after "Unsupported upgrade request.") when it found neither
websockets nor wsproto: it then answers a WebSocket handshake as a plain HTTP request."""

WEBSOCKET_LIBRARY_HINT = N_(
    "uvicorn found no WebSocket library, so it served the handshake as plain HTTP (its log "
    "says 'Unsupported upgrade request.' and 'No supported WebSocket library detected'). "
    "Install one where the server runs: pip install 'uvicorn[standard]' (or websockets)."
)


def _no_websocket_library() -> bool:
    """Whether a server of this kernel, or a service it started, logged the message."""
    from ws_lessons import services

    logs = [line for server in running() for line in server.logs]
    logs += [service.log for service in services.started()]
    return any(NO_WEBSOCKET_LIBRARY in text for text in logs)


def _waiting_on_the_network(error: BaseException) -> bool:
    """Whether ``error`` interrupted a client waiting inside websockets or httpx."""
    tb = error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename.replace("\\", "/")
        if "/websockets/" in filename or "/httpx/" in filename or "/httpcore/" in filename:
            return True
        tb = tb.tb_next
    return False


def hint_for(error: BaseException) -> str | None:
    """What to do about ``error``, or None when there is nothing useful to add."""
    if isinstance(error, KeyboardInterrupt):
        if not _waiting_on_the_network(error):
            return None
        return _(
            "The cell was waiting for the network, maybe for a message that never comes. "
            "Give waits a limit, e.g. ws.recv(timeout=5) or asyncio.timeout(5), so a cell "
            "fails with a TimeoutError instead of hanging. The server is not affected."
        )
    if isinstance(error, httpx.ConnectError) or (
        isinstance(error, OSError) and error.errno == errno.ECONNREFUSED
    ):
        return _("Nothing is listening at that address. {servers}").format(servers=_servers())
    if isinstance(error, InvalidURI):
        return _("WebSocket URLs start with ws:// (or wss://); server.ws_url('/path') builds one.")
    if isinstance(error, InvalidStatus):
        status = error.response.status_code
        if _no_websocket_library():
            return _(WEBSOCKET_LIBRARY_HINT)
        if status in (403, 404):
            refused = _(
                "The server refused the WebSocket handshake with HTTP {status}. In FastAPI this "
                "means no WebSocket route matched the path, a path or query parameter failed "
                "validation, or the endpoint refused before accept()."
            )
            return refused.format(status=status) + _websocket_paths()
        answered = _("The server answered HTTP {status} instead of 101: see server.print_logs().")
        return answered.format(status=status)
    if isinstance(error, ConnectionClosed):
        code = error.rcvd.code if error.rcvd else None
        if code is None or code == 1011:
            return _(
                "The server ended the connection without a proper close: the endpoint probably "
                "raised an exception or returned. server.print_logs() shows what happened."
            )
        return None
    message = str(error)
    if isinstance(error, RuntimeError) and any(text in message for text in EVENT_LOOP_RUNNING):
        return _(
            "A notebook already runs an event loop. Write `await some_coroutine()` directly in "
            "the cell instead of asyncio.run(), and serve(app) instead of uvicorn.run(app)."
        )
    if isinstance(error, TypeError):
        if "does not support the asynchronous context manager protocol" in message:
            return _("This is a blocking (sync) object: use `with`, not `async with`.")
        if "does not support the context manager protocol" in message:
            return _(
                "This object needs `async with`: the asyncio client is used as "
                "`async with connect(url) as ws:`. For a plain `with`, use "
                "websockets.sync.client.connect."
            )
        if "can't be used in 'await' expression" in message:
            return _("This is a blocking (sync) object: call it without `await`.")
    if isinstance(error, AttributeError) and message.startswith("'coroutine' object"):
        return _("You got a coroutine, not its result: put `await` before the call.")
    return None


def _show_with_hint(
    shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None
) -> None:
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    hint = hint_for(value)
    if hint:
        print("\n" + _("💡 Hint: {hint}").format(hint=hint), file=sys.stderr)


def _show_warning_with_hint(original: Callable[..., None]) -> Callable[..., None]:
    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        original(message, category, filename, lineno, file, line)
        if category is RuntimeWarning and "was never awaited" in str(message):
            print(_("💡 Hint: put `await` before that call, or it never runs."), file=sys.stderr)

    show.ws_lessons_hint = True  # type: ignore[attr-defined]
    return show


def install() -> None:
    """Show hints under tracebacks in the current IPython shell; do nothing elsewhere."""
    ipython: Any = sys.modules.get("IPython")
    shell = ipython and ipython.get_ipython()
    if shell is None or getattr(shell, "ws_lessons_hints", False):
        return
    shell.set_custom_exc(HANDLED, _show_with_hint)
    shell.ws_lessons_hints = True
    if not getattr(warnings.showwarning, "ws_lessons_hint", False):
        warnings.showwarning = _show_warning_with_hint(warnings.showwarning)
