"""What the chat's test files share: the test secret and reading the server's messages."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from ws_lessons.chat import tokens
from ws_lessons.chat.models import server_message

SECRET = "test-secret"
TIMEOUT = 5.0


def token(user: str, **kwargs: Any) -> str:
    return tokens.issue(user, SECRET, **kwargs)


async def receive(ws: ClientConnection, *types: str) -> dict[str, Any]:
    """The next message of one of ``types`` (any if none), checked against the models."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            message = json.loads(await ws.recv())
            server_message.validate_python(message)
            if not types or message["type"] in types:
                return message


async def closed(ws: ClientConnection, timeout: float = TIMEOUT) -> ConnectionClosed:
    """Read until the connection closes; return how it closed."""
    async with asyncio.timeout(timeout):
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await ws.recv()
    return info.value


def scrape(url: str) -> dict[str, float]:
    """``GET url/metrics``, parsed by prometheus-client: each sample's value, by name."""
    text = httpx.get(f"{url}/metrics", timeout=TIMEOUT).raise_for_status().text
    families = text_string_to_metric_families(text)
    return {sample.name: sample.value for family in families for sample in family.samples}
