"""What every exercise check is made of.

A check is a function ``answer -> success message`` that raises :class:`Hint` when the
answer is wrong, or :class:`Skip` when this machine lacks a program the check runs;
:func:`exercise` turns it into ``check_<lesson>_<n>(answer)``, which prints a pass, a
skip or the hint and returns a :class:`Verdict`, and never raises, so a notebook with
unsolved exercises still runs top to bottom. The helpers below start an app on a
real server and talk to it with the real ``websockets`` client.

Messages are shown in the learner's language (:mod:`ws_lessons.i18n`): a check raises
``Hint(_("..."))``; help given at import time is marked ``N_("...")`` and translated here
and in ``solutions.reveal`` when it is shown.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from ws_lessons.classroom import reporter as classroom
from ws_lessons.i18n import _
from ws_lessons.server import RunningServer, ServerError, serve

__all__ = [
    "HELP",
    "TIMEOUT",
    "Feedback",
    "Hint",
    "Skip",
    "Verdict",
    "chosen_letters",
    "connected",
    "exchange",
    "exercise",
    "judge",
    "judge_letters",
    "outcome",
    "require_function",
    "served",
]

TIMEOUT = 2.0
HELP: dict[str, tuple[str, ...]] = {}
"""Exercise number → graduated help for ``solutions.reveal``: a nudge, then a closer hint.

