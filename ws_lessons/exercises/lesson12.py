"""Exercises of lesson 12: a reverse proxy that passes WebSockets on."""

from __future__ import annotations

import json
from typing import Any

from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from ws_lessons.chat import tokens
from ws_lessons.exercises.core import Hint, exercise
from ws_lessons.services import ServiceUnavailable, program, start_chat_worker, start_nginx

SECRET = "lesson 12"


@exercise(
    "12.1",
    hint="Three directives: speak HTTP/1.1 to the upstream, and set the Upgrade and the "
    "Connection request headers from the client's (the config defines $connection_upgrade).",
)
def check_12_1(location: Any) -> str:
    """The directives of an nginx ``location`` block that let WebSockets through.

    The check puts them in a real nginx config (see ``services.nginx_config``) in front of
    a real chat process, and opens a WebSocket through it.
    """
    if not isinstance(location, str) or not location.strip():
        raise Hint("give the directives as one string, e.g. 'proxy_http_version 1.1;'")
    try:
        program("nginx")
    except ServiceUnavailable as missing:
        raise Hint(f"this check runs a real nginx: {missing}") from None
    with start_chat_worker(secret=SECRET, name="exercise 12.1 chat") as worker:
        try:
            proxy = start_nginx([worker.port], location, name="exercise 12.1 nginx")
        except ServiceUnavailable as failed:
            raise Hint(f"nginx refused the configuration:\n{failed}") from None
        with proxy:
            url = proxy.ws_url(f"/ws/lobby?token={tokens.issue('ada', SECRET)}")
            try:
                with connect(url, open_timeout=5) as ws:
                    welcome = json.loads(ws.recv(timeout=5))
            except InvalidStatus as refused:
                status = refused.response.status_code
                raise Hint(
                    f"through your proxy the handshake got HTTP {status}, not 101: the "
                    "upgrade did not reach the chat"
                ) from None
    if welcome.get("type") != "welcome":
        raise Hint(f"the chat answered {welcome}, not a welcome")
    return "a WebSocket goes through your nginx to the chat and back"


# Reference answers


def solution_12_1() -> str:
    return """
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    """
