"""The chat's conformance suite: its wire contract, clause by clause, against a real server.

The contract is written out in ``docs/chat-contract.md``; lesson 09's exercise
``ws_lessons.checks.check_chat(app)`` runs it. :func:`check` serves ``app`` with
:func:`~ws_lessons.exercises.core.served` and talks to it with real ``websockets`` clients,
one room per clause. Each clause prints as passed or failed, a failed one with the
:class:`~ws_lessons.exercises.core.Hint` that names the likely mistake; :func:`run` runs the
clauses against a server already running (lesson 15 runs them on other servers). Each clause
gives up after a bounded time.

It works on an app with ``POST /token`` (each client gets a token first and connects
with ``?token=``) and on one without (clients connect with ``?user=``); every client
sends both when it can, so either kind of endpoint knows who is connecting.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ws_lessons.exercises.core import Hint, Verdict, served
from ws_lessons.i18n import N_, _
from ws_lessons.server import RunningServer

from .models import say

__all__ = ["CLAUSES", "DEADLINE", "Clause", "ContractVerdict", "check", "run", "show"]

TIMEOUT = 2.0
"""How long a client waits for each message it expects, in seconds."""

DEADLINE = 55.0
"""The longest the whole check may take, in seconds: a clause still running then fails."""

STALL_DEADLINE = 30.0
"""The longest the stalled-client clause may take, in seconds."""

STALL_MESSAGES = 5_000
"""Give up on the stalled-client clause after this many messages (about 4.5 MB): an outbox
of a few hundred is dropped after a few hundred more."""

STALL_TEXT = "z" * 900
"""What the senders of the stalled-client clause say: long, within a 1,000-character limit."""

STALL_SEND_BUFFER = 16 * 1024
"""The send buffer of each connection to the check's server, in bytes: the reference chat
drops a stalled client after about 225 messages (its outbox holds 100). With Linux's default,
which grows up to 4 MiB on loopback, it took about 3,100."""

SAYS_PER_SENDER = 5
"""Messages each sender of the stalled-client clause sends, under any sensible rate limit."""

SENDERS = 20
"""Distinct users who take turns sending in the stalled-client clause."""

TOO_LONG = 20_000
"""A text longer than any chat's text limit, far below uvicorn's 16 MiB frame limit."""

RATE_BURST = 40
"""Messages sent at once to see the rate limit answer."""


@dataclass
class Clause:
    """One clause's outcome: ``detail`` says what held, or the hint when it did not."""

    name: str
    passed: bool
    detail: str


class ContractVerdict(Verdict):
    """True when every clause passed; ``clauses`` lists each one. Already printed."""

    def __init__(self, clauses: list[Clause]) -> None:
        self.clauses = clauses
        passed = sum(clause.passed for clause in clauses)
        message = _("{passed} of {total} clauses of the chat contract hold").format(
            passed=passed, total=len(clauses)
        )
        super().__init__("chat", bool(clauses) and passed == len(clauses), message)

    def failed(self) -> list[str]:
        """The names of the clauses that failed."""
        return [clause.name for clause in self.clauses if not clause.passed]


class Chat:
    """The app under test, served, and how its clients connect."""

    def __init__(self, server: RunningServer, http: httpx.AsyncClient) -> None:
        self.server, self.http = server, http
        self.tokens: dict[str, str | None] = {}
        self.has_tokens: bool | None = None

    async def token(self, user: str) -> str | None:
        """A token from ``POST /token`` if the app has that route, else None."""
        if self.has_tokens is False:
            return None
        if user not in self.tokens:
            response = await self.http.post("/token", json={"user": user})
            if response.status_code in (404, 405) and self.has_tokens is None:
                self.has_tokens = False
                return None
            if response.status_code != 200:
                raise Hint(
                    _("POST /token for {user!r} answered HTTP {status}").format(
                        user=user, status=response.status_code
                    )
                )
            try:
                self.tokens[user] = response.json()["token"]
            except (ValueError, KeyError, TypeError):
                raise Hint(_('POST /token must answer JSON {"token": "..."}')) from None
            self.has_tokens = True
        return self.tokens[user]

    async def path(self, room: str, user: str) -> str:
        token = await self.token(user)
        return f"/ws/{room}?user={user}" + ("" if token is None else f"&token={token}")

    @contextlib.asynccontextmanager
    async def client(self, room: str, user: str) -> AsyncIterator[ClientConnection]:
        path = await self.path(room, user)
        try:
            ws = await connect(
                self.server.ws_url(path),
                open_timeout=TIMEOUT,
                close_timeout=0.5,
                compression=None,
                max_size=None,
            )
        except InvalidStatus as exc:
            raise Hint(
                _(
                    "the handshake on /ws/{room} (user {user!r}) was refused with HTTP {status}: "
                    "is there an @app.websocket('/ws/{{room}}') route, does it take the "
                    "user from ?user= (or ?token=), and does it call accept()?"
                ).format(room=room, user=user, status=exc.response.status_code)
            ) from None
        except (OSError, TimeoutError) as exc:
            raise Hint(
                _("could not connect to /ws/{room}: {error!r}").format(room=room, error=exc)
            ) from None
        try:
            yield ws
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(TIMEOUT):
                    await ws.close()


