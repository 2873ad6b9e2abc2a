"""Exercises of lesson 09: a broadcast that never waits, a task that outlives its client, and
a broadcast that drops the wrong client."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from ws_lessons.exercises.core import Hint, connected, exchange, exercise, require_function, served
from ws_lessons.i18n import _

__all__ = [
    "LEAK_CLIENTS",
    "WAIT",
    "check_09_1",
    "check_09_2",
    "check_09_3",
    "colleagues_broadcast",
    "solution_09_1",
    "solution_09_2",
    "solution_09_3",
]

WAIT = 1.0
"""How long a broadcast may take before the check calls it stuck, in seconds."""


def _call_broadcast(broadcast: Any, outboxes: dict[str, asyncio.Queue[str]], message: str) -> Any:
    """Call the learner's broadcast, sync or async, and give up on it after ``WAIT`` seconds."""
    try:
        result = broadcast(outboxes, message)
    except RuntimeError as exc:
        if "changed size during iteration" in str(exc):
            raise Hint(
                _(
                    "the dict changed size while you looped over it: loop over a copy, "
                    "list(outboxes.items()), and remove the slow ones from the dict"
                )
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
                _(
                    "your broadcast was still waiting after a second: `await queue.put()` waits "
                    "for room in a full queue. Use queue.put_nowait(), which raises QueueFull."
                )
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
    "09.1",
    nudge="One method of asyncio.Queue never waits. What does it do when the queue is full?",
    hint="Try the no-wait put on each outbox and catch the exception a full queue raises; "
    "collect those names, and delete them from the dict only once the loop is over.",
)
def check_09_1(broadcast: Any) -> str:
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
            raise Hint(_("return the list of the names you dropped (an empty list if none)"))
        try:
            names = sorted(dropped)
        except TypeError:
            raise Hint(
                _("return a list of names, not {dropped!r}").format(dropped=dropped)
            ) from None
        if names != full:
            raise Hint(
                _(
                    "with outboxes holding {levels} (each holds 3), you dropped {names}; "
                    "expected {full}: exactly the ones that are full"
                ).format(levels=levels, names=names, full=full)
            )
        if sorted(outboxes) != sorted(set(levels) - set(full)):
            raise Hint(
                _(
                    "after the broadcast, outboxes still holds {names}: "
                    "remove the dropped clients from the dict"
                ).format(names=sorted(outboxes))
            )
        for name, level in levels.items():
            got = _contents(queues[name])
            wanted = [f"earlier {n}" for n in range(level)]
            if level < 3:
                wanted.append("hello")
            if got != wanted:
                raise Hint(
                    _("{name}'s outbox holds {got}; expected {wanted}").format(
                        name=name, got=got, wanted=wanted
                    )
                )
    return _("every outbox with room got the message, and full ones were dropped without a wait")


LEAK_CLIENTS = 5
"""How many clients exercise 09.2 connects and disconnects."""


async def _task_names() -> list[str]:
    """The coroutine names of the tasks running on this loop, except the caller's."""
    current = asyncio.current_task()
    return [
        getattr(task.get_coro(), "__name__", "?")
        for task in asyncio.all_tasks()
        if task is not current
    ]


async def _settled_tasks(baseline: int) -> list[str]:
    """The tasks running once they are back to ``baseline``, or after ``WAIT`` seconds."""
    names = await _task_names()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(WAIT):
            while len(names) > baseline:
                await asyncio.sleep(0.02)
                names = await _task_names()
    return names


