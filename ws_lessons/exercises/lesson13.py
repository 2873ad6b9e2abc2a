"""Exercises of lesson 13: a reverse proxy that passes WebSockets on, and keeps them open."""

from __future__ import annotations

import json
from typing import Any

from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from ws_lessons.chat import tokens
from ws_lessons.exercises.core import Hint, Skip, chosen_letters, exercise, judge_letters
from ws_lessons.i18n import N_, _, messages
from ws_lessons.services import ServiceUnavailable, program, start_chat_worker, start_nginx

SECRET = "lesson 13"


# 13.1 -------------------------------------------------------------------------------------------


def _missing_13_1(location: str) -> list[str]:
    """What the directives lack for a WebSocket to pass, in words (for the hint)."""
    words = " ".join(location.split()).lower()
    missing = []
    if "proxy_http_version 1.1" not in words:
        missing.append(
            _(
                "nginx speaks HTTP/1.0 to the upstream unless told otherwise, and RFC 6455 §4.1 "
                "asks for HTTP/1.1 or later"
            )
        )
    if "proxy_set_header upgrade" not in words:
        missing.append(
            _(
                "the client's Upgrade header is hop-by-hop: nginx does not pass it on unless "
                "a directive sets it from the client's"
            )
        )
    if "proxy_set_header connection" not in words:
        missing.append(
            _(
                "the Connection header is hop-by-hop too: without a directive nginx sends its "
                "own (close), so the chat never sees 'Connection: Upgrade'"
            )
        )
    return missing


@exercise(
    "13.1",
    nudge="Lesson 13 printed the configuration the course generates: look at its "
    '`location` block, and at what the naive proxy (websocket="") leaves out of it.',
    hint="A proxy has to be told three things: to speak the HTTP version that knows "
    "upgrades to the chat, and to set each of the two hop-by-hop headers of the "
    "handshake on the request it forwards, from the client's values (the config "
    "already defines a variable for the second one).",
)
def check_13_1(location: Any) -> str:
    """The directives of an nginx ``location`` block that let WebSockets through.

    The check puts them in a real nginx config (see ``services.nginx_config``) in front of
    a real chat process, and opens a WebSocket through it. Without nginx it is skipped.
    """
    if not isinstance(location, str) or not location.strip():
        raise Hint(_("give the directives as one string, e.g. 'proxy_http_version 1.1;'"))
    unfinished = [line.strip() for line in location.splitlines() if line.strip()]
    unfinished = [line for line in unfinished if not line.endswith(";")]
    if unfinished:
        raise Hint(
            _("every nginx directive ends with ';', and {line!r} does not").format(
                line=unfinished[0]
            )
        )
    try:
        program("nginx")
    except ServiceUnavailable as missing:
        raise Skip(
            _("this check runs a real nginx, and {missing}. Then run this cell again.").format(
                missing=missing
            )
        ) from None
    with start_chat_worker(secret=SECRET, name="exercise 13.1 chat") as worker:
        try:
            proxy = start_nginx([worker.port], location, name="exercise 13.1 nginx")
        except ServiceUnavailable as failed:
            raise Hint(
                _("nginx refused the configuration:\n{failure}").format(failure=failed)
            ) from None
        with proxy:
            url = proxy.ws_url(f"/ws/lobby?token={tokens.issue('ada', SECRET)}")
            try:
                with connect(url, open_timeout=5) as ws:
                    welcome = json.loads(ws.recv(timeout=5))
            except InvalidStatus as refused:
                status = refused.response.status_code
                why = _missing_13_1(location) or [_("look at the chat's log: worker.log")]
                raise Hint(
                    _(
                        "through your proxy the handshake got HTTP {status}, not 101: the "
                        "upgrade did not reach the chat: {reasons}"
                    ).format(status=status, reasons=_("; and ").join(why))
                ) from None
    if welcome.get("type") != "welcome":
        raise Hint(_("the chat answered {welcome}, not a welcome").format(welcome=welcome))
    return _("a WebSocket goes through your nginx to the chat and back")


# 13.2 -------------------------------------------------------------------------------------------

SETUPS_13_2 = {
    "A": {"proxy_read_timeout": 60, "ws_ping_interval": 20},
    "B": {"proxy_read_timeout": 60, "ws_ping_interval": None},
    "C": {"proxy_read_timeout": 10, "ws_ping_interval": 20},
    "D": {"proxy_read_timeout": 3600, "ws_ping_interval": None},
}
"""nginx's read timeout and uvicorn's ping interval, in seconds (None: no pings)."""

SURVIVE_13_2 = frozenset({"A", "D"})
_WHY_13_2 = messages(
    {
        "A": N_(
            "the server pings every 20 s, and each ping is data nginx reads from the chat, "
            "so 60 s of silence never happens"
        ),
        "B": N_("with no pings and nobody talking, nginx reads nothing from the chat for 60 s"),
        "C": N_("a ping every 20 s comes too late for a proxy that gives up after 10 s of silence"),
        "D": N_("nothing is sent, but nginx waits an hour before it gives up on a silent upstream"),
    }
)


@exercise(
    "13.2",
    nudge="Lesson 13 says when nginx closes a connection: after how long, and without what?",
    hint="nginx counts the time between two reads from the chat process; any bytes reset "
    "it, a ping frame included. A setup survives when something arrives from the chat "
    "more often than the timeout, or when the timeout is longer than the silence.",
)
def check_13_2(letters: Any) -> str:
    """The set of SETUPS_13_2 in which a chat room silent for 5 minutes stays connected."""
    chosen = chosen_letters(letters, SETUPS_13_2, _("setup"))
    judge_letters(chosen, SURVIVE_13_2, _WHY_13_2, yes=_("it stays connected"), no=_("it is cut"))
    return _(
        "pings keep a quiet connection alive through a proxy; a long timeout only lets it "
        "sit, and a dead client is then never noticed"
    )


# Reference answers


def solution_13_1() -> str:
    return """
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    """


def solution_13_2() -> set[str]:
    # B and C: nothing comes from the chat within nginx's read timeout.
    return {"A", "D"}
