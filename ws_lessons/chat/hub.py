"""Rooms, their members, and a fan-out that never waits on a client.

Each connection is a :class:`Member` with a bounded outbox and a task of its own
that drains the outbox into the socket. Publishing to a room never waits on a client:
a message for a client that keeps up is written at once (the write returns without
waiting while the transport takes data), and one for a client that is behind is
queued in its outbox. So a client that stops reading slows down no one else: when its
outbox is full it is closed with 1013 (:meth:`Member.put`, the outbox's own policy), and
the hub lets it go and tells the room it left. A message broadcast to a
room is turned into JSON once, and the same text goes to every member.

:class:`Hub` is what the app uses; two small classes fill it in. :class:`LocalHub`
serves rooms that live in this process (its broker only numbers and keeps messages);
:class:`SharedHub` serves rooms that several processes share through a
:class:`~.broker.SharedBroker`: presence is counted by the broker, and every message
reaches the members through :meth:`SharedHub.deliver`, the sender's own included.

The wire contract these messages follow is written out in ``docs/chat-contract.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from websockets.frames import CloseCode

from .broker import Broker, MemoryBroker, SharedBroker
from .models import Joined, Left, Said, ServerMessage, Welcome, encode

__all__ = [
    "CLOSE_TIMEOUT",
    "DRAIN_BATCHES",
    "SHUTTING_DOWN",
    "Counts",
    "Hub",
    "LocalHub",
    "Member",
    "SharedHub",
    "hub_for",
    "start_now",
]

Queued = tuple[ServerMessage, str]
"""What an outbox holds: a message, and its JSON text, made once for all its recipients."""

CLOSE_TIMEOUT = 1.0
"""How long to try to send a close frame; a client that stopped reading never takes it."""

WRITES_PER_TURN = 4
"""Queued messages a sender writes before it lets the event loop take a turn."""

SHUTTING_DOWN = "the server is shutting down"
"""The reason of the 1001 Going Away close frame when the server stops."""

DRAIN_BATCHES = 10
"""A server stopping with a grace period closes its connections in this many batches."""


@dataclasses.dataclass
class Counts:
    """What the hub has done since it started (``/metrics`` reads them)."""

    received: int = 0
    """Frames received from clients."""
    sent: int = 0
    """Messages sent or queued to clients."""
    dropped: int = 0
    """Clients closed with 1013 because they fell too far behind."""


class Member:
    """One WebSocket connection in one room: its outbox and the tasks that serve it.

    A message for a client that keeps up is written at once, by the code that
    broadcasts it: nothing is queued and no task wakes up. A client that is behind (its
    sender is still writing, or the transport paused writing) gets its messages queued
    in its outbox, which its sender task drains in order. Either way one message is
    written once, and in the order it was put.
    """

    def __init__(self, websocket: WebSocket, room: str, user: str, queue_size: int) -> None:
        self.websocket = websocket
        self.room = room
        self.user = user
        self.outbox: asyncio.Queue[Queued] = asyncio.Queue(queue_size)
        self.seq = 0
        """The last ``seq`` the backlog holds: live messages up to it are not sent again."""
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed = asyncio.Event()
        self._closing = asyncio.Event()
        self._idle = False
        """The sender has sent the backlog and waits: nothing queued, no write under way."""
        self._wake = asyncio.Event()
        self._unfinished: _Unfinished | None = None
        """A write started at once that had to wait: the sender finishes it first."""

    def close(self, code: int, reason: str = "") -> None:
        """Stop serving this client and close its connection with ``code`` and ``reason``."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
            self._idle = False
            self._closing.set()

    def put(self, message: ServerMessage, text: str) -> bool:
        """Send ``message`` (its JSON ``text``): at once if the client keeps up, else queue it.

        The outbox's limit is this method's policy: a client whose outbox is full fell too
        far behind, and is closed with 1013 Try Again Later (it may reconnect and resume
        with ``?since=``). Returns False then, or if the member was closed already.
        """
        if self.close_code is not None:
            return False
        if not self._idle:
            try:
                self.outbox.put_nowait((message, text))
            except asyncio.QueueFull:
                self.close(CloseCode.TRY_AGAIN_LATER)
                return False
            self._wake.set()
            return True
        if self._sent_already(message):
            return True
        # The write's first step, here and now: through Starlette and uvicorn it returns
        # without waiting while the transport accepts data (flow control waits only above
        # the transport's high-water mark). If it has to wait, the sender takes it over.
        unfinished = start_now(self.websocket.send_text(text))
        if unfinished is not None:
            self._idle, self._unfinished = False, unfinished
            self._wake.set()
        return True

    def _sent_already(self, message: ServerMessage) -> bool:
        return isinstance(message, Said) and message.seq <= self.seq

    async def run(
        self,
        backlog: list[ServerMessage],
        on_receive: Callable[[str | bytes], Awaitable[None]],
    ) -> None:
        """Send ``backlog`` then the outbox, and pass each frame received to ``on_receive``.

        Sending and receiving are two tasks, so a message reaches a client that sends
        nothing. Returns when the client leaves or once :meth:`close` is called.
        """
        tasks = [
            asyncio.create_task(self._send(backlog)),
            asyncio.create_task(self._receive(on_receive)),
            asyncio.create_task(self._closing.wait()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._idle = False  # from now on only this method writes: the close frame
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            if self._unfinished is not None:
                self._unfinished.close()
            if self.close_code is not None:
                await self._send_close()
            self.closed.set()
        for task in done:
            task.result()  # a task that failed is a bug: let it show

    async def _send(self, backlog: list[ServerMessage]) -> None:
        with contextlib.suppress(WebSocketDisconnect):  # gone: _receive hears it as well
            for message in backlog:
                await self.websocket.send_text(encode(message))
            while True:
                if self._unfinished is not None:
                    unfinished, self._unfinished = self._unfinished, None
                    await unfinished
                await self._drain()
                # Nothing queued, nothing under way, and no await since the outbox was
                # found empty: from here on put() may write at once.
                self._wake.clear()
                self._idle = True
                await self._wake.wait()

    async def _drain(self) -> None:
        """Send everything queued, in order, with a yield every few writes only."""
        writes = 0
        while not self.outbox.empty():
            message, text = self.outbox.get_nowait()
            if self._sent_already(message):
                continue
            await self.websocket.send_text(text)  # returns at once unless writing is paused
            writes += 1
            if writes % WRITES_PER_TURN == 0:
                # A peer that reset the connection makes a write fail; asyncio notices on
                # its next turn, and warns about every write after the 5th to a lost
                # connection (LOG_THRESHOLD_FOR_CONNLOST_WRITES): yield before that.
                await asyncio.sleep(0)

    async def _receive(self, on_receive: Callable[[str | bytes], Awaitable[None]]) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            await on_receive(message["bytes"] if text is None else text)
            # Frames read in one go are handled without a pause: yield, so that the
            # senders drain the outboxes before the next frame fills them again.
            await asyncio.sleep(0)

    async def _send_close(self) -> None:
        code = self.close_code
        if code is None or self.websocket.application_state is not WebSocketState.CONNECTED:
            return  # a send failed: the connection is gone already
        # A client that stopped reading has a full socket buffer, so the close frame may
        # never go out. Give up after a moment: the server then closes the TCP connection.
        with contextlib.suppress(TimeoutError, WebSocketDisconnect):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self.websocket.close(code, self.close_reason)


class _Unfinished:
    """A coroutine run up to its first suspension; awaiting this runs the rest of it.

    What Python 3.12's eager tasks do (``asyncio.eager_task_factory``), by hand and
    without a task: the first step runs in the caller, the rest in whoever awaits this.
    The future the coroutine waits on passes through, so the awaiting task sleeps on it
    as if it had awaited the coroutine from the start; a cancellation is thrown into
    the coroutine.
    """

    def __init__(self, coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self.coro = coro
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        waiting_on = self.waiting_on
        while True:
            try:
                value = yield waiting_on
            except BaseException as exc:  # a cancellation, above all
                try:
                    waiting_on = self.coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting_on = self.coro.send(value)
                except StopIteration:
                    return

    def close(self) -> None:
        self.coro.close()


class _Failed(_Unfinished):
    """A write that failed on its first step: awaiting this raises its error in the sender."""

    def __init__(self, coro: Coroutine[Any, Any, None], error: Exception) -> None:
        super().__init__(coro, None)
        self.error = error

    def __await__(self) -> Generator[Any, Any, None]:
        raise self.error
        yield  # a generator, as __await__ must return


def start_now(coro: Coroutine[Any, Any, None]) -> _Unfinished | None:
    """Run ``coro`` here and now, up to the first time it has to wait.

    Returns None if it finished without waiting. Else it returns what is left of it:
    whoever awaits that runs the rest, in order. An exception raised before the first
    wait is raised there too, by the await.
    """
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    except Exception as error:  # e.g. the client is gone: raised where it is awaited
        return _Failed(coro, error)
    return _Unfinished(coro, waiting_on)


class Hub:
    """The rooms of this server process and who is in them: what the app asks of a hub.

    :meth:`join`, :meth:`send`, :meth:`close_all` and the bookkeeping are the same for
    every hub; :class:`LocalHub` and :class:`SharedHub` say how a room hears of a
    newcomer, a message and a departure.
    """

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.rooms: dict[str, list[Member]] = {}
        self.counts = Counts()
        self.closing = False
        """Set by :meth:`close_all`: the server is stopping; a new connection is closed
        with 1001 as soon as it is accepted. The app clears it when it starts again."""

    # -- what the app asks --------------------------------------------------------------------

    @property
    def unavailable(self) -> str | None:
        """Why the hub cannot serve right now (its broker is unreachable), or None."""
        return None

    @property
    def reconnects(self) -> int:
        """How many times the broker got its backend back after losing it."""
        return 0

    async def start(self) -> None:
        """Start what the hub needs while the app serves (the app's lifespan calls it)."""

    async def stop(self) -> None:
        """Stop what :meth:`start` started."""

    def members(self, room: str) -> list[str]:
        """Who is in ``room`` in this process, sorted; a user connected twice is listed once."""
        return sorted({member.user for member in self.rooms.get(room, ())})

    @contextlib.asynccontextmanager
    async def join(
        self, member: Member, since: int | None = None
    ) -> AsyncIterator[list[ServerMessage]]:
        """Keep ``member`` in its room for the ``async with`` block.

        Yields the backlog to send before live messages: the welcome, then the room's
        history after ``since``. The member joins before the history is read, so no
        message falls between the two; one that lands in both is sent once.
        Raises :class:`~.exceptions.BrokerUnavailable` if the broker cannot serve.
        """
        room, user = member.room, member.user
        await self._arrive(member)
        self.rooms.setdefault(room, []).append(member)
        try:
            seq = await self.broker.last_seq(room)
            replay = [] if since is None else await self.broker.history(room, since)
            member.seq = max([seq, *(said.seq for said in replay)])
            members = await self._everyone(room)
            self.counts.sent += 1 + len(replay)
            yield [Welcome(room=room, user=user, seq=seq, members=members), *replay]
        finally:
            self._remove(member)
            await self._depart(member)

    async def say(self, member: Member, text: str) -> None:
        """Publish ``text`` from ``member`` to everyone in its room, the sender included."""
        raise NotImplementedError

    def send(self, member: Member, message: ServerMessage, text: str | None = None) -> None:
        """Send ``message`` to ``member`` without waiting: at once if it keeps up, else through
        its outbox; let it go if its outbox was full (:meth:`Member.put` closed it).

        ``text`` is the message's JSON when a broadcast made it already for everyone.
        """
        if member.close_code is not None:
            return
        if member.put(message, text or encode(message)):
            self.counts.sent += 1
        else:
            self._remove(member)
            self.counts.dropped += 1

    async def close_all(
        self, code: int = CloseCode.GOING_AWAY, reason: str = SHUTTING_DOWN, grace: float = 0
    ) -> None:
        """Close every connection with ``code`` and ``reason``; return once their close
        frames are out.

        From now on :attr:`closing` is true, so that a client reconnecting at once is
        turned away (1001) rather than let in just before the server stops.

        With a ``grace`` period (seconds), the connections are closed in
        :data:`DRAIN_BATCHES` batches spread over its first half, so that their clients
        do not all reconnect (to the other servers) at the same instant; their close
        frames get a quarter of it, which leaves the last quarter for the server to stop.
        Without one, every connection is closed at once. Each member's own task writes
        its close frame (:meth:`Member.run`): the hub only asks.
        """
        self.closing = True
        everyone = [member for members in self.rooms.values() for member in members]
        batches = max(1, min(len(everyone), DRAIN_BATCHES)) if grace > 0 else 1
        for batch in range(batches):
            if batch:
                await asyncio.sleep(grace / 2 / batches)
            for member in everyone[batch::batches]:
                member.close(code, reason)
        wait = min(2 * CLOSE_TIMEOUT, grace / 4) if grace > 0 else 2 * CLOSE_TIMEOUT
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await asyncio.gather(*(member.closed.wait() for member in everyone))

    # -- what each kind of hub fills in -------------------------------------------------------

    async def _arrive(self, member: Member) -> None:
        """``member`` is about to join its room: tell the room if the user is new to it."""

    async def _everyone(self, room: str) -> list[str]:
        """Who is in ``room``, for a welcome."""
        return self.members(room)

    def _removed(self, member: Member) -> None:
        """``member`` has just left this process's room (or was dropped from it)."""

    async def _depart(self, member: Member) -> None:
        """``member``'s connection has ended; it was removed already."""

    # -- bookkeeping --------------------------------------------------------------------------

    def _broadcast(self, room: str, message: ServerMessage) -> None:
        text = encode(message)  # once for the room, not once per member
        for member in list(self.rooms.get(room, ())):
            self.send(member, message, text)

    def _remove(self, member: Member) -> None:
        members = self.rooms.get(member.room, [])
        if member not in members:
            return
        members.remove(member)
        if not members:
            del self.rooms[member.room]
        self._removed(member)


class LocalHub(Hub):
    """Rooms that live in this process: the broker numbers and keeps, the hub broadcasts.

    With a :class:`~.broker.MemoryBroker`, the hub tells it which rooms have members, so
    that it keeps their history while they do.
    """

    def __init__(self, broker: Broker) -> None:
        super().__init__(broker)
        self._occupancy = broker.members_changed if isinstance(broker, MemoryBroker) else None

    async def say(self, member: Member, text: str) -> None:
        said = await self.broker.publish(member.room, member.user, text)
        self._broadcast(member.room, said)

    async def _arrive(self, member: Member) -> None:
        if self._occupancy is not None:
            self._occupancy(member.room, True)
        if member.user not in self.members(member.room):
            self._broadcast(member.room, Joined(room=member.room, user=member.user))

    def _removed(self, member: Member) -> None:
        if member.user not in self.members(member.room):
            self._broadcast(member.room, Left(room=member.room, user=member.user))

    async def _depart(self, member: Member) -> None:
        if self._occupancy is not None:
            self._occupancy(member.room, member.room in self.rooms)


class SharedHub(Hub):
    """Rooms shared by several processes: the broker counts presence across them, and
    every message, this process's own included, comes back through :meth:`deliver`.

    While the broker cannot reach its backend, :attr:`unavailable` says why; the clients
    of this process are closed with 1013 Try Again Later and that reason (:meth:`lost`).
    """

    broker: SharedBroker

    def __init__(self, broker: SharedBroker) -> None:
        super().__init__(broker)
        self._listener: asyncio.Task[None] | None = None

    @property
    def unavailable(self) -> str | None:
        return self.broker.unavailable

    @property
    def reconnects(self) -> int:
        return self.broker.reconnects

    async def start(self) -> None:
        """Subscribe (a broker that cannot fails here, so the server does not start), then
        listen for as long as the app serves."""
        await self.broker.subscribe()
        self._listener = asyncio.create_task(self.broker.listen(self.deliver, self.lost))

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self.broker.close()

    async def say(self, member: Member, text: str) -> None:
        await self.broker.publish(member.room, member.user, text)  # comes back by deliver()

    def deliver(self, message: ServerMessage) -> None:
        """A message from the shared broker: pass it on to this process's members of its room.

        A user's own connections do not hear that the user joined or left.
        """
        if not isinstance(message, Welcome | Joined | Left | Said):
            return  # the broker only carries room messages
        text = encode(message)
        for member in list(self.rooms.get(message.room, ())):
            if not (isinstance(message, Joined | Left) and member.user == message.user):
                self.send(member, message, text)

    def lost(self, reason: str) -> None:
        """The broker lost its backend: close every client with 1013 and ``reason``."""
        for members in list(self.rooms.values()):
            for member in members:
                member.close(CloseCode.TRY_AGAIN_LATER, reason)

    async def _arrive(self, member: Member) -> None:
        if await self.broker.enter(member.room, member.user):
            await self.broker.announce(Joined(room=member.room, user=member.user))

    async def _everyone(self, room: str) -> list[str]:
        return await self.broker.members(room)

    async def _depart(self, member: Member) -> None:
        if await self.broker.leave(member.room, member.user):
            await self.broker.announce(Left(room=member.room, user=member.user))


def hub_for(broker: Broker) -> Hub:
    """The hub a broker needs: shared if processes share it, else local."""
    if isinstance(broker, SharedBroker):
        return SharedHub(broker)
    return LocalHub(broker)
