"""The reference chat's seams: its wire helpers, its settings, its hubs, its exceptions."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ws_lessons.chat import models
from ws_lessons.chat.broker import MemoryBroker
from ws_lessons.chat.exceptions import BrokerUnavailable, ChatError, InvalidToken, SettingsError
from ws_lessons.chat.hub import LocalHub, SharedHub, hub_for
from ws_lessons.chat.redis_broker import RedisBroker
from ws_lessons.chat.settings import WORKERS_NEED_REDIS, Settings


def test_a_clients_frames_are_written_as_the_contract_shows_them() -> None:
    assert models.say("hello") == '{"type": "say", "text": "hello"}'
    assert models.say('été "quoted"') == json.dumps({"type": "say", "text": 'été "quoted"'})
    assert models.say("") == '{"type": "say", "text": ""}'  # the server refuses it, not the client
    assert models.ping() == '{"type": "ping"}'


def test_is_said_finds_the_type_wherever_it_is_and_never_inside_a_text() -> None:
    said = models.Said(room="r", user="u", text="hi", seq=1, ts=1.5)
    assert models.is_said(models.encode(said))
    fields = said.model_dump()
    reordered = json.dumps(dict(reversed(fields.items())), separators=(",", ":"))
    assert reordered.startswith('{"ts"') and models.is_said(reordered)
    sneaky = models.Joined(room="r", user='x"type":"said"')  # not a valid name: a worst case
    assert not models.is_said(models.encode(sneaky))
    assert models.decode(models.encode(said)) == said


def test_several_workers_without_redis_is_refused_once_by_the_settings() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings(workers=2)
    assert str(refused.value) == WORKERS_NEED_REDIS
    assert Settings(workers=2, redis="redis://127.0.0.1:1").workers == 2
    with pytest.raises(SettingsError, match="not both"):
        Settings(history="chat.db", redis="redis://127.0.0.1:1")
    with pytest.raises(SettingsError, match="go together"):
        Settings().but(ssl_certfile="cert.pem")


def test_the_command_line_shows_the_defaults_of_the_settings() -> None:
    command = [sys.executable, "-m", "ws_lessons", "serve", "chat", "--help"]
    help_text = " ".join(subprocess.run(command, capture_output=True, text=True).stdout.split())
    defaults = Settings()
    assert f"(default: {defaults.max_size})" in help_text
    assert f"average (default: {defaults.rate:g})" in help_text
    assert f"exit within it (default: {defaults.grace:g})" in help_text


def test_the_chats_exceptions_share_one_root() -> None:
    for error in (BrokerUnavailable, InvalidToken, SettingsError):
        assert issubclass(error, ChatError)
    assert issubclass(InvalidToken, ValueError) and issubclass(SettingsError, ValueError)


def test_a_broker_processes_share_gets_a_shared_hub() -> None:
    assert isinstance(hub_for(MemoryBroker()), LocalHub)
    broker = RedisBroker("redis://127.0.0.1:1")  # redis-py connects on the first command
    hub = hub_for(broker)
    assert isinstance(hub, SharedHub) and hub.unavailable is None and hub.reconnects == 0
    broker.unavailable = "the chat cannot reach Redis; try again in a moment"
    assert hub.unavailable == broker.unavailable


@pytest.mark.anyio
async def test_a_broker_that_cannot_reach_redis_raises_the_courses_exception() -> None:
    broker = RedisBroker("redis://127.0.0.1:1")  # nothing listens on port 1
    try:
        with pytest.raises(BrokerUnavailable, match="cannot reach Redis"):
            await broker.last_seq("lobby")
    finally:
        await broker.redis.aclose()
