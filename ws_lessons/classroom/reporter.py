"""The learner's side: after ``join_class(...)``, each check's verdict goes to the class server.

Reporting is off the check's path. A check only puts its verdict into :attr:`Reporter.pending`
(bounded: past :data:`KEPT` the oldest is dropped) and returns; a thread with its own event
loop and its own connection sends it. The server acknowledges a verdict once it has stored
it, and only then is it forgotten here; a verdict whose ack was lost with the connection is
sent again after reconnecting, and the server stores each id once: every verdict arrives
exactly once. Between attempts the thread waits as :func:`~ws_lessons.chat.client.backoff`
says. Nothing here prints from that thread: what happened is shown under the next check.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import getpass
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import TypeAdapter, ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from ws_lessons.chat.client import backoff
from ws_lessons.frames import CloseCode
from ws_lessons.i18n import N_, _

from .models import (
    MESSAGE_SIZE,
    Ack,
    Announcement,
    Error,
    Hello,
    Help,
    Name,
    Outcome,
    Verdict,
    Welcome,
)
from .models import server_message as _server_message

__all__ = ["announcements", "class_status", "join_class", "leave_class", "note_help", "report"]

KEPT = 200
"""Verdicts kept while the class server is unreachable; past that the oldest are dropped."""
KEPT_ANNOUNCEMENTS = 100
"""Announcements a kernel keeps for ``announcements()``; older ones are forgotten."""
ENVIRONMENT = "WS_LESSONS_CLASS"
"""``ws://HOST:PORT/?code=CODE&name=NAME``: join on the first check (an instructor's setup)."""
HELP_ORDER = ("none", "hints", "answer")
REASONS = (N_("wrong class code"), N_("the class is full"), N_("no hello"))
"""Why a class server closes a learner's connection: translated when shown."""
_help_seen: dict[str, Help] = {}
_name: TypeAdapter[str] = TypeAdapter(Name)


class _Refused(Exception):
    """The server answered, but not as a class server does."""