async def receive(
    ws: ClientConnection, *types: str, who: str, after: str = "", advice: str = ""
) -> dict[str, Any]:
    """The next message of one of ``types`` (any if none) that ``who`` receives.

    ``after`` says what just happened ("of connecting", "grace connected"), ``advice`` what
    to do when nothing comes; both are already translated.
    """
    try:
        async with asyncio.timeout(TIMEOUT):
            while True:
                frame = await ws.recv()
                try:
                    message = json.loads(frame)
                except ValueError:
                    raise Hint(
                        _("{who} received {frame!r}, which is not JSON").format(
                            who=who, frame=frame[:60]
                        )
                    ) from None
                if not isinstance(message, dict) or "type" not in message:
                    raise Hint(
                        _('{who} received {message!r}: every message needs a "type"').format(
                            who=who, message=message
                        )
                    )
                if not types or message["type"] in types:
                    return message
    except TimeoutError:
        raise Hint(_nothing_came(who, types, after, advice)) from None
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else 1006
        raise Hint(_closed(who, code, after)) from None


def _nothing_came(who: str, types: tuple[str, ...], after: str, advice: str) -> str:
    """``who`` waited in vain for a message of ``types`` (any message if none)."""
    if types and after:
        message = _("{who} received no {types} within {seconds:.0f} s {after}")
    elif types:
        message = _("{who} received no {types} within {seconds:.0f} s")
    elif after:
        message = _("{who} received nothing within {seconds:.0f} s {after}")
    else:
        message = _("{who} received nothing within {seconds:.0f} s")
    said = message.format(who=who, types=_(" or ").join(types), seconds=TIMEOUT, after=after)
    return _("{problem}: {advice}").format(problem=said, advice=advice) if advice else said


def _closed(who: str, code: int, after: str) -> str:
    """``who``'s connection was closed with ``code`` while waiting."""
    crashed = code in (1006, 1011)
    if crashed and after:
        message = _(
            "{who}'s connection was closed with {code} (the endpoint raised an exception? "
            "See the server's logs) {after}"
        )
    elif crashed:
        message = _(
            "{who}'s connection was closed with {code} (the endpoint raised an exception? "
            "See the server's logs)"
        )
    elif after:
        message = _("{who}'s connection was closed with {code} {after}")
    else:
        message = _("{who}'s connection was closed with {code}")
    return message.format(who=who, code=code, after=after)


def unparsed(who: str, text: str) -> str:
    return _(
        '{who} heard the whole frame {text!r} as the text: parse the JSON and say its "text" only'
    ).format(who=who, text=text)


def require(message: dict[str, Any], **expected: Any) -> None:
    for key, value in expected.items():
        if key not in message:
            raise Hint(
                _('{type} has no "{key}" (it has {keys})').format(
                    type=message["type"], key=key, keys=", ".join(sorted(message))
                )
            )
        if value is not None and message[key] != value:
            raise Hint(
                _('{type} has "{key}": {got!r}, expected {expected!r}').format(
                    type=message["type"], key=key, got=message[key], expected=value
                )
            )


# -- the clauses ------------------------------------------------------------------------------


async def welcome_first(chat: Chat) -> str:
    async with chat.client("contract-welcome", "ada") as ada:
        first = await receive(
            ada, who="ada", after=_("of connecting"), advice=_("send a welcome first")
        )
        if first["type"] != "welcome":
            raise Hint(
                _("ada's first message was {type!r}: the welcome comes first").format(
                    type=first["type"]
                )
            )
        require(first, room="contract-welcome", user="ada", seq=None, members=None)
        if not isinstance(first["seq"], int) or first["seq"] < 0:
            raise Hint(
                _("welcome's seq is {seq!r}: the room's last message number").format(
                    seq=first["seq"]
                )
            )
        if "ada" not in first["members"]:
            raise Hint(
                _("welcome's members are {members!r}: ada is in the room too").format(
                    members=first["members"]
                )
            )
    return _("the first message is a welcome with room, user, seq and members")


