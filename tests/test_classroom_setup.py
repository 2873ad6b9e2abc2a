"""Starting a class where learners are: the dev container, the doctor's "where", a quiet lab."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import course
from ws_lessons import doctor
from ws_lessons.services import free_port

ROOT = Path(__file__).resolve().parent.parent
DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"
# The properties of devcontainer.json's base schema that this file may use
# (https://containers.dev/implementors/json_reference/).
SCHEMA_KEYS = {
    "name",
    "image",
    "features",
    "forwardPorts",
    "portsAttributes",
    "otherPortsAttributes",
    "postCreateCommand",
    "postStartCommand",
    "postAttachCommand",
    "containerEnv",
    "remoteEnv",
    "customizations",
    "hostRequirements",
}
AUTO_FORWARD = {"notify", "openBrowser", "openPreview", "silent", "ignore"}


def test_the_dev_container_is_valid_and_forwards_the_course_ports() -> None:
    config = json.loads(DEVCONTAINER.read_text())  # plain JSON: no comments
    assert set(config) <= SCHEMA_KEYS, set(config) - SCHEMA_KEYS
    assert config["image"].startswith("mcr.microsoft.com/devcontainers/python:3.12")
    assert config["postCreateCommand"] == "python3 course.py setup"
    help_text = subprocess.run(
        [sys.executable, "-m", "ws_lessons", "classroom", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "default: 8765" in help_text
    assert {8000, 8765} <= set(config["forwardPorts"])
    for port, attributes in config["portsAttributes"].items():
        assert int(port) in config["forwardPorts"]
        assert attributes["onAutoForward"] in AUTO_FORWARD and attributes["label"]
    assert "Public" in config["portsAttributes"]["8765"]["label"]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.slow
def test_the_post_create_command_runs_in_a_fresh_clone(tmp_path: Path) -> None:
    """What Codespaces runs once the container exists: a fresh clone, then the command."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    command = json.loads(DEVCONTAINER.read_text())["postCreateCommand"]
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    done = subprocess.run(
        command, shell=True, cwd=clone, env=env, capture_output=True, text=True, timeout=1200
    )
    assert done.returncode == 0, done.stdout + done.stderr
    python = clone / ".venv" / "bin" / "python"
    check = subprocess.run(
        [str(python), "-c", "import ws_lessons.classroom, jupyterlab; print('ok')"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert check.stdout.strip() == "ok", check.stderr
    assert (clone / ".venv" / course.LAB_SETTINGS.relative_to(course.VENV)).exists()


@pytest.mark.parametrize(
    ("environ", "place"),
    [
        ({"COLAB_RELEASE_TAG": "release-colab_20261201-060000_RC00"}, "colab"),
        ({"CODESPACES": "true", "VSCODE_PID": "7"}, "codespaces"),
        ({"TERM_PROGRAM": "vscode"}, "vscode"),
        ({"JUPYTERHUB_API_URL": "http://hub:8081/hub/api", "JPY_PARENT_PID": "1"}, "remote"),
        ({"JPY_PARENT_PID": "1", "JPY_SESSION_NAME": "00_start_here.ipynb"}, "lab"),
        ({}, "terminal"),
    ],
)
def test_the_doctor_says_where_the_course_runs(environ: dict[str, str], place: str) -> None:
    assert doctor.where(environ) == place


def test_on_colab_the_doctor_names_the_pages_that_do_not_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLAB_RELEASE_TAG", "x")
    finding = doctor.check_where()
    assert finding.status == doctor.OPTIONAL
    assert "Google Colab" in finding.detail and "lessons 08 and 09" in finding.detail


@pytest.mark.slow
def test_the_course_lab_asks_no_news_question(tmp_path: Path) -> None:
    """A real JupyterLab of this Python reads the course's default: news "false", not "none"
    (the value that makes JupyterLab ask), while the user's own settings stay theirs."""
    settings = Path(sys.prefix) / course.LAB_SETTINGS.relative_to(course.VENV)
    course.quiet_lab(settings)  # what `course.py lab` and `course.py setup` write
    port = free_port()
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "user-settings"))
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}"]
    command += ["--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=", "--allow-root"]
    command += [f"--ServerApp.root_dir={tmp_path}"]
    log = (tmp_path / "lab.log").open("w")
    lab = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/lab/api/settings/@jupyterlab/apputils-extension:notification"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                answer = httpx.get(url, timeout=5)
                break
            except httpx.TransportError:
                assert lab.poll() is None and time.monotonic() < deadline, "lab did not start"
                time.sleep(0.2)
    finally:
        lab.terminate()
        lab.wait(timeout=30)
        log.close()
    assert answer.status_code == 200
    assert answer.json()["schema"]["properties"]["fetchNews"]["default"] == "false"
