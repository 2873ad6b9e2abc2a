"""pyproject.toml and environment.yml name the same packages with the same minimum versions."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ws_lessons import doctor

ROOT = Path(__file__).resolve().parent.parent
NOT_PACKAGES = {"python", "pip", "redis-server", "nginx"}  # programs, not Python packages


def requirements(lines: list[str]) -> dict[str, str]:
    parsed = [Requirement(line) for line in lines]
    return {canonicalize_name(req.name): str(req.specifier) for req in parsed}


def test_pyproject_and_environment_yml_agree() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [line for extra in project["optional-dependencies"].values() for line in extra]
    wanted = requirements(project["dependencies"] + extras)
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    conda = [line for line in environment if isinstance(line, str)]
    pip = next(entry["pip"] for entry in environment if isinstance(entry, dict))
    listed = requirements(conda + [line for line in pip if not line.startswith("-")])
    for name in NOT_PACKAGES:
        listed.pop(name, None)
    assert listed == wanted


def test_the_doctor_checks_the_minimums_pyproject_declares() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        name: specifier.removeprefix(">=")
        for name, specifier in requirements(project["dependencies"]).items()
    }
    assert doctor.minimums() == declared, "reinstall the course: pip install -e ."


def test_course_test_runs_parallel_workers_unless_asked_otherwise() -> None:
    import course

    workers = str(min(4, (os.cpu_count() or 1) + 2))
    assert course.in_parallel(["-k", "x"]) == ["-n", workers, "--dist", "loadgroup", "-k", "x"]
    for chosen in (["-n", "0"], ["-n4"], ["--dist", "load"], ["-p", "no:xdist"]):
        assert course.in_parallel(chosen) == chosen
