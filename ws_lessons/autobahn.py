"""Autobahn|Testsuite, the conformance suite of the WebSocket field, run against your servers.

The suite (``autobahntestsuite`` on PyPI) runs on Python 2.7 only, so it lives in a
Python 2.7 virtual environment of its own, inside the course's environment:
``python -m ws_lessons autobahn install`` makes it once. :func:`run` then points its
``fuzzingclient`` at servers on loopback and reads the verdict it gives each case.

A case's verdict is ``OK``, ``NON-STRICT`` (allowed, though not the best behaviour),
``INFORMATIONAL`` (nothing to judge), ``UNIMPLEMENTED`` or ``FAILED``; its closing
behaviour gets a verdict of its own. Case groups: https://github.com/crossbario/autobahn-testsuite
"""

from __future__ import annotations

import collections
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ws_lessons.i18n import N_, _
from ws_lessons.table import Table

__all__ = [
    "ALL_CASES",
    "GROUPS",
    "AutobahnMissing",
    "Report",
    "find_python27",
    "home",
    "install",
    "run",
]

VERSION = "25.10.1"
# The suite's own pinned set for Python 2.7: its sdist names them in its metadata only,
# so pip would install it without them.
REQUIREMENTS = [
    "setuptools==44.0.0",
    "txaio==2.1.0",
    "incremental==16.10.1",
    "pyOpenSSL==19.1.0",
    "cryptography==3.3.2",
    "Twisted==19.10.0",
    "zope.interface==4.6.0",
    "jinja2==2.11.3",
    "markupsafe==1.1.1",
    "Werkzeug==1.0.1",
    "klein==17.10.0",
    "service_identity==18.1.0",
    "unittest2==1.1.0",
    "six==1.16.0",
    "autobahn[accelerate,twisted]==0.10.9",
    f"autobahntestsuite=={VERSION}",
]
GROUPS = {
    "1": "framing",
    "2": "pings and pongs",
    "3": "reserved bits",
    "4": "opcodes",
    "5": "fragmentation",
    "6": "UTF-8",
    "7": "closing",
    "9": "limits and performance",
    "10": "misc",
}
"""The suite's case groups 1-10 (12 and 13 test permessage-deflate)."""
ALL_CASES = tuple(f"{group}.*" for group in GROUPS)
PASSING = {"OK", "NON-STRICT", "INFORMATIONAL"}
HOW_TO_GET_IT = (
    "install it with `python -m ws_lessons autobahn install` (it needs a Python 2.7, for "
    "example from `pyenv install 2.7.18`), or run the suite's Docker image, "
    "crossbario/autobahn-testsuite, against your server."
)


class AutobahnMissing(RuntimeError):
    """The suite is not installed here, or cannot be."""


def home() -> Path:
    """Where the suite is installed: ``$WS_LESSONS_AUTOBAHN``, else inside this environment."""
    return Path(os.environ.get("WS_LESSONS_AUTOBAHN") or Path(sys.prefix) / "autobahn")


def wstest() -> Path | None:
    """The suite's ``wstest`` command, if installed."""
    command = home() / "venv" / ("Scripts/wstest.exe" if os.name == "nt" else "bin/wstest")
    return command if command.exists() else None


def find_python27() -> str | None:
    """A working Python 2.7: ``$PYTHON27``, one of pyenv's, or ``python2.7`` on PATH."""
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = [
        os.environ.get("PYTHON27"),
        *sorted(glob.glob(os.path.join(pyenv_root, "versions", "2.7*", "bin", "python")))[::-1],
        shutil.which("python2.7"),  # may be a pyenv shim that refuses to run: tried last
    ]
    for candidate in filter(None, candidates):
        check = [candidate, "-c", "import sys; assert sys.version_info[:2] == (2, 7)"]
        if subprocess.run(check, capture_output=True).returncode == 0:
            return candidate
    return None


def install(quiet: bool = True) -> Path:
    """Install the suite into :func:`home` with a Python 2.7; return the ``wstest`` path."""
    if (command := wstest()) is not None:
        return command
    python27 = find_python27()
    if python27 is None:
        raise AutobahnMissing(
            "no Python 2.7 found: install one (for example `pyenv install 2.7.18`), or run "
            "the suite's Docker image, crossbario/autobahn-testsuite, against your server."
        )
    folder = home()
    tools = folder / "tools"
    flags = ["--quiet", "--disable-pip-version-check"] if quiet else []
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    # virtualenv 20.21 is the last to create Python 2.7 environments; kept out of 2.7's own
    # site-packages, in a folder of its own.
    steps = [
        [python27, "-m", "pip", "install", *flags, "--target", str(tools), "virtualenv<20.22"],
        [python27, "-m", "virtualenv", "--quiet", str(folder / "venv")],
        [str(folder / "venv" / "bin" / "python"), "-m", "pip", "install", *flags, *REQUIREMENTS],
    ]
    for step in steps:
        step_env = dict(env, PYTHONPATH=str(tools)) if "virtualenv" in step else env
        result = subprocess.run(step, env=step_env, capture_output=True, text=True)
        if result.returncode != 0:
            raise AutobahnMissing(
                f"installing Autobahn|Testsuite failed at `{' '.join(step)}`:\n"
                + (result.stderr or result.stdout)[-2000:]
            )
    if (command := wstest()) is None:
        raise AutobahnMissing("the install finished but wstest is missing")
    return command