async def joined_and_said(chat: Chat) -> str:
    room = "contract-said"
    async with chat.client(room, "ada") as ada:
        start = (await receive(ada, "welcome", who="ada", after=_("of connecting")))["seq"]
        async with chat.client(room, "grace") as grace:
            welcome = await receive(grace, "welcome", who="grace", after=_("of connecting"))
            if sorted(welcome["members"]) != ["ada", "grace"]:
                raise Hint(
                    _("grace's welcome lists {members}; ada is there too").format(
                        members=welcome["members"]
                    )
                )
            joined = await receive(ada, "joined", who="ada", after=_("grace connected"))
            require(joined, room=room, user="grace")
            texts = [f"hello {n}" for n in range(5)]
            for text in texts:
                await ada.send(say(text))
            for who, ws in (("ada", ada), ("grace", grace)):
                after = _("ada said 5 things")
                said = [await receive(ws, "said", who=who, after=after) for _text in texts]
                for message in said:
                    require(message, room=room, user="ada", seq=None, ts=None, text=None)
                heard = [message["text"] for message in said]
                if heard[0] == say(texts[0]):
                    raise Hint(unparsed(who, heard[0]))
                if heard != texts:
                    raise Hint(
                        _("{who} heard {heard}, not {texts} in order").format(
                            who=who, heard=heard, texts=texts
                        )
                    )
                seqs = [message["seq"] for message in said]
                if seqs != list(range(start + 1, start + 6)):
                    raise Hint(
                        _(
                            "the room's seq was {start}; ada's 5 messages came with seq {seqs}: "
                            "number each message of a room with the next integer, once for all"
                        ).format(start=start, seqs=seqs)
                    )
    return _("said reaches every member, the sender too, in order, seq up by one")


async def joined_clause(chat: Chat) -> str:
    async with chat.client("contract-presence", "ada") as ada:
        await receive(ada, "welcome", who="ada", after=_("of connecting"))
        async with chat.client("contract-presence", "grace") as grace:
            await receive(grace, "welcome", who="grace", after=_("of connecting"))
            joined = await receive(ada, "joined", who="ada", after=_("grace connected"))
            require(joined, room="contract-presence", user="grace")
        left = await receive(ada, "left", who="ada", after=_("grace's connection closed"))
        require(left, room="contract-presence", user="grace")
    return _("joined and left reach the members already there")


async def rooms_isolated(chat: Chat) -> str:
    async with (
        chat.client("contract-room-a", "ada") as ada,
        chat.client("contract-room-b", "linus") as linus,
    ):
        await receive(ada, "welcome", who="ada", after=_("of connecting"))
        await receive(linus, "welcome", who="linus", after=_("of connecting"))
        await linus.send(say("only for room b"))
        await receive(linus, "said", who="linus", after=_("he said something"))
        await ada.send(say("only for room a"))
        heard = await receive(ada, "said", "joined", who="ada", after=_("she said something"))
        text = heard.get("text")
        if text == say("only for room a"):
            raise Hint(unparsed("ada", text))
        if text != "only for room a":
            raise Hint(
                _(
                    "ada, in room a, received a {type} from {user!r} ({text!r}) before her own "
                    "message: broadcast to the sender's room only"
                ).format(type=heard["type"], user=heard.get("user"), text=text)
            )
    return _("a message reaches its own room only")


ERRORS: list[tuple[str, str, str | bytes]] = [
    ("invalid_json", N_("text that is not JSON"), "hello, is this JSON?"),
    ("invalid_message", N_("an unknown type"), json.dumps({"type": "shout", "text": "hi"})),
    ("invalid_message", N_("a say without text"), json.dumps({"type": "say"})),
    ("invalid_message", N_("a binary frame"), b"\x00\x01 binary"),
    ("too_long", N_("a say of {count:,} characters"), say("x" * TOO_LONG)),
]
"""Error code, what the bad message is (``{count}``: TOO_LONG), the frame sent."""


