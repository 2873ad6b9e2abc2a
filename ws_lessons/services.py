"""Start the programs the scaling lesson runs beside the kernel: Redis, nginx, chat workers.

Each runs as a child process on a free loopback port and comes back as a
:class:`Service` handle once it accepts connections; ``stop()`` (or leaving a ``with``
block) ends it, and ``stop_all()`` ends every service still running, as it does when
Python exits.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ws_lessons.exceptions import WsLessonsError
from ws_lessons.proxies import LOOPBACK
from ws_lessons.server import Listening, lifecycle

__all__ = [
    "INSTALL",
    "START_TIMEOUT",
    "TLS",
    "WEBSOCKET_DIRECTIVES",
    "Service",
    "ServiceUnavailable",
    "free_port",
    "nginx_config",
    "program",
    "start_chat_worker",
    "start_nginx",
    "start_redis",
    "started",
]

START_TIMEOUT = 30.0  # a hang guard: a loaded machine starts Python slowly

INSTALL = {
    "redis-server": "sudo apt-get install redis-server (Debian/Ubuntu), brew install redis "
    "(macOS), or conda install -c conda-forge redis-server",
    "nginx": "sudo apt-get install nginx (Debian/Ubuntu), brew install nginx (macOS), "
    "or conda install -c conda-forge nginx",
}


class ServiceUnavailable(WsLessonsError, RuntimeError):
    """A program the lesson needs is not installed, or did not start."""


class Service(Listening):
    """A child process listening on ``port``; its output is kept in ``log_path``.

    Starting a service stops the running one of the same name first, so a notebook cell
    that starts services can be run again. ``env``: environment variables to add.
    """

    kind = "service"
    host = LOOPBACK

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        port: int,
        workdir: Path,
        scheme: str = "http",
        env: dict[str, str] | None = None,
    ) -> None:
        lifecycle.make_room(self.kind, name, LOOPBACK, port)  # a cell is run again
        self.name, self.port, self.workdir, self.scheme = name, port, workdir, scheme
        self.command = list(command)
        self.env = {**os.environ, **(env or {})}
        self.log_path = workdir / f"{name}.log"
        self.log_path.write_bytes(b"")
        self.start()

    def start(self) -> None:
        """Start the program (again, after :meth:`stop`: same port, same folder, same log)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, env=self.env
            )
        lifecycle.track(self)
        try:
            _wait_until_listening(self)
        except BaseException:
            self.stop()
            raise

    def ws_url(self, path: str = "/") -> str:
        url = super().ws_url(path)
        return url.replace("ws://", "wss://", 1) if self.scheme == "https" else url

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, count: int = 1, timeout: float = START_TIMEOUT) -> None:
        """Wait until the log holds ``text`` ``count`` times, e.g. one line per worker."""
        deadline = time.monotonic() + timeout
        while self.log.count(text) < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise ServiceUnavailable(f"{self.name} never logged {text!r} {count}x:\n{self.log}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Ask the process to exit (SIGTERM), and kill it if it has not after 5 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        lifecycle.forget(self)

    def kill(self) -> None:
        """End the process at once (SIGKILL), as a crash would."""
        self.process.kill()
        self.process.wait()
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.process.poll() is None else f"exited {self.process.returncode}"
        return f"<Service {self.name} {state} on {LOOPBACK}:{self.port}>"


def started() -> list[Service]:
    """The services started from this process that have not been stopped."""
    return [thing for thing in lifecycle.started() if isinstance(thing, Service)]


def _ephemeral_ports() -> range:
    """The ports the system hands out for port 0 (Linux says which; elsewhere IANA's range)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 49152, 65535  # RFC 6335 §6: the dynamic ports
    return range(low, high + 1)


def free_port() -> int:
    """A port free now on loopback, for a program that will listen on it in a moment.

    Taken outside the range the system hands out for port 0: between this check and the
    program's start, no other server asking for "any free port" can be given it.
    """
    ephemeral = _ephemeral_ports()
    pick = random.SystemRandom()  # not `random`: processes seeded alike would pick alike
    for _ in range(100 if ephemeral.start > 11_000 else 0):
        port = pick.randrange(10_000, ephemeral.start)
        with socket.socket() as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # every try was taken: let the system choose
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _wait_until_listening(service: Service) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise ServiceUnavailable(f"{service.name} exited at start:\n{service.log}")
        with socket.socket() as sock:
            if sock.connect_ex((LOOPBACK, service.port)) == 0:
                return
        time.sleep(0.02)
    raise ServiceUnavailable(f"{service.name} did not listen within {START_TIMEOUT:.0f} s")


def program(name: str) -> str:
    """The path of ``name``, or a :class:`ServiceUnavailable` that says how to install it."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise ServiceUnavailable(f"{name} is not installed. Install it with: {INSTALL[name]}")
    return found


def start_redis(name: str = "redis", *, persistent: bool = False) -> Service:
    """A throwaway Redis on a free port, loopback only.

    Nothing is saved to disk, unless ``persistent``: then every write is appended to a
    file and flushed to disk before Redis answers (``appendfsync always``), so a Redis
    stopped and started again (``stop()``, ``start()``) still has everything it confirmed.
    """
    port = free_port()
    command = [program("redis-server"), "--port", str(port), "--bind", LOOPBACK, "--save", ""]
    command += ["--appendonly", "yes", "--appendfsync", "always"] if persistent else []
    command += [] if persistent else ["--appendonly", "no"]
    return Service(name, command, port, Path(tempfile.mkdtemp(prefix="redis-")), "redis")


TLS = tuple[str | Path, str | Path]
"""A certificate and its private key: two PEM files."""


def start_chat_worker(
    *,
    secret: str,
    redis: str | None = None,
    port: int = 0,
    name: str = "",
    options: Sequence[str] = (),
    tls: TLS | None = None,
    grace: float = 1.0,
) -> Service:
    """``python -m ws_lessons serve chat`` in a child process (on a free port by default).

    ``options`` are more command-line options, e.g. ``["--rate", "1000"]``; ``tls``
    serves ``https://`` and ``wss://`` with this certificate and key. The ``secret``
    goes in the environment (``WS_LESSONS_SECRET``), where ``ps`` does not show it.
    ``grace``: seconds a stop may take (``--grace``): its clients are closed with 1001 in
    batches over the first half; short by default, so that :meth:`Service.stop` is quick.
    """
    port = port or free_port()
    command = [sys.executable, "-m", "ws_lessons", "serve", "chat", "--port", str(port)]
    command += ["--grace", str(grace), *options]
    if redis:
        command += ["--redis", redis]
    if tls:
        command += ["--ssl-certfile", str(tls[0]), "--ssl-keyfile", str(tls[1])]
    workdir = Path(tempfile.mkdtemp(prefix="chat-"))
    scheme, env = "https" if tls else "http", {"WS_LESSONS_SECRET": secret}
    return Service(name or f"chat-{port}", command, port, workdir, scheme, env)


WEBSOCKET_DIRECTIVES = """proxy_http_version 1.1;
proxy_set_header Upgrade $http_upgrade;
proxy_set_header Connection $connection_upgrade;"""
"""What a ``location`` needs to pass WebSockets on (nginx docs, "WebSocket proxying"):
HTTP/1.1 to the upstream, and the hop-by-hop ``Upgrade`` and ``Connection`` headers set
explicitly, since a proxy does not forward hop-by-hop headers (RFC 9110 §7.6.1)."""


def nginx_config(
    port: int,
    upstreams: Sequence[int],
    websocket: str = WEBSOCKET_DIRECTIVES,
    tls: TLS | None = None,
    read_timeout: str | None = "1h",
    prefix: str = "/",
) -> str:
    """An nginx config that spreads HTTP and WebSocket clients over ``upstreams``.

    ``websocket`` is put in the ``location`` block (pass "" to see what breaks without
    it). nginx closes a proxied connection when the server sent nothing for
    ``proxy_read_timeout`` (60 s by default, nginx docs "WebSocket proxying"). The chat
    pings every 20 s, which is enough to keep a quiet chat open under the default; the
    1 h (``read_timeout``) also spares a server started with longer pings or none;
    ``None`` leaves the directive out, for a ``websocket`` block that sets its own.
    ``tls``: nginx serves ``https://`` and ``wss://`` with this certificate and key and
    talks plain HTTP to the upstreams, telling them the scheme in ``X-Forwarded-Proto``.
    ``prefix`` (e.g. ``"/chat/"``) serves the app under that path: nginx replaces the
    prefix with ``/`` before passing a request on (a ``proxy_pass`` URI, nginx docs).
    """
    if not (prefix.startswith("/") and prefix.endswith("/")):
        raise ValueError(f"the prefix must start and end with '/', not {prefix!r}")
    target = "http://workers" if prefix == "/" else "http://workers/"
    servers = "\n".join(f"        server {LOOPBACK}:{upstream};" for upstream in upstreams)
    directives = "\n".join(f"            {line.strip()}" for line in websocket.splitlines())
    timeout = "" if read_timeout is None else f"proxy_read_timeout {read_timeout};"
    listen = f"{LOOPBACK}:{port}"
    if tls:
        listen += f" ssl;\n        ssl_certificate {tls[0]};\n        ssl_certificate_key {tls[1]}"
    return f"""daemon off;
worker_processes 1;
pid nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    upstream workers {{
{servers}
    }}
    server {{
        listen {listen};
        location {prefix} {{
            proxy_pass {target};
{directives}
            proxy_set_header Host $http_host;  # with the port: the Origin check compares them
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            {timeout}
            proxy_send_timeout 1h;
        }}
    }}
}}
"""


def start_nginx(
    upstreams: Sequence[int],
    websocket: str = WEBSOCKET_DIRECTIVES,
    *,
    name: str = "nginx",
    tls: TLS | None = None,
    read_timeout: str | None = "1h",
    prefix: str = "/",
) -> Service:
    """nginx on a free port in front of ``upstreams`` (ports on 127.0.0.1), under ``prefix``.

    See :func:`nginx_config` for ``websocket``, ``tls``, ``read_timeout`` and ``prefix``.
    """
    nginx = program("nginx")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="nginx-"))
    (workdir / "tmp").mkdir()
    config = workdir / "nginx.conf"
    config.write_text(nginx_config(port, upstreams, websocket, tls, read_timeout, prefix))
    command = [nginx, "-p", str(workdir), "-c", str(config), "-e", "stderr"]
    return Service(name, command, port, workdir, "https" if tls else "http")
