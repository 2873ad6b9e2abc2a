"""Every setting of the chat, in one place: the command line builds one :class:`Settings`,
which :func:`~.app.create_app` and :func:`~.server.run` take as they are.

Each default is stated once, here, and ``python -m ws_lessons serve chat --help`` prints
them from here (this module imports only the standard library, so that the command line
builds its parser without loading the server). The rules that tie settings together
(several workers need Redis) are checked once, when a :class:`Settings` is made.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

from ws_lessons.proxies import LOOPBACK

from .exceptions import SettingsError
from .tokens import TOKEN_TTL

__all__ = [
    "DEFAULTS",
    "KEEP_ROOMS",
    "MAX_ROOMS",
    "WORKERS_NEED_REDIS",
    "Settings",
    "SettingsError",
    "add_arguments",
    "from_arguments",
]

KEEP_ROOMS = 300.0
"""Seconds a room's history is kept after its last member left (in-memory broker)."""
MAX_ROOMS = 200
"""Rooms whose history the in-memory broker keeps; the longest idle is forgotten first."""

WORKERS_NEED_REDIS = (
    "--workers above 1 needs --redis URL: each worker process would keep its own rooms in "
    "its own memory, so users who reach different workers would not see each other."
)


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the chat is tuned with. The app's own settings come first, then the server's."""

    secret: str | None = dataclasses.field(default=None, repr=False)
    """Signs the tokens; a random one (tokens die with the process) if None."""
    allowed_origins: Sequence[str] | None = ()
    """Browser origins allowed to connect besides the chat's own, e.g.
    ``["http://localhost:3000"]``; ``["*"]`` allows every origin. Clients that send no
    ``Origin`` header (programs, not browsers) are always allowed."""
    max_text: int = 1000
    """The longest ``say`` text, in characters."""
    history_size: int = 100
    """Messages kept per room for ``?since=``."""
    queue_size: int = 100
    """Messages queued for a client before it counts as too slow and is dropped (1013)."""
    rate: float = 5.0
    """Messages a second a connection may send on average..."""
    burst: int = 10
    """...and at once."""
    max_connections: int = 5
    """Connections one user may hold at once (tabs, devices)."""
    token_ttl: float = TOKEN_TTL
    """How long a token from ``POST /token`` stays valid, in seconds."""
    keep_rooms: float = KEEP_ROOMS
    """Seconds a room's history is kept after its last member left (in memory)."""
    max_rooms: int = MAX_ROOMS
    """Rooms nobody is in whose history is kept, the longest idle forgotten first (in memory)."""

    # -- serving: read by run() ------------------------------------------------------------

    host: str = LOOPBACK
    port: int = 8000
    workers: int = 1
    """Processes serving the one port; above 1 needs ``redis``. A worker sent SIGTERM
    drains and is replaced (a rolling restart); one that dies otherwise stops them all."""
    history: str | None = None
    """A SQLite file that keeps room history and ``seq`` across restarts (memory if None)."""
    redis: str | None = None
    """A Redis URL, e.g. ``redis://127.0.0.1:6379``: processes given the same one share
    rooms, presence, ``seq`` and history (instead of ``history``)."""
    max_size: int = 64 * 1024
    """The largest message a client may send, in bytes; bigger closes with 1009."""
    ping_interval: float | None = 20.0
    """uvicorn pings every client this often, in seconds..."""
    ping_timeout: float | None = 20.0
    """...and drops one that has not answered within this time."""
    ssl_certfile: str | None = None
    """Serve ``https://`` and ``wss://`` with this certificate (PEM)..."""
    ssl_keyfile: str | None = None
    """...and its private key."""
    proxy_headers: bool = True
    """Trust ``X-Forwarded-For`` and ``X-Forwarded-Proto`` from ``forwarded_allow_ips``."""
    forwarded_allow_ips: str | None = None
    """Proxy addresses to trust (uvicorn's default: $FORWARDED_ALLOW_IPS, else loopback)."""
    request_timeout: float = 10.0
    """A new connection must send its request (a handshake) within this time, else 408."""
    max_clients: int | None = None
    """Connections one process holds at once, then 503 (None: the open-file limit, raised
    to its hard limit, minus 64). See :class:`~ws_lessons.limits.Limits`."""
    grace: float = 10.0
    """Seconds a stopping process takes at most: its clients are closed in batches over
    the first half, and it has exited before the end (0: all at once)."""
    log_format: Literal["text", "json"] = "text"
    """``"text"`` (uvicorn's lines) or ``"json"`` (one object a line)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_origins", tuple(self.allowed_origins or ()))
        if self.workers < 1:
            raise SettingsError("--workers must be 1 or more")
        if self.history is not None and self.redis is not None:
            raise SettingsError("choose --history (one process) or --redis (several), not both")
        if self.workers > 1 and self.redis is None:
            raise SettingsError(WORKERS_NEED_REDIS)
        if self.grace < 0:
            raise SettingsError("--grace must be 0 or more")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise SettingsError("--ssl-certfile and --ssl-keyfile go together")
        if self.log_format not in ("text", "json"):
            raise SettingsError(f"log format: text or json, not {self.log_format!r}")

    def but(self, **changes: Any) -> Settings:
        """These settings with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes) if changes else self


