"""How many idle connections one chat process holds, and what each one costs.

:func:`measure_connections` starts the course's reference chat (``python -m ws_lessons
serve chat``) in a child process for each measurement, connects idle clients to it
from a second process, and reads:

- the server's memory per connection: its resident set size (RSS, from psutil) after
  the clients joined, minus before, divided by their number. RSS counts what Python
  allocated and what it keeps for later, not the kernel's socket buffers;
- the time to connect them all (a batch of handshakes at a time);
- the time for one message to reach every member: one ``say`` in each room at once.

With and without permessage-deflate (the clients offer it or not), in one room and in
a hundred. The anchor to compare with is the ``websockets`` documentation: about 64 KiB
per connection with compression, 14 KiB without
(https://websockets.readthedocs.io/en/stable/topics/memory.html).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from ws_lessons.chat.models import is_said, say
from ws_lessons.fanout import ClientProcess, raise_open_file_limit

__all__ = ["Capacity", "FileLimit", "measure_connections"]

SETTLE = 0.5
"""Seconds to wait after the last handshake before reading the server's memory."""


@dataclass(frozen=True)
class FileLimit:
    """The open-file limit (RLIMIT_NOFILE) the server and the clients ran with."""

    needed: int
    soft: int | None
    """None where there is no such limit (Windows); -1 for unlimited."""
    hard: int | None

    @property
    def enough(self) -> bool:
        return self.soft is None or self.soft == -1 or self.soft >= self.needed


@dataclass(frozen=True)
class Capacity:
    """One measurement: ``connections`` idle clients in ``rooms`` rooms."""

    connections: int
    rooms: int
    deflate: bool
    held: bool
    """Whether every client connected and heard the message."""
    rss_bytes: int
    """How much the server's RSS grew while the clients joined."""
    connect_seconds: float
    reach_seconds: float
    """From the says to the last member hearing its room's message."""
    problem: str = ""

    @property
    def per_connection(self) -> float:
        """RSS per connection, over the members that joined after the publishers."""
        return self.rss_bytes / max(1, self.connections - min(self.rooms, self.connections))


def measure_connections(
    counts: tuple[int, ...] = (1000, 3000, 10000),
    rooms: tuple[int, ...] = (1, 100),
    *,
    progress: object = None,
) -> tuple[list[Capacity], FileLimit]:
    """Measure each count in ``counts``, in each layout of ``rooms``, with and without
    compression; stop going up once a count fails. ``progress``: a tqdm bar or None."""
    needed = max(counts) + max(rooms) + 256
    # The server process inherits this limit, and the client process raises its own.
    limits = raise_open_file_limit(needed)
    limit = FileLimit(needed, *(limits or (None, None)))
    results: list[Capacity] = []
    with ClientProcess(needed) as clients:
        for count in counts:
            for room_count in rooms:
                for deflate in (True, False):
                    results.append(_measure(clients, count, room_count, deflate))
                    if progress is not None:
                        progress.update(1)  # type: ignore[attr-defined]
            if not all(result.held for result in results if result.connections == count):
                break
    return results, limit


def _measure(clients: ClientProcess, count: int, rooms: int, deflate: bool) -> Capacity:
    import psutil

    from ws_lessons.chat import tokens
    from ws_lessons.services import start_chat_worker

    secret = secrets.token_hex(16)  # never starts with "-", which the command line would misread
    publishers = min(rooms, count)
    options = ["--max-connections", str(count)]
    compression = "deflate" if deflate else None
    worker = start_chat_worker(secret=secret, options=options, name=f"capacity-{count}")
    group = f"{count}-{rooms}-{deflate}"
    try:
        server = psutil.Process(worker.process.pid)
        issued = {user: tokens.issue(user, secret) for user in ("publisher", "member")}

        def url(user: str, number: int) -> str:
            return worker.ws_url(f"/ws/room{number % rooms}?token={issued[user]}")

        for number in range(publishers):  # one publisher in each room, and the code warm
            clients.ask("publisher", group, url("publisher", number), is_said, compression)
        time.sleep(SETTLE)
        before = server.memory_info().rss
        members = [url("member", number) for number in range(count - publishers)]
        try:
            _, _, seconds = clients.ask(
                "connect", group, members, is_said, False, compression, takes=count / 50
            )
        except RuntimeError as exc:
            return Capacity(count, rooms, deflate, False, 0, 0.0, 0.0, str(exc))
        time.sleep(SETTLE)
        grown = server.memory_info().rss - before
        frame = say("hello, everyone")
        delivered, reach, timed_out, _, readers = clients.ask("publish", group, [frame], 30.0)
        problem = f"{delivered:,} of {readers:,} heard the message in 30 s" if timed_out else ""
        return Capacity(count, rooms, deflate, not timed_out, grown, seconds, reach, problem)
    finally:
        clients.ask("reset", group)
        worker.stop()
