"""A WebTransport echo server on aioquic (HTTP/3 over QUIC, UDP), run in the kernel.

``serve_webtransport()`` listens on a UDP port of 127.0.0.1 and accepts WebTransport
sessions (an extended CONNECT with ``:protocol webtransport`` on HTTP/3): every
bidirectional stream is echoed back, every datagram is echoed as a datagram. It counts
what it saw (``.counts``), so that what a browser page sent can be compared with what
arrived.

A browser trusts the server without a certificate authority when the page passes the
certificate's SHA-256 in ``serverCertificateHashes`` (W3C WebTransport §6.3, "custom
certificate requirements"): the certificate must be X.509 v3, use an ECDSA P-256 (secp256r1)
key, and be valid for at most 14 days. :func:`short_lived_certificate` makes one.

The server speaks the draft Chromium and aioquic share (``draft02`` of
draft-ietf-webtrans-http3); the protocol is not an RFC yet.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import hashlib
import ipaddress
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ws_lessons.proxies import LOOPBACK
from ws_lessons.server import lifecycle
from ws_lessons.server.background import START_TIMEOUT, STOP_TIMEOUT, Background, close_loop

__all__ = ["Certificate", "WebTransportServer", "serve_webtransport", "short_lived_certificate"]

LOG_LINES_KEPT = 200
MAX_DATAGRAM = 65536
MAX_STREAM_ECHO = 1024 * 1024
"""Bytes one stream may have echoed; a client sending more has its stream reset."""


@dataclass(frozen=True)
class Certificate:
    """A certificate and its key, in PEM files, and the SHA-256 of its DER form."""

    certfile: Path
    keyfile: Path
    sha256: bytes
    not_after: datetime.datetime

    @property
    def days(self) -> float:
        """How many days it stays valid from now."""
        return (self.not_after - datetime.datetime.now(datetime.UTC)).total_seconds() / 86400


def short_lived_certificate(days: int = 10, host: str = LOOPBACK) -> Certificate:
    """A self-signed ECDSA P-256 certificate for ``host``, valid ``days`` days (at most 14)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    if not 0 < days <= 14:
        raise ValueError("serverCertificateHashes accepts certificates valid for 14 days at most")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    not_after = now + datetime.timedelta(days=days)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([_alt_name(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = Path(tempfile.mkdtemp(prefix="ws-lessons-wt-"))
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    return Certificate(certfile, keyfile, hashlib.sha256(der).digest(), not_after)


def _alt_name(host: str) -> Any:
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


@dataclass
class Counts:
    """What the server saw, over all sessions."""

    sessions: int = 0
    streams: int = 0
    stream_bytes: int = 0
    datagrams: int = 0
    refused: int = 0


def _protocol_class(server: WebTransportServer) -> type:
    from aioquic.asyncio import QuicConnectionProtocol
    from aioquic.h3.connection import H3Connection
    from aioquic.h3.events import (
        DatagramReceived,
        HeadersReceived,
        WebTransportStreamDataReceived,
    )
    from aioquic.quic.connection import stream_is_unidirectional
    from aioquic.quic.events import ProtocolNegotiated

    class Session(QuicConnectionProtocol):
        """One QUIC connection: HTTP/3 with WebTransport sessions on it."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.http: H3Connection | None = None
            self.sessions: set[int] = set()
            self.echoed: collections.Counter[int] = collections.Counter()

        def quic_event_received(self, event: Any) -> None:
            if isinstance(event, ProtocolNegotiated):
                self.http = H3Connection(self._quic, enable_webtransport=True)
            if self.http is not None:
                for http_event in self.http.handle_event(event):
                    self.http_event_received(http_event)

        def http_event_received(self, event: Any) -> None:
            assert self.http is not None
            counts = server.counts
            if isinstance(event, HeadersReceived):
                headers = dict(event.headers)
                wanted = headers.get(b":method") == b"CONNECT" and (
                    headers.get(b":protocol") == b"webtransport"
                )
                if wanted and headers.get(b":path") == server.path.encode():
                    self.sessions.add(event.stream_id)
                    counts.sessions += 1
                    server.note(f"session {event.stream_id} opened from {headers.get(b'origin')!r}")
                    self.http.send_headers(
                        event.stream_id,
                        [(b":status", b"200"), (b"sec-webtransport-http3-draft", b"draft02")],
                    )
                else:
                    counts.refused += 1
                    self.http.send_headers(event.stream_id, [(b":status", b"404")], True)
            elif isinstance(event, DatagramReceived) and event.stream_id in self.sessions:
                counts.datagrams += 1
                self.http.send_datagram(event.stream_id, event.data)
            elif isinstance(event, WebTransportStreamDataReceived):
                self.echo(event.stream_id, event.data, event.stream_ended, event.session_id)
            self.transmit()

        def echo(self, stream_id: int, data: bytes, ended: bool, session_id: int) -> None:
            assert self.http is not None
            if session_id not in self.sessions:
                return
            if stream_is_unidirectional(stream_id):
                return  # a one-way stream from the page has nowhere to echo to: not used here
            if self.echoed[stream_id] == 0 and (data or ended):
                server.counts.streams += 1
            self.echoed[stream_id] += len(data)
            if self.echoed[stream_id] > MAX_STREAM_ECHO:
                self._quic.reset_stream(stream_id, 0)
                del self.echoed[stream_id]
                return
            server.counts.stream_bytes += len(data)
            self._quic.send_stream_data(stream_id, data, end_stream=ended)
            if ended:
                del self.echoed[stream_id]

    return Session


class WebTransportServer(Background):
    """A handle on the server started by :func:`serve_webtransport`."""

    kind = "webtransport"

    def __init__(self, name: str, sock: socket.socket, certificate: Certificate, path: str):
        super().__init__(name, sock)
        self.certificate = certificate
        self.path = path
        self.counts = Counts()
        self.logs: collections.deque[str] = collections.deque(maxlen=LOG_LINES_KEPT)
        self._quic_server: Any = None

    @property
    def url(self) -> str:
        """The address a page passes to ``new WebTransport(url, ...)``."""
        return f"https://{self.host}:{self.port}{self.path}"

    @property
    def certificate_hash(self) -> list[int]:
        """The certificate's SHA-256, as bytes for a page's ``serverCertificateHashes``."""
        return list(self.certificate.sha256)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and self._quic_server is not None

    def note(self, line: str) -> None:
        self.logs.append(line)

    def reset_counts(self) -> None:
        self.counts = Counts()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<WebTransportServer {self.name!r} {state} at {self.url} (UDP)>"

    def _run(self) -> None:
        self._loop.run_forever()
        close_loop(self._loop)

    async def _listen(self) -> None:
        from aioquic.asyncio.server import QuicServer
        from aioquic.h3.connection import H3_ALPN
        from aioquic.quic.configuration import QuicConfiguration

        configuration = QuicConfiguration(
            is_client=False, alpn_protocols=H3_ALPN, max_datagram_frame_size=MAX_DATAGRAM
        )
        configuration.load_cert_chain(self.certificate.certfile, self.certificate.keyfile)
        protocol = _protocol_class(self)
        loop = asyncio.get_running_loop()
        _, self._quic_server = await loop.create_datagram_endpoint(
            lambda: QuicServer(configuration=configuration, create_protocol=protocol),
            sock=self._socket,
        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Close every session and stop listening. Safe to call twice."""
        if self._thread.is_alive():

            async def close() -> None:
                if self._quic_server is not None:
                    self._quic_server.close()

            with contextlib.suppress(Exception):
                self.run(close(), timeout)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        self._quic_server = None
        self._release()


def serve_webtransport(
    *,
    port: int = 0,
    host: str = LOOPBACK,
    name: str = "webtransport",
    path: str = "/echo",
    certificate: Certificate | None = None,
) -> WebTransportServer:
    """Start a WebTransport echo server on UDP ``host``:``port`` (0: a free port).

    Without ``certificate`` a fresh :func:`short_lived_certificate` is made. Serving again
    under the same ``name`` replaces the old server; ``stop_all()`` stops it.
    """
    lifecycle.make_room(WebTransportServer.kind, name, host, port)
    certificate = certificate or short_lived_certificate(host=host)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    handle = WebTransportServer(name, sock, certificate, path)
    lifecycle.track(handle)
    handle._thread.start()
    try:
        handle.run(handle._listen(), START_TIMEOUT)
    except BaseException:
        handle.stop()
        raise
    return handle
