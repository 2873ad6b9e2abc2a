"""Lesson 00's check rejects the mistakes learners typically make."""

from __future__ import annotations

from fastapi import FastAPI

from ws_lessons import checks, serve


def test_00_1_rejects_the_app_itself_and_a_stopped_server() -> None:
    app = FastAPI()
    assert not checks.check_00_1(app)
    with serve(app, name="soon stopped") as server:
        pass
    assert not checks.check_00_1(server)
