"""Loopback never goes through a proxy: every lesson talks to servers on this machine.

Many learners set ``http_proxy``, ``https_proxy`` or ``all_proxy`` for a local proxy
client. httpx and the ``websockets`` client both read them, and both honour ``no_proxy``,
so adding the loopback names to it sends the lessons' traffic straight to their servers.
:func:`bypass_notice` says so, in the learner's language. (Standard library only: this
runs before anything else of the package.)
"""

from __future__ import annotations

import os

from ws_lessons.i18n import _

__all__ = [
    "LOOPBACK",
    "LOOPBACK_NAMES",
    "PROXY_VARIABLES",
    "bypass_for_loopback",
    "bypass_notice",
    "proxies_set",
]

LOOPBACK = "127.0.0.1"
LOOPBACK_NAMES = (LOOPBACK, "localhost", "::1")
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


def proxies_set() -> dict[str, str]:
    """The proxy variables set in this process, in either case, with their values."""
    found = {}
    for name in PROXY_VARIABLES:
        for spelling in (name, name.upper()):
            if os.environ.get(spelling):
                found[spelling] = os.environ[spelling]
    return found


def bypass_for_loopback() -> list[str]:
    """Add the loopback names to ``no_proxy`` (both spellings); return the names added."""
    added: list[str] = []
    for spelling in ("no_proxy", "NO_PROXY"):
        entries = [entry.strip() for entry in os.environ.get(spelling, "").split(",")]
        entries = [entry for entry in entries if entry]
        missing = [name for name in LOOPBACK_NAMES if name not in entries]
        if missing:
            os.environ[spelling] = ",".join([*entries, *missing])
            added += [name for name in missing if name not in added]
    return added


def bypass_notice() -> str:
    """What the package prints when :func:`bypass_for_loopback` added names at import."""
    return _(
        "ws_lessons: a proxy is set in this environment; 127.0.0.1, localhost and ::1 "
        "now bypass it (added to no_proxy), so the lessons reach their own servers."
    )