DEFAULTS = Settings()


NUMBERS: list[tuple[str, type, str, str]] = [
    ("--max-size", int, "BYTES", "largest message a client may send; bigger closes with 1009"),
    ("--ping-interval", float, "SECONDS", "ping every client this often"),
    (
        "--ping-timeout",
        float,
        "SECONDS",
        "drop a client that has not answered a ping within this time",
    ),
    ("--rate", float, "N", "messages a second one connection may send on average"),
    ("--burst", int, "N", "messages one connection may send in a burst"),
    ("--max-connections", int, "N", "connections one user may hold at once"),
    (
        "--keep-rooms",
        float,
        "SECONDS",
        "keep a room's history this long after its last member left",
    ),
    (
        "--max-rooms",
        int,
        "N",
        "rooms nobody is in whose history is kept; the longest idle goes first",
    ),
    (
        "--grace",
        float,
        "SECONDS",
        "on SIGTERM, close the chat's clients (1001) in batches over half this time, and exit "
        "within it",
    ),
    (
        "--request-timeout",
        float,
        "SECONDS",
        "a new connection must send its request (a handshake) within this time, else 408; the "
        "scratch server also cuts a client that does not read what it is sent within this "
        "time, for both servers",
    ),
]
"""The numeric options: flag, type, metavar, help; the default is the setting's."""


def add_arguments(serve: argparse.ArgumentParser) -> None:
    """The chat's options (some the scratch server reads too), their defaults from here."""
    _add_address(serve)
    _add_where(serve)
    for flag, kind, metavar, text in NUMBERS:
        default = getattr(DEFAULTS, flag[2:].replace("-", "_"))
        text = f"{text} (default: {default:g})"
        serve.add_argument(flag, type=kind, default=default, metavar=metavar, help=text)
    serve.add_argument(
        "--max-clients",
        type=int,
        metavar="N",
        help="connections this process holds at once, then 503 (both servers; default: the "
        "open-file limit, raised to its hard limit, minus 64)",
    )
    serve.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=DEFAULTS.log_format,
        help="text: uvicorn's lines; json: one JSON object a line, with room and user "
        f"(default: {DEFAULTS.log_format})",
    )


def _add_address(serve: argparse.ArgumentParser) -> None:
    """Where the chat listens, for whom, and behind which proxies."""
    add = serve.add_argument
    add("--host", default=DEFAULTS.host, help="address to listen on")
    add("--port", type=int, default=DEFAULTS.port, help="port (0: any free port)")
    add(
        "--allow-origin",
        action="append",
        dest="allowed_origins",
        metavar="ORIGIN",
        help="a browser origin allowed to connect besides the chat's own, e.g. "
        "http://localhost:3000, or * for any (repeatable)",
    )
    add("--ssl-certfile", metavar="PEM", help="serve https:// and wss://")
    add("--ssl-keyfile", metavar="PEM", help="the certificate's private key")
    add(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=DEFAULTS.proxy_headers,
        help="take the client's address and scheme from X-Forwarded-For and "
        "X-Forwarded-Proto, when they come from --forwarded-allow-ips (default: on)",
    )
    add(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="comma-separated proxy addresses to trust, or * for any "
        "(default: $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1)",
    )


def _add_where(serve: argparse.ArgumentParser) -> None:
    """Where the rooms live: memory, a file, or Redis shared by worker processes."""
    where = serve.add_mutually_exclusive_group()
    where.add_argument(
        "--history",
        metavar="PATH",
        help="keep room history and seq in this SQLite file, across restarts (default: memory)",
    )
    where.add_argument(
        "--redis",
        metavar="URL",
        help="share rooms with every process given the same Redis, e.g. redis://127.0.0.1:6379",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=DEFAULTS.workers,
        metavar="N",
        help="worker processes serving the one port; above 1 needs --redis "
        f"(default: {DEFAULTS.workers})",
    )


FROM_ARGUMENTS = [
    "allowed_origins",
    "rate",
    "burst",
    "max_connections",
    "keep_rooms",
    "max_rooms",
    "host",
    "port",
    "workers",
    "history",
    "redis",
    "max_size",
    "ping_interval",
    "ping_timeout",
    "ssl_certfile",
    "ssl_keyfile",
    "proxy_headers",
    "forwarded_allow_ips",
    "request_timeout",
    "max_clients",
    "grace",
    "log_format",
]
"""The settings the command line sets, by the names ``argparse`` gives them."""


def from_arguments(args: argparse.Namespace, secret: str | None = None) -> Settings:
    """The settings the command line asked for; raises :class:`SettingsError`."""
    return Settings(secret=secret, **{name: getattr(args, name) for name in FROM_ARGUMENTS})
