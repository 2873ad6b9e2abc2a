"""Exercises of lesson 00: what runs inside a kernel, and a server's lifetime."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from ws_lessons.exercises.core import (
    Hint,
    chosen_letters,
    exercise,
    require_function,
)
from ws_lessons.i18n import N_, _
from ws_lessons.server import running, serve

__all__ = ["CELLS_00_1", "WORKS_00_1", "check_00_1", "check_00_2", "solution_00_1", "solution_00_2"]

# 00.1 -------------------------------------------------------------------------------------------

CELLS_00_1 = {
    "A": "asyncio.run(main())",
    "B": "await main()",
    "C": "uvicorn.run(app, port=0)",
    "D": "server = serve(app)\nhttpx.get(server.url)",
    "E": "async with httpx.AsyncClient() as client:\n    await client.get(server.url)",
}
"""Five cells; ``main`` is an ``async def`` and ``server`` a running ``serve()`` handle."""

_WHY_00_1 = {
    "A": N_(
        "asyncio.run() starts a new event loop, and the kernel's loop already runs in "
        "this thread: it raises RuntimeError"
    ),
    "B": N_("a cell may `await` at the top level: the coroutine runs on the kernel's own loop"),
    "C": N_(
        "uvicorn.run() starts its own event loop, like asyncio.run(), so it fails the same "
        "way; had it started, it would keep the cell busy for the server's whole life"
    ),
    "D": N_(
        "serve() runs uvicorn on a loop of its own in a background thread; a blocking "
        "client blocks only the cell's thread, so the server can answer"
    ),
    "E": N_("an async client awaits on the kernel's loop while the server runs on its own"),
}
WORKS_00_1 = frozenset({"B", "D", "E"})

# What a wrong verdict on these cells misses, said without naming a cell: the whole answer
# is judged first, so no try reveals the verdict on one cell.
_MISSED_00_1 = [
    (
        frozenset({"A", "C"}),
        N_(
            "a cell you chose starts a second event loop in the cell's thread, where the "
            "kernel's loop already runs: that fails"
        ),
    ),
    (
        frozenset({"B", "E"}),
        N_("a cell you left out only awaits, on the kernel's running loop: a cell may do that"),
    ),
    (
        frozenset({"D"}),
        N_(
            "a cell you left out blocks only the cell's thread, while the server answers "
            "from a thread of its own: that works"
        ),
    ),
]


@exercise(
    "00.1",
    nudge="For each cell, ask which event loop runs it, and whether that loop is busy already.",
    hint="The kernel's loop is running in the cell's thread. Anything that tries to start "
    "another loop in that thread fails; awaiting on the running loop, or running the "
    "server on a loop in another thread, works.",
)
def check_00_1(letters: Any) -> str:
    """The set of letters of CELLS_00_1 that run without an error in a notebook."""
    chosen = chosen_letters(letters, CELLS_00_1, _("cell"))
    if not chosen:
        raise Hint(
            _(
                "an empty set says that none of the five cells runs. Read each one and "
                "list the letters of those that do"
            )
        )
    wrong = {letter for letter in CELLS_00_1 if (letter in chosen) != (letter in WORKS_00_1)}
    if wrong:
        missed = [_(idea) for cells, idea in _MISSED_00_1 if cells & wrong]
        raise Hint(_("not every verdict is right yet: {missed}").format(missed="; ".join(missed)))
    reasons = "".join(f"\n  {letter}: {_(_WHY_00_1[letter])}" for letter in sorted(CELLS_00_1))
    return (
        _("one loop per thread: await on the kernel's, and give the server a thread of its own")
        + reasons
    )


# 00.2 -------------------------------------------------------------------------------------------


def _app_00_2(greeting: str) -> FastAPI:
    app = FastAPI()

    @app.get("/")
    async def hello() -> dict[str, str]:
        return {"hello": greeting}

    return app


@exercise(
    "00.2",
    nudge="Read the order of events in `ask`: when does the server start, when does it "
    "stop, and when is the request sent?",
    hint="A `with serve(...)` block stops its server at the end of the block. Everything "
    "that needs the server must happen inside it; what you return may leave it.",
)
def check_00_2(ask: Any) -> str:
    """``ask(app)`` serves ``app``, returns the JSON of ``GET /``, and stops the server."""
    require_function(ask)
    greeting = "from the check"
    before = {id(server) for server in running()}
    try:
        got = ask(_app_00_2(greeting))
    except httpx.ConnectError:
        raise Hint(
            _(
                "the request found nobody listening: the server had stopped already. "
                "Send it while the `with` block is still open"
            )
        ) from None
    except RuntimeError as exc:
        if "running event loop" in str(exc):
            raise Hint(
                _(
                    "asyncio.run() cannot start a loop inside the kernel's: use a blocking "
                    "client (httpx.get) in `ask`, as lesson 00 does"
                )
            ) from None
        raise Hint(_("ask(app) raised RuntimeError: {error}").format(error=exc)) from None
    finally:
        left = [server for server in running() if id(server) not in before]
        for server in left:
            server.stop()
    if isinstance(got, httpx.Response):
        raise Hint(_("you returned the response itself: return what its JSON body says"))
    if got != {"hello": greeting}:
        raise Hint(
            _("ask(app) returned {got!r}; expected the app's answer {{'hello': ...}}").format(
                got=got
            )
        )
    if left:
        raise Hint(
            _(
                "the server {name!r} was still running after ask() returned: stop it "
                "(a `with` block does that for you)"
            ).format(name=left[0].name)
        )
    return _("asked while the server ran, and nothing left running afterwards")


# Reference answers


def solution_00_1() -> set[str]:
    # A and C try to start a second event loop in the kernel's thread.
    return {"B", "D", "E"}


def solution_00_2() -> Any:
    def ask(app: FastAPI) -> dict[str, str]:
        with serve(app, name="exercise 00.2") as server:
            answer = httpx.get(server.url).json()
        return answer

    return ask
