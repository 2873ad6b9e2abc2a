"""How much one client may do: messages a second (a token bucket), connections at once."""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator

from ws_lessons.bounds import TokenBucket

__all__ = ["ConnectionLimit", "TokenBucket"]


class ConnectionLimit:
    """At most ``limit`` connections open at once per user, in this server process.

    A slot is taken before the handshake is accepted and given back when the
    connection ends, so that two handshakes arriving together cannot both squeeze in.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: collections.Counter[str] = collections.Counter()

    @contextlib.contextmanager
    def slot(self, user: str) -> Iterator[bool]:
        """Hold a slot of ``user`` for the ``with`` block; yields ``False`` if none is free."""
        if self.open[user] >= self.limit:
            yield False
            return
        self.open[user] += 1
        try:
            yield True
        finally:
            self.open[user] -= 1
            if not self.open[user]:
                del self.open[user]
