"""A broker several chat processes share through Redis: one room, whichever process you hit.

Per room, Redis keeps:

- ``chat:{room}:seq``, a counter (INCR) that numbers the room's messages;
- ``chat:{room}:history``, a stream whose entry ``<seq>-1`` holds message ``seq`` as JSON,
  trimmed to the last ``history_size`` entries (XADD MAXLEN), for ``?since=``;
- ``chat:{room}:members``, a hash user → open connections, across processes;
- the channel ``chat:room:{room}``, on which every message and presence change is
  published for the hubs of all processes (pub/sub), the publisher's included.

Numbering, keeping and publishing a message is one Lua script, which Redis runs without
interleaving anything else, so ``seq`` order, history order and the order in which every
process hears the messages are the same.

A process that dies without closing its connections leaves its users counted in
``members`` until they reconnect and leave; the lessons stop processes cleanly.

When Redis goes away, :meth:`RedisBroker.listen` notices (its pub/sub connection
breaks), says so through :attr:`~RedisBroker.unavailable` and its ``lost`` callback,
and reconnects by itself with exponential backoff and jitter (redis-py's ``Retry``),
then subscribes again. Each command is retried a couple of times on a broken connection
(redis-py reconnects the pooled connection), then fails with
:class:`~ws_lessons.chat.exceptions.BrokerUnavailable`, the course's own exception, so
that nothing outside this module knows about redis-py's.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import time
from collections.abc import Callable, Iterator

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from .exceptions import BrokerUnavailable
from .models import Joined, Left, Said, ServerMessage, decode, encode

__all__ = ["BACKOFF", "PUBLISH", "UNAVAILABLE", "RedisBroker"]

PUBLISH = """
local seq = redis.call('INCR', KEYS[1])
local said = cjson.encode({type = 'said', room = ARGV[1], user = ARGV[2], text = ARGV[3],
                           seq = seq, ts = tonumber(ARGV[4])})
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[5], seq .. '-1', 'said', said)
redis.call('PUBLISH', KEYS[3], said)
return said
"""

UNAVAILABLE = "the chat cannot reach Redis; try again in a moment"
"""What clients and ``/readyz`` are told while Redis is unreachable (the log has why)."""

logger = logging.getLogger("uvicorn.error")  # beside the server's own lines

UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)
"""What redis-py raises when Redis cannot be reached (``redis.ConnectionError`` is
not the builtin ``ConnectionError``)."""

BACKOFF = ExponentialWithJitterBackoff(base=0.1, cap=2.0)
"""After failure n, wait a random time up to 0.1 s * 2**n (0.2 s, 0.4 s ...), never more
than 2 s: the randomness keeps many workers from reconnecting at the same moment."""


@contextlib.contextmanager
def _reachable() -> Iterator[None]:
    """Turn redis-py's "cannot reach Redis" into the course's :class:`BrokerUnavailable`."""
    try:
        yield
    except UNREACHABLE as error:
        raise BrokerUnavailable(UNAVAILABLE) from error


class RedisBroker:
    """Numbers, keeps and fans out messages for every process connected to one Redis."""

    def __init__(self, url: str, history_size: int = 100, prefix: str = "chat") -> None:
        self.url, self.history_size, self.prefix = url, history_size, prefix
        self.redis = redis.from_url(
            url,
            decode_responses=True,
            retry=Retry(BACKOFF, retries=2),  # a broken connection: reconnect, try again
            socket_connect_timeout=2,
        )
        self._publish = self.redis.register_script(PUBLISH)
        self._pubsub: redis.client.PubSub | None = None
        self.unavailable: str | None = None
        """Why Redis cannot be used right now, or None while it answers."""
        self.reconnects = 0
        """How many times :meth:`listen` got Redis back after losing it."""
        self._unsent_leaves: collections.Counter[tuple[str, str]] = collections.Counter()

    def _key(self, room: str, what: str) -> str:
        return f"{self.prefix}:{room}:{what}"

    def _channel(self, room: str) -> str:
        return f"{self.prefix}:room:{room}"

    async def publish(self, room: str, user: str, text: str) -> Said:
        keys = [self._key(room, "seq"), self._key(room, "history"), self._channel(room)]
        with _reachable():
            said = await self._publish(keys, [room, user, text, time.time(), self.history_size])
        return Said.model_validate_json(said)

    async def history(self, room: str, since: int) -> list[Said]:
        with _reachable():
            entries = await self.redis.xrange(self._key(room, "history"), min=f"{since + 1}-0")
        return [Said.model_validate_json(fields["said"]) for _, fields in entries or () if fields]

    async def last_seq(self, room: str) -> int:
        with _reachable():
            return int(await self.redis.get(self._key(room, "seq")) or 0)

    # -- what a shared broker adds: presence and fan-out across processes -----------------

    async def enter(self, room: str, user: str) -> bool:
        """Count one more connection of ``user``; true if it is the user's first anywhere."""
        with _reachable():
            return await self.redis.hincrby(self._key(room, "members"), user, 1) == 1

    async def leave(self, room: str, user: str) -> bool:
        """Count one connection fewer; true if it was the user's last anywhere.

        With Redis unreachable, the leave is kept and counted once Redis is back; when
        the listener already knows it is away, without waiting on Redis (a stopping server
        must not spend its grace period on retries).
        """
        if self.unavailable is not None:
            self._unsent_leaves[room, user] += 1
            return False
        try:
            return await self._leave(room, user)
        except UNREACHABLE:
            self._unsent_leaves[room, user] += 1
            return False

    async def _leave(self, room: str, user: str, count: int = 1) -> bool:
        key = self._key(room, "members")
        if await self.redis.hincrby(key, user, -count) > 0:
            return False
        await self.redis.hdel(key, user)
        return True

    async def members(self, room: str) -> list[str]:
        with _reachable():
            counts = await self.redis.hgetall(self._key(room, "members"))
        return sorted(str(user) for user, count in counts.items() if int(count) > 0)

    async def announce(self, message: Joined | Left) -> None:
        with _reachable():
            await self.redis.publish(self._channel(message.room), encode(message))

    async def subscribe(self) -> None:
        """Start hearing every room's channel (fails here, at start-up, if Redis is down)."""
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.psubscribe(self._channel("*"))

    async def listen(
        self,
        deliver: Callable[[ServerMessage], None],
        lost: Callable[[str], None] = lambda reason: None,
    ) -> None:
        """Pass every message any process publishes to ``deliver``, in order, until cancelled.

        If Redis goes away, call ``lost`` with the reason, then reconnect (with backoff,
        for as long as it takes) and go on. Messages published meanwhile are not heard:
        ``lost`` should close the clients, which resume with ``?since=``.
        """
        assert self._pubsub is not None, "subscribe() first"
        while True:
            try:
                async for event in self._pubsub.listen():
                    deliver(decode(event["data"]))
            except UNREACHABLE as error:
                logger.warning("Redis is unreachable (%s): reconnecting", error)
                self.unavailable = UNAVAILABLE
                lost(UNAVAILABLE)
                forever = Retry(BACKOFF, retries=-1, supported_errors=UNREACHABLE)
                await forever.call_with_retry(self._recover, self._still_down)
                self.unavailable = None
                self.reconnects += 1
                logger.info("Redis is reachable again: serving")

    async def _recover(self) -> None:
        """Subscribe again, then count the leaves Redis missed."""
        await self._close_pubsub()
        await self.subscribe()
        for (room, user), count in list(self._unsent_leaves.items()):
            await self._leave(room, user, count)
            del self._unsent_leaves[room, user]

    async def _still_down(self, error: Exception) -> None:
        """Called by ``Retry`` after each failed attempt, before it waits."""
        logger.debug("Redis is still unreachable (%s)", error)

    async def _close_pubsub(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(Exception):  # it is broken already: nothing to save
                await self._pubsub.aclose()

    async def close(self) -> None:
        await self._close_pubsub()
        await self.redis.aclose()
