"""Every public module of the package says what it exports (``__all__``), and exports it."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import ws_lessons

MODULES = [
    info.name
    for info in pkgutil.walk_packages(ws_lessons.__path__, prefix="ws_lessons.")
    if not info.name.startswith("ws_lessons.chat")  # the reference chat keeps its own
    and not info.name.rpartition(".")[2].startswith("_")
]


@pytest.mark.parametrize("name", MODULES)
def test_a_public_module_has_all(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    missing = [item for item in exported if not hasattr(module, item)]
    assert not missing, f"{name}.__all__ names what it lacks: {missing}"
