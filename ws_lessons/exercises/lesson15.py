"""Exercises of lesson 15: beyond HTTP/1.1."""

from __future__ import annotations

import inspect
import secrets
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ws_lessons.exercises.core import (
    Hint,
    Verdict,
    chosen_letters,
    exercise,
    judge,
    judge_letters,
    require_function,
)
from ws_lessons.i18n import N_, _, messages

__all__ = [
    "CASES_15_4",
    "CHOICES_15_4",
    "CLAIMS_15_1",
    "FITS_15_4",
    "TIMEOUT",
    "TRUE_15_1",
    "check_15_1",
    "check_15_2",
    "check_15_3",
    "check_15_4",
    "check_chat_on",
    "connect_headers_15_2",
    "h2_websocket_echo",
    "solution_15_1",
    "solution_15_2",
    "solution_15_3",
    "solution_15_4",
]

TIMEOUT = 3.0

# 15.1 -------------------------------------------------------------------------------------------

CLAIMS_15_1 = messages(
    {
        "A": N_("The server answers the extended CONNECT with :status 101."),
        "B": N_("The client still masks every WebSocket frame it puts in a DATA frame."),
        "C": N_("Sec-WebSocket-Key and Sec-WebSocket-Accept are exchanged, as over HTTP/1.1."),
        "D": N_("A plain GET on another stream is answered while the WebSocket stays open."),
        "E": N_("The client may send the extended CONNECT before the server's SETTINGS arrive."),
        "F": N_("The client's own SETTINGS_ENABLE_CONNECT_PROTOCOL=1 is what allows the CONNECT."),
    }
)
TRUE_15_1 = frozenset({"B", "D"})
_WHY_15_1 = messages(
    {
        "A": N_("RFC 8441 §5: a 2xx status (200) replaces 101, since there is no Upgrade"),
        "B": N_("RFC 8441 §5 keeps RFC 6455's framing as it is, masking included"),
        "C": N_("RFC 8441 §5: Sec-WebSocket-Key and Sec-WebSocket-Accept are not used"),
        "D": N_("each stream is independent: that is what one connection for everything buys"),
        "E": N_(
            "RFC 8441 §3: a client may use it only after receiving the setting with the value 1"
        ),
        "F": N_("RFC 8441 §3: receipt of this parameter by a server does not have any impact"),
    }
)


@exercise(
    "15.1",
    nudge="Look again at the tap's table: the response on stream 1, the bytes of the DATA "
    "frames, and which side's SETTINGS carried ENABLE_CONNECT_PROTOCOL.",
    hint="RFC 8441 changes only the opening: CONNECT with :protocol instead of an Upgrade, "
    "a 200 instead of 101, no key and no accept. After that the frames are RFC 6455's.",
)
def check_15_1(answer: Any) -> str:
    """Which claims of CLAIMS_15_1 about a WebSocket over HTTP/2 are true."""
    chosen = chosen_letters(answer, CLAIMS_15_1, N_("claim"))
    judge_letters(chosen, TRUE_15_1, _WHY_15_1, yes=N_("it is true"), no=N_("it is false"))
    return _("only the opening changes; the frames, and their masks, stay RFC 6455's")


def solution_15_1() -> Any:
    return {"B", "D"}


# 15.2 -------------------------------------------------------------------------------------------


def connect_headers_15_2(authority: str, path: str) -> list[tuple[str, str]]:
    """The version the lesson starts the exercise with: an HTTP/1.1 habit (the bug to find)."""
    return [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", path),
        (":authority", authority),
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
    ]


# RFC 9113 §8.2.2: connection-specific header fields are malformed in HTTP/2.
_CONNECTION_SPECIFIC = {
    "connection",
    "upgrade",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
}