class Reporter:
    """One kernel's connection to a class: verdicts out, acks and announcements in.

    :meth:`submit` may be called from any thread; :meth:`run` runs on the reporter's loop.
    """

    def __init__(
        self,
        url: str,
        code: str,
        name: str,
        *,
        kept: int = KEPT,
        delays: Callable[[], Iterator[float]] = lambda: backoff(0.5, 2.0, 10.0),
        open_timeout: float = 5.0,
    ) -> None:
        self.url = url.rstrip("/") + "/learn"
        self.code, self.name, self.kept = code, name, kept
        self.pending: collections.OrderedDict[str, Verdict] = collections.OrderedDict()
        """Verdicts not yet acknowledged, oldest first."""
        self.acked = 0
        self.dropped = 0
        self.state = "connecting"
        """``connecting``, ``connected``, ``unreachable`` or ``refused`` (for good)."""
        self.problem = ""
        """Why the last attempt failed, in one line."""
        self.announcements: list[Announcement] = []
        self.unseen: list[Announcement] = []
        self.settled = threading.Event()
        """Set once the first attempt has connected or failed."""
        self._delays, self._open_timeout = delays, open_timeout
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    # -- any thread ----------------------------------------------------------------------------

    def submit(self, verdict: Verdict) -> None:
        """Queue ``verdict`` for sending; never blocks, never raises."""
        with self._lock:
            self.pending[verdict.id] = verdict
            while len(self.pending) > self.kept:
                self.pending.popitem(last=False)
                self.dropped += 1
        self._poke()

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has stopped
                loop.call_soon_threadsafe(wake.set)

    def take_unseen(self) -> list[Announcement]:
        with self._lock:
            unseen, self.unseen = self.unseen, []
        return unseen

    # -- the reporter's loop ---------------------------------------------------------------------

    async def run(self) -> None:
        """Stay connected until refused for good or cancelled; send what is pending."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        delays = self._delays()
        while True:
            try:
                async with connect(
                    self.url,
                    open_timeout=self._open_timeout,
                    close_timeout=1.0,
                    max_size=4 * MESSAGE_SIZE,
                    proxy=None,  # a class server is on this machine or the room's network
                ) as ws:
                    await self._session(ws)
                    delays = self._delays()  # it worked: start again from a short wait
            except ConnectionClosed as exc:
                if exc.rcvd is not None and exc.rcvd.code == CloseCode.POLICY_VIOLATION:
                    self._fail("refused", _(exc.rcvd.reason or "refused"))
                    return
                self._fail("unreachable", _("the connection was lost"))
            except InvalidStatus as exc:
                status = exc.response.status_code
                self._fail("refused", _("not a class server (HTTP {status})").format(status=status))
                return
            except (InvalidHandshake, ValidationError, _Refused):
                self._fail("refused", _("not a class server"))
                return
            except InvalidURI as exc:
                self._fail("refused", str(exc))
                return
            except (OSError, TimeoutError) as exc:
                self._fail("unreachable", _describe(exc))
            except Exception as exc:  # a bug: say so once, rather than retry it forever
                self._fail("refused", f"{type(exc).__name__}: {exc}")
                return
            await asyncio.sleep(next(delays))

    def _fail(self, state: str, problem: str) -> None:
        self.state, self.problem = state, problem
        self.settled.set()

    async def _session(self, ws: ClientConnection) -> None:
        with self._lock:
            since = self.announcements[-1].seq if self.announcements else 0
        hello = Hello(type="hello", code=self.code, name=self.name, since=since)
        await ws.send(hello.model_dump_json())
        async with asyncio.timeout(self._open_timeout):
            welcome = _server_message.validate_json(await ws.recv())
        if not isinstance(welcome, Welcome):
            raise _Refused
        self._announce(welcome.announcements)
        self.state, self.problem = "connected", ""
        self.settled.set()
        sent: set[str] = set()
        sender = asyncio.create_task(self._send(ws, sent))
        try:
            async for frame in ws:
                self._receive(frame, sent)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await sender
        # The server closed the connection cleanly (it is stopping): connect again.
        self.state, self.problem = "unreachable", _("the class server closed the connection")

    async def _send(self, ws: ClientConnection, sent: set[str]) -> None:
        """Send each pending verdict once on this connection, as soon as it is pending."""
        assert self._wake is not None
        while True:
            self._wake.clear()  # before reading pending: a later submit wakes us again
            with self._lock:
                todo = [v for key, v in self.pending.items() if key not in sent]
            for verdict in todo:
                await ws.send(verdict.model_dump_json())
                sent.add(verdict.id)
            await self._wake.wait()

    def _receive(self, frame: str | bytes, sent: set[str]) -> None:
        try:
            message = _server_message.validate_json(frame)
        except ValidationError:
            return
        if isinstance(message, Ack):
            with self._lock:
                if self.pending.pop(message.id, None) is not None:
                    self.acked += 1
            sent.discard(message.id)
        elif isinstance(message, Announcement):
            self._announce([message])
        elif isinstance(message, Error) and message.id is not None:
            sent.discard(message.id)  # rate-limited: send it again in a moment
            assert self._loop is not None and self._wake is not None
            self._loop.call_later(1.0, self._wake.set)

    def _announce(self, received: list[Announcement]) -> None:
        with self._lock:
            known = {a.seq for a in self.announcements}
            new = [a for a in received if a.seq not in known]
            self.announcements = (self.announcements + new)[-KEPT_ANNOUNCEMENTS:]
            self.unseen = (self.unseen + new)[-KEPT_ANNOUNCEMENTS:]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return _("no answer (timed out)")
    if isinstance(exc, ConnectionRefusedError):
        return _("connection refused: is the class server running, and is the port right?")
    return f"{type(exc).__name__}: {exc}"


# -- the kernel's one class ----------------------------------------------------------------------


class _Running:
    """A reporter on its own thread and loop."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.loop = asyncio.new_event_loop()
        self.task: asyncio.Task[None] | None = None
        self.thread = threading.Thread(target=self._main, name="classroom reporter", daemon=True)
        self.shown_state = "connecting"
        self.thread.start()

    def _main(self) -> None:
        self.task = self.loop.create_task(self.reporter.run())
        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(self.task)
        self.loop.close()

    def stop(self, flush: float = 1.0) -> None:
        """Give pending verdicts up to ``flush`` seconds to go, then close and end the thread."""
        deadline = time.monotonic() + flush
        while self.reporter.pending and self.reporter.state == "connected":
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        with contextlib.suppress(RuntimeError):  # the loop has ended already
            self.loop.call_soon_threadsafe(lambda: self.task and self.task.cancel())
        self.thread.join(timeout=5)


_class: _Running | None = None
_auto_tried = False


