"""Lesson 08's checks reject the mistakes learners typically make."""

from __future__ import annotations

import asyncio

import pytest

from ws_lessons import checks

pytestmark = pytest.mark.timeout(60)


async def waits_for_room(outboxes: dict[str, asyncio.Queue[str]], message: str) -> list[str]:
    """The naive habit: await put(), which waits as long as the queue is full."""
    for outbox in outboxes.values():
        await outbox.put(message)
    return []


def keeps_the_slow_ones(outboxes: dict[str, asyncio.Queue[str]], message: str) -> list[str]:
    dropped = []
    for name, outbox in outboxes.items():
        try:
            outbox.put_nowait(message)
        except asyncio.QueueFull:
            dropped.append(name)
    return dropped  # but they stay in outboxes


def deletes_while_looping(outboxes: dict[str, asyncio.Queue[str]], message: str) -> list[str]:
    dropped = []
    for name, outbox in outboxes.items():
        try:
            outbox.put_nowait(message)
        except asyncio.QueueFull:
            dropped.append(name)
            del outboxes[name]
    return dropped


def drops_everyone_with_a_backlog(
    outboxes: dict[str, asyncio.Queue[str]], message: str
) -> list[str]:
    dropped = [name for name, outbox in outboxes.items() if not outbox.empty()]
    for name in dropped:
        del outboxes[name]
    for outbox in outboxes.values():
        outbox.put_nowait(message)
    return dropped


@pytest.mark.parametrize(
    "wrong",
    [waits_for_room, keeps_the_slow_ones, deletes_while_looping, drops_everyone_with_a_backlog],
    ids=["await-put", "not-removed", "delete-while-looping", "drops-any-backlog"],
)
def test_08_1_rejects(wrong) -> None:  # type: ignore[no-untyped-def]
    assert not checks.check_08_1(wrong)


@pytest.mark.parametrize(
    "wrong",
    [
        lambda since, last, size: list(range(since + 1, last + 1)),  # forgets the history bound
        lambda since, last, size: list(range(max(1, last - size + 1), last + 1)),  # forgets since
        lambda since, last, size: list(range(since, last + 1)),  # replays `since` again
    ],
    ids=["unbounded", "ignores-since", "off-by-one"],
)
def test_08_2_rejects(wrong) -> None:  # type: ignore[no-untyped-def]
    assert not checks.check_08_2(wrong)