@dataclass(repr=False)
class Report:
    """The suite's verdicts, ``results[agent][case]``: the case's entry in its ``index.json``."""

    results: dict[str, dict[str, dict[str, object]]]
    outdir: Path

    def verdict(self, agent: str, case: str) -> str:
        """One verdict for a case: its behaviour, unless its closing behaviour is worse."""
        entry = self.results[agent][case]
        return _worse(str(entry["behavior"]), str(entry["behaviorClose"]))

    def counts(self, agent: str) -> collections.Counter[str]:
        """How many cases got each verdict."""
        return collections.Counter(self.verdict(agent, case) for case in self.results[agent])

    def failed(self, agent: str) -> list[str]:
        """The cases ``agent`` failed, in case order."""
        return [case for case in self.results[agent] if self.verdict(agent, case) not in PASSING]

    def by_group(self) -> list[list[str]]:
        """One row per case group: the group, then each agent's verdict counts."""
        rows = []
        groups = sorted({case.split(".")[0] for r in self.results.values() for case in r}, key=int)
        for group in groups:
            row = [f"{group} {GROUPS.get(group, '')}".strip()]
            for agent, cases in self.results.items():
                counts = collections.Counter(
                    self.verdict(agent, case) for case in cases if case.split(".")[0] == group
                )
                row.append(_summary(counts))
            rows.append(row)
        return rows

    def detail(self, agent: str, case: str) -> dict[str, object]:
        """The suite's own record of one case: what it sent, expected and observed."""
        return json.loads((self.outdir / str(self.results[agent][case]["reportfile"])).read_text())

    def table(self) -> Table:
        """Each agent's verdict counts, one row per case group, then all groups."""
        total = [_("all"), *(_summary(self.counts(agent)) for agent in self.results)]
        return Table([N_("case group"), *self.results], [*self.by_group(), total])

    def __str__(self) -> str:
        return str(self.table())

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


def run(
    servers: Mapping[str, str],
    cases: Sequence[str] = ALL_CASES,
    *,
    exclude: Sequence[str] = (),
    outdir: str | Path | None = None,
    timeout: float = 600.0,
) -> Report:
    """Run the suite's ``fuzzingclient`` against ``servers`` (agent name → ``ws://`` URL).

    Raises :exc:`AutobahnMissing` when the suite is not installed.
    """
    for url in servers.values():
        if not url.startswith(("ws://127.", "ws://localhost", "ws://[::1]")):
            raise ValueError(f"the suite only runs against loopback servers here, not {url}")
    command = wstest()
    if command is None:
        raise AutobahnMissing(f"Autobahn|Testsuite is not installed. {HOW_TO_GET_IT}")
    outdir = Path(outdir or tempfile.mkdtemp(prefix="autobahn-"))
    spec = {
        "outdir": str(outdir),
        "servers": [{"agent": agent, "url": url} for agent, url in servers.items()],
        "cases": list(cases),
        "exclude-cases": list(exclude),
        "exclude-agent-cases": {},
    }
    spec_file = outdir / "fuzzingclient.json"
    outdir.mkdir(parents=True, exist_ok=True)
    spec_file.write_text(json.dumps(spec))
    result = subprocess.run(
        [str(command), "--mode", "fuzzingclient", "--spec", str(spec_file)],
        cwd=outdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    index = outdir / "index.json"
    if result.returncode != 0 or not index.exists():
        raise RuntimeError(f"wstest failed ({result.returncode}):\n{result.stdout[-2000:]}")
    raw = json.loads(index.read_text())
    results = {
        agent: dict(sorted(raw.get(agent, {}).items(), key=lambda item: _case_key(item[0])))
        for agent in servers
    }
    return Report(results, outdir)


_ORDER = ["FAILED", "WRONG CODE", "UNCLEAN", "FAILED BY CLIENT", "UNIMPLEMENTED", "NON-STRICT"]


def _worse(behavior: str, close: str) -> str:
    """One verdict for a case: its behaviour, unless its closing behaviour is worse."""
    for verdict in _ORDER:
        if verdict in (behavior, close):
            return "FAILED" if verdict in _ORDER[:4] else verdict
    return behavior


def _summary(counts: Mapping[str, int]) -> str:
    order = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
    return ", ".join(f"{counts[v]} {v}" for v in order if counts.get(v))


def _case_key(case: str) -> tuple[int, ...]:
    return tuple(int(part) for part in case.split("."))


if __name__ == "__main__":
    # `python -m ws_lessons.autobahn` installs the suite with only the standard library
    # (the package imports lazily), so CI can run it before the course's environment exists.
    print(f"wstest: {install()}")
