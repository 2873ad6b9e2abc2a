"""What the package started in the background, and the one rule for starting it again.

Servers, raw TCP servers, proxies, taps, byte counters and child-process services all
follow the same rule, because a notebook cell is often run twice:

    Starting something again stops the previous one first. "Again" means the same
    *kind* (``"server"``, ``"tap"``, ``"service"``…) under the same *name*, or anything
    that holds the fixed *host*:*port* asked for. The previous one is stopped before the
    new one binds, so its port is free.

Left out, a name defaults to what the thing is for: a server or a byte counter is named
after the port it got (``"server-54321"``), so it never replaces anything; a tap after
its target (``"tap of lesson 03"``), so a tap started again in front of the same server
replaces the old one. uvicorn, Hypercorn, Granian and raw TCP servers are all of the kind
``"server"``: a cell that swaps one for another replaces it.

:func:`stop_all` stops everything still running, oldest first (a server before the tap
in front of it); it runs when Python exits.
"""

from __future__ import annotations

import atexit
import threading
from typing import Protocol

__all__ = ["Started", "forget", "make_room", "started", "stop_all", "track"]


class Started(Protocol):
    """Anything started in the background: it has a kind, a name, an address, and stops."""

    kind: str
    name: str
    host: str
    port: int

    def stop(self) -> None: ...


_started: list[Started] = []
_lock = threading.Lock()


def make_room(kind: str, name: str | None, host: str, port: int) -> None:
    """Stop what a new ``kind`` called ``name`` on ``host``:``port`` would run again.

    That is the running thing of the same kind and name, and the one holding ``port`` on
    ``host`` when ``port`` is not 0. Call it before binding the new one's socket.
    """
    with _lock:
        previous = [
            thing
            for thing in _started
            if (name is not None and (thing.kind, thing.name) == (kind, name))
            or (port and (thing.host, thing.port) == (host, port))
        ]
    for thing in previous:
        thing.stop()


def track(thing: Started) -> None:
    """Note ``thing``, which has started, for :func:`make_room` and :func:`stop_all`."""
    with _lock:
        _started.append(thing)


def forget(thing: Started) -> None:
    """Drop ``thing``, which has stopped. Safe to call twice."""
    with _lock:
        if thing in _started:
            _started.remove(thing)


def started() -> list[Started]:
    """What was started in this process and not stopped yet, oldest first."""
    with _lock:
        return list(_started)


def stop_all() -> None:
    """Stop everything started in this process: servers, taps, byte counters, services."""
    for thing in started():  # oldest first: a server, then the tap in front of it
        thing.stop()


atexit.register(stop_all)
