"""The chat's wire format: one pydantic model per message, told apart by ``"type"``.

This module is the one place that writes and reads the chat's messages: the server
(:func:`parse` what clients send, :func:`encode` what it sends), and every client of the
course (:func:`say` and :func:`ping` build a client's frames, :func:`decode` reads the
server's, :func:`is_said` counts them without parsing, for benchmarks).

Every frame a client sends goes through :func:`parse` before the chat acts on it: it
comes out as one of the client messages below or as the :class:`Error` to send back,
and nothing a client sends can make it raise.

The wire contract is written out in ``docs/chat-contract.md``. Besides ``say``, a client
may send ``{"type": "ping"}`` and gets ``{"type": "pong"}`` back (to that client only):
browsers cannot send WebSocket ping frames, so this is how a page checks that the server
still answers.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

__all__ = [
    "NAME_LENGTH",
    "NAME_PATTERN",
    "ClientMessage",
    "Error",
    "ErrorCode",
    "Joined",
    "Left",
    "Name",
    "Ping",
    "Pong",
    "Said",
    "Say",
    "ServerMessage",
    "TokenRequest",
    "TokenResponse",
    "Welcome",
    "client_message",
    "decode",
    "encode",
    "is_said",
    "parse",
    "ping",
    "read",
    "say",
    "server_message",
]

NAME_PATTERN = r"^[A-Za-z0-9_.-]*[A-Za-z0-9_-][A-Za-z0-9_.-]*$"
"""User and room names: ASCII letters, digits, ``_``, ``-`` or ``.``, not only dots
(``.`` and ``..`` mean something in a path: a room must never be named so)."""
NAME_LENGTH = 32
"""The longest user or room name (the pattern has no length: Rust's regex, which
pydantic uses, cannot say "1 to 32, and not only dots" in one pattern)."""

Name = Annotated[str, Field(min_length=1, max_length=NAME_LENGTH, pattern=NAME_PATTERN)]


class TokenRequest(BaseModel):
    user: Name


class TokenResponse(BaseModel):
    token: str


# -- client to server ------------------------------------------------------------------------


class Say(BaseModel):
    type: Literal["say"]
    text: str = Field(min_length=1)


class Ping(BaseModel):
    """An application-level heartbeat; the server answers :class:`Pong`."""

    type: Literal["ping"]


ClientMessage = Annotated[Say | Ping, Field(discriminator="type")]
client_message: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


# -- server to client ------------------------------------------------------------------------


class Welcome(BaseModel):
    type: Literal["welcome"] = "welcome"
    room: str
    user: str
    seq: int
    """The room's last message number when this connection joined."""
    members: list[str]
    """Who is in the room, this user included."""


class Joined(BaseModel):
    type: Literal["joined"] = "joined"
    room: str
    user: str


class Left(BaseModel):
    type: Literal["left"] = "left"
    room: str
    user: str


class Said(BaseModel):
    type: Literal["said"] = "said"
    room: str
    user: str
    text: str
    seq: int
    ts: float


class Pong(BaseModel):
    type: Literal["pong"] = "pong"


ErrorCode = Literal["invalid_json", "invalid_message", "too_long", "rate_limited"]


class Error(BaseModel):
    """A message the server could not take; the connection stays open."""

    type: Literal["error"] = "error"
    error: ErrorCode
    detail: str


ServerMessage = Annotated[
    Welcome | Joined | Left | Said | Pong | Error, Field(discriminator="type")
]
server_message: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)
"""Validates any message the server sends, e.g. ``server_message.validate_json(frame)``."""


EXPECTED = 'Expected {"type": "say", "text": "..."} or {"type": "ping"}'


def _problem(error: ErrorDetails) -> str:
    """What is wrong, in words that never repeat what the client sent."""
    if error["type"] == "union_tag_not_found":
        return 'there is no "type"'
    if error["type"] == "union_tag_invalid":
        return '"type" is neither "say" nor "ping"'
    where = ".".join(map(str, error["loc"])) or "message"
    return f"{where}: {error['msg']}"


def parse(data: str | bytes, max_text: int) -> Say | Ping | Error:
    """Read one client frame: a :class:`Say`, a :class:`Ping`, or the :class:`Error` to send."""
    if isinstance(data, bytes):
        return Error(
            error="invalid_message",
            detail="Binary frames are not part of this protocol: send JSON as text.",
        )
    try:
        message = client_message.validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            return Error(error="invalid_json", detail=f"Messages must be JSON. {first['msg']}.")
        return Error(error="invalid_message", detail=f"{EXPECTED}; {_problem(first)}.")
    if isinstance(message, Say) and len(message.text) > max_text:
        return Error(
            error="too_long",
            detail=f"Text is {len(message.text)} characters long; the limit is {max_text}.",
        )
    return message


# -- building and reading frames --------------------------------------------------------------


def say(text: str) -> str:
    """The frame a client sends to say ``text``: ``{"type": "say", "text": "..."}``.

    Written as ``docs/chat-contract.md`` shows it (``json.dumps``'s spacing). Not
    validated, so that a client may send what the server refuses (an empty text).
    """
    return json.dumps(Say.model_construct(type="say", text=text).model_dump())


def ping() -> str:
    """The frame a client sends to check the server still answers: ``{"type": "ping"}``."""
    return json.dumps(Ping(type="ping").model_dump())


def encode(message: ServerMessage | ClientMessage) -> str:
    """A message's JSON, as the server sends it: pydantic's, fields in order, no spaces."""
    return message.model_dump_json()


def decode(frame: str | bytes) -> ServerMessage:
    """A server's frame as its message; raises ``pydantic.ValidationError`` if it is none."""
    return server_message.validate_json(frame)


def read(frame: str | bytes) -> dict[str, Any]:
    """A server's frame, validated, as a dict (``message["type"]``, ``message["seq"]``...)."""
    return decode(frame).model_dump()


SAID = '"type":"said"'


def is_said(frame: str) -> bool:
    """Whether a server's frame is a ``said``, found without parsing it (benchmarks count
    thousands a second).

    Whatever the order of the fields: the server writes JSON without spaces, and inside
    a string every ``"`` is escaped as ``\\"``, so ``"type":"said"`` can only be the type.
    """
    return SAID in frame
