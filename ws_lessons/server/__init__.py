"""Run servers inside the current process: a notebook kernel, a script or a test.

``serve(app)`` runs an ASGI app with uvicorn, ``serve_streams(handler)`` a raw TCP
server; each on an event loop of its own in a background thread, so a client in the same
cell can talk to it. Starting one again under the same name replaces the old one (the rule
every background thing follows: :mod:`ws_lessons.server.lifecycle`), and ``stop_all()``
stops everything. The modules:

- :mod:`~ws_lessons.server.lifecycle`: what is running, and the rule for starting again;
- :mod:`~ws_lessons.server.background`: the base: a socket, a thread, an event loop;
- :mod:`~ws_lessons.server.embedded`: uvicorn in that thread (``serve``);
- :mod:`~ws_lessons.server.streams`: a raw TCP server (``serve_streams``);
- :mod:`~ws_lessons.server.logs`: each server's log lines kept on its handle.
"""

from __future__ import annotations

from ws_lessons.server.background import Listening, ServerError
from ws_lessons.server.embedded import RunningServer, serve
from ws_lessons.server.lifecycle import Started, started, stop_all
from ws_lessons.server.streams import StreamServer, serve_streams

__all__ = [
    "Listening",
    "RunningServer",
    "ServerError",
    "Started",
    "StreamServer",
    "running",
    "serve",
    "serve_streams",
    "started",
    "stop_all",
]


def running() -> list[RunningServer | StreamServer]:
    """The servers started by :func:`serve` and :func:`serve_streams` still running."""
    return [thing for thing in started() if isinstance(thing, RunningServer | StreamServer)]
