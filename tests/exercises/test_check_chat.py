"""check_chat(app) against real servers: the reference passes; common mistakes fail by name."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest
from fastapi import FastAPI, WebSocket

from ws_lessons.chat import contract, create_app
from ws_lessons.chat.contract import CLAUSES
from ws_lessons.chat.models import Say, parse
from ws_lessons.chat.ratelimit import TokenBucket
from ws_lessons.chat.settings import Settings
from ws_lessons.checks import check_chat

pytestmark = pytest.mark.timeout(90)
ERROR_CLAUSES = [
    "error invalid_json",
    "error invalid_message",
    "error invalid_message",
    "error invalid_message",
    "error too_long",
    "error rate_limited",
]


def naive_contract_chat(*, answer_errors: bool = True) -> FastAPI:
    """The whole contract, but broadcast awaits each send in turn: no outbox, no sender task.

    ``answer_errors=False``: a bad message is ignored instead of answered.
    """
    app = FastAPI()
    rooms: dict[str, dict[WebSocket, str]] = {}
    seqs: dict[str, int] = {}

    async def broadcast(room: str, message: dict[str, Any]) -> None:
        for websocket in list(rooms.get(room, {})):
            with contextlib.suppress(Exception):  # a client that left meanwhile
                await websocket.send_json(message)

    @app.websocket("/ws/{room}")
    async def chat(websocket: WebSocket, room: str, user: str) -> None:
        await websocket.accept()
        members = rooms.setdefault(room, {})
        if user not in members.values():
            await broadcast(room, {"type": "joined", "room": room, "user": user})
        members[websocket] = user
        seq = seqs.setdefault(room, 0)
        users = sorted(set(members.values()))
        await websocket.send_json(
            {"type": "welcome", "room": room, "user": user, "seq": seq, "members": users}
        )
        bucket = TokenBucket(5, 10)
        try:
            while True:
                frame = await websocket.receive()
                if frame["type"] == "websocket.disconnect":
                    return
                reply = parse(frame.get("text") or frame.get("bytes") or b"", 1000)
                if not bucket.take():
                    reply = None
                    if answer_errors:
                        await websocket.send_json(
                            {"type": "error", "error": "rate_limited", "detail": "slow down"}
                        )
                elif isinstance(reply, Say):
                    seqs[room] += 1
                    said = {"type": "said", "room": room, "user": user, "text": reply.text}
                    await broadcast(room, said | {"seq": seqs[room], "ts": time.time()})
                elif answer_errors:
                    await websocket.send_text(reply.model_dump_json())
        finally:
            del members[websocket]
            if user not in members.values():
                await broadcast(room, {"type": "left", "room": room, "user": user})

    return app


def test_the_reference_chat_passes(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    verdict = check_chat(create_app())
    assert verdict, verdict.message
    assert [clause.passed for clause in verdict.clauses] == [True] * len(CLAUSES)
    out = capsys.readouterr().out
    assert out.count("✅") == len(CLAUSES) + 1
    assert "❌" not in out
    assert time.monotonic() - started < 60


def test_an_outbox_without_a_bound_fails_the_stalled_client_clause(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(contract, "STALL_MESSAGES", 600)  # the reference's 100 go after ~250
    verdict = check_chat(create_app(Settings(queue_size=0)))  # asyncio.Queue(0) never fills
    assert verdict.failed() == ["stalled client"]
    assert (
        "❌ stalled client: after 600 messages the client that stopped reading was still in "
        in (capsys.readouterr().out)
    )


def test_a_broadcast_that_awaits_each_send_fails_the_stalled_client_clause(
    capsys: pytest.CaptureFixture[str],
) -> None:
    verdict = check_chat(naive_contract_chat())
    assert not verdict
    assert verdict.failed() == ["stalled client"]
    out = capsys.readouterr().out
    assert "❌ stalled client: after" in out
    assert "A broadcast that awaits each send waits for the client that stopped reading" in out


def test_a_chat_that_answers_no_errors_fails_those_clauses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    verdict = check_chat(naive_contract_chat(answer_errors=False))
    assert not verdict
    assert verdict.failed()[: len(ERROR_CLAUSES)] == ERROR_CLAUSES
    out = capsys.readouterr().out
    assert "grace received no error or said within 2 s sending text that is not JSON" in out
    assert "give each connection a budget (a token bucket)" in out
    assert "✅ said:" in out  # the rest of the contract still holds


@pytest.mark.parametrize(
    "nonsense",
    [None, 42, "an app", FastAPI()],
    ids=["None", "42", "a string", "an empty FastAPI app"],
)
def test_check_chat_never_raises(nonsense: Any, capsys: pytest.CaptureFixture[str]) -> None:
    verdict = check_chat(nonsense)
    assert not verdict
    assert "❌ not yet" in capsys.readouterr().out


def test_an_app_that_cannot_start_is_reported() -> None:
    @contextlib.asynccontextmanager
    async def broken(app: FastAPI):  # type: ignore[no-untyped-def]
        raise RuntimeError("no database")
        yield

    verdict = check_chat(FastAPI(lifespan=broken))
    assert not verdict
    assert "did not start" in verdict.message


@pytest.mark.slow
def test_a_chat_that_never_answers_fails_every_clause_within_a_minute() -> None:
    app = FastAPI()

    @app.websocket("/ws/{room}")
    async def silent(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        with contextlib.suppress(Exception):
            while True:
                await websocket.receive()

    started = time.monotonic()
    verdict = check_chat(app)
    assert not verdict
    assert not any(clause.passed for clause in verdict.clauses)
    assert verdict.clauses[0].detail.startswith("ada received nothing within 2 s of connecting")
    assert time.monotonic() - started < 60


@pytest.mark.usefixtures("chinese")
@pytest.mark.slow
def test_check_chat_speaks_chinese_in_the_chinese_edition(
    capsys: pytest.CaptureFixture[str],
) -> None:
    verdict = check_chat(naive_contract_chat(answer_errors=False))
    assert not verdict
    assert verdict.failed()[: len(ERROR_CLAUSES)] == ERROR_CLAUSES  # the names stay the same
    out = capsys.readouterr().out
    assert (
        "❌ error invalid_json：发送不是 JSON 的文本后，grace 在 2 秒内没有收到 error 或 said"
        in out
    )
    assert "给每个连接一份额度（令牌桶）" in out
    assert "✅ 房间：消息只送达它自己的房间" in out
    assert "练习 chat ❌ 尚未通过：聊天协议约定的 11 条条款中有" in out
    assert "within 2 s" not in out
