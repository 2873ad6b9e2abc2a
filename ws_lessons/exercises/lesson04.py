"""Exercises of lesson 04: the opening handshake."""

from __future__ import annotations

import base64
import hashlib
import socket
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, WebSocket

from ws_lessons.exercises.core import TIMEOUT, Hint, exercise, require_function
from ws_lessons.handshake import (
    GUID,
    HandshakeError,
    accept_key,
    check_response,
    parse_request,
    parse_response,
)
from ws_lessons.i18n import N_, _
from ws_lessons.server import serve

__all__ = [
    "BROKEN_04_1",
    "KEYS_04_1",
    "KEY_04_3",
    "REQUEST_04_2",
    "RESPONSES_04_3",
    "check_04_1",
    "check_04_2",
    "check_04_3",
    "solution_04_1",
    "solution_04_2",
    "solution_04_3",
]

# 04.1 -------------------------------------------------------------------------------------------

# The first is the example of RFC 6455 §1.3; the others are keys a client could send.
KEYS_04_1 = ["dGhlIHNhbXBsZSBub25jZQ==", "x3JJHMbDL1EzLkh9GBhXDw==", "AQIDBAUGBwgJCgsMDQ4PEA=="]


def _b64_sha1(data: bytes) -> str:
    return base64.b64encode(hashlib.sha1(data).digest()).decode()


# What a function computes when it takes a typical wrong turn, and the hint for it.
_WRONG_TURNS_04_1: list[tuple[Callable[[str], str], str]] = [
    (
        lambda key: base64.b64encode(
            hashlib.sha1((GUID + key).encode()).hexdigest().encode()
        ).decode(),
        N_(
            "both bugs are still there: the GUID goes after the key, and base64 encodes the "
            "20 raw bytes of the digest, not its hex text"
        ),
    ),
    (
        lambda key: base64.b64encode(
            hashlib.sha1((key + GUID).encode()).hexdigest().encode()
        ).decode(),
        N_(
            "the order is right now, but you base64-encoded the digest's 40 hex characters: "
            "encode the 20 raw bytes that .digest() gives"
        ),
    ),
    (
        lambda key: _b64_sha1(key.encode()),
        N_("you hashed the key alone: append the GUID 258EAFA5-E914-47DA-95CA-C5AB0DC85B11 first"),
    ),
    (
        lambda key: _b64_sha1((GUID + key).encode()),
        N_("the GUID goes after the key, not before it: key + GUID"),
    ),
    (
        lambda key: hashlib.sha1((key + GUID).encode()).hexdigest(),
        N_("that is the SHA-1 in hex: base64-encode the 20 raw bytes of .digest() instead"),
    ),
    (
        lambda key: _b64_sha1(base64.b64decode(key) + GUID.encode()),
        N_("use the key as the text the client sent; do not base64-decode it first"),
    ),
    (
        lambda key: base64.b64encode(hashlib.sha256((key + GUID).encode()).digest()).decode(),
        N_("the RFC asks for SHA-1 (hashlib.sha1), not SHA-256"),
    ),
]


BROKEN_04_1 = """def broken_accept_key(key: str) -> str:
    digest = hashlib.sha1((GUID + key).encode()).hexdigest()
    return base64.b64encode(digest.encode()).decode()
"""
"""The function of exercise 04.1: a server with it fails every browser's handshake."""


@exercise(
    "04.1",
    nudge="Print each step of broken_accept_key for the RFC's example key beside the three "
    "steps the lesson printed: where do they first differ?",
    hint="Two steps differ from RFC 6455 §4.2.2: what comes first in the text that is "
    "hashed, and what base64 is given (the SHA-1 as 20 raw bytes, or as hex text).",
)
def check_04_1(function: Any) -> str:
    """BROKEN_04_1, fixed: a function that computes Sec-WebSocket-Accept from the key."""
    require_function(function)
    for key in KEYS_04_1:
        try:
            got = function(key)
        except Exception as exc:
            raise Hint(
                _("your function raised {type} for {key!r}: {error}").format(
                    type=type(exc).__name__, key=key, error=exc
                )
            ) from None
        if got is None:
            raise Hint(_("your function returns None: compute the value and `return` it"))
        if isinstance(got, bytes):
            raise Hint(_("return a str, as it appears in the header: add .decode() to the base64"))
        expected = accept_key(key)
        if got == expected:
            continue
        for wrong, hint in _WRONG_TURNS_04_1:
            if got == wrong(key):
                raise Hint(_(hint))
        raise Hint(
            _("for the key {key!r} the answer is {expected!r}; your function gave {got!r}").format(
                key=key, expected=expected, got=got
            )
        )
    return _("key + GUID, SHA-1, base64: your function agrees with RFC 6455 §4.2.2")


# 04.2 -------------------------------------------------------------------------------------------

REQUEST_04_2 = [
    "GET /ws HTTP/1.1",
    "Host: 127.0.0.1",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
]
"""The request of exercise 04.2, one header line short."""


