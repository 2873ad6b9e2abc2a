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
]


def chromium() -> str | None:
    """The Chromium (or Chrome) to drive: ``$CHROMIUM`` if set, else the first on PATH."""
    names = ["chromium", "chromium-browser", "google-chrome"]
    return os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, names)), None)
