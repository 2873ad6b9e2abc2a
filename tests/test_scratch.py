"""The from-scratch echo server: real sockets, the real websockets client, hand-built frames."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.sync.client import connect as connect_sync

from ws_lessons import scratch
from ws_lessons.frames import CloseCode, Frame, FrameReader, Opcode, encode, parse_close
from ws_lessons.handshake import build_request, new_key

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


@pytest.fixture
async def url() -> AsyncIterator[str]:
    server = await asyncio.start_server(scratch.handle, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    async with server:
        yield f"ws://{host}:{port}/"
        server.close()


async def raw_connection(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection that has been through the opening handshake, for hand-built frames."""
    host, port = url.removeprefix("ws://").rstrip("/").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(build_request(f"{host}:{port}", key=new_key()))
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    return reader, writer


async def frames_until_close(reader: asyncio.StreamReader) -> list[Frame]:
    """Every frame the server sends, until its close frame (or EOF)."""
    frames, received = FrameReader("client"), []
    async with asyncio.timeout(5):
        while data := await reader.read(65536):
            received += frames.feed(data)
            if received and received[-1].opcode is Opcode.CLOSE:
                break
    return received


def masked(frame: Frame) -> bytes:
    return encode(frame, mask=secrets.token_bytes(4))


async def test_echoes_text_and_binary(url: str) -> None:
    async with connect(url, compression=None) as ws:
        for message in ["hello", "héllo ✓", b"\x00\xff" * 1000, "x" * 70_000]:
            await ws.send(message)
            assert await ws.recv() == message


async def test_reassembles_a_fragmented_message_with_a_ping_in_the_middle(url: str) -> None:
    reader, writer = await raw_connection(url)
    writer.write(masked(Frame(Opcode.TEXT, b"frag", fin=False)))
    writer.write(masked(Frame(Opcode.PING, b"are you there?")))
    writer.write(masked(Frame(Opcode.CONTINUATION, "ment ✓".encode())))
    writer.write(masked(Frame.close()))
    received = await frames_until_close(reader)
    assert [(f.opcode, f.payload) for f in received] == [
        (Opcode.PONG, b"are you there?"),
        (Opcode.TEXT, "fragment ✓".encode()),
        (Opcode.CLOSE, (1000).to_bytes(2, "big")),
    ]
    writer.close()


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([Frame(Opcode.TEXT, b"\xff\xfe")], CloseCode.INVALID_DATA),
        ([Frame(Opcode.TEXT, b"a", fin=False), Frame(Opcode.TEXT, b"b")], CloseCode.PROTOCOL_ERROR),
        ([Frame(Opcode.CONTINUATION, b"orphan")], CloseCode.PROTOCOL_ERROR),
        ([Frame(Opcode.TEXT, b"x", rsv2=True)], CloseCode.PROTOCOL_ERROR),
        ([Frame(Opcode.PING, b"p" * 126)], CloseCode.PROTOCOL_ERROR),
        ([Frame(Opcode.CLOSE, (999).to_bytes(2, "big"))], CloseCode.PROTOCOL_ERROR),
    ],
    ids=[
        "bad UTF-8",
        "text inside a fragmented text",
        "lone continuation",
        "RSV2",
        "long ping",
        "close code 999",
    ],
)
async def test_fails_the_connection_with_the_rule_s_close_code(
    url: str, frames: list[Frame], code: CloseCode
) -> None:
    reader, writer = await raw_connection(url)
    for frame in frames:
        writer.write(masked(frame))
    received = await frames_until_close(reader)
    assert received[-1].opcode is Opcode.CLOSE
    assert parse_close(received[-1].payload)[0] == code
    async with asyncio.timeout(5):  # and the server closes the TCP connection
        assert await reader.read() == b""
    writer.close()


async def test_an_empty_close_is_answered_with_1000(url: str) -> None:
    """RFC 6455 §5.5.1: a close frame may have no body; with no code to echo, 1000."""
    reader, writer = await raw_connection(url)
    writer.write(masked(Frame(Opcode.CLOSE, b"")))
    received = await frames_until_close(reader)
    assert [(f.opcode, f.payload) for f in received] == [(Opcode.CLOSE, b"\x03\xe8")]
    async with asyncio.timeout(5):
        assert await reader.read() == b""
    writer.close()


