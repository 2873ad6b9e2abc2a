"""The environment check and the command line, run for real."""

from __future__ import annotations

import subprocess
import sys

from ws_lessons import doctor


def test_doctor_finds_this_environment_ready() -> None:
    report = doctor.run()
    by_name = {finding.name: finding for finding in report.findings}
    assert by_name["loopback"].status == doctor.OK, by_name["loopback"]
    assert by_name["kernel"].status == doctor.OK, by_name["kernel"]
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


def test_command_line_doctor_and_bench() -> None:
    doctor_run = subprocess.run(
        [sys.executable, "-m", "ws_lessons", "doctor"], capture_output=True, text=True, timeout=60
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
    monkeypatch.setenv("CHROMIUM", str(chosen))
    assert doctor.check_chromium() == doctor.Finding("chromium", doctor.OK, str(chosen))
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