def error_clause(code: str, case: str, frame: str | bytes) -> Callable[[Chat], Awaitable[str]]:
    async def clause(chat: Chat) -> str:
        what = _(case).format(count=TOO_LONG)
        async with chat.client("contract-errors", "grace") as grace:
            await receive(grace, "welcome", who="grace", after=_("of connecting"))
            await grace.send(frame)
            after = _("sending {what}").format(what=what)
            answer = await receive(grace, "error", "said", who="grace", after=after)
            if answer["type"] == "said":
                raise Hint(
                    _("{what} was said to the room: answer it with an error {code!r}").format(
                        what=what, code=code
                    )
                )
            require(answer, error=None, detail=None)
            if answer["error"] != code:
                raise Hint(
                    _("{what} was answered with {got!r}; expected {code!r}").format(
                        what=what, got=answer["error"], code=code
                    )
                )
            await grace.send(say("still here?"))
            after = _("the error for {what}").format(what=what)
            await receive(grace, "said", who="grace", after=after)
        return _("{what} gets error {code!r}; the connection stays open").format(
            what=what, code=code
        )

    clause.__name__ = f"error {code}"
    return clause


async def rate_limited(chat: Chat) -> str:
    async with chat.client("contract-rate", "speedy") as speedy:
        await receive(speedy, "welcome", who="speedy", after=_("of connecting"))
        for n in range(RATE_BURST):
            await speedy.send(say(f"spam {n}"))
        answers = []
        with contextlib.suppress(Hint):  # stop at the first silence
            for _answer in range(RATE_BURST):
                answers.append(await receive(speedy, "said", "error", who="speedy"))
        codes = {answer.get("error") for answer in answers if answer["type"] == "error"}
        if "rate_limited" not in codes:
            silent = RATE_BURST - len(answers)
            if silent:
                message = _(
                    "of {sent} says sent at once, {answered} were answered without "
                    "rate_limited and {silent} not at all: give each connection a budget "
                    "(a token bucket) and answer each say over it with error 'rate_limited'"
                )
            else:
                message = _(
                    "of {sent} says sent at once, {answered} were answered without "
                    "rate_limited: give each connection a budget (a token bucket) and answer "
                    "each say over it with error 'rate_limited'"
                )
            raise Hint(message.format(sent=RATE_BURST, answered=len(answers), silent=silent))
        try:
            async with asyncio.timeout(TIMEOUT):
                await (await speedy.ping())
        except (TimeoutError, ConnectionClosed):
            raise Hint(_("after the rate_limited errors the connection was gone")) from None
    return _("{sent} says at once get error 'rate_limited'; the connection stays open").format(
        sent=RATE_BURST
    )


