"""What an operator asks of a running chat: is it alive, is it ready, what is it doing.

- ``GET /livez``: 200 while the process serves HTTP at all. A liveness probe that fails
  gets the process restarted, so it must not depend on Redis: a Redis blip would fail
  every process's probe at once, and every process would be restarted at once.
- ``GET /readyz`` (old name ``/healthz``): 503 with a JSON reason while the broker is
  unreachable or the server is draining, else 200. A load balancer stops sending new
  users to a process that is not ready, and sends them again once it is.
- ``GET /metrics``: the Prometheus text format (``prometheus-client``). The counts are
  this process's own: with ``--workers N`` each worker reports its own numbers, and a
  scrape through the shared port reaches whichever worker accepts it.

:class:`JsonFormatter` writes one JSON object a line, with the room and user of the
connection a line was logged for (:data:`connection`).
"""

from __future__ import annotations

import contextvars
import copy
import datetime
import json
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette import status
from uvicorn.config import LOGGING_CONFIG

from .hub import SHUTTING_DOWN, Hub

__all__ = ["LOG_FORMATS", "JsonFormatter", "add_routes", "connection", "log_config", "not_ready"]

connection: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "connection", default=None
)
"""The room and user of the connection being served, set by the WebSocket endpoint before
it accepts; uvicorn's own lines for the connection (``[accepted]``) are logged in its task."""


def not_ready(hub: Hub) -> str | None:
    """Why this process should get no new users now, or None."""
    if hub.closing:
        return SHUTTING_DOWN
    return hub.unavailable


def add_routes(app: FastAPI, hub: Hub) -> None:
    """Add ``/livez``, ``/readyz``, ``/healthz`` and ``/metrics`` to ``app``."""
    registry = CollectorRegistry()
    registry.register(_HubCollector(hub))
    ProcessCollector(registry=registry)  # memory, CPU, open files of this process

    @app.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", response_model=None)
    @app.get("/healthz", response_model=None, include_in_schema=False)  # the old name
    async def readyz() -> dict[str, str] | JSONResponse:
        if reason := not_ready(hub):
            body = {"status": "unavailable", "reason": reason}
            return JSONResponse(body, status.HTTP_503_SERVICE_UNAVAILABLE)
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class _HubCollector:
    """Reads the hub's state and counts when Prometheus scrapes (a custom collector)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        hub, counts = self.hub, self.hub.counts
        members = [member for room in hub.rooms.values() for member in room]
        yield GaugeMetricFamily("chat_connections", "WebSocket connections in a room", len(members))
        yield GaugeMetricFamily("chat_rooms", "rooms with a connection", len(hub.rooms))
        yield GaugeMetricFamily(
            "chat_outbox_deepest",
            "messages waiting in the fullest outbox (a client that is behind)",
            max((member.outbox.qsize() for member in members), default=0),
        )
        yield CounterMetricFamily(
            "chat_messages_received", "frames received from clients", counts.received
        )
        yield CounterMetricFamily(
            "chat_messages_sent", "messages sent or queued to clients", counts.sent
        )
        yield CounterMetricFamily(
            "chat_slow_clients_dropped",
            "clients closed with 1013 because their outbox was full",
            counts.dropped,
        )
        yield CounterMetricFamily(
            "chat_broker_reconnects",
            "times the shared broker reconnected after losing Redis",
            hub.reconnects,
        )


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, and room and user when a
    connection is being served (or the record carries them, ``extra={"room": ...}``)."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        entry: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        room, user = connection.get() or (None, None)
        room, user = getattr(record, "room", room), getattr(record, "user", user)
        if room is not None:
            entry["room"], entry["user"] = room, user
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


LOG_FORMATS = ("text", "json")


def log_config(log_format: str = "text") -> dict[str, Any]:
    """uvicorn's logging configuration, with every line as JSON for ``"json"``."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format: one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    config = copy.deepcopy(LOGGING_CONFIG)
    if log_format == "json":
        for name in config["formatters"]:
            config["formatters"][name] = {"()": f"{__name__}.JsonFormatter"}
    return config
