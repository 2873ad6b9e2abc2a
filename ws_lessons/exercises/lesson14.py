"""Exercises of lesson 14: from the notebook to production."""

from __future__ import annotations

import inspect
from typing import Any

from ws_lessons.exercises.core import (
    Hint,
    chosen_letters,
    exercise,
    judge_letters,
    require_function,
)
from ws_lessons.i18n import N_, _, messages

__all__ = [
    "HAPPEN_14_1",
    "PAGES_14_2",
    "STORY_14_1",
    "check_14_1",
    "check_14_2",
    "socket_url_14_2",
    "solution_14_1",
    "solution_14_2",
]

# 14.1 -------------------------------------------------------------------------------------------

STORY_14_1 = messages(
    {
        "A": N_("Ada receives her own message back."),
        "B": N_("Grace receives Ada's message."),
        "C": N_("Linus, also on worker A, receives Ada's message."),
        "D": N_("Grace receives her welcome."),
        "E": N_("Both workers answer /livez with 200."),
        "F": N_("Ada, reconnecting, lands on worker B and hears Grace from then on."),
    }
)
HAPPEN_14_1 = frozenset({"A", "C", "D", "E", "F"})
_WHY_14_1 = messages(
    {
        "A": N_("Ada's worker delivers to every socket in its own `rooms`, hers included"),
        "B": N_("Grace's socket is in worker B's `rooms`; worker A has never heard of it"),
        "C": N_("Linus is in the same process as Ada, so in the same `rooms` dict"),
        "D": N_("the welcome is sent by whichever worker accepted the connection"),
        "E": N_("each worker answers its own HTTP requests; nothing is shared or needed"),
        "F": N_("on worker B she is in the same dict as Grace now, so she hears her"),
    }
)


@exercise(
    "14.1",
    nudge="Each worker is a process of its own: ask, for each line, which process holds the "
    "sockets involved.",
    hint="Without Redis the only room a worker knows is its own dict in its own memory: a "
    "message reaches exactly the sockets that the sender's worker accepted.",
)
def check_14_1(answer: Any) -> str:
    """Which lines of STORY_14_1 happen with two workers and rooms in memory."""
    chosen = chosen_letters(answer, STORY_14_1, _("line"))
    judge_letters(chosen, HAPPEN_14_1, _WHY_14_1, yes=_("it does happen"), no=_("it does not"))
    return _("only B fails: a message reaches only the sockets of its own worker")


def solution_14_1() -> Any:
    return {"A", "C", "D", "E", "F"}


# 14.2 -------------------------------------------------------------------------------------------

PAGES_14_2 = {
    "http://127.0.0.1:8000/": "ws://127.0.0.1:8000/ws/lobby",
    "https://chat.example.com/": "wss://chat.example.com/ws/lobby",
    "https://example.com/chat/": "wss://example.com/chat/ws/lobby",
    "http://jupyter.example.org/user/ada/proxy/8000/": (
        "ws://jupyter.example.org/user/ada/proxy/8000/ws/lobby"
    ),
    "https://example.com/chat/index.html?room=x": "wss://example.com/chat/ws/lobby",
}


def socket_url_14_2(page: str, path: str) -> str:
    """The version of socket_url() the lesson starts the exercise with (the bug to find)."""
    host = page.split("://", 1)[1].split("/", 1)[0]
    return f"ws://{host}/{path}"


@exercise(
    "14.2",
    nudge="Try the function on each page of PAGES_14_2 and compare with the address wanted: "
    "two different things go wrong.",
    hint="The scheme has to follow the page's (a secure page may only open a secure socket), "
    "and the path has to be resolved against the page's own path, the way the browser "
    "resolves a relative link; urllib.parse has a function that does exactly that.",
)
def check_14_2(socket_url: Any) -> str:
    """socket_url(page, path): the WebSocket address a page at ``page`` opens for ``path``."""
    require_function(socket_url)
    if len(inspect.signature(socket_url).parameters) != 2:
        raise Hint(_("socket_url takes two arguments: the page's address and the path"))
    for page, wanted in PAGES_14_2.items():
        got = socket_url(page, "ws/lobby")
        if got == wanted:
            continue
        if not isinstance(got, str):
            raise Hint(
                _("socket_url({page!r}, ...) returned {got!r}, not a str").format(
                    page=page, got=got
                )
            )
        if page.startswith("https:") and got.startswith("ws:"):
            raise Hint(
                _(
                    "the page {page} is https:, and a secure page may not open ws:// (mixed "
                    "content): wss:// for https:, ws:// for http:"
                ).format(page=page)
            )
        if got.startswith(("http:", "https:")):
            raise Hint(
                _("{got} is an HTTP address: a WebSocket needs ws:// or wss://").format(got=got)
            )
        if got.split("://")[1] == wanted.split("://")[1].replace("/chat", "", 1) or (
            "proxy" in page and "proxy" not in got
        ):
            raise Hint(
                _(
                    "for the page {page} the socket lost the page's path prefix ({got}): "
                    "resolve the path relative to the page, not to the host's root"
                ).format(page=page, got=got)
            )
        if "index.html" in got or "?" in got:
            raise Hint(
                _(
                    "{got} keeps the page's file name or query: a relative path replaces the "
                    "last segment of the page's path, like a link in HTML"
                ).format(got=got)
            )
        raise Hint(
            _("for the page {page}, socket_url gave {got}; wanted {wanted}").format(
                page=page, got=got, wanted=wanted
            )
        )
    return _("right scheme and right prefix for every page, behind a proxy too")


def solution_14_2() -> Any:
    from urllib.parse import urljoin

    def socket_url(page: str, path: str) -> str:
        http_url = urljoin(page, path)  # the browser's rule for a relative link
        return "ws" + http_url.removeprefix("http")  # http: -> ws:, https: -> wss:

    return socket_url