def stalled_socket(chat: Chat, path: str) -> socket.socket:
    """A client that completes the handshake and then never reads, with a tiny buffer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills after a few frames
    sock.settimeout(TIMEOUT)
    sock.connect((chat.server.host, chat.server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {chat.server.host}:{chat.server.port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        sock.close()
        status = head.split(b"\r\n", 1)[0].decode(errors="replace")
        raise Hint(
            _("the handshake of a client on {path} was refused: {status}").format(
                path=path.split("?")[0], status=status
            )
        )
    return sock


async def stalled_client_dropped(chat: Chat) -> str:
    room = "contract-stall"
    path = await chat.path(room, "stalled")
    for n in range(SENDERS):
        await chat.token(f"sender{n}")
    stalled = await asyncio.to_thread(stalled_socket, chat, path)
    try:
        return await _stall(chat, room)
    finally:
        stalled.close()


async def _stall(chat: Chat, room: str) -> str:
    heard: list[int] = []
    dropped = asyncio.Event()

    async with chat.client(room, "bob") as bob:
        await receive(bob, "welcome", who="bob", after=_("of connecting"))

        async def listen() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for frame in bob:
                    message = json.loads(frame)
                    if message.get("type") == "said":
                        heard.append(message["seq"])
                    elif message.get("type") == "left" and message.get("user") == "stalled":
                        dropped.set()

        listener = asyncio.create_task(listen())
        sent: list[int] = []
        try:
            async with asyncio.timeout(STALL_DEADLINE):
                turn = 0
                while not dropped.is_set() and len(sent) < STALL_MESSAGES:
                    user = f"sender{turn % SENDERS}"
                    turn += 1
                    async with chat.client(room, user) as sender:
                        for _say in range(SAYS_PER_SENDER):
                            await sender.send(say(STALL_TEXT))
                        for _say in range(SAYS_PER_SENDER):
                            try:
                                own = await receive(sender, "said", "error", who=user)
                            except Hint:
                                raise Hint(_room_stopped(len(sent), user)) from None
                            if own["type"] == "error":
                                raise Hint(
                                    _("{user}'s say was refused: {answer}").format(
                                        user=user, answer=own
                                    )
                                )
                            sent.append(own["seq"])
        except TimeoutError:
            raise Hint(
                _("the room was still busy after {seconds:.0f} s and {sent} messages").format(
                    seconds=STALL_DEADLINE, sent=len(sent)
                )
            ) from None
        if not dropped.is_set():
            raise Hint(
                _(
                    "after {sent:,} messages the client that stopped reading was still in "
                    "the room: bound its outbox (asyncio.Queue(maxsize=...)) and drop the member "
                    "when put_nowait() raises QueueFull"
                ).format(sent=len(sent))
            )
        try:
            async with asyncio.timeout(TIMEOUT):
                while len(heard) < len(sent):
                    await asyncio.sleep(0.01)
        except TimeoutError:
            pass
        listener.cancel()
    missing = sorted(set(sent) - set(heard))
    if missing:
        raise Hint(
            _(
                "bob missed {missed} of the {sent} messages while a client was "
                "stalled (seq {first}...): only the slow client may lose messages"
            ).format(missed=len(missing), sent=len(sent), first=missing[:5])
        )
    return _("a client that stops reading is dropped (left), and the others get every message")


def _room_stopped(sent: int, user: str) -> str:
    return _(
        "after {sent} messages the room stopped: {user} never got its own message back. "
        "A broadcast that awaits each send waits for the client that stopped reading. Put "
        "each message in a bounded outbox per client (put_nowait) and let a sender task per "
        "client do the sending."
    ).format(sent=sent, user=user)


CLAUSES: list[Callable[[Chat], Awaitable[str]]] = [
    welcome_first,
    joined_and_said,
    joined_clause,
    rooms_isolated,
    *(error_clause(*case) for case in ERRORS),
    rate_limited,
    stalled_client_dropped,
]
NAMES: dict[Callable[[Chat], Awaitable[str]], str] = {
    welcome_first: "welcome",
    joined_and_said: "said",
    joined_clause: "joined/left",
    rooms_isolated: N_("rooms"),
    rate_limited: "error rate_limited",
    stalled_client_dropped: N_("stalled client"),
}
"""Each clause's name (the error clauses are named by their code); translated when printed."""


async def run(server: RunningServer, report: Callable[[Clause], None]) -> list[Clause]:
    """Every clause against ``server``, in order; ``report`` gets each outcome as it comes."""
    clauses = []
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        chat = Chat(server, http)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        for check in CLAUSES:
            name = NAMES.get(check, check.__name__)
            try:
                async with asyncio.timeout_at(min(deadline, loop.time() + STALL_DEADLINE + 5)):
                    clause = Clause(name, True, await check(chat))
            except Hint as broken:
                clause = Clause(name, False, str(broken))
            except TimeoutError:
                clause = Clause(name, False, _("took too long: every wait must be bounded"))
            except Exception as exc:  # the app misbehaved in a way no hint foresaw
                met = _("the check met {error_type}: {error}")
                clause = Clause(name, False, met.format(error_type=type(exc).__name__, error=exc))
            report(clause)
            clauses.append(clause)
    return clauses


def show(clause: Clause) -> None:
    """Print one clause's outcome: a mark, its name and what it found."""
    mark = "✅" if clause.passed else "❌"
    line = _("{clause}: {detail}").format(clause=_(clause.name), detail=clause.detail)
    print(f"{mark} {line}")


def check(app: Any) -> ContractVerdict:
    """Run the contract against ``app`` on a server of its own; print each clause's outcome.

    Raises :class:`~ws_lessons.exercises.core.Hint` when ``app`` is not an app or does not
    start; ``check_chat`` (:mod:`ws_lessons.exercises.chat`) turns that into its verdict.
    """
    # A loop of its own: the caller's thread (a notebook cell) may already run one.
    with (
        served(app, "chat", timeout_graceful_shutdown=1, send_buffer=STALL_SEND_BUFFER) as server,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        future = pool.submit(asyncio.run, run(server, show))
        clauses = future.result(timeout=DEADLINE + 30)  # each clause is bounded already
    return ContractVerdict(clauses)