@exercise(
    "09.2",
    nudge="Count the tasks: what starts one for each client, and what ever ends it?",
    hint="A task made with create_task() runs until it returns or is cancelled; the sender "
    "waits on its queue forever. Tie its life to the client's: run the sender and the "
    "receive loop together so that the end of one ends the other.",
)
def check_09_2(app: Any) -> str:
    """``app``'s /ws echoes through an outbox, and leaves no task behind when clients go."""
    with served(app, "09.2") as server:
        baseline = len(server.run(_task_names()))
        for n in range(LEAK_CLIENTS):
            with connected(server, "/ws") as ws:
                said = _("client {number} said hello").format(number=n + 1)
                reply = exchange(ws, f"hello {n}", after=said)
                if reply != f"echo: hello {n}":
                    raise Hint(
                        _("client {number} said 'hello {n}' and got {reply!r}").format(
                            number=n + 1, n=n, reply=reply
                        )
                    )
        names = server.run(_settled_tasks(baseline))
    left = len(names) - baseline
    if left <= 0:
        return _("{clients} clients came and went, and no task outlived them").format(
            clients=LEAK_CLIENTS
        )
    if any("asgi" in name for name in names):
        raise Hint(
            _(
                "after {clients} clients left, their endpoints were still running: each one "
                "still waits for something, long after its client has gone."
            ).format(clients=LEAK_CLIENTS)
        )
    raise Hint(
        _(
            "after {clients} clients left, {left} tasks were still running on the server, "
            "one per client that came: something each client starts outlives it."
        ).format(clients=LEAK_CLIENTS, left=left)
    )


def colleagues_broadcast(outboxes: dict[str, asyncio.Queue[str]], message: str) -> None:
    """Exercise 09.3's broadcast, as the lesson shows it."""
    too_slow = False
    for name, outbox in outboxes.items():  # noqa: B007 (`name` after the loop: the bug)
        try:
            outbox.put_nowait(message)
        except asyncio.QueueFull:
            too_slow = True
    if too_slow:
        del outboxes[name]


def _after_colleagues_broadcast() -> set[str]:
    outboxes = _outboxes({"ada": 0, "slow": 3, "grace": 0})
    colleagues_broadcast(outboxes, "hello")
    return set(outboxes)


@exercise(
    "09.3",
    nudge="Follow `name` through the loop: what does it hold once the loop has finished?",
    hint="A for loop's variable keeps its last value after the loop ends; the `del` after the "
    "loop uses it, whichever client was full.",
)
def check_09_3(prediction: Any) -> str:
    """Who is left in ``outboxes`` after the colleague's broadcast (ada, slow full, grace)."""
    if not isinstance(prediction, set | frozenset | list | tuple):
        raise Hint(_('answer with a set of names, e.g. {"ada", "grace"}'))
    predicted = set(prediction)
    actual = _after_colleagues_broadcast()
    if predicted == actual:
        return _(
            "grace is dropped, not slow: after the loop, `name` is the last name looped over. "
            "Drop the full one inside the except (collect the names, delete after the loop)."
        )
    unknown = predicted - {"ada", "slow", "grace"}
    if unknown:
        raise Hint(
            _("there are only ada, slow and grace; {unknown} is not one of them").format(
                unknown=sorted(unknown)
            )
        )
    if predicted == {"ada", "grace"}:
        raise Hint(
            _(
                "that is what the colleague meant it to do. Look at the `del`: it runs after the "
                "loop, so which name does it use?"
            )
        )
    if predicted == {"ada", "slow", "grace"}:
        raise Hint(_("slow's outbox is full, so too_slow becomes True and the `del` does run"))
    if len(predicted) < 2:
        raise Hint(_("the `del` runs once, so exactly one client goes"))
    raise Hint(
        _("not {predicted}: which name is in `name` when the `del` runs?").format(
            predicted=sorted(predicted)
        )
    )


# Reference answers


def solution_09_1() -> Any:
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


def solution_09_2() -> Any:
    app = FastAPI()

    @app.websocket("/ws")
    async def echo_through_an_outbox(websocket: WebSocket) -> None:
        await websocket.accept()
        outbox: asyncio.Queue[str] = asyncio.Queue(10)

        async def sender() -> None:
            while True:
                await websocket.send_text(await outbox.get())

        async def receiver() -> None:
            while True:  # a disconnect raises WebSocketDisconnect, which ends the group
                outbox.put_nowait(f"echo: {await websocket.receive_text()}")

        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(sender())
                tasks.create_task(receiver())
        except* WebSocketDisconnect:
            pass  # the client left; the group cancelled the sender

    return app


def solution_09_3() -> Any:
    return {"ada", "slow"}  # `name` is "grace" when the del runs: the last name looped over
