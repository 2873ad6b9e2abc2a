"""Tests for ws_lessons.handshake, cross-checked against websockets and wsproto."""

import base64
import re

import pytest
import websockets.utils
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection
from wsproto.events import Request as WsprotoRequest
from wsproto.utilities import generate_accept_token

from ws_lessons.handshake import (
    GUID,
    HandshakeError,
    Headers,
    accept_key,
    build_request,
    build_response,
    check_request,
    check_response,
    new_key,
    parse_request,
    parse_response,
)

# The opening handshake of RFC 6455 §1.2, byte for byte.
RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
RFC_REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)
RFC_RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"Sec-WebSocket-Protocol: chat\r\n"
    b"\r\n"
)

keys = st.binary(min_size=16, max_size=16).map(lambda raw: base64.b64encode(raw).decode())


def test_guid():
    assert GUID == "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def test_accept_key_rfc_example():
    assert accept_key(RFC_KEY) == RFC_ACCEPT


@settings(max_examples=200, deadline=None)
@given(key=keys)
def test_accept_key_agrees_with_websockets_and_wsproto(key):
    expected = accept_key(key)
    assert websockets.utils.accept_key(key) == expected
    assert generate_accept_token(key.encode()) == expected.encode()


def test_new_key_is_16_random_bytes():
    key = new_key()
    assert len(base64.b64decode(key, validate=True)) == 16
    assert new_key() != key


def test_build_request():
    data = build_request(
        "server.example.com",
        "/chat",
        RFC_KEY,
        origin="http://example.com",
        protocols=["chat", "superchat"],
        extra_headers=[("Cookie", "session=1")],
    )
    assert data == (
        b"GET /chat HTTP/1.1\r\n"
        b"Host: server.example.com\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n"
        b"Origin: http://example.com\r\n"
        b"Sec-WebSocket-Protocol: chat, superchat\r\n"
        b"Cookie: session=1\r\n"
        b"\r\n"
    )


def test_build_request_defaults():
    request = parse_request(build_request("localhost:8000"))
    assert request.target == "/"
    assert request.headers.get("Origin") is None
    assert request.headers.get("Sec-WebSocket-Protocol") is None
    check_request(request)


def test_build_request_refuses_line_breaks_in_headers():
    with pytest.raises(ValueError, match="line breaks"):
        build_request("example.com", extra_headers=[("X-Evil", "1\r\nSet-Cookie: x")])


def test_build_response_rfc_example():
    request = parse_request(RFC_REQUEST)
    assert build_response(request, protocol="chat") == RFC_RESPONSE
    assert build_response(request) == RFC_RESPONSE.replace(b"Sec-WebSocket-Protocol: chat\r\n", b"")


def test_build_response_refuses_a_protocol_not_offered():
    with pytest.raises(ValueError, match="'mqtt' was not offered"):
        build_response(parse_request(RFC_REQUEST), protocol="mqtt")


