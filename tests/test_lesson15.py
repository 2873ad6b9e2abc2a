"""Lesson 15 against the real things: Hypercorn and Granian in the process, an HTTP/2
exchange read byte for byte from the tap, a WebTransport server on aioquic with a real
Chromium page, and ``bench servers`` run small."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import httpx
import pytest
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import HTMLResponse
from websockets.sync.client import connect

from ws_lessons import apps, serve, stop_all
from ws_lessons.exercises.chat import solution_chat
from ws_lessons.exercises.lesson15 import check_chat_on
from ws_lessons.frames import Frame, encode
from ws_lessons.h2tap import PREFACE, H2Frame, H2Tap
from ws_lessons.server import started
from ws_lessons.servers import ServerError, serve_granian, serve_hypercorn
from ws_lessons.webtransport import serve_webtransport, short_lived_certificate

ROOT = Path(__file__).resolve().parent.parent
MASK = bytes.fromhex("37fa213d")


def h2_app() -> FastAPI:
    app = apps.echo_app("/ws")

    @app.get("/hello")
    async def hello(request: Request) -> dict[str, str]:
        return {"http_version": request.scope["http_version"]}

    return app


@pytest.fixture
def cleanup() -> Iterator[None]:
    yield
    stop_all()


class Client:
    """A raw h2 client, as the lesson writes it."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=5)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(header_encoding="utf-8"))
        self.authority = f"{host}:{port}"
        self.conn.initiate_connection()

    def pump(self, kind: type, stream: int | None = None) -> list[h2.events.Event]:
        self.sock.sendall(self.conn.data_to_send())
        events: list[h2.events.Event] = []
        while not any(
            isinstance(e, kind) and stream in (None, getattr(e, "stream_id", 0)) for e in events
        ):
            data = self.sock.recv(65536)
            assert data, "the server closed the connection"
            events += self.conn.receive_data(data)
            self.sock.sendall(self.conn.data_to_send())
        return events

    def connect_websocket(self) -> None:
        self.conn.send_headers(
            1,
            [
                (":method", "CONNECT"),
                (":protocol", "websocket"),
                (":scheme", "http"),
                (":path", "/ws"),
                (":authority", self.authority),
                ("sec-websocket-version", "13"),
            ],
        )

    def close(self) -> None:
        self.conn.close_connection()
        self.sock.sendall(self.conn.data_to_send())
        self.sock.close()


def frames_of(tap: H2Tap, direction: str, kind: str, stream: int) -> list[H2Frame]:
    return [f for f in tap.frames if (f.direction, f.type, f.stream) == (direction, kind, stream)]


def test_a_websocket_over_http2_byte_for_byte(cleanup: None) -> None:
    server = serve_hypercorn(h2_app(), name="h2 byte for byte")
    tap = H2Tap(server)
    client = Client(tap.host, tap.port)
    client.pump(h2.events.RemoteSettingsChanged)
    assert client.conn.remote_settings.enable_connect_protocol == 1
    client.connect_websocket()
    client.pump(h2.events.ResponseReceived, 1)
    client.conn.send_data(1, encode(Frame.text("hello"), mask=MASK))
    client.conn.send_headers(
        3,
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/hello"),
            (":authority", client.authority),
        ],
        end_stream=True,
    )
    events = client.pump(h2.events.StreamEnded, 3)
    if not any(isinstance(e, h2.events.DataReceived) and e.stream_id == 1 for e in events):
        client.pump(h2.events.DataReceived, 1)
    client.conn.send_data(1, encode(Frame.close(1000), mask=MASK))
    client.pump(h2.events.DataReceived, 1)
    client.conn.end_stream(1)
    client.sock.sendall(client.conn.data_to_send())
    # What the lesson says of Hypercorn 0.18: our END_STREAM crashes the connection's task
    # (hypercorn#329), which closes the connection.
    fixed = "Hypercorn no longer fails on END_STREAM after a WebSocket closes: update lesson 15"
    assert client.sock.recv(65536) == b"", fixed
    client.sock.close()
    tap.wait_idle()
    for _ in range(250):
        if any("KeyError: 1" in line for line in server.logs):
            break
        time.sleep(0.02)
    assert any("KeyError: 1" in line for line in server.logs), server.logs

    assert tap.chunks[0].data.startswith(PREFACE)
    # RFC 8441 §3: the server's SETTINGS frame (type 4, no flags, stream 0) allows it.
    settings = next(f for f in tap.frames if (f.direction, f.type) == ("←", "SETTINGS"))
    assert settings.raw[3:9] == bytes.fromhex("04 00 00000000")
    entries = [settings.payload[i : i + 6] for i in range(0, len(settings.payload), 6)]
    assert bytes.fromhex("0008 00000001") in entries
    # RFC 8441 §4: the extended CONNECT, a HEADERS frame on stream 1 that leaves it open.
    (request,) = frames_of(tap, "→", "HEADERS", 1)
    assert request.raw[3:9] == bytes.fromhex("01 04 00000001")  # HEADERS, END_HEADERS only
    assert request.headers == (
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http"),
        (":path", "/ws"),
        (":authority", client.authority),
        ("sec-websocket-version", "13"),
    )
    # RFC 8441 §5: 200, not 101, and no Sec-WebSocket-Accept.
    (response,) = frames_of(tap, "←", "HEADERS", 1)
    assert response.headers[0] == (":status", "200")
    assert "sec-websocket-accept" not in dict(response.headers)
    # The WebSocket frames inside DATA, byte for byte: masked one way, not the other.
    sent = frames_of(tap, "→", "DATA", 1)
    hello = encode(Frame.text("hello"), mask=MASK)
    assert sent[0].raw == len(hello).to_bytes(3, "big") + bytes.fromhex("00 00 00000001") + hello
    assert hello == bytes.fromhex("81 85 37fa213d") + bytes(
        b ^ MASK[i % 4] for i, b in enumerate(b"hello")
    )
    received = frames_of(tap, "←", "DATA", 1)
    assert received[0].payload == b"\x81\x05hello"
    assert [f.websocket for f in received[:2]] == [(Frame.text("hello"),), (Frame.close(1000),)]
    assert received[1].payload == bytes.fromhex("88 02 03e8")
    # Stream 3, plain HTTP, on the same connection, answered while stream 1 was open.
    assert {chunk.connection for chunk in tap.chunks} == {1}
    (answer,) = frames_of(tap, "←", "HEADERS", 3)
    assert answer.headers[0] == (":status", "200")
    body = b"".join(f.payload for f in frames_of(tap, "←", "DATA", 3))
    assert body == b'{"http_version":"2"}'
    # Our END_STREAM, RFC 8441 §5's "orderly TCP-level closure", then GOAWAY.
    assert sent[-1].raw == bytes.fromhex("000000 00 01 00000001")
    assert tap.frames[-1] == sent[-1]  # and nothing after it
    assert not received[1].flags & 0x1  # Hypercorn's close frame came without END_STREAM


