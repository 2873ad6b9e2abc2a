"""Where each room's messages are numbered and kept.

The hub asks a broker for three things: number and keep a message, the messages after
a given number, and the last number. :class:`MemoryBroker` keeps them in this process;
:class:`~ws_lessons.chat.sqlite_broker.SqliteBroker` in a SQLite file (history that
survives a restart); a broker backed by Redis (rooms shared by several server processes)
implements the same :class:`Broker` protocol.

What the hub relies on, whatever the broker:

- ``publish`` gives each message of a room the next ``seq`` (1, 2, 3 ... with no gap and
  no repeat, even across restarts if the broker is durable), keeps it, and only then
  returns it; the hub sends it to the room's members right away. Calls made by one hub
  must return in ``seq`` order within a room, or its members see them out of order.
- ``history`` returns what is still kept after ``since``; a bounded history may start
  later than ``since + 1`` (the client then knows, from the first ``seq``, what it lost).
- ``last_seq`` is the ``seq`` of the last message ``publish`` returned, 0 before any.
- A broker whose backend is away (Redis) raises
  :class:`~ws_lessons.chat.exceptions.BrokerUnavailable`, whatever the backend's own
  error was: the app closes the connections concerned with 1013 Try Again Later.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .models import Joined, Left, Said, ServerMessage
from .settings import KEEP_ROOMS, MAX_ROOMS

__all__ = ["KEEP_ROOMS", "MAX_ROOMS", "Broker", "MemoryBroker", "SharedBroker"]


class Broker(Protocol):
    """What the hub asks of every broker."""

    async def publish(self, room: str, user: str, text: str) -> Said:
        """Give ``text`` the room's next ``seq`` and a timestamp, keep it, and return it."""
        ...

    async def history(self, room: str, since: int) -> list[Said]:
        """The kept messages of ``room`` whose ``seq`` is greater than ``since``, oldest first."""
        ...

    async def last_seq(self, room: str) -> int:
        """The ``seq`` of the room's last message; 0 before the first."""
        ...


@runtime_checkable
class SharedBroker(Broker, Protocol):
    """A broker several server processes share (see :mod:`.redis_broker`).

    Each hub then hears every message and presence change through :meth:`listen`, its
    own included, and sends nothing to its members directly; presence is counted across
    processes by :meth:`enter` and :meth:`leave`.
    """

    unavailable: str | None
    """Why the backend cannot be reached right now (to tell clients), or None."""
    reconnects: int
    """How many times :meth:`listen` got the backend back after losing it."""

    async def enter(self, room: str, user: str) -> bool:
        """Count a connection of ``user`` in ``room``; true if it is the user's first."""
        ...

    async def leave(self, room: str, user: str) -> bool:
        """Count one connection fewer; true if it was the user's last."""
        ...

    async def members(self, room: str) -> list[str]:
        """Who is in ``room``, in every process."""
        ...

    async def announce(self, message: Joined | Left) -> None:
        """Tell every process's hub that someone joined or left."""
        ...

    async def subscribe(self) -> None:
        """Start hearing the other processes (the app calls it at start-up)."""
        ...

    async def listen(
        self, deliver: Callable[[ServerMessage], None], lost: Callable[[str], None]
    ) -> None:
        """Pass every published or announced message to ``deliver``, in order, until
        cancelled; when the backend goes away, call ``lost`` with the reason (the clients
        then miss messages, and should resume), and go on once it is back."""
        ...

    async def close(self) -> None:
        """Let go of the backend (the app calls it when it stops)."""
        ...


class MemoryBroker:
    """Keeps the last ``history_size`` messages of each room in memory, while it is used.

    Anyone may name a new room, so what rooms hold is bounded: a room's history is kept
    while it has members (the hub calls :meth:`members_changed`) and ``keep_for``
    seconds after the last one left; of the rooms nobody is in, at most ``max_rooms``
    are kept in all, the longest idle forgotten first. A forgotten room starts again at
    ``seq`` 1 (a client sees the welcome's ``seq`` go back: the history is gone).
    """

    def __init__(
        self,
        history_size: int = 100,
        *,
        keep_for: float = KEEP_ROOMS,
        max_rooms: int = MAX_ROOMS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.history_size = history_size
        self.keep_for = keep_for
        self.max_rooms = max_rooms
        self.clock = clock
        self._seqs: collections.Counter[str] = collections.Counter()
        self._history: dict[str, collections.deque[Said]] = {}
        self._occupied: set[str] = set()
        self._idle: dict[str, float] = {}  # room -> when its last member left, oldest first

    def members_changed(self, room: str, occupied: bool) -> None:
        """``room`` has members now (``occupied``), or its last member has just left."""
        self._idle.pop(room, None)
        if occupied:
            self._occupied.add(room)
        else:
            self._occupied.discard(room)
            if room in self._seqs:
                self._idle[room] = self.clock()
        self._forget()

    def _forget(self) -> None:
        """Forget idle rooms kept too long, then the longest idle beyond ``max_rooms``."""
        now = self.clock()
        for room, since in list(self._idle.items()):
            if now - since < self.keep_for and len(self._idle) <= self.max_rooms:
                break
            del self._idle[room]
            self._history.pop(room, None)
            del self._seqs[room]

    @property
    def rooms(self) -> int:
        """How many rooms this broker holds a history or a ``seq`` for."""
        return len(self._seqs)

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
