"""The class in a SQLite file: its code and token, every learner, verdict and announcement.

Everything the dashboard shows is an event with a ``seq`` (SQLite's ``INTEGER PRIMARY KEY
AUTOINCREMENT``, so a number is never given twice, even after a restart): a dashboard
that reconnects asks for the events after the last one it has. A verdict's id is
``UNIQUE``, so a verdict sent twice (its ack lost with the connection) is stored once.

The file is in WAL mode with ``synchronous=NORMAL``: a write is a short append, and a
crash of the machine (not of the server) may lose the last moments, never the file.
The methods are plain functions: the app runs them off its event loop, one at a time.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from .models import WELCOME_ANNOUNCEMENTS, Announcement, Event, Joined, Judged, Verdict

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""Letters and digits that are hard to mishear or misread: no 0/O, 1/I/L."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS learners (name TEXT PRIMARY KEY, joined REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    verdict_id TEXT UNIQUE,
    body TEXT NOT NULL
);
"""


def new_code(length: int = 6) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


MAX_LEARNERS = 1000
"""Names a class takes: past that, a new name is refused (its rows would fill the dashboard)."""


class ClassFull(Exception):
    """A new name, and the class has :data:`MAX_LEARNERS` already."""


class Store:
    """One class, kept in ``path`` (``":memory:"`` for a class that ends with its server)."""

    def __init__(self, path: str | Path, max_learners: int = MAX_LEARNERS) -> None:
        self.path, self.max_learners = str(path), max_learners
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        self.code = self._kept("code", new_code)
        self.token = self._kept("token", lambda: secrets.token_urlsafe(18))

    def _kept(self, key: str, make: object) -> str:
        """A setting made once and kept: a restarted class keeps its code and token."""
        with self._lock, self._db:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row:
                return row[0]
            value = make()  # type: ignore[operator]
            self._db.execute("INSERT INTO meta VALUES (?, ?)", (key, value))
            return value

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writes: each returns the event to show, or None when there is nothing new ------------

    def join(self, name: str, at: float | None = None) -> Joined | None:
        at = time.time() if at is None else at
        with self._lock, self._db:
            known = self._db.execute("SELECT 1 FROM learners WHERE name = ?", (name,)).fetchone()
            count = self._db.execute("SELECT COUNT(*) FROM learners").fetchone()[0]
            if not known and count >= self.max_learners:
                raise ClassFull(name)
            added = self._db.execute(
                "INSERT OR IGNORE INTO learners VALUES (?, ?)", (name, at)
            ).rowcount
            if not added:
                return None
            seq = self._append("joined", None, {"name": name, "at": at})
        return None if seq is None else Joined(seq=seq, name=name, at=at)

    def judge(self, name: str, verdict: Verdict) -> Judged | None:
        """Store ``verdict``; ``None`` if its id was stored before (it was sent twice).

        Its time is the learner's clock, but never later than this one: a laptop whose clock
        runs ahead would otherwise show "now" for good, and never stand out as stuck.
        """
        body = {
            "name": name,
            "exercise": verdict.exercise,
            "outcome": verdict.outcome,
            "help": verdict.help,
            "at": min(verdict.at, time.time()),
        }
        with self._lock, self._db:
            seq = self._append("verdict", verdict.id, body)
        return None if seq is None else Judged(seq=seq, **body)  # type: ignore[arg-type]

    def announce(self, text: str) -> Announcement:
        body = {"text": text, "at": time.time()}
        with self._lock, self._db:
            seq = self._append("announcement", None, body)
        return Announcement(seq=seq, **body)  # type: ignore[arg-type]

    def _append(self, kind: str, verdict_id: str | None, body: dict[str, object]) -> int | None:
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO events (kind, verdict_id, body) VALUES (?, ?, ?)",
            (kind, verdict_id, json.dumps(body)),
        )
        return cursor.lastrowid if cursor.rowcount else None

    # -- reads ---------------------------------------------------------------------------------

    def last_seq(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT MAX(seq) FROM events").fetchone()
        return row[0] or 0

    def events(self, since: int = 0) -> list[Event]:
        """Every event after ``since``, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, body FROM events WHERE seq > ? ORDER BY seq", (since,)
            ).fetchall()
        return [_event(seq, kind, body) for seq, kind, body in rows]

    def announcements(
        self, since: int = 0, limit: int = WELCOME_ANNOUNCEMENTS
    ) -> list[Announcement]:
        """The latest ``limit`` announcements after ``since``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, body FROM events WHERE kind = 'announcement' AND seq > ? "
                "ORDER BY seq DESC LIMIT ?",
                (since, limit),
            ).fetchall()
        return [_event(seq, kind, body) for seq, kind, body in reversed(rows)]  # type: ignore[misc]

    def verdict_count(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM events WHERE kind = 'verdict'").fetchone()
        return row[0]

    def export_csv(self, exercises: Iterable[str]) -> str:
        """The grid as CSV: a row per learner, a column per exercise."""
        columns = list(exercises)
        grid: dict[str, dict[str, Cell]] = {}
        for event in self.events():
            if isinstance(event, Joined):
                grid.setdefault(event.name, {})
            elif isinstance(event, Judged):
                if event.exercise not in columns:
                    columns.append(event.exercise)
                cells = grid.setdefault(event.name, {})
                cells.setdefault(event.exercise, Cell()).add(event)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["name", *columns])
        for name in sorted(grid):
            cells = grid[name]
            row = [str(cells[number]) if number in cells else "" for number in columns]
            writer.writerow([_inert(name), *row])
        return out.getvalue()


class Cell:
    """One learner's attempts at one exercise."""

    def __init__(self) -> None:
        self.failed = 0
        self.outcome = ""
        self.help = "none"

    def add(self, verdict: Judged) -> None:
        if verdict.outcome == "failed":
            self.failed += 1
        if self.outcome != "passed":
            self.outcome = verdict.outcome
        if verdict.help == "answer" or self.help == "none":
            self.help = verdict.help

    def __str__(self) -> str:
        parts = [self.outcome] if self.outcome != "failed" else []
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.help != "none":
            parts.append(f"help: {self.help}")
        return ", ".join(parts)


def _inert(text: str) -> str:
    """A spreadsheet runs a cell starting with = + - @ as a formula (OWASP: CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _event(seq: int, kind: str, body: str) -> Event:
    fields = json.loads(body)
    if kind == "joined":
        return Joined(seq=seq, **fields)
    if kind == "verdict":
        return Judged(seq=seq, **fields)
    return Announcement(seq=seq, **fields)