def test_granian_refuses_the_extended_connect(cleanup: None) -> None:
    server = serve_granian(h2_app(), name="h2 granian")
    tap = H2Tap(server)
    client = Client(tap.host, tap.port)
    client.pump(h2.events.RemoteSettingsChanged)
    assert client.conn.remote_settings.enable_connect_protocol == 0
    client.connect_websocket()
    client.pump(h2.events.StreamReset, 1)
    client.close()
    tap.wait_idle()
    settings = next(f for f in tap.frames if (f.direction, f.type) == ("←", "SETTINGS"))
    assert "ENABLE_CONNECT_PROTOCOL" not in settings.settings
    (reset,) = frames_of(tap, "←", "RST_STREAM", 1)
    assert reset.raw == bytes.fromhex("000004 03 00 00000001 00000001")  # PROTOCOL_ERROR


def test_the_same_app_on_three_servers_and_stop_all(cleanup: None) -> None:
    app = apps.echo_app("/ws")
    servers = [
        serve(app, name="three uvicorn"),
        serve_hypercorn(app, name="three hypercorn"),
        serve_granian(app, name="three granian"),
    ]
    for server in servers:
        with connect(server.ws_url("/ws"), open_timeout=5) as ws:
            ws.send("ping")
            assert ws.recv(timeout=5) == "ping"
    again = serve_granian(app, name="three granian")  # a cell run again replaces its server
    assert not servers[2].running and again.running
    assert [s for s in started() if s in servers[1:]] == [servers[1]]
    stop_all()
    for server in [*servers, again]:
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.url + "/")


def test_bad_certificate_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="go together"):
        serve_hypercorn(FastAPI(), certfile=tmp_path / "cert.pem")
    with pytest.raises(ValueError, match="14 days"):
        short_lived_certificate(days=30)


def test_a_busy_port_is_a_clear_error(cleanup: None) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        for start in (serve_hypercorn, serve_granian):
            with pytest.raises(ServerError):
                start(FastAPI(), port=port, name="busy")
    assert not [thing for thing in started() if thing.name == "busy"]


@pytest.mark.slow
def test_the_chat_contract_holds_on_hypercorn_and_granian(
    capsys: pytest.CaptureFixture[str],
) -> None:
    verdicts = check_chat_on(solution_chat, ["hypercorn", "granian"])
    out = capsys.readouterr().out
    assert all(verdicts), out
    assert out.count("11 of 11 clauses") == 2


