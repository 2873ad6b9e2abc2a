"""One root for the package's errors, and its tree written where it is defined."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import ws_lessons
from ws_lessons import exceptions
from ws_lessons.exercises.bounded import OutOfSteps
from ws_lessons.exercises.core import Feedback


def _modules() -> list[str]:
    """Every module of the package but the reference chat, which documents its own errors."""
    found = pkgutil.walk_packages(ws_lessons.__path__, prefix="ws_lessons.")
    names = [info.name for info in found]
    return [name for name in names if not name.startswith(("ws_lessons.chat", "ws_lessons.__main"))]


def _errors() -> list[type[BaseException]]:
    errors: dict[str, type[BaseException]] = {}
    for name in _modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            own = getattr(value, "__module__", None) == name
            if own and inspect.isclass(value) and issubclass(value, BaseException):
                errors[f"{name}.{value.__qualname__}"] = value
    return list(errors.values())


@pytest.mark.parametrize("error", _errors(), ids=lambda error: error.__qualname__)
def test_every_error_is_under_its_root(error: type[BaseException]) -> None:
    roots = (exceptions.WsLessonsError, Feedback)
    assert issubclass(error, roots) or error in (*roots, OutOfSteps)


@pytest.mark.parametrize(
    "error",
    [e for e in _errors() if issubclass(e, exceptions.WsLessonsError)],
    ids=lambda error: error.__qualname__,
)
def test_the_root_draws_every_public_error(error: type[BaseException]) -> None:
    drawn = error is exceptions.WsLessonsError or error.__name__.startswith("_")
    assert drawn or f"── {error.__name__} " in (exceptions.__doc__ or "")


def test_an_error_keeps_the_built_in_base_it_had() -> None:
    from ws_lessons.handshake import HandshakeError
    from ws_lessons.server import ServerError

    assert issubclass(HandshakeError, ValueError) and issubclass(ServerError, RuntimeError)
