"""Who is connected, and a fan-out that never waits on a client (lesson 09's pattern).

Each connection is an :class:`Outbox`: a bounded queue and a task that drains it into
the socket. Publishing only puts a message into queues, so a dashboard on a slow network
slows down no one: when its queue is full it is closed with 1013 Try Again Later, and it
comes back asking for the events after the last ``seq`` it has. An event is turned into
JSON once for every dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from pydantic import BaseModel
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ws_lessons.frames import CloseCode

from .models import Announcement, Event

CLOSE_TIMEOUT = 1.0
OUTBOX_SIZE = 10_000
"""Events a dashboard may fall behind by (a class of 300 makes that many in about an hour)."""


class Outbox:
    """One WebSocket connection: its queue of frames to send, and the tasks that serve it."""

    def __init__(self, websocket: WebSocket, size: int = OUTBOX_SIZE) -> None:
        self.websocket = websocket
        self.queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue(size)
        self.seq = 0
        """The last ``seq`` sent as backlog: a live event up to it is not sent again."""
        self.close_code: int | None = None
        self.close_reason = ""
        self._closing = asyncio.Event()

    def put(self, text: str, seq: int = 0) -> None:
        """Queue a frame without waiting; close the connection if it fell too far behind."""
        if self.close_code is not None:
            return
        try:
            self.queue.put_nowait((seq, text))
        except asyncio.QueueFull:
            self.close(CloseCode.TRY_AGAIN_LATER, "fell behind: reconnect and resume")

    def send(self, message: BaseModel) -> None:
        self.put(message.model_dump_json())

    def close(self, code: int, reason: str = "") -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
            self._closing.set()

    async def run(
        self, backlog: list[str], on_receive: Callable[[str | bytes], Awaitable[None]]
    ) -> None:
        """Send ``backlog`` then the queue, and pass each frame received to ``on_receive``.

        Returns when the client leaves or :meth:`close` is called.
        """
        tasks = [
            asyncio.create_task(self._send(backlog)),
            asyncio.create_task(self._receive(on_receive)),
            asyncio.create_task(self._closing.wait()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            if self.close_code is not None:
                await self._send_close(self.close_code)
        for task in done:
            task.result()

    async def _send(self, backlog: list[str]) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            for text in backlog:
                await self.websocket.send_text(text)
            while True:
                seq, text = await self.queue.get()
                if seq == 0 or seq > self.seq:
                    await self.websocket.send_text(text)
                    await asyncio.sleep(0)  # let other connections have a turn

    async def _receive(self, on_receive: Callable[[str | bytes], Awaitable[None]]) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            await on_receive(message["bytes"] if text is None else text)
            await asyncio.sleep(0)  # frames read in one go: let the senders have a turn

    async def _send_close(self, code: int) -> None:
        if self.websocket.application_state is not WebSocketState.CONNECTED:
            return
        with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self.websocket.close(code, self.close_reason)


class Hub:
    """The dashboards and learners connected to this class server."""

    def __init__(self) -> None:
        self.dashboards: set[Outbox] = set()
        self.learners: set[Outbox] = set()

    def publish(self, event: Event) -> None:
        """Show ``event`` on every dashboard; an announcement also reaches every learner."""
        text = event.model_dump_json()  # once, for everyone
        for outbox in list(self.dashboards):
            outbox.put(text, event.seq)
        if isinstance(event, Announcement):
            for outbox in list(self.learners):
                outbox.put(text)

    async def close_all(self, code: int = CloseCode.GOING_AWAY) -> None:
        for outbox in [*self.dashboards, *self.learners]:
            outbox.close(code, "the class server is stopping")
