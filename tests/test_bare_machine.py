"""On a machine with only Python, what needs nginx, redis-server or Chromium skips with its reason.

The programs are hidden for real: a mount namespace (``unshare --mount``) binds ``/dev/null``
over each one, so ``shutil.which`` no longer finds them, and the tests marked ``needs`` run there
in a child pytest without ``CI`` set (``WS_LESSONS_AUTOBAHN`` points at no Autobahn|Testsuite):
each must skip, saying what to install. Without root, a user namespace maps the runner's user
to root inside it (``unshare --user --map-root-user``), which is all a bind mount needs.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = {
    "nginx": ["nginx"],
    "redis-server": ["redis-server"],
    "Chromium": ["chromium", "chromium-browser", "google-chrome"],
}
SBIN = "/usr/sbin:/usr/local/sbin"


def installed(names: list[str]) -> list[str]:
    found = {shutil.which(name) or shutil.which(name, path=SBIN) for name in names}
    return sorted(path for path in found - {None} if path)


def namespace() -> list[str]:
    """The ``unshare`` command line that gives a mount namespace to this user, or a skip."""
    if os.name != "posix" or shutil.which("unshare") is None:
        pytest.skip("hiding programs needs Linux and unshare (util-linux)")
    if os.geteuid() == 0:
        return ["unshare", "--mount"]
    as_user = ["unshare", "--user", "--map-root-user", "--mount"]
    probe = subprocess.run([*as_user, "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"no root, and no user namespace here: {probe.stderr.strip()}")
    return as_user


def without_the_programs(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``command`` where every installed program of ``PROGRAMS`` is ``/dev/null``."""
    unshare = namespace()
    hidden = [path for names in PROGRAMS.values() for path in installed(names)]
    mounts = [f"mount --bind /dev/null {shlex.quote(path)}" for path in hidden]
    script = " && ".join([*mounts, shlex.join(command)])
    env = {key: value for key, value in os.environ.items() if key not in {"CI", "CHROMIUM"}}
    env["WS_LESSONS_AUTOBAHN"] = os.devnull  # no suite installed there
    return subprocess.run(
        [*unshare, "sh", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def bare_run() -> subprocess.CompletedProcess[str]:
    pytest_argv = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]
    return without_the_programs([*pytest_argv, "-m", "needs"], timeout=240)


def test_the_programs_are_really_hidden() -> None:
    names = [name for names in PROGRAMS.values() for name in names]
    probe = f"import shutil; print([n for n in {names!r} if shutil.which(n, path={SBIN!r})"
    probe += " or shutil.which(n)])"
    run = without_the_programs([sys.executable, "-c", probe], timeout=30)
    assert run.stdout.strip() == "[]", run.stdout + run.stderr


@pytest.mark.slow
def test_the_suite_passes_without_the_programs(bare_run: subprocess.CompletedProcess[str]) -> None:
    assert bare_run.returncode == 0, bare_run.stdout[-4000:] + bare_run.stderr[-2000:]
    assert re.search(r"\d+ skipped", bare_run.stdout), bare_run.stdout[-2000:]
    assert not re.search(r"\d+ passed", bare_run.stdout), "a test ran without what it needs"


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.slow
def test_each_missing_program_is_named_in_a_skip_reason(
    bare_run: subprocess.CompletedProcess[str], program: str
) -> None:
    reasons = [line for line in bare_run.stdout.splitlines() if line.startswith("SKIPPED")]
    assert any(f"{program} is not installed" in line for line in reasons), "\n".join(reasons)


@pytest.mark.slow
def test_an_exercise_check_says_how_to_get_the_program(
    bare_run: subprocess.CompletedProcess[str],
) -> None:
    reasons = [line for line in bare_run.stdout.splitlines() if line.startswith("SKIPPED")]
    assert any("test_exercises.py" in line and "Install it with:" in line for line in reasons), (
        "\n".join(reasons)
    )
