"""A token bucket: on average ``rate`` events a second, in bursts of up to ``burst``."""

from __future__ import annotations

import time


class TokenBucket:
    """Holds up to ``burst`` tokens and gains ``rate`` a second; each event spends one."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self) -> bool:
        """Spend a token if there is one; ``False`` means the event is over the limit."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