Neither may contain a line of the reference answer: help points the way, the answer is
the last click.
"""


class Feedback(Exception):
    """The root of what a check raises to give its verdict on an answer (not an error of
    the package: see :mod:`ws_lessons.exceptions`)::

        Feedback
        ├── Hint    the answer is wrong; the message says what to look at
        └── Skip    this machine lacks a program the check runs; the message says how to get it
    """


class Hint(Feedback):
    """Raised inside a check to say what is wrong with the answer."""


class Skip(Feedback):
    """Raised inside a check that needs a program this machine lacks; says how to get it."""


class Verdict:
    """The outcome of a check: true unless the answer is wrong. Already printed, so it shows
    nothing. A skipped check (a program missing) is not a failure: ``skipped`` tells them apart.
    """

    def __init__(self, exercise: str, passed: bool, message: str, skipped: bool = False) -> None:
        self.exercise, self.passed, self.message = exercise, passed, message
        self.skipped = skipped

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        mark = "skipped" if self.skipped else "passed" if self.passed else "not yet"
        return f"<Verdict {self.exercise} {mark}: {self.message}>"

    def _ipython_display_(self) -> None:
        """The message was printed already: show nothing more when it ends a cell."""


def exercise(
    number: str, *, nudge: str = "", hint: str = ""
) -> Callable[[Callable[[Any], str | Verdict]], Callable[[Any], Verdict]]:
    """Turn ``check(answer) -> success message`` (raising :class:`Hint`) into a safe check.

    A check made of parts (the chat's contract) returns its own :class:`Verdict` instead of a
    message. ``nudge`` (where to look) and ``hint`` (closer: the idea, never the code) are what
    ``solutions.reveal(number)`` shows, each behind its own click, before the answer.
    """

    def decorate(check: Callable[[Any], str | Verdict]) -> Callable[[Any], Verdict]:
        HELP[number] = tuple(step for step in (nudge, hint) if step)

        @functools.wraps(check)
        def safe_check(answer: Any) -> Verdict:
            return judge(number, check, answer)

        return safe_check

    return decorate


def judge(number: str, check: Callable[[Any], str | Verdict], answer: Any) -> Verdict:
    """Run ``check`` on ``answer``; print the verdict, report it in a class, return it.

    Never raises: an answer must never crash the notebook.
    """
    # _() again: a message kept in a constant is marked N_() and translated here.
    try:
        said = check(answer)
        verdict = said if isinstance(said, Verdict) else Verdict(number, True, _(said))
    except Hint as hint:
        verdict = Verdict(number, False, _(str(hint)))
    except Skip as missing:
        verdict = Verdict(number, True, _(str(missing)), skipped=True)
    except Exception as exc:
        message = _("checking raised {error}: {text}")
        verdict = Verdict(number, False, message.format(error=type(exc).__name__, text=exc))
    print(outcome(verdict))
    classroom.report(verdict)  # in a class: queued for its server, off this path
    return verdict


def outcome(verdict: Verdict) -> str:
    """The line a check prints: the exercise, a mark, and what the check said."""
    if verdict.skipped:
        line = _("Exercise {number} ⏭️ skipped: {message}")
    elif verdict.passed:
        line = _("Exercise {number} ✅ passed: {message}")
    else:
        line = _("Exercise {number} ❌ not yet: {message}")
    return line.format(number=verdict.exercise, message=verdict.message)


def chosen_letters(answer: Any, among: Iterable[str], what: str) -> set[str]:
    """The letters of a "which of these?" answer, upper-cased; a hint if it is not a set of them.

    ``what`` names one of the choices (``N_("cell")``): it is translated here.
    """
    if isinstance(answer, str) or not isinstance(answer, set | frozenset | list | tuple):
        raise Hint(_('answer with a set of letters, e.g. {"A", "B"}'))
    letters = sorted(among)
    chosen = {str(letter).strip().upper() for letter in answer}
    unknown = chosen - set(letters)
    if unknown:
        raise Hint(
            _("there is no {what} {unknown}; pick among {first} to {last}").format(
                what=_(what), unknown=", ".join(sorted(unknown)), first=letters[0], last=letters[-1]
            )
        )
    return chosen


def judge_letters(
    chosen: set[str], right: Iterable[str], why: Mapping[str, str], yes: str, no: str
) -> None:
    """A hint on the first letter chosen wrongly: what it really does (``yes`` for the right
    letters, ``no`` for the others), and ``why[letter]``; all three marked ``N_()``, translated
    here."""
    right = set(right)
    for letter in sorted(why):
        if (letter in chosen) != (letter in right):
            raise Hint(
                _("think again about {letter}: {verdict}; {why}").format(
                    letter=letter, verdict=_(yes if letter in right else no), why=_(why[letter])
                )
            )


def require_function(answer: Any) -> None:
    """The answer must be a function (the learner passed what it returned, or nothing)."""
    if not callable(answer):
        raise Hint(
            _("pass your function itself (without calling it), not {answer}").format(
                answer=repr(answer)
            )
        )


@contextmanager
def served(app: Any, exercise: str, **options: Any) -> Iterator[RunningServer]:
    """``app`` on a real server for the check of ``exercise`` (``options`` go to uvicorn);
    a hint if it is not an app or does not start."""
    if not callable(app):
        raise Hint(
            _("pass your FastAPI app (the object you called FastAPI()), not {app}").format(
                app=repr(app)
            )
        )
    try:
        server = serve(app, name=f"check {exercise}", **options)
    except ServerError as exc:
        raise Hint(_("your app did not start: {error}").format(error=exc)) from None
    with server:
        yield server


@contextmanager
def connected(server: RunningServer, path: str) -> Iterator[ClientConnection]:
    try:
        with connect(server.ws_url(path), open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
            yield ws
    except InvalidStatus as exc:
        status = exc.response.status_code
        refused = (
            _(
                "the handshake on {path} was refused with HTTP {status}. Is the path right, "
                "and does the endpoint accept the connection?"
            )
            if status in (403, 404)
            else _(
                "the handshake on {path} was refused with HTTP {status}. Look at the server logs."
            )
        )
        raise Hint(refused.format(path=path, status=status)) from None


def exchange(ws: ClientConnection, message: str, after: str) -> str | bytes:
    """Send ``message`` and return the reply, turning every way of failing into a hint."""
    try:
        ws.send(message)
        return ws.recv(timeout=TIMEOUT)
    except TimeoutError:
        raise Hint(
            _("no reply within {seconds:.0f} s after {after}").format(seconds=TIMEOUT, after=after)
        ) from None
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else _("none")
        raise Hint(
            _(
                "the server closed the connection (code {code}) after {after}: "
                "does your endpoint keep looping with `while True`?"
            ).format(code=code, after=after)
        ) from None
