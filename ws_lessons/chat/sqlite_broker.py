"""Room history and ``seq`` in a SQLite file, so that they survive a restart.

:class:`SqliteBroker` implements the :class:`~ws_lessons.chat.broker.Broker` protocol
with the standard library's :mod:`sqlite3`. Each message is committed before
``publish()`` returns, and the hub broadcasts a message only after that: whatever a
client was sent is on disk, and a client that resumes with ``?since=`` after a restart
(or a crash) misses nothing.

Limits, stated:

- The last ``history_size`` messages of each room are kept; older ones are deleted as
  new ones arrive. ``seq`` itself never goes back.
- Rooms are not limited in number: each costs one row plus its history.
- Durable against a crash of the server process (even ``kill -9``): a commit is in the
  operating system's hands when ``publish()`` returns. In WAL mode with
  ``synchronous=NORMAL`` a power cut may lose the last commits
  (https://www.sqlite.org/pragma.html#pragma_synchronous); pass ``synchronous="FULL"``
  to fsync every commit, at some cost in speed.
- One server process per file. Several processes sharing rooms need a broker that
  pushes messages between them (Redis).

SQLite calls block, so they run in one worker thread: the event loop never waits on
the disk, and the calls run one after the other, in the order they were made, which
keeps each room's messages in ``seq`` order on their way to the hub.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

from .models import Said

__all__ = ["SCHEMA", "SqliteBroker"]

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    room TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    room TEXT NOT NULL,
    seq  INTEGER NOT NULL,
    user TEXT NOT NULL,
    text TEXT NOT NULL,
    ts   REAL NOT NULL,
    PRIMARY KEY (room, seq)
) WITHOUT ROWID;
"""


class SqliteBroker:
    """Keeps each room's ``seq`` and last ``history_size`` messages in the file ``path``."""

    def __init__(
        self,
        path: str | Path,
        history_size: int = 100,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    ) -> None:
        self.path = Path(path)
        self.history_size = history_size
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(SCHEMA)
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="sqlite broker")

    # -- the Broker protocol -----------------------------------------------------------------

    async def publish(self, room: str, user: str, text: str) -> Said:
        return await self._run(self._publish, room, user, text)

    async def history(self, room: str, since: int) -> list[Said]:
        rows = await self._run(
            self._query,
            "SELECT room, seq, user, text, ts FROM messages"
            " WHERE room = ? AND seq > ? ORDER BY seq",
            (room, since),
        )
        return [Said(room=r, seq=s, user=u, text=t, ts=ts) for r, s, u, t, ts in rows]

    async def last_seq(self, room: str) -> int:
        rows = await self._run(self._query, "SELECT seq FROM rooms WHERE room = ?", (room,))
        return rows[0][0] if rows else 0

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Finish the calls under way and close the file."""
        self._worker.shutdown(wait=True)
        self._db.close()

    def __enter__(self) -> SqliteBroker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SqliteBroker {self.path.name!r}, {self.history_size} messages a room>"

    # -- in the worker thread ----------------------------------------------------------------

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, function, *args)

    def _publish(self, room: str, user: str, text: str) -> Said:
        ts = time.time()
        with self._db:  # one transaction: committed at the end of the block, or rolled back
            (seq,) = self._db.execute(
                "INSERT INTO rooms (room, seq) VALUES (?, 1)"
                " ON CONFLICT (room) DO UPDATE SET seq = seq + 1 RETURNING seq",
                (room,),
            ).fetchone()
            self._db.execute(
                "INSERT INTO messages (room, seq, user, text, ts) VALUES (?, ?, ?, ?, ?)",
                (room, seq, user, text, ts),
            )
            self._db.execute(
                "DELETE FROM messages WHERE room = ? AND seq <= ?",
                (room, seq - self.history_size),
            )
        return Said(room=room, user=user, text=text, seq=seq, ts=ts)

    def _query(self, sql: str, parameters: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, parameters).fetchall()
