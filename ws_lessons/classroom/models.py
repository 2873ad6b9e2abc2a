"""The classroom's wire format: one pydantic model per message, told apart by ``"type"``.

A learner's kernel sends :class:`Hello` once, then a :class:`Verdict` per check; the
server answers :class:`Welcome`, an :class:`Ack` per verdict, and pushes each
:class:`Announcement`. The dashboard receives :class:`Start`, then events that each carry
the ``seq`` they were stored under (:class:`Joined`, :class:`Judged`, :class:`Announcement`),
and may send :class:`Announce`. Every frame goes through :func:`parse_learner` or
:func:`parse_instructor` first: nothing a client sends can make the server raise.

A verdict holds what the learner's join cell shows, and nothing else: never code or answers.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

__all__ = [
    "ANNOUNCEMENT_LENGTH",
    "BIDI_CONTROLS",
    "MESSAGE_SIZE",
    "NAME_LENGTH",
    "WELCOME_ANNOUNCEMENTS",
    "Ack",
    "Announce",
    "Announcement",
    "Error",
    "ErrorCode",
    "Event",
    "ExerciseNumber",
    "Hello",
    "Help",
    "Id",
    "InstructorMessage",
    "Joined",
    "Judged",
    "LearnerMessage",
    "Name",
    "Outcome",
    "Ping",
    "Pong",
    "ServerMessage",
    "Start",
    "Strict",
    "Text",
    "Verdict",
    "Welcome",
    "instructor_message",
    "learner_message",
    "parse_instructor",
    "parse_learner",
    "server_message",
]

NAME_LENGTH = 40
"""A learner's name: 1 to 40 characters of any script, no control characters."""
ANNOUNCEMENT_LENGTH = 280
WELCOME_ANNOUNCEMENTS = 10
"""The latest announcements a welcome carries: at most 10 x 280 characters (about 12 kB in
UTF-8), so it always fits the learner's frame limit, however long the class has run."""
MESSAGE_SIZE = 4096
"""The largest frame the server takes; a bigger one closes with 1009 (uvicorn's ws_max_size)."""

Outcome = Literal["passed", "failed", "skipped"]
Help = Literal["none", "hints", "answer"]
"""The help a learner opened: none, ``reveal()`` (a nudge and a hint), or ``show()``."""


BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Embeddings, overrides and isolates (Unicode TR 9): they can make a name read as another."""


def _plain(text: str) -> str:
    """Names and announcements are one line of printable text, shown as text everywhere.

    Control characters (``Cc``, such as a newline), lone surrogates and the bidi controls are
    refused; other format characters are kept: the zero-width (non-)joiners of Persian
    names such as "علی‌رضا" and of emoji such as "👩‍💻" are part of the text.
    """
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cs") or char in BIDI_CONTROLS:
            raise ValueError("control characters are not allowed")
    return text


Name = Annotated[
    str,
    Field(min_length=1, max_length=NAME_LENGTH),
    AfterValidator(str.strip),
    AfterValidator(_plain),
    Field(min_length=1),
]
Text = Annotated[str, Field(min_length=1, max_length=ANNOUNCEMENT_LENGTH), AfterValidator(_plain)]
Id = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
"""A verdict's id: 32 hex digits (``uuid4().hex``); the server stores each id once."""
ExerciseNumber = Annotated[str, Field(pattern=r"^[0-9]{2}\.[0-9]{1,2}$|^chat$")]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


# -- learner to server -----------------------------------------------------------------------


class Hello(Strict):
    type: Literal["hello"]
    code: str = Field(max_length=32)
    name: Name
    since: int = Field(default=0, ge=0)
    """The last announcement this kernel has: later ones come with the welcome."""


class Verdict(Strict):
    type: Literal["verdict"] = "verdict"
    id: Id
    exercise: ExerciseNumber
    outcome: Outcome
    help: Help = "none"
    at: float = Field(ge=0)
    """When the check ran: seconds since the epoch, on the learner's clock."""


LearnerMessage = Annotated[Hello | Verdict, Field(discriminator="type")]
learner_message: TypeAdapter[LearnerMessage] = TypeAdapter(LearnerMessage)


# -- dashboard to server ---------------------------------------------------------------------


class Announce(Strict):
    type: Literal["announce"]
    text: Text


class Ping(Strict):
    """Browsers cannot send ping frames: the page sends this, and gets :class:`Pong` back."""

    type: Literal["ping"]


InstructorMessage = Annotated[Announce | Ping, Field(discriminator="type")]
instructor_message: TypeAdapter[InstructorMessage] = TypeAdapter(InstructorMessage)


# -- server to clients -----------------------------------------------------------------------


class Announcement(BaseModel):
    type: Literal["announcement"] = "announcement"
    seq: int
    text: str
    at: float


class Welcome(BaseModel):
    type: Literal["welcome"] = "welcome"
    name: str
    announcements: list[Announcement]


class Ack(BaseModel):
    type: Literal["ack"] = "ack"
    id: str


class Start(BaseModel):
    """The dashboard's first message: the class's exercises and its last ``seq``."""

    type: Literal["start"] = "start"
    seq: int
    exercises: list[str]


class Joined(BaseModel):
    """A learner's first hello under this name."""

    type: Literal["joined"] = "joined"
    seq: int
    name: str
    at: float


class Judged(BaseModel):
    """A verdict, as stored, for the dashboard."""

    type: Literal["verdict"] = "verdict"
    seq: int
    name: str
    exercise: str
    outcome: Outcome
    help: Help
    at: float


class Pong(BaseModel):
    type: Literal["pong"] = "pong"


ErrorCode = Literal["invalid_json", "invalid_message", "rate_limited"]


class Error(BaseModel):
    """A frame the server could not take; the connection stays open."""

    type: Literal["error"] = "error"
    error: ErrorCode
    detail: str
    id: str | None = None
    """The verdict this is about, when it was one (rate-limited: send it again later)."""


Event = Joined | Judged | Announcement
"""What the dashboard is sent live and on resume: each has the ``seq`` it was stored under."""
ServerMessage = Annotated[
    Welcome | Ack | Announcement | Start | Joined | Judged | Pong | Error,
    Field(discriminator="type"),
]
server_message: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)


_KNOWN = {"hello", "verdict", "announce", "ping", *Hello.model_fields, *Verdict.model_fields}
"""Names a problem's place may show: a key or ``type`` the client made up is not echoed."""


T = TypeVar("T")


def _problem(data: str | bytes, adapter: TypeAdapter[T]) -> T | Error:
    if isinstance(data, bytes):
        return Error(error="invalid_message", detail="Send JSON as a text frame, not binary.")
    try:
        return adapter.validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            return Error(error="invalid_json", detail=f"Messages must be JSON. {first['msg']}.")
        # Say where and what, never echo what was sent (not even a key or a type it made up).
        where = ".".join(str(p) if str(p) in _KNOWN else "?" for p in first["loc"]) or "message"
        what = first["msg"]
        if first["type"] == "union_tag_invalid":
            what = f"type should be one of {first['ctx']['expected_tags']}"
        return Error(error="invalid_message", detail=f"{where}: {what}.")


def parse_learner(data: str | bytes) -> Hello | Verdict | Error:
    """One frame from a learner's kernel: a message, or the :class:`Error` to send back."""
    return _problem(data, learner_message)


def parse_instructor(data: str | bytes) -> Announce | Ping | Error:
    """One frame from the dashboard: a message, or the :class:`Error` to send back."""
    return _problem(data, instructor_message)
