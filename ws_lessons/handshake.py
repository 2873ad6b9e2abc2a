"""
The WebSocket opening handshake (RFC 6455 §4), without any I/O.

A WebSocket connection starts life as an HTTP/1.1 request that asks the server
to switch protocols. This module builds, parses and checks both sides of that
exchange. It works on bytes only: reading them from a socket and writing them
back is left to the caller.

"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ws_lessons.exceptions import CodecError

__all__ = [
    "GUID",
    "HandshakeError",
    "Headers",
    "Request",
    "Response",
    "accept_key",
    "build_request",
    "build_response",
    "check_request",
    "check_response",
    "new_key",
    "parse_request",
    "parse_response",
]

# RFC 6455 §1.3: a "Globally Unique Identifier ... in string form".
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# RFC 9110 §5.6.2: field names are tokens.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HTTP_VERSION = re.compile(r"HTTP/([0-9])\.([0-9])")


class HandshakeError(CodecError, ValueError):
    """The opening handshake is malformed or does not upgrade to WebSocket."""


class Headers(list[tuple[str, str]]):
    """HTTP header fields as ``(name, value)`` pairs, in the order received.

    Lookups ignore case, because field names are case-insensitive (RFC 9110 §5.1).
    """

    def get_all(self, name: str) -> list[str]:
        """Return the values of every field called ``name``."""
        name = name.lower()
        return [value for key, value in self if key.lower() == name]

    def get(self, name: str) -> str | None:
        """Return the value of ``name``, or ``None`` if it is absent.

        Repeated fields are joined with ", ", as RFC 9110 §5.3 allows.
        """
        values = self.get_all(name)
        return ", ".join(values) if values else None


@dataclass
class Request:
    """An HTTP request head: ``GET /chat HTTP/1.1`` and its header fields."""

    method: str
    target: str
    version: str = "HTTP/1.1"
    headers: Headers = field(default_factory=Headers)


@dataclass
class Response:
    """An HTTP response head: ``HTTP/1.1 101 Switching Protocols`` and its header fields."""

    version: str
    status: int
    reason: str
    headers: Headers = field(default_factory=Headers)


def accept_key(key: str) -> str:
    """Compute ``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key``."""
    # RFC 6455 §4.2.2: "concatenating /key/ ... with the string "258EAFA5-...",
    # taking the SHA-1 hash of this concatenated value to obtain a 20-byte value
    # and base64-encoding ... this 20-byte hash."
    sha1 = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(sha1).decode("ascii")


def new_key() -> str:
    """Return a fresh ``Sec-WebSocket-Key``."""
    # RFC 6455 §4.1: "a randomly selected 16-byte value that has been base64-encoded".
    return base64.b64encode(secrets.token_bytes(16)).decode("ascii")


def build_request(
    host: str,
    path: str = "/",
    key: str | None = None,
    *,
    origin: str | None = None,
    protocols: Sequence[str] = (),
    extra_headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """Return the bytes of a client's opening handshake (RFC 6455 §4.1).

    Without ``key``, a fresh one is generated; pass your own (see :func:`new_key`)
    to keep it for :func:`check_response`.
    """
    headers = [
        ("Host", host),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key if key is not None else new_key()),
        ("Sec-WebSocket-Version", "13"),
    ]
    if origin is not None:
        headers.append(("Origin", origin))
    if protocols:
        headers.append(("Sec-WebSocket-Protocol", ", ".join(protocols)))
    headers.extend(extra_headers)
    return _serialize(f"GET {path} HTTP/1.1", headers)


def build_response(request: Request, *, protocol: str | None = None) -> bytes:
    """Return the bytes of a server's ``101 Switching Protocols`` answer (RFC 6455 §4.2.2).

    ``request`` is checked first with :func:`check_request`. ``protocol`` is the
    subprotocol the server picked, which must be one the client offered.
    """
    key = check_request(request)
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_key(key)),
    ]
    if protocol is not None:
        # RFC 6455 §4.2.2: "The value chosen MUST be derived from the client's handshake".
        if protocol not in _tokens(request.headers.get("Sec-WebSocket-Protocol") or ""):
            raise ValueError(f"subprotocol {protocol!r} was not offered by the client")
        headers.append(("Sec-WebSocket-Protocol", protocol))
    return _serialize("HTTP/1.1 101 Switching Protocols", headers)


def parse_request(data: bytes) -> Request:
    """Parse the head of an HTTP request: everything up to the first blank line."""
    start_line, headers = _parse_head(data)
    # RFC 9112 §3: request-line = method SP request-target SP HTTP-version
    parts = start_line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise HandshakeError(f"malformed request line: {start_line!r}")
    method, target, version = parts
    _http_version(version)
    return Request(method, target, version, headers)


def parse_response(data: bytes) -> Response:
    """Parse the head of an HTTP response: everything up to the first blank line."""
    start_line, headers = _parse_head(data)
    # RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
    version, _, rest = start_line.partition(" ")
    status, _, reason = rest.partition(" ")
    _http_version(version)
    if not (len(status) == 3 and status.isdigit()):
        raise HandshakeError(f"malformed status line: {start_line!r}")
    return Response(version, int(status), reason, headers)


def check_request(request: Request) -> str:
    """Check a client's opening handshake and return its ``Sec-WebSocket-Key``.

    Raises :exc:`HandshakeError` saying what is wrong (RFC 6455 §4.2.1).
    """
    # RFC 6455 §4.2.1: "An HTTP/1.1 or higher GET request".
    if request.method != "GET":
        raise HandshakeError(f"method must be GET, got {request.method}")
    if _http_version(request.version) < (1, 1):
        raise HandshakeError(f"HTTP version must be 1.1 or higher, got {request.version}")
    # RFC 6455 §4.2.1: "A |Host| header field containing the server's authority".
    _single(request.headers, "Host")
    _check_upgrade(request.headers)
    # RFC 6455 §4.2.1: "A |Sec-WebSocket-Version| header field, with a value of 13".
    version = _single(request.headers, "Sec-WebSocket-Version")
    if version != "13":
        raise HandshakeError(f"Sec-WebSocket-Version must be 13, got {version!r}")
    # RFC 6455 §4.2.1: "a base64-encoded value that, when decoded, is 16 bytes in length".
    key = _single(request.headers, "Sec-WebSocket-Key")
    try:
        raw_key = base64.b64decode(key, validate=True)
    except binascii.Error:
        raise HandshakeError(f"Sec-WebSocket-Key is not valid base64: {key!r}") from None
    if len(raw_key) != 16:
        raise HandshakeError(
            f"Sec-WebSocket-Key must decode to 16 bytes, got {len(raw_key)}: {key!r}"
        )
    return key


def check_response(response: Response, key: str) -> None:
    """Check a server's answer to a handshake that was sent with ``key``.

    Raises :exc:`HandshakeError` saying what is wrong (RFC 6455 §4.1).
    """
    # RFC 6455 §4.1: "If the status code received from the server is not 101,
    # the client handles the response per HTTP procedures."
    if response.status != 101:
        raise HandshakeError(
            f"status must be 101 Switching Protocols, got {response.status} {response.reason}"
        )
    _check_upgrade(response.headers)
    # RFC 6455 §4.1: "If the |Sec-WebSocket-Accept| contains a value other than
    # the base64-encoded SHA-1 of the concatenation of the |Sec-WebSocket-Key| ...
    # the client MUST _Fail the WebSocket Connection_."
    expected = accept_key(key)
    accept = _single(response.headers, "Sec-WebSocket-Accept")
    if accept != expected:
        raise HandshakeError(
            f"Sec-WebSocket-Accept mismatch: expected {expected!r}, got {accept!r}"
        )


def _serialize(start_line: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """Join a start line and header fields into an HTTP head."""
    lines = [start_line, *(f"{name}: {value}" for name, value in headers)]
    for line in lines:
        # A CR or LF inside a value would smuggle extra header fields in.
        if "\r" in line or "\n" in line:
            raise ValueError(f"line breaks are not allowed in a header: {line!r}")
    # RFC 9112 §2.1: each line ends with CRLF, and an empty line ends the head.
    return "".join(line + "\r\n" for line in [*lines, ""]).encode("ascii")


def _parse_head(data: bytes) -> tuple[str, Headers]:
    """Split an HTTP head into its start line and header fields."""
    head, blank_line, _ = data.partition(b"\r\n\r\n")
    if not blank_line:
        raise HandshakeError("incomplete head: no blank line (CRLF CRLF) found")
    # RFC 9110 §5.5: field values are ASCII in practice, ISO-8859-1 historically.
    start_line, *lines = head.decode("latin-1").split("\r\n")
    headers = Headers()
    for line in lines:
        # RFC 9112 §5: field-line = field-name ":" OWS field-value OWS
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise HandshakeError(f"malformed header line: {line!r}")
        headers.append((name, value.strip(" \t")))
    return start_line, headers


def _http_version(version: str) -> tuple[int, int]:
    """Turn ``"HTTP/1.1"`` into ``(1, 1)``."""
    match = _HTTP_VERSION.fullmatch(version)
    if match is None:
        raise HandshakeError(f"malformed HTTP version: {version!r}")
    return int(match[1]), int(match[2])


def _single(headers: Headers, name: str) -> str:
    """Return the value of a header field that must appear exactly once."""
    values = headers.get_all(name)
    if not values:
        raise HandshakeError(f"missing {name} header")
    if len(values) > 1:
        raise HandshakeError(f"{name} header appears {len(values)} times, expected once")
    return values[0]


def _tokens(value: str) -> list[str]:
    """Split a comma-separated header value such as ``"keep-alive, Upgrade"``."""
    return [token.strip(" \t") for token in value.split(",")]


def _check_upgrade(headers: Headers) -> None:
    """Check the ``Upgrade`` and ``Connection`` fields, which both sides send.

    RFC 6455 §4.1 asks the same of the response as §4.2.1 of the request.
    """
    # RFC 6455 §4.2.1: "An |Upgrade| header field containing the value "websocket",
    # treated as an ASCII case-insensitive value."
    upgrade = headers.get("Upgrade")
    if upgrade is None:
        raise HandshakeError("missing Upgrade header")
    if "websocket" not in _tokens(upgrade.lower()):
        raise HandshakeError(f"Upgrade header must include 'websocket', got {upgrade!r}")
    # RFC 6455 §4.2.1: "A |Connection| header field that includes the token "Upgrade",
    # treated as an ASCII case-insensitive value."
    connection = headers.get("Connection")
    if connection is None:
        raise HandshakeError("missing Connection header")
    if "upgrade" not in _tokens(connection.lower()):
        raise HandshakeError(f"Connection header must include 'Upgrade', got {connection!r}")
