"""Exercises of lesson 13: a reverse proxy that passes WebSockets on, and keeps them open."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from ws_lessons.chat import models, tokens
from ws_lessons.exercises.core import Hint, Skip, chosen_letters, exercise, judge_letters
from ws_lessons.i18n import N_, _, messages
from ws_lessons.services import (
    Service,
    ServiceUnavailable,
    program,
    start_chat_worker,
    start_nginx,
)

__all__ = [
    "PING_13_1",
    "QUIET_13_1",
    "SECRET",
    "SETUPS_13_2",
    "STARTER_13_1",
    "SURVIVE_13_2",
    "check_13_1",
    "check_13_2",
    "solution_13_1",
    "solution_13_2",
]

SECRET = "lesson 13"


# 13.1 -------------------------------------------------------------------------------------------

STARTER_13_1 = """
proxy_http_version 1.1;
proxy_set_header Upgrade $http_upgrade;
proxy_set_header Connection "";
proxy_read_timeout 2s;
"""
"""The colleague's ``location`` directives the learner debugs (the notebook's cell holds them)."""

PING_13_1 = 20
"""Seconds between the chat's pings in the check: uvicorn's and the chat's default."""

QUIET_13_1 = 3.0
"""Seconds the check's client stays silent, and keeps the chat silent, through the proxy."""

_NGINX_TIME = re.compile(r"(\d+)(ms|s|m|h|d|w|M|y)?")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SECONDS |= {"M": 2592000, "y": 31536000, "": 1}


def _directives(location: str) -> list[list[str]]:
    """The directives of a ``location`` block, each split into words, comments left out."""
    text = " ".join(line.split("#")[0] for line in location.splitlines())
    return [words.split() for words in text.split(";") if words.strip()]


def _values(location: str, *name: str) -> list[str]:
    """The values given to directive ``name`` (e.g. "proxy_set_header", "Connection")."""
    size = len(name)
    return [
        " ".join(words[size:])
        for words in _directives(location)
        if [word.lower() for word in words[:size]] == [part.lower() for part in name]
    ]


def _seconds(value: str) -> float | None:
    """An nginx time ("90s", "1h30m", "500ms"; bare numbers are seconds), or None."""
    parts = _NGINX_TIME.findall(value)
    if not parts or "".join(number + unit for number, unit in parts) != value:
        return None
    return sum(int(number) * _SECONDS[unit] for number, unit in parts)


def _why_no_upgrade(location: str) -> list[str]:
    """Why the chat did not see the upgrade, read from the directives (for the hint)."""
    why = []
    upgrade = _values(location, "proxy_set_header", "Upgrade")
    if not upgrade:
        why.append(
            _(
                "the client's Upgrade header is hop-by-hop: nginx does not pass it on unless "
                "a directive sets it from the client's"
            )
        )
    connection = _values(location, "proxy_set_header", "Connection")
    if not connection:
        why.append(
            _(
                "the Connection header is hop-by-hop too: without a directive nginx sends its "
                "own (close), so the chat never sees 'Connection: Upgrade'"
            )
        )
    elif connection[-1].strip("\"'") == "":
        why.append(
            _(
                "an empty Connection value tells nginx to send no Connection header at all: "
                "that is nginx's recipe for keep-alive to the upstream, and without "
                "'Connection: Upgrade' the chat sees a plain GET"
            )
        )
    elif "upgrade" not in connection[-1].lower():
        why.append(
            _(
                "your proxy sends 'Connection: {value}', and a handshake needs "
                "'Connection: Upgrade' (RFC 6455 §4.1)"
            ).format(value=connection[-1].strip("\"'"))
        )
    return why or [_("look at the chat's log: worker.log")]


def _stays_open(ws: ClientConnection) -> float | None:
    """Keep silent for QUIET_13_1 seconds: None if the connection stays open, else when it
    closed (seconds)."""
    start = time.monotonic()
    deadline = start + QUIET_13_1
    try:
        while (left := deadline - time.monotonic()) > 0:
            ws.recv(timeout=left)  # a lone member hears nothing, unless the proxy cuts
    except TimeoutError:
        return None
    except ConnectionClosed:
        return time.monotonic() - start
    return None


