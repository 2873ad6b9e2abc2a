"""``serve chat --ssl-certfile --ssl-keyfile``: https:// and wss://, with a CA made for the test."""

from __future__ import annotations

import base64
import hashlib
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.sync_api import sync_playwright
from test_scaling import SECRET, read
from websockets.exceptions import InvalidMessage
from websockets.sync.client import connect

from ws_lessons.browser import ARGS
from ws_lessons.chat import tokens
from ws_lessons.services import Service, free_port, start_chat_worker, start_nginx

pytestmark = pytest.mark.timeout(120)
GUARD = 20.0
"""Seconds to wait for a handshake: a hang guard, far beyond what a busy machine takes."""
SITE = "chat.test"
"""A name Chromium resolves to 127.0.0.1 (--host-resolver-rules). Not loopback by name:
browsers let pages reach 127.0.0.1 and localhost even from https:// pages, since those
count as potentially trustworthy (W3C Secure Contexts, §3.1)."""


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def certificate(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by ``ca``: its PEM file and its key's."""
    folder = tmp_path_factory.mktemp("tls")
    issued = ca.issue_cert("127.0.0.1", "localhost", SITE)
    cert, key = folder / "cert.pem", folder / "key.pem"
    issued.cert_chain_pems[0].write_to_path(cert)
    issued.private_key_pem.write_to_path(key)
    return cert, key


@pytest.fixture(scope="module")
def trusting(ca: trustme.CA) -> ssl.SSLContext:
    """A client context that trusts ``ca``, and only it."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def tls_chat(certificate: tuple[Path, Path]) -> Iterator[Service]:
    with start_chat_worker(secret=SECRET, tls=certificate) as worker:
        yield worker
    assert "Traceback" not in worker.log, worker.log


def chat_url(service: Service, user: str = "ada") -> str:
    return service.ws_url(f"/ws/lobby?token={tokens.issue(user, SECRET)}")


def test_a_wss_client_that_trusts_the_ca_gets_welcome(
    tls_chat: Service, trusting: ssl.SSLContext
) -> None:
    assert chat_url(tls_chat).startswith("wss://")
    with connect(chat_url(tls_chat), ssl=trusting, open_timeout=GUARD) as ws:
        assert read(ws, "welcome")["user"] == "ada"
    assert httpx.get(f"{tls_chat.url}/healthz", verify=trusting).json() == {"status": "ok"}


def test_a_client_that_does_not_trust_the_ca_is_refused(tls_chat: Service) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(chat_url(tls_chat), ssl=ssl.create_default_context(), open_timeout=GUARD)


def test_plain_ws_on_the_tls_port_fails_cleanly(
    tls_chat: Service, trusting: ssl.SSLContext
) -> None:
    plain = chat_url(tls_chat).replace("wss://", "ws://", 1)
    with pytest.raises(InvalidMessage):  # the TLS server answers no HTTP at all
        connect(plain, open_timeout=GUARD)
    with connect(chat_url(tls_chat), ssl=trusting, open_timeout=GUARD) as ws:  # still serving
        read(ws, "welcome")


@pytest.mark.needs("nginx")
def test_nginx_terminates_tls_in_front_of_two_workers(
    certificate: tuple[Path, Path], trusting: ssl.SSLContext
) -> None:
    workers = [start_chat_worker(secret=SECRET) for _ in range(2)]
    try:
        with start_nginx([w.port for w in workers], tls=certificate) as proxy:
            for user in ["ada", "bob"]:
                with connect(chat_url(proxy, user), ssl=trusting, open_timeout=GUARD) as ws:
                    read(ws, "welcome")
            # Behind the proxy the app sees https (X-Forwarded-Proto): the cookie is Secure.
            reply = httpx.post(f"{proxy.url}/token", json={"user": "cy"}, verify=trusting)
            assert "secure" in reply.headers["set-cookie"].lower()
    finally:
        for worker in workers:
            worker.stop()
    assert [w.log.count('"WebSocket /ws/lobby') for w in workers] == [1, 1]


def spki_hash(certificate: Path) -> str:
    """The base64 SHA-256 of the certificate's public key, as Chromium's flag wants it."""
    cert = x509.load_pem_x509_certificate(certificate.read_bytes())
    der = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


OPEN = """async (url) => {
    try {
        const ws = new WebSocket(url);
        return await new Promise((resolve) => {
            ws.onmessage = (event) => { resolve(JSON.parse(event.data).type); ws.close(); };
            ws.onerror = () => resolve("error");
        });
    } catch (error) {
        return `${error.name}: ${error.message}`;
    }
}"""


@pytest.mark.browser
@pytest.mark.slow
def test_chromium_on_an_https_page_refuses_ws_and_opens_wss(
    chromium_path: str, certificate: tuple[Path, Path]
) -> None:
    trust = f"--ignore-certificate-errors-spki-list={spki_hash(certificate[0])}"
    args = [*ARGS, trust, f"--host-resolver-rules=MAP {SITE} 127.0.0.1"]
    port = free_port()  # the page's origin names the site, which the chat must allow
    site = ["--allow-origin", f"https://{SITE}:{port}"]
    # A plain chat that would accept the ws:// connection, from any page.
    with (
        start_chat_worker(secret=SECRET, tls=certificate, port=port, options=site) as tls_chat,
        start_chat_worker(secret=SECRET, options=["--allow-origin", "*"]) as plain,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=chromium_path, args=args)
        page = browser.new_page()
        page.goto(f"http://{SITE}:{plain.port}/")
        insecure_url = chat_url(plain).replace("127.0.0.1", SITE)
        assert page.evaluate(OPEN, insecure_url) == "welcome"  # from an http:// page: fine
        page.goto(f"https://{SITE}:{tls_chat.port}/")
        assert page.evaluate("window.isSecureContext")
        insecure = page.evaluate(OPEN, insecure_url)
        secure = page.evaluate(OPEN, chat_url(tls_chat).replace("127.0.0.1", SITE))
        browser.close()
        handshakes = plain.log.count('"WebSocket /ws/lobby')
    assert insecure.startswith("SecurityError"), insecure  # mixed content: not even tried
    assert "insecure WebSocket" in insecure
    assert handshakes == 1  # the browser never sent the second one
    assert secure == "welcome"


@pytest.mark.parametrize(
    ("options", "trusted"),
    [
        ([], True),  # uvicorn's default: proxy headers on, trusted from 127.0.0.1
        (["--no-proxy-headers"], False),
        (["--forwarded-allow-ips", "10.0.0.1"], False),  # nginx is not that address
    ],
)
@pytest.mark.needs("nginx")
def test_proxy_headers_give_the_client_address_and_the_scheme(
    certificate: tuple[Path, Path], trusting: ssl.SSLContext, options: list[str], trusted: bool
) -> None:
    with (
        start_chat_worker(secret=SECRET, options=options) as worker,
        start_nginx([worker.port], tls=certificate) as proxy,
    ):
        client = {"X-Forwarded-For": "203.0.113.7"}  # as if a proxy before nginx said so
        with connect(chat_url(proxy), ssl=trusting, additional_headers=client) as ws:
            read(ws, "welcome")
        reply = httpx.post(f"{proxy.url}/token", json={"user": "cy"}, verify=trusting)
    cookie = reply.headers["set-cookie"].lower()
    assert ('203.0.113.7:0 - "WebSocket /ws/lobby' in worker.log) is trusted, worker.log
    assert ("secure" in cookie) is trusted, cookie


def test_a_certificate_without_its_key_is_refused_with_the_reason() -> None:
    command = [sys.executable, "-m", "ws_lessons", "serve", "chat", "--ssl-certfile", "cert.pem"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "--ssl-certfile and --ssl-keyfile go together" in result.stderr