def _app_04_2() -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws")
    async def hello(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()

    return app


def _send_head(port: int, request: bytes) -> bytes:
    """Send ``request`` and return what the server answers until its head ends or it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received or not received.startswith(b"HTTP/1.1 101"):
            data = sock.recv(4096)
            if not data:
                break
            received += data
        return received


@exercise(
    "04.2",
    nudge="Try it: the check tells you what the server answered, and servers often say why.",
    hint="Compare the request with the table of headers a client must send, near the top "
    "of the lesson: one of them is not there.",
)
def check_04_2(line: Any) -> str:
    """The header line missing from REQUEST_04_2, such that a real server answers 101."""
    if not isinstance(line, str) or not line.strip():
        raise Hint(_('answer with one header line as a str, like "Name: value"'))
    name, colon, _value = line.strip().partition(":")
    name = name.strip()
    if not colon or not name or " " in name:
        raise Hint(
            _('{line!r} is not a header line: write "Name: value", with a colon').format(line=line)
        )
    present = {header.split(":")[0].lower() for header in REQUEST_04_2[1:]}
    if name.lower() in present:
        raise Hint(
            _("the request already has a line {name!r}: which one does RFC 6455 §4.1 add?").format(
                name=name
            )
        )
    request = "".join(f"{text}\r\n" for text in [*REQUEST_04_2, line.strip(), ""])
    try:
        parse_request(request.encode("latin-1"))
    except (HandshakeError, UnicodeEncodeError) as exc:
        raise Hint(
            _("{line!r} is not a valid header line: {error}").format(line=line, error=exc)
        ) from None
    with serve(_app_04_2(), name="check 04.2") as server:
        try:
            answer = _send_head(server.port, request.encode("latin-1"))
        except TimeoutError:
            raise Hint(
                _("the server did not answer within {seconds:.0f} s").format(seconds=TIMEOUT)
            ) from None
    try:
        response = parse_response(answer)
    except HandshakeError:
        raise Hint(
            _("the server did not answer with HTTP: {start!r}").format(start=answer[:80])
        ) from None
    if response.status != 101:
        said = answer.partition(b"\r\n\r\n")[2].decode("latin-1").strip()
        if said:
            raise Hint(
                _("the server answered {status} {reason} and said: {said!r}").format(
                    status=response.status, reason=response.reason, said=said
                )
            )
        raise Hint(
            _("the server answered {status} {reason}").format(
                status=response.status, reason=response.reason
            )
        )
    check_response(response, "dGhlIHNhbXBsZSBub25jZQ==")
    return _("with {line!r} the server switched protocols (101)").format(line=line.strip())


# 04.3 -------------------------------------------------------------------------------------------

KEY_04_3 = "x3JJHMbDL1EzLkh9GBhXDw=="
"""The Sec-WebSocket-Key the client sent in exercise 04.3."""

RESPONSES_04_3 = {
    "A": (
        "HTTP/1.1 200 OK\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n"
        "\r\n"
    ),
    "B": (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "\r\n"
    ),
    "C": (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n"
        "\r\n"
    ),
    "D": (
        "HTTP/1.1 101 Web Socket Protocol Handshake\r\n"
        "upgrade: WebSocket\r\n"
        "connection: upgrade\r\n"
        "sec-websocket-accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n"
        "\r\n"
    ),
}
"""Four answers a server could give to KEY_04_3; exactly one lets the client proceed."""


def _verdict_04_3(letter: str) -> str | None:
    """Why the client must reject response ``letter``, or None if it is valid."""
    try:
        check_response(parse_response(RESPONSES_04_3[letter].encode()), KEY_04_3)
    except HandshakeError as exc:
        return str(exc)
    return None


@exercise(
    "04.3",
    nudge="For each answer, compute what the accept value should be with accept_key(KEY_04_3), "
    "and read the status line and every header name.",
    hint="Hold each answer to the checks of RFC 6455 §4.1: status 101, Upgrade, "
    "Connection, and an accept computed from KEY_04_3. Header names ignore case.",
)
def check_04_3(letter: Any) -> str:
    """The letter of the one valid response in RESPONSES_04_3."""
    if not isinstance(letter, str) or letter.strip().upper() not in RESPONSES_04_3:
        raise Hint(
            _("answer with one letter among {letters}, as a str").format(
                letters=", ".join(RESPONSES_04_3)
            )
        )
    letter = letter.strip().upper()
    problem = _verdict_04_3(letter)
    if problem is not None:
        raise Hint(
            _("a client must reject {letter}: {problem}").format(letter=letter, problem=problem)
        )
    return _(
        "{letter} is valid: header names and the values of Upgrade and Connection are "
        "case-insensitive, and the reason phrase is free text"
    ).format(letter=letter)


# Reference answers


def solution_04_1() -> Callable[[str], str]:
    import base64
    import hashlib

    def my_accept_key(key: str) -> str:
        guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
        digest = hashlib.sha1((key + guid).encode()).digest()  # 20 bytes
        return base64.b64encode(digest).decode()

    return my_accept_key


def solution_04_2() -> str:
    return "Sec-WebSocket-Version: 13"


def solution_04_3() -> str:
    # A: the status is 200, not 101. B: the accept belongs to another key.
    # C: no Connection: Upgrade. D: unusual spelling, but valid.
    return "D"