@exercise(
    "15.2",
    nudge="Send the headers through the real server (the check does) and read how it "
    "answers: HTTP/2 has no Upgrade mechanism at all.",
    hint="RFC 8441 §4: the request is a CONNECT with the pseudo-header :protocol set to "
    "websocket, and, unlike a plain CONNECT, it keeps :scheme and :path. Headers that "
    "describe the connection are forbidden in HTTP/2 (RFC 9113 §8.2.2).",
)
def check_15_2(connect_headers: Any) -> str:
    """connect_headers(authority, path): the header list of a WebSocket's extended CONNECT."""
    require_function(connect_headers)
    if len(inspect.signature(connect_headers).parameters) != 2:
        raise Hint(_("the function takes two arguments: the authority and the path"))
    headers = connect_headers("127.0.0.1:8000", "/ws")
    try:
        names = [str(name).lower() for name, _value in headers]
        fields = {str(name).lower(): str(value) for name, value in headers}
    except (TypeError, ValueError):
        raise Hint(_("return a list of (name, value) pairs of strings")) from None
    forbidden = sorted(_CONNECTION_SPECIFIC & set(names))
    if forbidden:
        raise Hint(
            _(
                "{names}: HTTP/2 forbids headers about the connection (RFC 9113 §8.2.2); "
                "a server must treat the request as malformed"
            ).format(names=", ".join(forbidden))
        )
    if fields.get(":method") != "CONNECT":
        raise Hint(
            _(":method is {method}; a WebSocket over HTTP/2 opens with CONNECT").format(
                method=fields.get(":method")
            )
        )
    if fields.get(":protocol") != "websocket":
        raise Hint(_("the extended CONNECT names what it opens in :protocol (RFC 8441 §4)"))
    missing = [name for name in (":scheme", ":path", ":authority") if name not in fields]
    if missing:
        raise Hint(
            _("{names} missing: the extended CONNECT keeps them (RFC 8441 §4)").format(
                names=", ".join(missing)
            )
        )
    pseudo_after = any(
        name.startswith(":") and any(not n.startswith(":") for n in names[:i])
        for i, name in enumerate(names)
    )
    if pseudo_after:
        raise Hint(_("pseudo-headers come before every other header (RFC 9113 §8.3)"))
    with _hypercorn_echo() as (host, port):
        status, reply = h2_websocket_echo(host, port, connect_headers, "hello")
    if status == "400" and "sec-websocket-version" not in fields:
        raise Hint(
            _(
                "the server answered :status 400: sec-websocket-version: 13 is still needed "
                "(RFC 6455 §4.1; RFC 8441 §5 keeps it)"
            )
        )
    if status != "200":
        raise Hint(_("the server answered :status {status}").format(status=status))
    if reply != "hello":
        raise Hint(_("the server accepted, but echoed {reply!r}").format(reply=reply))
    return _("Hypercorn answered :status 200 and echoed a message inside DATA frames")


def solution_15_2() -> Any:
    def connect_headers(authority: str, path: str) -> list[tuple[str, str]]:
        return [
            (":method", "CONNECT"),
            (":protocol", "websocket"),  # RFC 8441 §4
            (":scheme", "http"),
            (":path", path),
            (":authority", authority),
            ("sec-websocket-version", "13"),
        ]

    return connect_headers


# 15.3 -------------------------------------------------------------------------------------------


@exercise(
    "15.3",
    nudge="A client opens streams with odd numbers, 1, 3, 5...; each extended CONNECT gets "
    "a stream of its own on the same connection.",
    hint="Send both CONNECTs; when a stream's :status 200 arrives (not before: the server "
    "has not accepted yet), put one masked text frame in DATA on it; read DATA until each "
    "stream has given its echo back.",
)
def check_15_3(two_sockets: Any) -> str:
    """two_sockets(host, port): two WebSockets on one HTTP/2 connection; their two echoes."""
    from ws_lessons.h2tap import H2Tap

    require_function(two_sockets)
    with _hypercorn_echo() as (_host, port), H2Tap(port, name="check 15.3") as tap:
        replies = two_sockets(tap.host, tap.port)
        tap.wait_idle()
    if not isinstance(replies, list | tuple) or len(replies) != 2:
        raise Hint(_("return the two echoes, as a list of two strings"))
    connects = [f.stream for f in tap.frames if (":method", "CONNECT") in f.headers]
    if tap.connections != 1:
        raise Hint(
            _("you opened {n} TCP connections; the point is one for both").format(n=tap.connections)
        )
    if len(set(connects)) != 2:
        raise Hint(_("the tap saw {n} extended CONNECT streams, not 2").format(n=len(connects)))
    if sorted(replies) != ["one", "two"]:
        raise Hint(_("send 'one' on the first and 'two' on the second; got {r}").format(r=replies))
    return _("two WebSockets, streams {a} and {b}, one TCP connection").format(
        a=connects[0], b=connects[1]
    )


