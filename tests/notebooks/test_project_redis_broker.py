"""Lesson 13's answer: the learner's RedisBroker and SharedHub, laid down from the course's
answers into a workspace of their own, against a real ``redis-server`` that stops and starts."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis

from ws_lessons import project
from ws_lessons.services import Service, start_redis

pytestmark = [pytest.mark.timeout(120), pytest.mark.anyio, pytest.mark.needs("redis-server")]


@pytest.fixture
def mychat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The project as lesson 13 leaves it, importable as ``mychat``."""
    monkeypatch.setenv("WS_LESSONS_WORKSPACE", str(tmp_path))
    project.open_project("14")  # lays down the layers of lessons 09 to 13
    try:
        yield importlib.import_module("mychat")
    finally:
        sys.path.remove(str(tmp_path))
        project._forget_imports()


@pytest.fixture
def redis_server() -> Iterator[Service]:
    with start_redis(name="test project redis", persistent=True) as server:
        yield server


async def until(condition: Callable[[], object], seconds: float = 30) -> None:
    """Wait for ``condition()`` to hold; the bound is a hang guard, not a timing."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


async def test_the_listener_reconnects_after_redis_stops_and_starts(
    mychat: ModuleType, redis_server: Service
) -> None:
    from mychat.redis_broker import RedisBroker, keys

    assert {key.split("}")[0] for key in keys("lobby")} == {"chat:{lobby"}  # one hash tag
    process_a, process_b = RedisBroker(redis_server.url), RedisBroker(redis_server.url)
    heard_a: list[dict] = []
    heard_b: list[dict] = []
    await process_a.start(heard_a.append)
    await process_b.start(heard_b.append)
    try:
        await until(lambda: process_a.available and process_b.available)
        first = await process_a.publish("lobby", "ada", "before")
        await until(lambda: heard_a and heard_b)
        assert heard_a == heard_b == [first]
        assert first["seq"] == 1

        redis_server.stop()
        await until(lambda: not process_a.available and not process_b.available)
        assert "unreachable" in process_b.reason
        with pytest.raises(redis.ConnectionError):
            await process_a.publish("lobby", "ada", "during")  # never confirmed

        redis_server.start()  # same port, same files
        await until(lambda: process_a.available and process_b.available)
        after = await process_b.publish("lobby", "bob", "after")
        await until(lambda: len(heard_a) == len(heard_b) == 2)
        assert [said["seq"] for said in heard_a] == [said["seq"] for said in heard_b] == [1, 2]
        assert after["seq"] == 2  # the counter Redis confirmed survived
        assert [said["text"] for said in await process_a.history("lobby", 0)] == [
            "before",
            "after",
        ]
        assert await process_b.last_seq("lobby") == 2
    finally:
        await process_a.stop()
        await process_b.stop()
    assert process_a.listener is not None and process_a.listener.done()


async def test_the_shared_hub_delivers_each_message_once_through_redis(
    mychat: ModuleType, redis_server: Service
) -> None:
    from mychat.member import Member
    from mychat.redis_broker import RedisBroker
    from mychat.shared_hub import SharedHub

    hub = SharedHub(RedisBroker(redis_server.url, history_size=3))
    await hub.start()
    try:
        assert hub.broker.available  # start waits until the listener hears
        member = Member(None, "lobby", "ada", asyncio.Queue(10))
        await hub.join(member)
        welcome = json.loads(member.outbox.get_nowait())
        assert welcome["type"] == "welcome"
        for n in range(5):
            said = await hub.say("lobby", "ada", f"message {n}")
            assert said["seq"] == n + 1
        await until(lambda: member.outbox.qsize() == 5)
        await asyncio.sleep(0.2)  # nothing more comes: no local broadcast besides Redis's
        delivered = [json.loads(member.outbox.get_nowait()) for _ in range(5)]
        assert member.outbox.empty()
        assert [said["seq"] for said in delivered] == [1, 2, 3, 4, 5]
        kept = await hub.broker.history("lobby", 0)
        assert [said["seq"] for said in kept] == [3, 4, 5]  # the capped list
    finally:
        await hub.stop()
