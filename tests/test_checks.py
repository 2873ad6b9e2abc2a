"""Every check accepts its reference solution and rejects typical wrong answers, without raising."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, WebSocket

from ws_lessons import checks, serve, solutions, stop_all

pytestmark = pytest.mark.timeout(60)


def app_with(path: str, reply_with) -> FastAPI:
    """An app whose endpoint at ``path`` answers every text message with ``reply_with(text)``."""
    app = FastAPI()

    @app.websocket(path)
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            text = await websocket.receive_text()
            await websocket.send_text(reply_with(text))

    return app


def unanswering_app(path: str) -> FastAPI:
    """Accepts, then returns at once: the mistake of forgetting the receive loop."""
    app = FastAPI()

    @app.websocket(path)
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()

    return app


def test_every_exercise_has_a_check_and_a_solution() -> None:
    numbers = {name.removeprefix("check_").replace("_", ".") for name in checks.__all__[1:]}
    assert numbers == set(solutions.SOLUTIONS)


def test_00_1() -> None:
    app = FastAPI()

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"hello": "world"}

    assert checks.check_00_1(solutions.solution_00_1(app))
    assert not checks.check_00_1(app)  # the app instead of the running server
    stopped = serve(app, name="stopped")
    stopped.stop()
    assert not checks.check_00_1(stopped)
    stop_all()


@pytest.mark.parametrize(
    "wrong",
    [
        app_with("/shout", lambda text: text),  # echoes unchanged
        app_with("/shout", lambda text: text.lower()),
        app_with("/echo", str.upper),  # wrong path
        unanswering_app("/shout"),
        None,
    ],
    ids=["unchanged", "lowercase", "wrong-path", "no-loop", "none"],
)
def test_06_1(wrong: object) -> None:
    assert checks.check_06_1(solutions.solution_06_1())
    assert not checks.check_06_1(wrong)


def test_06_2() -> None:
    assert checks.check_06_2(solutions.solution_06_2())
    assert not checks.check_06_2(app_with("/rooms/{room}", lambda text: text))  # not the JSON
    assert not checks.check_06_2(FastAPI())


def test_06_3() -> None:
    assert checks.check_06_3(solutions.solution_06_3())
    open_door = app_with("/guarded", lambda text: text)  # never checks the token
    assert not checks.check_06_3(open_door)
    assert not checks.check_06_3(FastAPI())


def test_a_check_prints_its_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    verdict = checks.check_06_1(FastAPI())
    out = capsys.readouterr().out
    assert "Exercise 06.1 ❌ not yet" in out
    assert verdict.exercise == "06.1"
    assert not verdict


def test_show_prints_the_solution_source(capsys: pytest.CaptureFixture[str]) -> None:
    solutions.show("06.1")
    assert "text.upper()" in capsys.readouterr().out
    solutions.show("99.9")
    assert "No exercise" in capsys.readouterr().out