def solution_15_3() -> Any:
    import h2.connection
    import h2.events

    from ws_lessons.frames import Frame, FrameReader, encode

    def two_sockets(host: str, port: int) -> list[str]:
        sock = socket.create_connection((host, port), timeout=3)
        conn = h2.connection.H2Connection()
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        while not conn.remote_settings.enable_connect_protocol:  # RFC 8441 §3: wait for it
            conn.receive_data(sock.recv(65536))
        replies: dict[int, str] = {}
        readers = {1: FrameReader(), 3: FrameReader()}  # DATA may cut a frame anywhere
        conn.send_headers(1, solution_15_2()(f"{host}:{port}", "/ws"))
        conn.send_headers(3, solution_15_2()(f"{host}:{port}", "/ws"))
        sock.sendall(conn.data_to_send())
        while len(replies) < 2:
            for event in conn.receive_data(sock.recv(65536)):
                if isinstance(event, h2.events.ResponseReceived):  # :status 200: now talk
                    text = "one" if event.stream_id == 1 else "two"
                    wire = encode(Frame.text(text), mask=secrets.token_bytes(4))
                    conn.send_data(event.stream_id, wire)
                elif isinstance(event, h2.events.DataReceived):
                    for frame in readers[event.stream_id].feed(event.data):
                        replies[event.stream_id] = frame.payload.decode()
            sock.sendall(conn.data_to_send())
        sock.close()
        return [replies[1], replies[3]]

    return two_sockets


# 15.4 -------------------------------------------------------------------------------------------

CASES_15_4 = messages(
    {
        "A": N_(
            "A sales figure on an intranet page, new once a minute; staff behind a "
            "strict proxy that buffers responses."
        ),
        "B": N_("Live match scores for 50,000 readers who never send anything back."),
        "C": N_(
            "A support chat embedded in many customers' sites, through whatever proxies "
            "and load balancers they run."
        ),
        "D": N_(
            "A trading page already on HTTP/2 to its own origin, opening twenty sockets "
            "(one per widget) that should share one connection."
        ),
        "E": N_(
            "A browser game sending its players' positions 30 times a second, where an "
            "old position is worthless once a newer one exists."
        ),
    }
)
CHOICES_15_4 = ("polling", "sse", "ws", "ws-h2", "webtransport")
FITS_15_4 = {
    "A": {"polling"},
    "B": {"sse"},
    "C": {"ws"},
    "D": {"ws-h2"},
    "E": {"webtransport"},
}
_WHY_15_4 = messages(
    {
        "A": N_(
            "once a minute is what polling does well (lesson 01), and a buffering proxy "
            "holds back a stream's events"
        ),
        "B": N_("one direction only: SSE reconnects by itself and stays plain HTTP (lesson 02)"),
        "C": N_(
            "both directions, and HTTP/1.1's Upgrade passes almost every proxy today; "
            "HTTP/2 end to end or UDP cannot be assumed on other people's networks"
        ),
        "D": N_(
            "RFC 8441 puts every socket on the page's HTTP/2 connection: one TCP and one "
            "TLS handshake for all of them"
        ),
        "E": N_(
            "datagrams may be lost, which is right for data a newer datagram replaces; "
            "a lost TCP segment would hold every later position back"
        ),
    }
)


@exercise(
    "15.4",
    nudge="For each case ask: which way does data flow, how often, through what network, "
    "and what should happen to a message that arrives late?",
    hint="Polling for rare updates through anything; SSE for one-way pushes; WebSocket "
    "over HTTP/1.1 when you do not control the path; over HTTP/2 when many sockets share "
    "an origin that speaks it; WebTransport when late data is worse than lost data.",
)
def check_15_4(answer: Any) -> str:
    """A dict case letter -> one of CHOICES_15_4, the transport you would choose."""
    if not isinstance(answer, dict):
        raise Hint(_('answer with a dict, e.g. {"A": "polling", "B": "sse"}'))
    for letter in sorted(CASES_15_4):
        choice = str(answer.get(letter, "")).strip().lower()
        if choice not in CHOICES_15_4:
            raise Hint(
                _("case {letter}: choose one of {choices}").format(
                    letter=letter, choices=", ".join(CHOICES_15_4)
                )
            )
        if choice not in FITS_15_4[letter]:
            raise Hint(
                _("think again about case {letter}: {why}").format(
                    letter=letter, why=_(_WHY_15_4[letter])
                )
            )
    return _("each case has the tool that fits it, and the evidence from lessons 01, 02 and 15")


