"""Every setting of the chat, in one place: the command line builds one :class:`Settings`,
which :func:`~.app.create_app` and :func:`~.app.run` take as they are.

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


def add_arguments(serve: argparse.ArgumentParser) -> None:
    """The chat's options (some the scratch server reads too), their defaults from here."""
    d, add = DEFAULTS, serve.add_argument
    add("--host", default=d.host, help="address to listen on")
    add("--port", type=int, default=d.port, help="port (0: any free port)")
    add(
        "--allow-origin",
        action="append",
        dest="allowed_origins",
        metavar="ORIGIN",
        help="a browser origin allowed to connect besides the chat's own, e.g. "
        "http://localhost:3000, or * for any (repeatable)",
    )
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
    add(
        "--workers",
        type=int,
        default=d.workers,
        metavar="N",
        help=f"worker processes serving the one port; above 1 needs --redis (default: {d.workers})",
    )
    add("--ssl-certfile", metavar="PEM", help="serve https:// and wss://")
    add("--ssl-keyfile", metavar="PEM", help="the certificate's private key")
    add(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=d.proxy_headers,
        help="take the client's address and scheme from X-Forwarded-For and "
        "X-Forwarded-Proto, when they come from --forwarded-allow-ips (default: on)",
    )
    add(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="comma-separated proxy addresses to trust, or * for any "
        "(default: $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1)",
    )
    number = {"type": int, "metavar": "N"}
    seconds = {"type": float, "metavar": "SECONDS"}
    options: list[tuple[str, dict[str, Any], str]] = [
        (
            "--max-size",
            {"type": int, "metavar": "BYTES"},
            "largest message a client may send; bigger closes with 1009",
        ),
        ("--ping-interval", seconds, "ping every client this often"),
        ("--ping-timeout", seconds, "drop a client that has not answered a ping within this time"),
        (
            "--rate",
            {**number, "type": float},
            "messages a second one connection may send on average",
        ),
        ("--burst", number, "messages one connection may send in a burst"),
        ("--max-connections", number, "connections one user may hold at once"),
        (
            "--keep-rooms",
            seconds,
            "keep a room's history this long after its last member left",
        ),
        (
            "--max-rooms",
            number,
            "rooms nobody is in whose history is kept; the longest idle goes first",
        ),
        (
            "--grace",
            seconds,
            "on SIGTERM, close the chat's clients (1001) in batches over half this time, "
            "and exit within it",
        ),
    ]
    for flag, kind, text in options:
        default = getattr(d, flag[2:].replace("-", "_"))
        add(flag, **{"default": default, **kind}, help=f"{text} (default: {default:g})")
    add(
        "--request-timeout",
        type=float,
        default=d.request_timeout,
        metavar="SECONDS",
        help="a new connection must send its request (a handshake) within this time, "
        "else 408; the scratch server also cuts a client that does not read what it is "
        f"sent within this time (both servers; default: {d.request_timeout:g})",
    )
    add(
        "--max-clients",
        type=int,
        metavar="N",
        help="connections this process holds at once, then 503 (both servers; default: the "
        "open-file limit, raised to its hard limit, minus 64)",
    )
    add(
        "--log-format",
        choices=["text", "json"],
        default=d.log_format,
        help="text: uvicorn's lines; json: one JSON object a line, with room and user "
        f"(default: {d.log_format})",
    )


def from_arguments(args: argparse.Namespace, secret: str | None = None) -> Settings:
    """The settings the command line asked for; raises :class:`SettingsError`."""
    return Settings(
        secret=secret,
        allowed_origins=args.allowed_origins,
        rate=args.rate,
        burst=args.burst,
        max_connections=args.max_connections,
        keep_rooms=args.keep_rooms,
        max_rooms=args.max_rooms,
        host=args.host,
        port=args.port,
        workers=args.workers,
        history=args.history,
        redis=args.redis,
        max_size=args.max_size,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
        request_timeout=args.request_timeout,
        max_clients=args.max_clients,
        grace=args.grace,
        log_format=args.log_format,
    )
