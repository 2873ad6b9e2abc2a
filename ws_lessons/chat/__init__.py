"""The reference chat: rooms, presence, history and resume over one WebSocket per client.

What it says on the wire is written out in ``docs/chat-contract.md``.
``create_app()`` builds the FastAPI app; ``run()`` serves it until Ctrl-C or SIGTERM;
both take one :class:`~.settings.Settings`. ``SqliteBroker`` keeps history in a file;
``ChatClient`` stays connected and resumes. Its exceptions derive from
:class:`~.exceptions.ChatError` (the hierarchy is in :mod:`.exceptions`).

The modules, from the wire up: :mod:`.models` (the messages), :mod:`.settings`,
:mod:`.tokens` and :mod:`.guard` (who may connect), :mod:`.ratelimit`, :mod:`.broker`
with :mod:`.sqlite_broker` and :mod:`.redis_broker` (where messages are numbered and
kept), :mod:`.hub` (rooms and members), :mod:`.app` (the endpoint), :mod:`.server`,
:mod:`.ops` (probes, metrics, logs), :mod:`.client`, :mod:`.contract` (the conformance
suite). The top level imports lazily (PEP 562), so that the command line reads the
settings without loading the server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .client import ChatClient, backoff
    from .exceptions import ChatError
    from .server import run
    from .settings import Settings
    from .sqlite_broker import SqliteBroker

__all__ = [
    "ChatClient",
    "ChatError",
    "Settings",
    "SqliteBroker",
    "backoff",
    "create_app",
    "run",
]

_HOMES = {
    "create_app": "app",
    "run": "server",
    "ChatClient": "client",
    "backoff": "client",
    "ChatError": "exceptions",
    "Settings": "settings",
    "SqliteBroker": "sqlite_broker",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