WT_PAGE = """async ({url, hash, datagrams}) => {
    const transport = new WebTransport(url, {
        serverCertificateHashes: [{algorithm: "sha-256", value: new Uint8Array(hash)}],
    });
    await transport.ready;
    const stream = await transport.createBidirectionalStream();
    const writer = stream.writable.getWriter();
    await writer.write(new TextEncoder().encode("hello over QUIC"));
    await writer.close();
    const echoed = await new Response(stream.readable).text();
    let received = 0;
    const reader = transport.datagrams.readable.getReader();
    (async () => { while (!(await reader.read()).done) received++; })().catch(() => {});
    const out = transport.datagrams.writable.getWriter();
    for (let i = 0; i < datagrams; i++) out.write(new Uint8Array([i % 256, 1, 2, 3]));
    await new Promise((resolve) => setTimeout(resolve, 500));
    transport.close();
    return {echoed, sent: datagrams, received};
}"""


@pytest.mark.browser
def test_webtransport_echo_and_datagrams_from_chromium(chromium_path: str, cleanup: None) -> None:
    from playwright.sync_api import sync_playwright

    from ws_lessons import browser

    page_app = FastAPI()
    page_app.get("/")(lambda: HTMLResponse("<title>webtransport</title>"))
    page_server = serve(page_app, name="wt page")
    wt = serve_webtransport(name="wt test")
    assert 9.9 < wt.certificate.days <= 14
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=browser.ARGS)
        page = chromium.new_page()
        page.goto(page_server.url)
        options = {"url": wt.url, "hash": wt.certificate_hash, "datagrams": 300}
        result = page.evaluate(WT_PAGE, options)
        chromium.close()
    assert result["echoed"] == "hello over QUIC"
    assert (wt.counts.sessions, wt.counts.streams, wt.counts.stream_bytes) == (1, 1, 15)
    # Datagrams may be lost both ways, never made up: sent >= at the server >= echoed back.
    assert result["sent"] == 300
    assert 300 >= wt.counts.datagrams >= result["received"] >= 1


WHERE = """async () => {
    const page = await (await fetch("/where")).json();
    const socket = await new Promise((resolve) => {
        const ws = new WebSocket(location.href.replace("http", "ws") + "where");
        ws.onmessage = (event) => resolve(JSON.parse(event.data));
        ws.onerror = () => resolve("error");
    });
    return {page, socket};
}"""


@pytest.mark.browser
def test_chromium_opens_its_websocket_over_http2_only_where_the_server_allows_it(
    chromium_path: str, cleanup: None, tmp_path: Path
) -> None:
    import base64
    import hashlib

    import trustme
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from playwright.sync_api import sync_playwright

    from ws_lessons import browser

    certificate = trustme.CA().issue_cert("127.0.0.1")
    certificate.cert_chain_pems[0].write_to_path(tmp_path / "cert.pem")
    certificate.private_key_pem.write_to_path(tmp_path / "key.pem")
    key = x509.load_pem_x509_certificate(certificate.cert_chain_pems[0].bytes()).public_key()
    spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    trust = (
        "--ignore-certificate-errors-spki-list="
        + base64.b64encode(hashlib.sha256(spki).digest()).decode()
    )
    app = FastAPI()

    @app.get("/where")
    async def where(request: Request) -> dict[str, object]:
        return {"http": request.scope["http_version"], "port": str(request.scope["client"][1])}

    @app.websocket("/where")
    async def where_ws(websocket: WebSocket) -> None:
        await websocket.accept()
        client = websocket.scope["client"]
        await websocket.send_json({"http": websocket.scope["http_version"], "port": str(client[1])})
        await websocket.close()

    seen = {}
    tls = {"certfile": tmp_path / "cert.pem", "keyfile": tmp_path / "key.pem"}
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path, args=[*browser.ARGS, trust]
        )
        for start in (serve_hypercorn, serve_granian):
            with start(app, name="tls where", **tls) as server:
                page = chromium.new_page()
                page.goto(server.url + "/")
                seen[server.software] = page.evaluate(WHERE)
                page.close()
        chromium.close()
    hypercorn, granian = seen["Hypercorn"], seen["Granian"]
    assert hypercorn["page"] == hypercorn["socket"]  # HTTP/2 both, one connection
    assert hypercorn["socket"]["http"] == "2"
    assert granian["page"]["http"] == "2"
    assert granian["socket"]["http"] == "1.1"  # no RFC 8441: Chromium falls back
    assert granian["socket"]["port"] != granian["page"]["port"]


def test_bench_servers_prints_its_table() -> None:
    code = "from ws_lessons import bench; bench.CYCLES['servers'] = 60; "
    code += "raise SystemExit(bench.main(['servers']))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env={**os.environ, "WS_LESSONS_LANG": "en"},
    )
    # A Granian left running at exit aborts the process (granian#693): 0 means it did not.
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert "ratios against uvicorn" in lines[0]
    table = [line for line in lines if "uvicorn 1.00x" in line]
    assert len(table) == 2
    assert all("Hypercorn" in line and "Granian" in line for line in table)
    assert any("Autobahn|Testsuite" in line for line in lines)
