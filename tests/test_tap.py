"""ws_lessons.tap between a real uvicorn server and real clients."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect as connect_async
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from ws_lessons.apps import echo_app
from ws_lessons.explain import explain
from ws_lessons.frames import CloseCode, Frame, FrameReader, encode, parse_close
from ws_lessons.handshake import Request, Response, accept_key, build_request, new_key
from ws_lessons.server import RunningServer, serve
from ws_lessons.tap import CLIENT_TO_SERVER, SERVER_TO_CLIENT, Record, Tap

pytestmark = pytest.mark.timeout(60)
SETTLE = 2.0  # seconds to wait, at most, for the last bytes to cross the tap


def make_app() -> FastAPI:
    app = echo_app("/echo")

    @app.get("/")
    async def root() -> dict[str, bool]:
        return {"ok": True}

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve(make_app(), name="test tap") as server:
        yield server


@pytest.fixture(scope="module")
def plain_server() -> Iterator[RunningServer]:
    """The same app with permessage-deflate switched off on the server."""
    with serve(make_app(), name="test tap, no deflate", ws_per_message_deflate=False) as server:
        yield server


@pytest.fixture
def tap(server: RunningServer) -> Iterator[Tap]:
    with Tap(server) as tap:
        yield tap


def settled(tap: Tap) -> list[Record]:
    """The records once every connection through the tap has closed."""
    return tap.wait_idle(SETTLE).records


def frames(records: list[Record], direction: str | None = None) -> list[Record]:
    return [
        record
        for record in records
        if record.kind == "frame" and direction in (None, record.direction)
    ]


def summary(records: list[Record]) -> list[tuple[str, str, bool]]:
    return [(r.direction, r.frame.opcode.name, r.frame.fin) for r in frames(records)]


# -- the handshake -------------------------------------------------------------------------------


def test_the_handshake_of_a_real_session(tap: Tap) -> None:
    with connect(tap.ws_url("/echo")) as ws:
        ws.send("hi")
        assert ws.recv(timeout=5) == "hi"
    records = settled(tap)
    request, response = records[0], records[1]
    assert (request.kind, request.direction) == ("handshake", CLIENT_TO_SERVER)
    assert (response.kind, response.direction) == ("handshake", SERVER_TO_CLIENT)
    assert isinstance(request.head, Request) and isinstance(response.head, Response)
    assert (request.head.method, request.head.target) == ("GET", "/echo")
    assert response.head.status == 101
    key = request.head.headers.get("Sec-WebSocket-Key")
    assert key is not None
    assert response.head.headers.get("Sec-WebSocket-Accept") == accept_key(key)
    assert response.cells()[4] == response.start_line == "101 Switching Protocols"
    assert request.start_line == "GET /echo" and records[2].start_line == ""


def test_a_refused_handshake_and_plain_http(tap: Tap) -> None:
    with socket.create_connection((tap.host, tap.port)) as sock:
        sock.sendall(build_request(f"{tap.host}:{tap.port}", "/nowhere"))
        while sock.recv(4096):
            pass
    assert httpx.get(tap.url).json() == {"ok": True}
    records = settled(tap)
    first = [record for record in records if record.connection == 1]
    assert [record.kind for record in first if record.kind != "closed"] == [
        "handshake",
        "handshake",
    ]
    assert first[1].head.status == 403
    second = [record for record in records if record.connection == 2 and record.head]
    assert [record.kind for record in second] == ["http", "http"]
    assert second[1].head.status == 200
    body = [record for record in records if record.kind == "http body"]
    assert body and b"ok" in body[-1].note.encode()


# -- frames --------------------------------------------------------------------------------------


def test_every_kind_of_frame(tap: Tap) -> None:
    with connect(tap.ws_url("/echo"), compression=None) as ws:
        ws.send("héllo")
        assert ws.recv(timeout=5) == "héllo"
        ws.send(b"\x00\xff")
        assert ws.recv(timeout=5) == b"\x00\xff"
        ws.send(["frag", "ment", "ed"])  # an iterable is sent as one fragmented message
        assert ws.recv(timeout=5) == "fragmented"
        assert ws.ping(b"are you there").wait(5)
        ws.close(4000, "see you")
    records = settled(tap)
    assert summary(records) == [
        ("→", "TEXT", True),
        ("←", "TEXT", True),
        ("→", "BINARY", True),
        ("←", "BINARY", True),
        ("→", "TEXT", False),
        ("→", "CONTINUATION", False),
        ("→", "CONTINUATION", False),
        ("→", "CONTINUATION", True),
        ("←", "TEXT", True),
        ("→", "PING", True),
        ("←", "PONG", True),
        ("→", "CLOSE", True),
        ("←", "CLOSE", True),
    ]
    data = frames(records)
    assert data[0].frame.payload == "héllo".encode() and data[0].note == "'héllo'"
    assert data[3].frame.payload == b"\x00\xff" and data[3].note == "00 ff"
    assert b"".join(record.frame.payload for record in data[4:8]) == b"fragmented"
    assert [record.note for record in data[4:7]] == ["'frag'", "'ment'", "'ed'"]
    assert data[9].frame.payload == data[10].frame.payload == b"are you there"
    for close in data[11:]:
        assert parse_close(close.frame.payload) == (4000, "see you")
        assert close.note == "4000 'see you'"
    assert all(record.frame.rsv1 is False for record in data)
    assert [record.kind for record in records[-2:]] == ["closed", "closed"]


def test_client_frames_are_masked_and_server_frames_are_not(tap: Tap) -> None:
    with connect(tap.ws_url("/echo"), compression=None) as ws:
        for text in ["one", "two", "three"]:
            ws.send(text)
            ws.recv(timeout=5)
    records = settled(tap)
    sent, received = frames(records, CLIENT_TO_SERVER), frames(records, SERVER_TO_CLIENT)
    assert len(sent) == len(received) == 4  # three texts and a close each way
    assert all(record.mask is not None and len(record.mask) == 4 for record in sent)
    assert len({record.mask for record in sent}) == len(sent)  # a fresh key for every frame
    assert all(record.mask is None and record.cells()[7] == "-" for record in received)
    # What the table shows is the unmasked payload; on the wire it was masked.
    first = sent[0]
    assert first.wire == encode(first.frame, mask=first.mask)
    assert first.wire.endswith(bytes(b ^ first.mask[i % 4] for i, b in enumerate(b"one")))
    assert "masked (client to server)" in str(explain(first.wire, role="server"))


def test_compression_sets_rsv1_when_negotiated(tap: Tap) -> None:
    text = "compress me " * 50
    with connect(tap.ws_url("/echo"), compression="deflate") as ws:
        ws.send(text)
        assert ws.recv(timeout=5) == text
    records = settled(tap)
    assert "permessage-deflate" in records[1].head.headers.get("Sec-WebSocket-Extensions")
    data = [record for record in frames(records) if not record.frame.opcode.is_control]
    assert [record.frame.rsv1 for record in data] == [True, True]
    assert all(record.compressed and record.note.startswith("(compressed)") for record in data)
    assert all(len(record.frame.payload) < len(text) // 5 for record in data)


def test_no_compression_when_the_client_does_not_ask(tap: Tap) -> None:
    with connect(tap.ws_url("/echo"), compression=None) as ws:
        ws.send("plain text")
        ws.recv(timeout=5)
    records = settled(tap)
    assert records[1].head.headers.get("Sec-WebSocket-Extensions") is None
    assert not any(record.frame.rsv1 for record in frames(records))
    assert frames(records)[0].note == "'plain text'"


def test_no_compression_when_the_server_declines(plain_server: RunningServer) -> None:
    with Tap(plain_server) as tap:
        with connect(tap.ws_url("/echo"), compression="deflate") as ws:
            ws.send("plain text")
            ws.recv(timeout=5)
        records = settled(tap)
    assert "permessage-deflate" in records[0].head.headers.get("Sec-WebSocket-Extensions")
    assert records[1].head.headers.get("Sec-WebSocket-Extensions") is None
    assert not any(record.frame.rsv1 for record in frames(records))


# -- bytes, odd endings, several connections ---------------------------------------------------


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while data := sock.recv(4096):
        received += data
    return received


def test_byte_counts_equal_what_passed_through(tap: Tap) -> None:
    key = new_key()
    sent = build_request(f"{tap.host}:{tap.port}", "/echo", key)
    with socket.create_connection((tap.host, tap.port), timeout=5) as sock:
        sock.sendall(sent)
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(4096)
        for frame in [Frame.text("abc"), Frame.binary(bytes(300)), Frame.close(1000)]:
            wire = encode(frame, mask=b"\x01\x02\x03\x04")
            sock.sendall(wire)
            sent += wire
        received += read_until_closed(sock)
    records = settled(tap)
    assert tap.byte_counts == {CLIENT_TO_SERVER: len(sent), SERVER_TO_CLIENT: len(received)}
    for direction in (CLIENT_TO_SERVER, SERVER_TO_CLIENT):
        decoded = sum(record.size for record in records if record.direction == direction)
        assert decoded == tap.byte_counts[direction]
    assert summary(records)[-2:] == [("→", "CLOSE", True), ("←", "CLOSE", True)]
    assert frames(records, SERVER_TO_CLIENT)[-1].frame == Frame.close(CloseCode.NORMAL_CLOSURE)


def test_a_connection_closed_mid_frame(tap: Tap) -> None:
    with socket.create_connection((tap.host, tap.port), timeout=5) as sock:
        sock.sendall(build_request(f"{tap.host}:{tap.port}", "/echo"))
        while b"\r\n\r\n" not in sock.recv(4096):
            pass
        wire = encode(Frame.text("this frame never ends"), mask=b"abcd")
        sock.sendall(wire[:10])
    records = settled(tap)
    truncated = [record for record in records if record.kind == "truncated"]
    assert len(truncated) == 1
    assert truncated[0].direction == CLIENT_TO_SERVER and truncated[0].size == 10


def test_several_connections_are_labelled(tap: Tap) -> None:
    async def talk(number: int) -> None:
        async with connect_async(tap.ws_url("/echo"), compression=None) as ws:
            await ws.send(f"client {number}")
            await ws.recv()

    async def both() -> None:
        await asyncio.gather(talk(1), talk(2))

    asyncio.run(both())
    records = settled(tap)
    assert {record.connection for record in records} == {1, 2}
    for connection in (1, 2):
        mine = [record for record in records if record.connection == connection]
        assert [record.kind for record in mine[:2]] == ["handshake", "handshake"]
        assert {record.cells()[0] for record in mine} == {f"#{connection}"}
    texts = {record.note for record in frames(records, CLIENT_TO_SERVER)} - {"1000 NORMAL_CLOSURE"}
    assert texts == {"'client 1'", "'client 2'"}


# -- the tap's own life --------------------------------------------------------------------------


def test_clear_forgets_and_keeps_recording(tap: Tap) -> None:
    with connect(tap.ws_url("/echo"), compression=None) as ws:
        ws.send("before")
        ws.recv(timeout=5)
        tap.clear()
        assert tap.records == [] and tap.byte_counts == {"→": 0, "←": 0}
        ws.send("after")
        ws.recv(timeout=5)
        records = tap.records
    # The connection's handshake was cleared: the frames are still decoded.
    assert summary(records) == [("→", "TEXT", True), ("←", "TEXT", True)]
    assert records[0].note == "'after'" and records[0].time == 0.0


def test_tables(tap: Tap) -> None:
    with connect(tap.ws_url("/echo"), compression=None) as ws:
        ws.send("<b>bold</b>")
        ws.recv(timeout=5)
    settled(tap)
    text, page = str(tap), tap._repr_html_()
    assert "GET /echo" in text and "'<b>bold</b>'" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold" not in page
    for column in ("conn", "ms", "dir", "kind", "opcode", "fin", "rsv1", "mask key", "length"):
        assert f">{column}</th>" in page
    assert "running" in repr(tap)


def test_a_target_that_is_not_there() -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        free_port = placeholder.getsockname()[1]
    with Tap(free_port) as tap:
        with socket.create_connection((tap.host, tap.port), timeout=5) as sock:
            assert sock.recv(1) == b""  # closed at once: nothing to relay to
        assert tap.wait_idle(SETTLE).records == []


def test_stop_context_manager_and_replacement(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    def tap_threads() -> list[threading.Thread]:
        return [
            thread for thread in threading.enumerate() if thread.name.startswith("ws_lessons tap:")
        ]

    first = Tap(server, name="replaced")
    with connect(first.ws_url("/echo")) as ws:
        second = Tap(server, name="replaced")  # a re-run cell: the old tap stops
        with pytest.raises(ConnectionClosed):
            ws.send("anyone?")
            ws.recv(timeout=5)
    assert "stopped" in repr(first)
    assert not [record for record in caplog.records if record.name == "asyncio"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((first.host, first.port), timeout=5)
    with second:
        assert httpx.get(second.url).json() == {"ok": True}
    assert "stopped" in repr(second)
    second.stop()  # twice is fine

    taps = [Tap(server.port), Tap(server, port=0, name="another")]
    assert len(tap_threads()) == 2
    for tap in taps:
        tap.stop()
    assert tap_threads() == []


def test_the_codec_reads_a_compressed_stream(tap: Tap) -> None:
    """FrameReader with allow_rsv1 takes what a client sent with permessage-deflate."""
    with connect(tap.ws_url("/echo"), compression="deflate") as ws:
        ws.send("héllo " * 20)
        ws.send(["frag", "mented"])
        ws.recv(timeout=5)
    records = settled(tap)
    wire = b"".join(record.wire for record in frames(records, CLIENT_TO_SERVER))
    received = FrameReader(role="server", allow_rsv1=True).feed(wire)
    assert [frame.opcode.name for frame in received] == [
        "TEXT",
        "TEXT",
        "CONTINUATION",
        "CONTINUATION",
        "CLOSE",
    ]
    assert received[0].rsv1 and received[1].rsv1 and not received[2].rsv1
