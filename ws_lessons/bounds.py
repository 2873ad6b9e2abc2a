"""Bounds any server needs, in the standard library only (the scratch server uses them).

A token bucket for events a client may send at a bounded rate, and the open-file
limit, which caps how many connections one process can hold.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

__all__ = ["RESERVED_FILES", "Clock", "TokenBucket", "connection_cap", "raise_open_files"]

Clock = Callable[[], float]
RESERVED_FILES = 64
"""Descriptors kept for everything but clients: the listening socket, files, Redis, logs."""


class TokenBucket:
    """Holds up to ``burst`` tokens and gains ``rate`` a second; each event spends one.

    ``clock`` gives the time in seconds; a test passes its own instead of sleeping.
    """

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.updated = float(burst), clock()

    def take(self) -> bool:
        """Spend a token if there is one; ``False`` means the event is over the limit."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def raise_open_files() -> tuple[int, int]:
    """Raise this process's soft open-file limit to the hard one; return (before, after).

    Each connection holds a file descriptor; the soft limit is often 1024 while the hard
    one is much higher. Returns ``(0, 0)`` where there is no such limit (Windows).
    """
    try:
        import resource
    except ImportError:  # Windows
        return 0, 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != soft:
        with contextlib.suppress(ValueError, OSError):  # macOS refuses RLIM_INFINITY
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def connection_cap(open_files: int) -> int:
    """Connections a process with ``open_files`` descriptors may hold: all but a reserve."""
    if open_files <= 0:
        return 10_000  # no limit to respect (Windows): a cap all the same
    return max(8, min(open_files - RESERVED_FILES, 100_000), open_files // 2)
