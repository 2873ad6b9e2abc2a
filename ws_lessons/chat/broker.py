"""Where each room's messages are numbered and kept.

The hub asks a broker for three things: number and keep a message, the messages after
a given number, and the last number. :class:`MemoryBroker` keeps them in this process;
a broker backed by SQLite (history that survives a restart) or Redis (rooms shared by
several server processes) implements the same :class:`Broker` protocol.
"""

from __future__ import annotations

import collections
import time
from typing import Protocol

from .models import Said


class Broker(Protocol):
    async def publish(self, room: str, user: str, text: str) -> Said:
        """Give ``text`` the room's next ``seq`` and a timestamp, keep it, and return it."""
        ...

    async def history(self, room: str, since: int) -> list[Said]:
        """The kept messages of ``room`` whose ``seq`` is greater than ``since``, oldest first."""
        ...

    async def last_seq(self, room: str) -> int:
        """The ``seq`` of the room's last message; 0 before the first."""
        ...


class MemoryBroker:
    """Keeps the last ``history_size`` messages of each room in memory."""

    def __init__(self, history_size: int = 100) -> None:
        self.history_size = history_size
        self._seqs: collections.Counter[str] = collections.Counter()
        self._history: dict[str, collections.deque[Said]] = {}

    async def publish(self, room: str, user: str, text: str) -> Said:
        self._seqs[room] += 1
        said = Said(room=room, user=user, text=text, seq=self._seqs[room], ts=time.time())
        kept = self._history.setdefault(room, collections.deque(maxlen=self.history_size))
        kept.append(said)
        return said

    async def history(self, room: str, since: int) -> list[Said]:
        return [said for said in self._history.get(room, ()) if said.seq > since]

    async def last_seq(self, room: str) -> int:
        return self._seqs[room]
