"""Exercises of lesson 10: security."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal

from fastapi import FastAPI, WebSocket, WebSocketException, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from ws_lessons.chat import tokens
from ws_lessons.exercises.core import TIMEOUT, Hint, exercise, served
from ws_lessons.i18n import N_, _

__all__ = [
    "BAD_MOVES",
    "COOKIE_PAGES",
    "GOOD_MOVES",
    "OFFERED",
    "SECRET_10_2",
    "check_10_1",
    "check_10_2",
    "check_10_3",
    "solution_10_1",
    "solution_10_2",
    "solution_10_3",
]

# 10.1 -------------------------------------------------------------------------------------------

COOKIE_PAGES = {
    "https://chat.example.com/": (True, N_("the chat's own page")),
    "https://chat.example.com:8443/": (
        True,
        N_(
            "another port is another origin but the same site: cookies do not provide "
            "isolation by port (RFC 6265 §8.5)"
        ),
    ),
    "https://forum.example.com/": (
        True,
        N_(
            "forum.example.com and chat.example.com share the registrable domain example.com, "
            "so they are one site: SameSite does not protect you from a sibling subdomain"
        ),
    ),
    "https://example.com/": (
        True,
        N_("example.com is the registrable domain of chat.example.com itself: the same site"),
    ),
    "https://chat.example.com.evil.net/": (
        False,
        N_(
            "a host belongs to the registrable domain at its end, here evil.net, however it "
            "starts: another site"
        ),
    ),
    "https://example.org/": (False, N_("another registrable domain, so another site")),
}
"""Page → (whether a SameSite=Strict cookie of chat.example.com goes along, why)."""


@exercise(
    "10.1",
    nudge="SameSite compares sites, not origins: which parts of an address make up a site?",
    hint="A site is the scheme and the registrable domain (the name just before the public "
    "suffix, such as example.com); ports and subdomains in front of it do not count.",
)
def check_10_1(answer: Any) -> str:
    """Predict, per page, whether Chromium sends chat.example.com's SameSite=Strict cookie."""
    if not isinstance(answer, dict):
        raise Hint(_("pass the dict cookie_sent, with True or False for each page"))
    if set(answer) != set(COOKIE_PAGES):
        raise Hint(
            _("keep exactly the pages of cookie_sent: {pages}").format(pages=sorted(COOKIE_PAGES))
        )
    undecided = [page for page, sent in answer.items() if not isinstance(sent, bool)]
    if undecided:
        raise Hint(_("replace None with True or False for {page}").format(page=undecided[0]))
    wrong = [page for page, (sent, _why) in COOKIE_PAGES.items() if answer[page] != sent]
    if wrong:
        page = wrong[0]
        why = _(COOKIE_PAGES[page][1])
        if answer[page]:
            raise Hint(
                _("{page}: you said the cookie is sent, but {why}").format(page=page, why=why)
            )
        raise Hint(
            _("{page}: you said the cookie is withheld, but {why}").format(page=page, why=why)
        )
    return _(
        "a Strict cookie stops other sites, and not your own ports and subdomains: "
        "that is the Origin check's job"
    )


# 10.2 -------------------------------------------------------------------------------------------

SECRET_10_2 = "check 10.2"
OFFERED = "chat.v1"


def _verify(token: str) -> str:
    """The user a token names; ``ValueError`` if it is forged or expired."""
    return tokens.verify(token, SECRET_10_2)


def _open(server: Any, protocols: list[str]) -> tuple[str, str | None, str | None]:
    """``("accepted", subprotocol, first text)``, ``("refused", status, None)`` or
    ``("closed", code, None)``."""
    try:
        with connect(
            server.ws_url("/ws"),
            subprotocols=[Subprotocol(name) for name in protocols] or None,
            open_timeout=TIMEOUT,
            close_timeout=TIMEOUT,
        ) as ws:
            try:
                text = ws.recv(timeout=TIMEOUT)
            except TimeoutError:
                text = None
            except ConnectionClosed as exc:
                return "closed", str(exc.rcvd.code if exc.rcvd else 1006), None
            return "accepted", ws.subprotocol, text if isinstance(text, str) else None
    except InvalidStatus as exc:
        return "refused", str(exc.response.status_code), None


@exercise(
    "10.2",
    nudge="The offered subprotocol names reach the server in the handshake; Starlette lists "
    "them in the connection's scope. What must the answer to the handshake contain?",
    hint="Find the offered name that starts with the token prefix, verify what follows it, and "
    "refuse before accepting if that fails; then accept, naming the other offered protocol "
    "(never the token) as the chosen one.",
)
def check_10_2(app_for: Any) -> str:
    """``app_for(verify)`` builds an app whose /ws takes its token from a subprotocol."""
    if not callable(app_for) or isinstance(app_for, FastAPI):
        raise Hint(_("pass your function app_for itself (it builds the app from verify)"))
    try:
        app = app_for(_verify)
    except Exception as exc:
        raise Hint(
            _("app_for(verify) raised {error_type}: {error}").format(
                error_type=type(exc).__name__, error=exc
            )
        ) from None
    good = tokens.issue("ada", SECRET_10_2)
    forged = tokens.issue("ada", "not the server's secret")
    with served(app, "10.2") as server:
        outcome, detail, text = _open(server, [OFFERED, f"token.{good}"])
        if outcome == "refused":
            raise Hint(
                _(
                    "a valid token in the subprotocol was refused (HTTP {status}): read the "
                    "offered names from the scope, not from the query"
                ).format(status=detail)
            )
        if outcome == "closed":
            raise Hint(_("a valid token was accepted, then closed with {code}").format(code=detail))
        if detail is None:
            raise Hint(
                _(
                    "you accepted without choosing a subprotocol: the Python client carries on, "
                    "but a browser that offered names fails a connection whose answer names none"
                )
            )
        if detail != OFFERED:
            raise Hint(
                _(
                    "you answered with the subprotocol {start}…: that sends the token back "
                    "in a response header; answer with {offered!r}"
                ).format(start=detail[:20], offered=OFFERED)
            )
        if text != "ada":
            raise Hint(
                _("once accepted, send the user's name (ada) as text; you sent {text!r}").format(
                    text=text
                )
            )
        for protocols, what in [
            ([OFFERED, f"token.{forged}"], _("a forged token")),
            ([OFFERED], _("no token subprotocol")),
            ([], _("no subprotocol at all")),
        ]:
            outcome, detail, text = _open(server, protocols)
            if outcome == "accepted":
                raise Hint(
                    _("{what} got in (and was sent {text!r}): refuse it").format(
                        what=what, text=text
                    )
                )
            if outcome == "closed":
                raise Hint(
                    _(
                        "{what} was accepted, then closed with {code}: refuse it before "
                        "accept(), so that the connection never opens"
                    ).format(what=what, code=detail)
                )
    return _("a page can authenticate with new WebSocket(url, [protocol, token]) and keep it")


