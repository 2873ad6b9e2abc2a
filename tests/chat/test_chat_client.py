"""The reconnecting ``ChatClient`` against real servers: where it gives up, where it starts over."""

from __future__ import annotations

import asyncio
import functools

import pytest
from chatkit import SECRET

from ws_lessons.chat import ChatClient, backoff, create_app

pytestmark = pytest.mark.anyio

TIMEOUT = 10.0  # a hang guard: every wait below ends on an event
FAST = functools.partial(backoff, initial=0.05, cap=0.5)


async def settle(condition, timeout: float = TIMEOUT) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_handshake_refused_for_good_is_not_tried_again(start) -> None:
    server = start()
    room = "r" * 33  # one character over the contract's limit: refused before the handshake
    client = ChatClient(server.url, room, "ada", delays=FAST)
    with pytest.raises(ConnectionError, match="HTTP 403"):
        await client.start(TIMEOUT)
    await client.close()
    assert client.log[-1] == "gave up: handshake refused: HTTP 403", client.log
    assert not [line for line in client.log if line.startswith("retrying")], client.log


async def test_a_server_that_lost_its_history_is_followed_from_its_new_numbers(start) -> None:
    first = start(create_app(secret=SECRET))  # history in memory: a restart forgets it
    async with ChatClient(first.url, "lobby", "ada", delays=FAST) as ada:
        for text in ("one", "two", "three"):
            await ada.say(text)
        await ada.wait_for_seq(3, TIMEOUT)
        await asyncio.to_thread(first.stop)
        await settle(lambda: not ada.connected)
        start(create_app(secret=SECRET), uvicorn_options={"port": first.port})
        await ada.wait_connected(TIMEOUT)
        assert "the room's seq went back from 3 to 0" in ada.log, ada.log
        await ada.say("after the restart")
        await ada.wait_for_seq(1, TIMEOUT)
        assert [said["text"] for said in ada.said][-1] == "after the restart"
        assert ada.gaps == []