def test_build_response_refuses_an_invalid_request():
    data = RFC_REQUEST.replace(b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Version: 8")
    with pytest.raises(HandshakeError, match="Sec-WebSocket-Version must be 13"):
        build_response(parse_request(data))


def test_parse_request_rfc_example():
    request = parse_request(RFC_REQUEST)
    assert (request.method, request.target, request.version) == ("GET", "/chat", "HTTP/1.1")
    assert request.headers[0] == ("Host", "server.example.com")
    assert request.headers.get("sec-websocket-protocol") == "chat, superchat"
    assert check_request(request) == RFC_KEY


def test_parse_response_rfc_example():
    response = parse_response(RFC_RESPONSE)
    assert (response.version, response.status, response.reason) == (
        "HTTP/1.1",
        101,
        "Switching Protocols",
    )
    assert response.headers.get("SEC-WEBSOCKET-ACCEPT") == RFC_ACCEPT
    check_response(response, RFC_KEY)


def test_parse_stops_at_the_blank_line():
    request = parse_request(RFC_REQUEST + b"\x81\x05Hello")
    assert request.headers.get("Sec-WebSocket-Version") == "13"


def test_parse_response_without_reason():
    response = parse_response(b"HTTP/1.1 101\r\n\r\n")
    assert (response.status, response.reason) == (101, "")


def test_headers_are_case_insensitive_and_multi_valued():
    headers = Headers([("Connection", "keep-alive"), ("connection", "Upgrade"), ("Host", "a")])
    assert headers.get_all("CONNECTION") == ["keep-alive", "Upgrade"]
    assert headers.get("Connection") == "keep-alive, Upgrade"
    assert headers.get("Origin") is None


@pytest.mark.parametrize(
    ("parse", "data", "message"),
    [
        pytest.param(parse_request, b"GET / HTTP/1.1\r\nHost: a\r\n", "no blank line", id="no end"),
        pytest.param(
            parse_request, b"GET /HTTP/1.1\r\n\r\n", "malformed request line", id="2 parts"
        ),
        pytest.param(
            parse_request, b"GET / HTTP/1.1 x\r\n\r\n", "malformed request line", id="4 parts"
        ),
        pytest.param(
            parse_request, b"GET  / HTTP/1.1\r\n\r\n", "malformed request line", id="2 spaces"
        ),
        pytest.param(
            parse_request, b"GET / HTTP/one\r\n\r\n", "malformed HTTP version", id="version"
        ),
        pytest.param(
            parse_request, b"GET / HTTP/1.1\r\nHost\r\n\r\n", "malformed header", id="no colon"
        ),
        pytest.param(
            parse_request,
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            "malformed header",
            id="space in name",
        ),
        pytest.param(
            parse_request, b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", "malformed header", id="folding"
        ),
        pytest.param(parse_response, b"HTTP/1.1\r\n\r\n", "malformed status line", id="no status"),
        pytest.param(parse_response, b"HTTP/1.1 1O1 OK\r\n\r\n", "malformed status", id="letter O"),
        pytest.param(
            parse_response, b"ICY 200 OK\r\n\r\n", "malformed HTTP version", id="not HTTP"
        ),
    ],
)
def test_parse_errors(parse, data, message):
    with pytest.raises(HandshakeError, match=message):
        parse(data)


def test_handshake_error_is_a_value_error():
    assert issubclass(HandshakeError, ValueError)


def test_round_trip():
    key = new_key()
    request = parse_request(build_request("example.com", "/ws", key, protocols=["chat"]))
    assert check_request(request) == key
    response = parse_response(build_response(request, protocol="chat"))
    assert (response.status, response.reason) == (101, "Switching Protocols")
    assert response.headers.get("Sec-WebSocket-Protocol") == "chat"
    check_response(response, key)


def test_check_request_tokens_are_case_insensitive_lists():
    data = RFC_REQUEST.replace(b"Upgrade: websocket", b"upgrade: WebSocket, foo").replace(
        b"Connection: Upgrade", b"connection: keep-alive, upgrade"
    )
    assert check_request(parse_request(data)) == RFC_KEY


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(b"GET", b"POST", "method must be GET, got POST", id="method"),
        pytest.param(
            b"HTTP/1.1", b"HTTP/1.0", "must be 1.1 or higher, got HTTP/1.0", id="HTTP/1.0"
        ),
        pytest.param(b"Host: server.example.com\r\n", b"", "missing Host header", id="no host"),
        pytest.param(
            b"Host: ", b"Host: a\r\nHost: ", "Host header appears 2 times", id="two hosts"
        ),
        pytest.param(b"Upgrade: websocket\r\n", b"", "missing Upgrade header", id="no upgrade"),
        pytest.param(
            b"Upgrade: websocket", b"Upgrade: h2c", "include 'websocket', got 'h2c'", id="upgrade"
        ),
        pytest.param(
            b"Connection: Upgrade\r\n", b"", "missing Connection header", id="no connection"
        ),
        pytest.param(
            b"Connection: Upgrade",
            b"Connection: keep-alive",
            "include 'Upgrade', got 'keep-alive'",
            id="connection",
        ),
        pytest.param(
            b"Sec-WebSocket-Version: 13\r\n", b"", "missing Sec-WebSocket-Version", id="no version"
        ),
        pytest.param(b": 13", b": 8", "Sec-WebSocket-Version must be 13, got '8'", id="version 8"),
        pytest.param(
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            b"",
            "missing Sec-WebSocket-Key header",
            id="no key",
        ),
        pytest.param(
            b"Sec-WebSocket-Key: ",
            b"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Key: ",
            "Sec-WebSocket-Key header appears 2 times",
            id="two keys",
        ),
        pytest.param(
            RFC_KEY.encode(), b"not base64!", "not valid base64: 'not base64!'", id="key not base64"
        ),
        pytest.param(
            RFC_KEY.encode(),
            base64.b64encode(bytes(15)),
            "must decode to 16 bytes, got 15",
            id="key of 15 bytes",
        ),
    ],
)
def test_check_request_errors(old, new, message):
    assert old in RFC_REQUEST
    request = parse_request(RFC_REQUEST.replace(old, new, 1))
    with pytest.raises(HandshakeError, match=message):
        check_request(request)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            b"101 Switching Protocols",
            b"403 Forbidden",
            "status must be 101 Switching Protocols, got 403 Forbidden",
            id="status",
        ),
        pytest.param(b"Upgrade: websocket\r\n", b"", "missing Upgrade header", id="no upgrade"),
        pytest.param(b"Connection: Upgrade", b"Connection: close", "got 'close'", id="connection"),
        pytest.param(
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
            b"",
            "missing Sec-WebSocket-Accept header",
            id="no accept",
        ),
        pytest.param(
            RFC_ACCEPT.encode(),
            RFC_KEY.encode(),
            f"expected '{RFC_ACCEPT}', got '{RFC_KEY}'",
            id="accept is the key",
        ),
    ],
)
def test_check_response_errors(old, new, message):
    assert old in RFC_RESPONSE
    response = parse_response(RFC_RESPONSE.replace(old, new, 1))
    with pytest.raises(HandshakeError, match=re.escape(message)):
        check_response(response, RFC_KEY)


def test_check_response_with_another_key():
    other = "AAAAAAAAAAAAAAAAAAAAAA=="
    expected = accept_key(other)
    with pytest.raises(
        HandshakeError, match=re.escape(f"expected '{expected}', got '{RFC_ACCEPT}'")
    ):
        check_response(parse_response(RFC_RESPONSE), other)


def test_wsproto_client_request():
    client = WSConnection(ConnectionType.CLIENT)
    data = client.send(WsprotoRequest(host="example.com", target="/chat", subprotocols=["chat"]))
    request = parse_request(data)
    key = check_request(request)
    assert request.target == "/chat"
    assert request.headers.get("Host") == "example.com"
    # wsproto's client accepts our answer.
    client.receive_data(build_response(request, protocol="chat"))
    (event,) = client.events()
    assert isinstance(event, AcceptConnection)
    assert event.subprotocol == "chat"
    assert client.state.name == "OPEN"
    assert key == request.headers.get("Sec-WebSocket-Key")


@settings(max_examples=25, deadline=None)
@given(key=keys)
def test_wsproto_server_response(key):
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(build_request("example.com", "/chat", key))
    (event,) = server.events()
    assert isinstance(event, WsprotoRequest)
    check_response(parse_response(server.send(AcceptConnection())), key)
