"""Each embedded uvicorn's log lines go to that server's handle, not to the notebook.

uvicorn logs through the standard ``logging`` module, on module-level loggers that every
server in the process shares. A filter on those loggers sends each record from a server's
thread to that server's :attr:`~ws_lessons.server.RunningServer.logs`, and lets records
from other threads through untouched, so a uvicorn started by other means logs as usual.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Iterable

from ws_lessons.limits import HideQueryValues

__all__ = ["LOG_LINES_KEPT", "Records", "attach", "detach", "format_records", "hide_tokens"]

LOG_LINES_KEPT = 1000
# asyncio's too: a server's loop warns there when the app writes to a connection already lost
# ("socket.send() raised exception."), which belongs in that server's log, not the kernel's.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "asyncio")

Records = collections.deque[logging.LogRecord]

_formatter = logging.Formatter("%(levelname)-7s %(name)s: %(message)s")


def format_records(records: Iterable[logging.LogRecord]) -> list[str]:
    """``records`` as log lines, e.g. ``INFO    uvicorn.error: Application startup complete.``"""
    return [line for record in records for line in _formatter.format(record).splitlines()]


class _LogRouter(logging.Filter):
    """Send uvicorn's records from each server thread to that server's log, and nowhere else."""

    def __init__(self) -> None:
        super().__init__()
        self.destinations: dict[int, Records] = {}
        for name in UVICORN_LOGGERS:
            logging.getLogger(name).addFilter(self)

    def attach(self, thread: threading.Thread, records: Records) -> None:
        # Called before thread.start(), when the ident is not known yet: key on the object.
        self.destinations[id(thread)] = records
        self.last(UVICORN_LOGGERS)

    def last(self, names: Iterable[str]) -> None:
        """Come after the filters added since (redaction), so that they run first."""
        for name in names:
            logging.getLogger(name).removeFilter(self)
            logging.getLogger(name).addFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        records = self.destinations.get(id(threading.current_thread()))
        if records is None:
            return True
        records.append(record)
        return False


_router = _LogRouter()
_hidden = HideQueryValues()


def attach(thread: threading.Thread, records: Records) -> None:
    """From now on, uvicorn's records logged on ``thread`` go to ``records`` only."""
    _router.attach(thread, records)


def detach(thread: threading.Thread) -> None:
    """Stop keeping ``thread``'s records (it has ended)."""
    _router.destinations.pop(id(thread), None)


def hide_tokens() -> None:
    """From now on, uvicorn's log lines in this process show ``?token=…``, not the token."""
    names = ("uvicorn.access", "uvicorn.error")
    for name in names:
        logging.getLogger(name).addFilter(_hidden)  # a filter is added once, however often
    _router.last(names)
