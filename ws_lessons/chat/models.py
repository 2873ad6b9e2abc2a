"""The chat's wire format: one pydantic model per message, told apart by ``"type"``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,32}$"
"""User and room names: 1 to 32 ASCII letters, digits, ``_``, ``-`` or ``.``."""

Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class TokenRequest(BaseModel):
    user: Name


class TokenResponse(BaseModel):
    token: str


# -- client to server ------------------------------------------------------------------------


class Say(BaseModel):
    type: Literal["say"]
    text: str = Field(min_length=1)


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


ErrorCode = Literal["invalid_json", "invalid_message", "too_long", "rate_limited"]


class Error(BaseModel):
    """A message the server could not take; the connection stays open."""

    type: Literal["error"] = "error"
    error: ErrorCode
    detail: str


ServerMessage = Annotated[Welcome | Joined | Left | Said | Error, Field(discriminator="type")]
server_message: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)
"""Validates any message the server sends, e.g. ``server_message.validate_json(frame)``."""


def parse(data: str | bytes, max_text: int) -> Say | Error:
    """Read one client frame: a :class:`Say`, or the :class:`Error` to send back."""
    if isinstance(data, bytes):
        return Error(
            error="invalid_message",
            detail="Binary frames are not part of this protocol: send JSON as text.",
        )
    try:
        say = Say.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            return Error(error="invalid_json", detail=f"Messages must be JSON. {first['msg']}.")
        where = ".".join(map(str, first["loc"])) or "message"
        return Error(
            error="invalid_message",
            detail=f'Expected {{"type": "say", "text": "..."}}; {where}: {first["msg"]}.',
        )
    if len(say.text) > max_text:
        return Error(
            error="too_long",
            detail=f"Text is {len(say.text)} characters long; the limit is {max_text}.",
        )
    return say