# 10.3 -------------------------------------------------------------------------------------------

GOOD_MOVES = [
    '{"type": "move", "x": 0, "y": 7}',
    '{"type": "move", "x": 3, "y": 4}',
]
BAD_MOVES = [
    ('{"type": "jump", "x": 1, "y": 1}', N_("another type")),
    ('{"type": "move", "x": 1}', N_("a missing y")),
    ('{"type": "move", "x": 8, "y": 0}', N_("x = 8, off the board")),
    ('{"type": "move", "x": 0, "y": -1}', N_("y = -1, off the board")),
    ('{"type": "move", "x": 2.5, "y": 1}', N_("x = 2.5, not a square")),
    ('{"type": "move", "x": "three", "y": 1}', 'x = "three"'),
    ('{"type": "move", "x": true, "y": 1}', N_("x = true, a boolean that lax mode reads as 1")),
    ('{"type": "move", "x": "3", "y": 1}', N_('x = "3", a string that lax mode converts')),
    ('{"type": "move", "x": 2.0, "y": 1}', N_("x = 2.0, a float that lax mode converts")),
    (
        '{"type": "move", "x": 3, "y": 4, "admin": true}',
        N_("a field that is not part of a move (admin)"),
    ),
    ('["move", 1, 1]', N_("a list instead of an object")),
]


@exercise(
    "10.3",
    nudge="Each rule is a constraint pydantic can check before your code runs: one allowed "
    "value for the type, a range for each coordinate, and the model's own settings for "
    "conversions and for fields nobody declared.",
    hint="A Literal type admits one exact value; Field takes lower and upper bounds; "
    'model_config = ConfigDict(strict=True) stops pydantic converting true, "3" and 2.0 to '
    'numbers, and extra="forbid" refuses fields the model does not declare.',
)
def check_10_3(model: Any) -> str:
    """A pydantic model for ``{"type": "move", "x": 0-7, "y": 0-7}``, strict, nothing else."""
    if not (inspect.isclass(model) and issubclass(model, BaseModel)):
        raise Hint(_("pass your model class itself (class Move(BaseModel): ...)"))
    for frame in GOOD_MOVES:
        try:
            move = model.model_validate_json(frame)
        except ValidationError as exc:
            raise Hint(
                _("{frame} is a valid move but your model refused it: {error}").format(
                    frame=frame, error=exc
                )
            ) from None
        if (getattr(move, "x", None), getattr(move, "y", None)) != _xy(frame):
            raise Hint(_("give the model fields named x and y"))
    for frame, what in BAD_MOVES:
        try:
            model.model_validate_json(frame)
        except ValidationError:
            continue
        raise Hint(_("your model accepted {what}: {frame}").format(what=_(what), frame=frame))
    return _("every bad move is refused before any code of yours sees it")


def _xy(frame: str) -> tuple[int, int]:
    move = _Move.model_validate_json(frame)
    return move.x, move.y


class _Move(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    type: Literal["move"]
    x: int = Field(ge=0, le=7)
    y: int = Field(ge=0, le=7)


# Reference answers


def solution_10_1() -> dict[str, bool]:
    return {
        "https://chat.example.com/": True,
        "https://chat.example.com:8443/": True,  # ports do not count
        "https://forum.example.com/": True,  # same registrable domain: same site
        "https://example.com/": True,
        "https://chat.example.com.evil.net/": False,  # evil.net
        "https://example.org/": False,
    }


def solution_10_2() -> Callable[[Callable[[str], str]], FastAPI]:
    def app_for(verify: Callable[[str], str]) -> FastAPI:
        app = FastAPI()

        def protocol_user(websocket: WebSocket) -> str:
            for offered in websocket.scope["subprotocols"]:
                if offered.startswith("token."):
                    try:
                        return verify(offered.removeprefix("token."))
                    except ValueError:
                        break
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="token")

        @app.websocket("/ws")
        async def endpoint(websocket: WebSocket) -> None:
            user = protocol_user(websocket)
            await websocket.accept(subprotocol="chat.v1")
            await websocket.send_text(user)

        return app

    return app_for


def solution_10_3() -> type[BaseModel]:
    class Move(BaseModel):
        model_config = ConfigDict(strict=True, extra="forbid")

        type: Literal["move"]
        x: int = Field(ge=0, le=7)
        y: int = Field(ge=0, le=7)

    return Move
