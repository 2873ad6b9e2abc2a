"""A chat client that stays connected: it reconnects with backoff and resumes with ``?since=``.

    async with ChatClient("http://127.0.0.1:8000", "lobby", "ada") as ada:
        await ada.say("hello")
        print(await ada.receive("said"))

Each attempt asks ``POST /token`` for a fresh token and connects to
``/ws/<room>?token=...&since=<the last seq it has>``, so the server replays what the
client missed while it was away, as far as the room's history goes. A message that
arrives twice (replayed, and live) is passed on once; a ``seq`` that jumps means the
history no longer held what was missed, and is recorded in :attr:`ChatClient.gaps`.

What the user says is kept in :attr:`ChatClient.pending` until the server's ``said`` for
it comes back (or an ``error`` refuses it). Said while disconnected, or sent as the
connection died, a text is sent again after the next welcome, once the replay is read:
a text the replay holds already was confirmed by it, and is not sent twice.

Between attempts it waits as :func:`backoff` says (RFC 6455 §7.2.3 asks for random,
growing delays), so that many clients cut off together do not all come back at once. It
gives up only when the server refuses it for good: a handshake refused with a 4xx status
(a wrong Origin, say) or a connection closed with 1008 Policy Violation.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import CloseCode

from .models import read, say

__all__ = ["ChatClient", "backoff"]


def backoff(initial: float = 0.5, factor: float = 2.0, cap: float = 30.0) -> Iterator[float]:
    """Delays between attempts: ``initial``, times ``factor`` each time, at most ``cap``.

    Each delay is drawn between half and all of its step ("equal jitter"): never zero,
    and spread out so that clients that lost the server together retry apart.
    """
    step = initial
    while True:
        yield step * random.uniform(0.5, 1.0)
        step = min(cap, step * factor)


class ChatClient:
    """One user in one room, connected for as long as it runs, whatever the network does.

    - ``url``: the chat's HTTP address, e.g. ``http://127.0.0.1:8000``.
    - ``since``: resume after this ``seq`` on the first connection too (default: live only).
    - ``delays``: makes the iterator of delays between attempts; see :func:`backoff`.
    - ``ping_interval``, ``ping_timeout``: the client's own WebSocket pings, which notice a
      server that went silent.

    What happened is kept for reading: :attr:`said` (each message once, in order),
    :attr:`seq`, :attr:`gaps`, :attr:`pending`, :attr:`refused`, :attr:`log`
    (connections, closes, retries).
    """

    def __init__(
        self,
        url: str,
        room: str,
        user: str,
        *,
        since: int | None = None,
        delays: Callable[[], Iterator[float]] = backoff,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        open_timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.room = room
        self.user = user
        self.seq = since
        """The last message number this client has; ``?since=`` when it reconnects."""
        self.said: list[dict[str, Any]] = []
        self.gaps: list[tuple[int, int]] = []
        self.pending: collections.deque[str] = collections.deque()
        """Texts said and not yet confirmed by the server's ``said``."""
        self.refused: list[tuple[str, dict[str, Any]]] = []
        """Texts the server answered with an ``error``, and that error."""
        self.log: list[str] = []
        self.error: Exception | None = None
        """Why the client gave up, if it did."""
        self._delays = delays
        self._open_timeout = open_timeout
        self._options: dict[str, Any] = {
            "ping_interval": ping_interval,
            "ping_timeout": ping_timeout,
            "open_timeout": open_timeout,
            "close_timeout": 2.0,
        }
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._ws: ClientConnection | None = None
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._running = False

    # -- life --------------------------------------------------------------------------------

    async def start(self, timeout: float = 10.0) -> ChatClient:
        """Start connecting in the background; return once connected."""
        if not self._running:
            self._running = True
            self._task = asyncio.create_task(self._run(), name=f"chat client {self.user}")
        await self.wait_connected(timeout)
        return self

    async def close(self) -> None:
        """Leave: close the connection and stop reconnecting."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def __aenter__(self) -> ChatClient:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self._ws is not None

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<ChatClient {self.user} in {self.room}, {state}, seq={self.seq}>"

    # -- talking -----------------------------------------------------------------------------

    async def say(self, text: str) -> None:
        """Say ``text``: now if connected, else after the next welcome (see :attr:`pending`).

        It counts as delivered when its own ``said`` comes back; until then it stays in
        :attr:`pending`, and a reconnection sends it again unless the replay holds it.
        """
        self.pending.append(text)
        if self._ws is not None:
            with contextlib.suppress(ConnectionClosed):  # it stays pending
                await self._ws.send(say(text))

    async def receive(self, *types: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next message received (of one of ``types``, skipping the others)."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self._inbox.get()
                if not types or message["type"] in types:
                    return message

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Return once connected; raise ``TimeoutError``, or ``ConnectionError`` if it gave up."""
        await self._wait(lambda: self.connected, timeout)

    async def wait_for_seq(self, seq: int, timeout: float = 10.0) -> None:
        """Return once every message up to ``seq`` has arrived."""
        await self._wait(lambda: self.seq is not None and self.seq >= seq, timeout)

    async def _wait(self, condition: Callable[[], bool], timeout: float) -> None:
        def settled() -> bool:
            return condition() or not self._running

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(settled)
        if not condition():
            raise ConnectionError(f"{self.user}'s client stopped: {self.error or 'closed'}")

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- the reconnect loop ------------------------------------------------------------------

    async def _run(self) -> None:
        delays = self._delays()
        try:
            async with httpx.AsyncClient(base_url=self.url, timeout=self._open_timeout) as http:
                while True:
                    try:
                        welcomed = await self._session(http)
                    except Exception as exc:
                        welcomed = self._ws is not None
                        if _is_final(exc):
                            self.error = exc
                            self.log.append(f"gave up: {_describe(exc)}")
                            return
                        self.log.append(_describe(exc))
                    finally:
                        self._ws = None
                    if welcomed:
                        delays = self._delays()  # the next outage starts from a short delay
                    delay = next(delays)
                    self.log.append(f"retrying in {delay:.2f} s")
                    await asyncio.sleep(delay)
        finally:
            self._ws = None
            self._running = False
            await asyncio.shield(self._notify())

    async def _session(self, http: httpx.AsyncClient) -> bool:
        """One connection, from the token to the close; returns whether it was welcomed."""
        response = await http.post("/token", json={"user": self.user})
        response.raise_for_status()
        query = {"token": response.json()["token"]}
        if self.seq is not None:
            query["since"] = str(self.seq)
        ws_url = self.url.replace("http", "ws", 1) + f"/ws/{self.room}?{urlencode(query)}"
        since = "" if self.seq is None else f" with since={self.seq}"
        self.log.append(f"connecting{since}")
        async with connect(ws_url, **self._options) as ws:
            welcome = read(await ws.recv())
            self._welcome(welcome)
            await self._replay(ws, welcome["seq"])
            for text in list(self.pending):  # neither confirmed nor in the replay
                await ws.send(say(text))
            self._ws = ws
            await self._notify()
            async for frame in ws:
                self._receive(read(frame))
                await self._notify()
        self.log.append(f"closed by the server: {ws.close_code} {ws.close_reason}".rstrip())
        return True

    def _welcome(self, welcome: dict[str, Any]) -> None:
        seq = welcome["seq"]
        if self.seq is None:
            self.seq = seq
        elif seq < self.seq:  # the server lost the room's history: its numbers start over
            self.log.append(f"the room's seq went back from {self.seq} to {seq}")
            self.seq = seq
        self.log.append(f"welcome: seq={seq}, members={welcome['members']}")
        self._inbox.put_nowait(welcome)

    async def _replay(self, ws: ClientConnection, seq: int) -> None:
        """Read what the server replays, up to ``seq`` (bounded: a history may be empty)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._open_timeout):
                while self.seq is not None and self.seq < seq:
                    self._receive(read(await ws.recv()))
        await self._notify()

    def _receive(self, message: dict[str, Any]) -> None:
        if message["type"] == "error" and self.pending:
            # The server answers each frame in order: this refuses the oldest pending text.
            self.refused.append((self.pending.popleft(), message))
        if message["type"] == "said":
            assert self.seq is not None
            if message["seq"] <= self.seq:
                return  # seen already: replayed and live
            if message["seq"] > self.seq + 1:
                self.gaps.append((self.seq + 1, message["seq"] - 1))
            self.seq = message["seq"]
            self.said.append(message)
            mine = message["user"] == self.user
            if mine and self.pending and message["text"] == self.pending[0]:
                self.pending.popleft()  # confirmed: it is in the room's history
        self._inbox.put_nowait(message)


def _is_final(exc: Exception) -> bool:
    """Whether trying again cannot help: the server said no, not "not now"."""
    if isinstance(exc, InvalidStatus):
        return 400 <= exc.response.status_code < 500
    if isinstance(exc, httpx.HTTPStatusError):
        return 400 <= exc.response.status_code < 500
    if isinstance(exc, ConnectionClosed):
        return exc.rcvd is not None and exc.rcvd.code == CloseCode.POLICY_VIOLATION
    return False


def _describe(exc: Exception) -> str:
    if isinstance(exc, ConnectionClosed):
        if exc.rcvd is None:
            return "connection lost (no close frame)"
        return f"closed by the server: {exc.rcvd.code} {exc.rcvd.reason}".rstrip()
    if isinstance(exc, InvalidStatus):
        return f"handshake refused: HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.TransportError | OSError):
        return f"cannot connect: {type(exc).__name__}"
    return f"{type(exc).__name__}: {exc}"