async def test_an_unsolicited_pong_gets_no_answer(url: str) -> None:
    """RFC 6455 §5.5.3: "A response to an unsolicited Pong frame is not expected."."""
    reader, writer = await raw_connection(url)
    writer.write(masked(Frame(Opcode.PONG, b"heartbeat")))
    writer.write(masked(Frame.text("after")))
    writer.write(masked(Frame.close()))
    received = await frames_until_close(reader)
    assert [f.opcode for f in received] == [Opcode.TEXT, Opcode.CLOSE]
    assert received[0].payload == b"after"
    writer.close()


async def test_fragments_that_add_up_over_the_limit_close_with_1009(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each fragment is under the limit; the message they make is not."""
    monkeypatch.setattr(scratch, "MAX_MESSAGE", 1000)
    reader, writer = await raw_connection(url)
    writer.write(masked(Frame(Opcode.BINARY, bytes(600), fin=False)))
    writer.write(masked(Frame(Opcode.CONTINUATION, bytes(600))))
    received = await frames_until_close(reader)
    assert [f.opcode for f in received] == [Opcode.CLOSE]
    assert parse_close(received[0].payload)[0] == CloseCode.MESSAGE_TOO_BIG
    writer.close()


async def test_an_unmasked_frame_from_a_client_is_refused(url: str) -> None:
    reader, writer = await raw_connection(url)
    writer.write(encode(Frame.text("not masked")))
    received = await frames_until_close(reader)
    assert parse_close(received[-1].payload)[0] == CloseCode.PROTOCOL_ERROR
    writer.close()


async def test_a_message_over_the_limit_closes_with_1009(url: str) -> None:
    reader, writer = await raw_connection(url)
    # Only the header: the server refuses the frame before its 16 MiB payload arrives.
    header = encode(Frame(Opcode.BINARY, b""))[:1] + bytes([0x80 | 127])
    writer.write(header + (scratch.MAX_MESSAGE + 1).to_bytes(8, "big") + secrets.token_bytes(4))
    received = await frames_until_close(reader)
    assert parse_close(received[-1].payload)[0] == CloseCode.MESSAGE_TOO_BIG
    writer.close()


async def test_the_closing_handshake_echoes_the_code(url: str) -> None:
    async with connect(url) as ws:
        await ws.close(4000, "done")
    assert ws.close_code == 4000


async def test_a_client_that_leaves_without_closing_costs_nothing(url: str) -> None:
    ws = await connect(url)
    ws.transport.abort()
    async with connect(url) as ws:  # the server goes on serving others
        await ws.send("still here")
        assert await ws.recv() == "still here"


@pytest.mark.parametrize(
    ("request_head", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
        (
            build_request("x", key=new_key()).replace(
                b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Version: 8"
            ),
            b"426",
        ),
        (b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
    ],
    ids=["no upgrade", "version 8", "POST"],
)
async def test_a_bad_handshake_is_refused(url: str, request_head: bytes, status: bytes) -> None:
    host, port = url.removeprefix("ws://").rstrip("/").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request_head)
    async with asyncio.timeout(5):
        answer = await reader.read()
    assert answer.split(b" ")[1] == status
    if status == b"426":  # RFC 6455 §4.4: say which version the server speaks
        assert b"Sec-WebSocket-Version: 13" in answer
    writer.close()


def test_serve_scratch_on_the_command_line() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "ws_lessons", "serve", "scratch", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            line = process.stdout.readline() if process.stdout else ""
            url = line.split(" on ")[1].split()[0]
            with connect_sync(url, open_timeout=5) as ws:
                ws.send("over the command line")
                assert ws.recv(timeout=5) == "over the command line"
        finally:
            process.terminate()
            process.wait(timeout=10)


async def test_garbage_instead_of_a_handshake_gets_400(url: str) -> None:
    host, port = url.removeprefix("ws://").rstrip("/").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"\x16\x03\x01 not http at all\r\n\r\n")
    async with asyncio.timeout(5):
        assert (await reader.read()).startswith(b"HTTP/1.1 400 ")
    writer.close()