def _through(proxy: Service, location: str) -> None:
    """Join, stay quiet, then talk through ``proxy``; a hint on what went wrong."""
    url = proxy.ws_url(f"/ws/lobby?token={tokens.issue('ada', SECRET)}")
    try:
        # No pings from this client: only the chat's may keep the connection alive.
        with connect(url, open_timeout=5, ping_interval=None) as ws:
            welcome = json.loads(ws.recv(timeout=5))
            if welcome.get("type") != "welcome":
                raise Hint(_("the chat answered {welcome}, not a welcome").format(welcome=welcome))
            cut = _stays_open(ws)
            if cut is not None:
                raise Hint(
                    _(
                        "the handshake passes now, but nginx closed the connection after "
                        "{cut:.1f} s of silence: it gives up on an upstream that sends nothing "
                        "for proxy_read_timeout, and the chat pings only every {ping} s"
                    ).format(cut=cut, ping=PING_13_1)
                )
            ws.send(models.say("still here?"))
            while json.loads(ws.recv(timeout=5))["type"] != "said":
                pass
    except InvalidStatus as refused:
        raise Hint(
            _(
                "through your proxy the handshake got HTTP {status}, not 101: the upgrade did "
                "not reach the chat: {reasons}"
            ).format(
                status=refused.response.status_code,
                reasons=_("; and ").join(_why_no_upgrade(location)),
            )
        ) from None


def _too_short(location: str) -> str | None:
    """A proxy_read_timeout the check's short silence cannot show is shorter than a ping."""
    for value in _values(location, "proxy_read_timeout"):
        seconds = _seconds(value)
        if seconds is not None and seconds <= PING_13_1:
            return value
    return None


@exercise(
    "13.1",
    nudge="Run the check on the colleague's block as it is, and read what real nginx did: "
    "then compare each directive with the configuration lesson 13 printed, and with what "
    "lesson 13 says about `proxy_read_timeout`.",
    hint="Two things are wrong. The keep-alive recipe empties a header the handshake "
    "needs: set it from the variable the configuration's `map` defines. And nginx must "
    "wait longer than the time between two of the chat's pings, or keep its 60 s default.",
)
def check_13_1(location: Any) -> str:
    """The directives of an nginx ``location`` block, fixed so that WebSockets pass and stay.

    The check puts them in a real nginx config (see ``services.nginx_config``) in front of
    a real chat process that pings every 20 s, opens a WebSocket through it, keeps it
    silent for a few seconds, then talks. Without nginx it is skipped.
    """
    if not isinstance(location, str) or not location.strip():
        raise Hint(_("give the directives as one string, e.g. 'proxy_http_version 1.1;'"))
    lines = [line.split("#")[0].strip() for line in location.splitlines()]
    unfinished = [line for line in lines if line and not line.endswith(";")]
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
    options = ["--ping-interval", str(PING_13_1)]
    with start_chat_worker(secret=SECRET, name="exercise 13.1 chat", options=options) as worker:
        try:
            proxy = start_nginx(
                [worker.port], location, name="exercise 13.1 nginx", read_timeout=None
            )
        except ServiceUnavailable as failed:
            raise Hint(
                _("nginx refused the configuration:\n{failure}").format(failure=failed)
            ) from None
        with proxy:
            _through(proxy, location)
    if short := _too_short(location):
        raise Hint(
            _(
                "the connection stayed open for {quiet:.0f} s of silence, but the chat pings "
                "every {ping} s: with proxy_read_timeout {value}, nginx still cuts a quiet "
                "client before the next ping comes"
            ).format(quiet=QUIET_13_1, ping=PING_13_1, value=short)
        )
    version = _values(location, "proxy_http_version")
    if not version or version[-1] != "1.1":
        raise Hint(
            _(
                "this chat let it pass, but RFC 6455 §4.1 says the handshake's HTTP version "
                "MUST be at least 1.1, and nginx speaks 1.0 to the upstream unless told otherwise"
            )
        )
    return _(
        "a WebSocket goes through your nginx to the chat, stays open while everyone is "
        "quiet, and still carries messages"
    )


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
    # The empty Connection turned the upgrade off; 2 s of silence came before any ping.
    return """
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    proxy_read_timeout 60s;
    """


def solution_13_2() -> set[str]:
    # B and C: nothing comes from the chat within nginx's read timeout.
    return {"A", "D"}
