"""Exercises of lesson 08: a broadcast that never waits, and resuming with ``?since=``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
from typing import Any

from websockets.sync.client import connect

from ws_lessons.exercises.core import TIMEOUT, Hint, exercise, require_function
from ws_lessons.server import serve

WAIT = 1.0
"""How long a broadcast may take before the check calls it stuck, in seconds."""


def _call_broadcast(broadcast: Any, outboxes: dict[str, asyncio.Queue[str]], message: str) -> Any:
    """Call the learner's broadcast, sync or async, and give up on it after ``WAIT`` seconds."""
    try:
        result = broadcast(outboxes, message)
    except RuntimeError as exc:
        if "changed size during iteration" in str(exc):
            raise Hint(
                "the dict changed size while you looped over it: loop over a copy, "
                "list(outboxes.items()), and remove the slow ones from the dict"
            ) from None
        raise
    if not inspect.iscoroutine(result):
        return result

    # An async answer: run it on a loop of its own (this cell's thread already runs one).
    async def bounded() -> Any:
        return await asyncio.wait_for(result, WAIT)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            return pool.submit(asyncio.run, bounded()).result(WAIT + 5)
        except TimeoutError:
            raise Hint(
                "your broadcast was still waiting after a second: `await queue.put()` waits "
                "for room in a full queue. Use queue.put_nowait(), which raises QueueFull."
            ) from None


def _outboxes(levels: dict[str, int], size: int = 3) -> dict[str, asyncio.Queue[str]]:
    outboxes: dict[str, asyncio.Queue[str]] = {}
    for name, level in levels.items():
        outboxes[name] = asyncio.Queue(size)
        for n in range(level):
            outboxes[name].put_nowait(f"earlier {n}")
    return outboxes


def _contents(queue: asyncio.Queue[str]) -> list[str]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


@exercise(
    "08.1",
    hint="For each outbox, try queue.put_nowait(message); catch asyncio.QueueFull, and "
    "note that client as dropped. Remove the dropped ones from the dict after the loop.",
)
def check_08_1(broadcast: Any) -> str:
    """broadcast(outboxes, message) queues without waiting and drops the clients that are full."""
    require_function(broadcast)
    for levels in (
        {"ada": 0, "grace": 1, "slow": 3},
        {"ada": 3, "grace": 3},
        {"ada": 2, "grace": 0},
    ):
        outboxes = _outboxes(levels)
        queues = dict(outboxes)
        dropped = _call_broadcast(broadcast, outboxes, "hello")
        full = sorted(name for name, level in levels.items() if level == 3)
        if dropped is None:
            raise Hint("return the list of the names you dropped (an empty list if none)")
        try:
            names = sorted(dropped)
        except TypeError:
            raise Hint(f"return a list of names, not {dropped!r}") from None
        if names != full:
            raise Hint(
                f"with outboxes holding {levels} (each holds 3), you dropped {names}; "
                f"expected {full}: exactly the ones that are full"
            )
        if sorted(outboxes) != sorted(set(levels) - set(full)):
            raise Hint(
                f"after the broadcast, outboxes still holds {sorted(outboxes)}: "
                "remove the dropped clients from the dict"
            )
        for name, level in levels.items():
            got = _contents(queues[name])
            wanted = [f"earlier {n}" for n in range(level)]
            if level < 3:
                wanted.append("hello")
            if got != wanted:
                raise Hint(f"{name}'s outbox holds {got}; expected {wanted}")
    return "every outbox with room got the message, and full ones were dropped without a wait"


def _live_replay(history_size: int, said: int, since: int) -> list[int]:
    """The seqs the real chat replays to a client resuming with ``?since=``."""
    from ws_lessons.chat import create_app, tokens

    app = create_app(secret="check 08.2", history_size=history_size, rate=1000, burst=1000)
    token = tokens.issue("ada", "check 08.2")
    with serve(app, name="check 08.2") as server:
        url = server.ws_url(f"/ws/lobby?token={token}")
        with connect(url, open_timeout=TIMEOUT) as ada:
            ada.recv(timeout=TIMEOUT)  # welcome
            for n in range(said):
                ada.send(json.dumps({"type": "say", "text": f"message {n + 1}"}))
                ada.recv(timeout=TIMEOUT)
        with connect(f"{url}&since={since}", open_timeout=TIMEOUT) as again:
            welcome = json.loads(again.recv(timeout=TIMEOUT))
            replayed = []
            while True:
                try:
                    message = json.loads(again.recv(timeout=0.3))
                except TimeoutError:
                    break
                if message["type"] == "said":
                    replayed.append(message["seq"])
            assert welcome["seq"] == said
    return replayed


@exercise(
    "08.2",
    hint="The server replays the messages after `since` that it still keeps; it keeps the "
    "last `history_size`, so the oldest it has is last_seq - history_size + 1.",
)
def check_08_2(replayed: Any) -> str:
    """replayed(since, last_seq, history_size) -> the seqs a client resuming with ?since= gets."""
    require_function(replayed)
    cases = [
        ((0, 0, 100), []),
        ((0, 3, 100), [1, 2, 3]),
        ((2, 5, 100), [3, 4, 5]),
        ((5, 5, 100), []),
        ((0, 5, 3), [3, 4, 5]),
        ((3, 5, 3), [4, 5]),
        ((0, 250, 100), list(range(151, 251))),
        ((7, 5, 3), []),
    ]
    for (since, last, size), wanted in cases:
        got = replayed(since, last, size)
        if inspect.iscoroutine(got):
            got.close()
            raise Hint("make replayed a plain function (def, not async def): it only computes")
        try:
            got = list(got)
        except TypeError:
            raise Hint(f"return a list of seqs, not {got!r}") from None
        if got != wanted:
            shown = wanted if len(wanted) < 6 else f"[{wanted[0]}, ..., {wanted[-1]}]"
            raise Hint(
                f"since={since}, last_seq={last}, history_size={size}: you said {got[:8]}"
                f"{' ...' if len(got) > 8 else ''}; expected {shown}"
            )
    live = _live_replay(history_size=3, said=5, since=1)
    mine = list(replayed(1, 5, 3))
    if mine != live:
        raise Hint(f"the real chat replayed {live} for since=1 after 5 messages; you said {mine}")
    return f"and the real chat agrees: after 5 messages, ?since=1 replays {live}"


# Reference answers


def solution_08_1() -> Any:
    def broadcast(outboxes: dict[str, asyncio.Queue[str]], message: str) -> list[str]:
        dropped = []
        for name, outbox in outboxes.items():
            try:
                outbox.put_nowait(message)  # never waits
            except asyncio.QueueFull:
                dropped.append(name)  # too slow: this client falls behind, not the others
        for name in dropped:
            del outboxes[name]
        return dropped

    return broadcast


def solution_08_2() -> Any:
    def replayed(since: int, last_seq: int, history_size: int) -> list[int]:
        oldest_kept = max(1, last_seq - history_size + 1)
        return list(range(max(since + 1, oldest_kept), last_seq + 1))

    return replayed
