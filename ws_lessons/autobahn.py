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
import datetime
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import cast

from ws_lessons.exceptions import WsLessonsError
from ws_lessons.i18n import N_, Message, _
from ws_lessons.table import Table

__all__ = [
    "ALL_CASES",
    "GROUPS",
    "AutobahnMissing",
    "Report",
    "find_python27",
    "home",
    "install",
    "record",
    "recorded",
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
GAVE_UP = ["KLE"]
"""The wire-log entry of a case whose timer ran out before the server closed (fuzzing.py)."""
LESSON_CASES = (
    *("1.1.*", "2.*", "3.*", "4.*", "5.*", "6.1.*", "6.3.*"),
    *("7.1.*", "7.3.*", "7.5.*", "7.7.*"),
)
"""The cases the from-scratch lesson runs: a few seconds, every group but the slow ones."""
LESSON_SLOW = ("5.19", "5.20")
"""Cases of LESSON_CASES left out: they pause on purpose, a second each."""
RECORDED = Path(__file__).with_name("data") / "autobahn_lesson06.json"
"""The lesson's run, recorded by :func:`record` for the versions it names."""
VERSIONED = ("uvicorn", "websockets", "starlette", "fastapi")
"""The packages whose versions decide the verdicts, recorded with them."""
HOW_TO_GET_IT = Message(
    N_(
        "install it with `python -m ws_lessons autobahn install` (it needs a Python 2.7, for "
        "example from `pyenv install 2.7.18`; pip fetches the suite from the package index, "
        "so a mirror set in PIP_INDEX_URL works from mainland China), or run the suite's "
        "Docker image, crossbario/autobahn-testsuite, against your server (from Docker Hub, "
        "or where Docker Hub is out of reach, through a registry mirror set in Docker's "
        "registry-mirrors)."
    )
)
"""How to get the suite, shown in the course's language (``str()``, ``print``, f-strings)."""


class AutobahnMissing(WsLessonsError, RuntimeError):
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
        raise AutobahnMissing(f"no Python 2.7 found: {HOW_TO_GET_IT}")
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
    """The suite's verdicts, ``results[agent][case]``: the case's entry in its ``index.json``.

    A report read back by :func:`recorded` has no folder of the suite's files: it keeps the
    details of the cases worth reading in ``details``, and when and with what it was made in
    ``about``.
    """

    results: dict[str, dict[str, dict[str, object]]]
    outdir: Path | None
    details: dict[str, dict[str, dict[str, object]]] = field(default_factory=dict)
    about: dict[str, object] = field(default_factory=dict)
    again: dict[str, list[str]] = field(default_factory=dict)
    """The cases :func:`run` ran a second time, per agent; their verdicts are the second's."""

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

    def gave_up_waiting(self, agent: str) -> list[str]:
        """The failed cases whose timer ran out: the suite stopped waiting for the server."""
        wirelog = {case: self.detail(agent, case).get("wirelog", []) for case in self.failed(agent)}
        return [case for case, entries in wirelog.items() if GAVE_UP in cast(list, entries)]

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
        if case in self.details.get(agent, {}):
            return self.details[agent][case]
        if self.outdir is None:
            raise KeyError(f"the recorded report keeps no detail of {agent}'s case {case}")
        return json.loads((self.outdir / str(self.results[agent][case]["reportfile"])).read_text())

    def provenance(self) -> str:
        """When and with which versions the suite ran: now, or in a recorded run."""
        installed = _versions()
        shown = ", ".join(f"{name} {number}" for name, number in installed.items())
        if not self.about:
            return _("run now, with {versions}").format(versions=shown)
        then = dict(self.about["versions"])  # type: ignore[call-overload]
        recorded = ", ".join(f"{name} {number}" for name, number in then.items())
        text = _("recorded on {date} with {versions}").format(
            date=self.about["date"], versions=recorded
        )
        changed = [name for name in VERSIONED if then.get(name) != installed[name]]
        if changed:
            return (
                text
                + "\n"
                + _(
                    "installed here: {versions}; {names} changed since, so a run here may differ"
                ).format(versions=shown, names=", ".join(changed))
            )
        return text + "\n" + _("the same versions as installed here")

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

    Most cases wait 0.5 or 1 s for the server, then give up and fail it: a busy machine
    can be that late. A case failed that way runs once more, on its own; its verdict is
    the second run's, and ``report.again`` names it. A server that is wrong fails twice.
    Raises :exc:`AutobahnMissing` when the suite is not installed.
    """
    for url in servers.values():
        if not url.startswith(("ws://127.", "ws://localhost", "ws://[::1]")):
            raise ValueError(f"the suite only runs against loopback servers here, not {url}")
    command = wstest()
    if command is None:
        raise AutobahnMissing(f"Autobahn|Testsuite is not installed. {HOW_TO_GET_IT}")
    outdir = Path(outdir or tempfile.mkdtemp(prefix="autobahn-"))
    report = _run_once(command, servers, cases, exclude, outdir, timeout)
    late = {agent: found for agent in servers if (found := report.gave_up_waiting(agent))}
    if late:
        cases_again = sorted({case for found in late.values() for case in found}, key=_case_key)
        servers_again = {agent: servers[agent] for agent in late}
        second = _run_once(command, servers_again, cases_again, (), outdir / "again", timeout)
        for agent, found in late.items():
            for case in found:
                entry = second.results[agent][case]
                report.results[agent][case] = entry | {"reportfile": f"again/{entry['reportfile']}"}
        report.again = late
    return report


def _run_once(
    command: Path,
    servers: Mapping[str, str],
    cases: Sequence[str],
    exclude: Sequence[str],
    outdir: Path,
    timeout: float,
) -> Report:
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


def _versions() -> dict[str, str]:
    found = {name: version(name) for name in VERSIONED}
    found["Python"] = platform.python_version()
    return found


def record(path: Path = RECORDED, timeout: float = 600.0) -> Report:
    """Run the lesson's cases against the lesson's reference server and FastAPI's echo on
    uvicorn, and write the verdicts, with the details worth reading, to ``path``."""
    from ws_lessons import scratch
    from ws_lessons.apps import echo_app
    from ws_lessons.server import serve, serve_streams

    with (
        serve_streams(scratch.handle, name="autobahn record, scratch") as mine,
        serve(echo_app(), name="autobahn record, uvicorn") as uvicorn,
    ):
        agents = {"your server": mine.ws_url("/"), "FastAPI on uvicorn": uvicorn.ws_url("/")}
        report = run(agents, LESSON_CASES, exclude=LESSON_SLOW, timeout=timeout)
    keys = ("behavior", "behaviorClose")
    results = {
        agent: {case: {key: entry[key] for key in keys} for case, entry in cases.items()}
        for agent, cases in report.results.items()
    }
    kept = ("description", "expectation", "behavior", "behaviorClose", "remoteCloseCode")
    details = {
        agent: {
            case: {key: report.detail(agent, case).get(key) for key in kept}
            for case in cases
            if report.verdict(agent, case) != "OK"
        }
        for agent, cases in results.items()
    }
    about = {
        "date": datetime.date.today().isoformat(),
        "versions": {"Autobahn|Testsuite": VERSION, **_versions()},
        "your server": "ws_lessons.scratch, the reference answer of the lesson",
    }
    path.parent.mkdir(exist_ok=True)
    content = {"about": about, "results": results, "details": details}
    path.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return recorded(path)


def recorded(path: Path = RECORDED) -> Report:
    """The lesson's run as :func:`record` wrote it: verdicts, details, date and versions."""
    content = json.loads(path.read_text(encoding="utf-8"))
    return Report(content["results"], None, content["details"], content["about"])


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
