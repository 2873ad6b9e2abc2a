"""Where Chromium is, and the flags the course starts it with (headless, no sandbox, quiet)."""

from __future__ import annotations

import os
import shutil

__all__ = ["ARGS", "chromium"]

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    # Without these, Chromium keeps trying to reach Google's servers in the background.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # The course's pages are on this machine, some under a name of their own (chat.test in
    # lesson 14) that no no_proxy lists: without this, a proxy set in the environment gets
    # them (net::ERR_PROXY_CONNECTION_FAILED where it answers nothing).
    "--no-proxy-server",
]


def chromium() -> str | None:
    """The Chromium (or Chrome) to drive: ``$CHROMIUM`` if set, else the first on PATH."""
    names = ["chromium", "chromium-browser", "google-chrome"]
    return os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, names)), None)
