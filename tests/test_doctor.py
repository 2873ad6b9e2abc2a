"""The environment check and the command line, run for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from test_doctor_mirrors import local_index, url_of

from ws_lessons import doctor


def test_doctor_finds_this_environment_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    with local_index() as index:  # the package index, on loopback
        monkeypatch.setenv("PIP_INDEX_URL", url_of(index))
        report = doctor.run()
    by_name = {finding.name: finding for finding in report.findings}
    assert by_name["loopback"].status == doctor.OK, by_name["loopback"]
    assert by_name["kernel"].status == doctor.OK, by_name["kernel"]
    assert by_name["package index"].status == doctor.OK, by_name["package index"]
    assert report.healthy
    assert "Verdict: ready for the course." in str(report)
    assert "<table>" in report._repr_html_()


def test_a_missing_package_is_a_problem_with_a_fix() -> None:
    finding = doctor.check_package("surely-not-installed-anywhere", "1.0", "nothing")
    assert finding.status == doctor.PROBLEM
    assert "course.py" in finding.fix
    too_old = doctor.check_package("fastapi", "999", "the web framework")
    assert too_old.status == doctor.PROBLEM
    assert "need 999+" in too_old.detail


@pytest.mark.slow
def test_command_line_doctor_and_bench() -> None:
    with local_index() as index:
        doctor_run = subprocess.run(
            [sys.executable, "-m", "ws_lessons", "doctor"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PIP_INDEX_URL": url_of(index)},
        )
    assert doctor_run.returncode == 0, doctor_run.stdout + doctor_run.stderr
    assert "loopback" in doctor_run.stdout
    unknown = subprocess.run(
        [sys.executable, "-m", "ws_lessons", "bench", "no-such-suite"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2
    assert "choose from" in unknown.stdout


def test_no_websocket_library_is_a_problem_with_the_fix(monkeypatch) -> None:
    from uvicorn.protocols.websockets import auto

    assert doctor.check_websocket_library().status == doctor.OK
    monkeypatch.setattr(auto, "AutoWebSocketsProtocol", None)  # as without websockets/wsproto
    finding = doctor.check_websocket_library()
    assert finding.status == doctor.PROBLEM
    assert "No supported WebSocket library detected" in finding.detail
    assert "uvicorn[standard]" in finding.fix


def test_the_doctor_finds_chromium_where_the_tests_do(monkeypatch, tmp_path) -> None:
    chosen = tmp_path / "my-chromium"
    chosen.write_text("#!/bin/sh\n")
    chosen.chmod(0o755)
    monkeypatch.setenv("CHROMIUM", str(chosen))
    assert doctor.check_chromium() == doctor.Finding("chromium", doctor.OK, str(chosen))
    chosen.unlink()  # a path that names no program: the browser tests would fail to launch it
    wrong = doctor.check_chromium()
    assert wrong.status == doctor.PROBLEM
    assert str(chosen) in wrong.detail and "unset it" in wrong.fix
    monkeypatch.delenv("CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))  # no browser on it
    missing = doctor.check_chromium()
    assert missing.status == doctor.OPTIONAL
    assert "CHROMIUM=" in missing.fix


def test_the_doctor_names_the_proxy_variables_set(monkeypatch) -> None:
    monkeypatch.setenv("https_proxy", "http://proxy.invalid:3128")
    finding = doctor.check_proxies()
    assert finding.status == doctor.OK
    assert "https_proxy" in finding.detail and "loopback bypasses them" in finding.detail


def a_python_shim(folder: Path) -> Path:
    """A program called ``python`` that is not this Python, like a pyenv or asdf shim."""
    shim = folder / "python"
    shim.write_text("#!/bin/sh\nexit 1\n")
    shim.chmod(0o755)
    return shim


def test_a_python_shim_first_on_path_is_not_taken_for_the_kernel(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """JupyterLab starts a spec's bare ``python`` with its own Python, not PATH's first one."""
    a_python_shim(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    finding = doctor.check_kernel()
    assert finding.status == doctor.OK, finding
    assert sys.executable in finding.detail
    assert str(tmp_path) not in finding.detail


def test_a_kernel_spec_that_names_another_python_is_a_problem(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = a_python_shim(tmp_path)
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [str(other), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    finding = doctor.check_kernel()
    assert finding.status == doctor.PROBLEM, finding
    assert f"the python3 kernel runs {other}, not {sys.executable}" in finding.detail
    assert "course.py lab" in finding.fix


def test_in_a_notebook_the_kernel_is_the_python_that_runs_it(tmp_path: Path) -> None:
    """Inside a kernel, a shim first on PATH changes nothing: sys.executable is the kernel."""
    a_python_shim(tmp_path)
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "import os\n"
            f"os.environ['PATH'] = {str(tmp_path)!r} + os.pathsep + os.environ['PATH']\n"
            "from ws_lessons import doctor\n"
            "finding = doctor.check_kernel()\n"
            "print(finding.status, finding.detail)"
        )
    )
    NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
    printed = notebook.cells[0].outputs[0]["text"]
    assert printed.strip() == f"ok this notebook's kernel runs {sys.executable}"