def join_class(url: str, code: str, name: str, *, wait: float = 3.0) -> None:
    """Join a class: from now on, each check's verdict goes to the class server at ``url``.

    Prints whether it connected, and exactly what is sent. ``leave_class()`` stops it.
    """
    global _class
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        print(_('join_class: the address starts with ws:// (e.g. "ws://192.168.1.20:8765")'))
        return
    try:
        name = _name.validate_python(name)
    except ValidationError:
        print(_("join_class: a name is 1 to 40 characters, on one line"))
        return
    if _class is not None:
        _class.stop(flush=0.5)
    reporter = Reporter(url, str(code), name)
    _class = _Running(reporter)
    reporter.settled.wait(wait)
    _show_state(_class, always=True)
    if reporter.state == "refused":
        _class = None
        return
    example = Verdict(id="0" * 32, exercise="00.1", outcome="passed", at=round(time.time(), 1))
    hello = Hello(type="hello", code=reporter.code, name=name)
    print(_("Sent once on connecting: {json}").format(json=hello.model_dump_json()))
    print(_("Sent after each check:   {json}").format(json=example.model_dump_json()))
    print(
        _(
            "(id: random, once per verdict; help: none, hints (reveal) or answer (show)). "
            "Never your code or your answers. leave_class() stops it."
        )
    )


def leave_class() -> None:
    """Stop reporting: close the connection; checks send nothing from now on."""
    global _class
    if _class is None:
        print(_("Not in a class: checks send nothing."))
        return
    running, _class = _class, None
    running.stop()
    unsent = len(running.reporter.pending)
    print(_("Left the class: checks send nothing now."))
    if unsent:
        print(_("Verdicts not sent: {count}.").format(count=unsent))


def class_status() -> None:
    """Say whether this kernel is in a class, and how its reporting goes."""
    if _class is None:
        print(_("Not in a class: checks send nothing."))
        return
    reporter = _class.reporter
    _show_state(_class, always=True)
    print(
        _("Verdicts sent: {acked}, waiting: {pending}, dropped: {dropped}.").format(
            acked=reporter.acked, pending=len(reporter.pending), dropped=reporter.dropped
        )
    )


def announcements() -> list[str]:
    """Every announcement of this class so far, oldest first (also printed)."""
    if _class is None:
        print(_("Not in a class: checks send nothing."))
        return []
    shown = [_format(a) for a in _class.reporter.announcements]
    print("\n".join(shown) or _("No announcements yet."))
    return shown


def note_help(exercise: str, step: Help) -> None:
    """Remember that help for ``exercise`` was opened (``hints`` or ``answer``)."""
    if HELP_ORDER.index(step) > HELP_ORDER.index(_help_seen.get(exercise, "none")):
        _help_seen[exercise] = step


def report(verdict: Any) -> None:
    """Called by every check after printing its verdict: queue it, and show what is new.

    Does nothing (and prints nothing) outside a class. Never raises.
    """
    global _class
    try:
        if _class is None and not _auto_join():
            return
        assert _class is not None
        outcome: Outcome = (
            "skipped" if verdict.skipped else "passed" if verdict.passed else "failed"
        )
        _class.reporter.submit(
            Verdict(
                id=uuid.uuid4().hex,
                exercise=verdict.exercise,
                outcome=outcome,
                help=_help_seen.get(verdict.exercise, "none"),
                at=time.time(),
            )
        )
        _show_state(_class)
        for announcement in _class.reporter.take_unseen():
            print(_format(announcement))
        if _class.reporter.state == "refused":
            _class = None  # its thread has ended: nothing more is sent
    except Exception:  # reporting must never break a check
        return


def _auto_join() -> bool:
    """Join the class in ``$WS_LESSONS_CLASS``, once per kernel; true if now in a class."""
    global _auto_tried
    setting = os.environ.get(ENVIRONMENT, "").strip()
    if _auto_tried or not setting:
        return False
    _auto_tried = True
    parts = urlsplit(setting)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    url = f"{parts.scheme}://{parts.netloc}"
    join_class(url, query.get("code", ""), query.get("name") or getpass.getuser(), wait=1.0)
    return _class is not None


def _format(announcement: Announcement) -> str:
    when = time.strftime("%H:%M", time.localtime(announcement.at))
    return _("📣 {time} from your instructor: {text}").format(time=when, text=announcement.text)


def _show_state(running: _Running, always: bool = False) -> None:
    """One line when the connection's state changed since the last line (or ``always``)."""
    reporter = running.reporter
    state = reporter.state
    if state == running.shown_state and not always:
        return
    running.shown_state = state
    url = reporter.url.removesuffix("/learn")
    if state == "connected":
        print(_("🎓 In the class at {url} as {name}.").format(url=url, name=reporter.name))
    elif state == "connecting":
        print(_("🎓 Connecting to the class at {url}...").format(url=url))
    elif state == "unreachable":
        print(
            _(
                "🎓 The class server at {url} is unreachable ({problem}); verdicts kept: "
                "{count}, sent once it is back."
            ).format(url=url, problem=reporter.problem, count=len(reporter.pending))
        )
    else:
        print(
            _("🎓 The class server at {url} refused: {problem}. Nothing is sent.").format(
                url=url, problem=reporter.problem
            )
        )
