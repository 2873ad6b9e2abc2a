"""How much one client may do: messages a second (a token bucket), connections at once."""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Callable, Iterator


class TokenBucket:
    """Holds up to ``burst`` tokens and gains ``rate`` a second; each event spends one.

    ``clock`` gives the time in seconds; a test passes its own instead of sleeping.
    """

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()

    def take(self) -> bool:
        """Spend a token if there is one; ``False`` means the event is over the limit."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


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