def solution_15_4() -> Any:
    return {"A": "polling", "B": "sse", "C": "ws", "D": "ws-h2", "E": "webtransport"}


# -- what the checks run -------------------------------------------------------------------------


@contextmanager
def _hypercorn_echo() -> Iterator[tuple[str, int]]:
    """Hypercorn serving lesson 07's echo at /ws, in clear text (HTTP/1.1 and h2c)."""
    from ws_lessons.apps import echo_app
    from ws_lessons.servers import serve_hypercorn

    with serve_hypercorn(echo_app("/ws"), name="check 15") as server:
        yield server.host, server.port


def h2_websocket_echo(
    host: str, port: int, connect_headers: Callable[[str, str], Any], text: str
) -> tuple[str, str | None]:
    """Open a WebSocket over h2c with ``connect_headers``, send ``text``; (status, echo)."""
    import h2.connection
    import h2.events
    import h2.exceptions

    from ws_lessons.frames import Frame, FrameReader, encode

    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    reader = FrameReader()
    conn = h2.connection.H2Connection()
    conn.initiate_connection()
    status, reply = "", None
    try:
        sock.sendall(conn.data_to_send())
        while not conn.remote_settings.enable_connect_protocol:  # RFC 8441 §3
            events = conn.receive_data(sock.recv(65536))
            if any(isinstance(event, h2.events.RemoteSettingsChanged) for event in events):
                break
        try:
            conn.send_headers(1, connect_headers(f"{host}:{port}", "/ws"))
        except h2.exceptions.ProtocolError as exc:
            raise Hint(
                _("the h2 library refused these headers: {error}").format(error=exc)
            ) from None
        sock.sendall(conn.data_to_send())
        while reply is None:
            data = sock.recv(65536)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    status = dict(event.headers).get(b":status", b"").decode()
                    if status == "200":
                        wire = encode(Frame.text(text), mask=secrets.token_bytes(4))
                        conn.send_data(1, wire)
                elif isinstance(event, h2.events.DataReceived):
                    for frame in reader.feed(event.data):
                        reply = frame.payload.decode()
                elif isinstance(event, h2.events.StreamReset):
                    return f"RST_STREAM {event.error_code!r}", None
            sock.sendall(conn.data_to_send())
            if status and status != "200":
                break
    except TimeoutError:
        pass
    finally:
        sock.close()
    return status, reply


def check_chat_on(make_app: Callable[[], Any], servers: list[str]) -> list[Verdict]:
    """``check_chat`` on each of ``servers`` ("uvicorn", "hypercorn", "granian") at once.

    ``make_app()`` returns a fresh app: each server needs its own, since an app's state
    (its rooms, its sockets) lives on its server's event loop. Prints each server's
    clauses in turn; returns the verdicts.
    """
    import asyncio
    import concurrent.futures

    from ws_lessons.chat import contract
    from ws_lessons.server import serve
    from ws_lessons.servers import serve_granian, serve_hypercorn

    starters: dict[str, Callable[..., Any]] = {
        "uvicorn": serve,
        "hypercorn": serve_hypercorn,
        "granian": serve_granian,
    }
    unknown = [name for name in servers if name not in starters]
    if unknown or not callable(make_app):
        raise ValueError(f"check_chat_on(make_app, servers): servers among {', '.join(starters)}")

    small = {"send_buffer": contract.STALL_SEND_BUFFER}  # Granian sizes its own buffers
    options = {"uvicorn": small, "hypercorn": small, "granian": {}}

    def run(name: str) -> list[contract.Clause]:
        with starters[name](make_app(), name=f"check_chat on {name}", **options[name]) as running:
            return asyncio.run(contract.run(running, lambda clause: None))

    def shown(future: concurrent.futures.Future[list[contract.Clause]]) -> Verdict:
        clauses = future.result(timeout=contract.DEADLINE + 30)
        for clause in clauses:
            contract.show(clause)
        return contract.ContractVerdict(clauses)

    with concurrent.futures.ThreadPoolExecutor(len(servers)) as pool:
        futures = {name: pool.submit(run, name) for name in servers}
        verdicts = []
        for name, future in futures.items():
            print(_("The chat contract on {server}:").format(server=name))
            verdicts.append(judge("chat", shown, future))
    return verdicts
