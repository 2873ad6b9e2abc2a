"""Check that this machine can run the course, and say how to fix what is missing.

From a shell: ``python -m ws_lessons doctor``. In a notebook: ``doctor.run()`` shows the
same report as a table.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

from fastapi import FastAPI, WebSocket
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from websockets.sync.client import connect

from ws_lessons import browser, proxies, services
from ws_lessons.server import serve
from ws_lessons.table import Table

OK, OPTIONAL, PROBLEM = "ok", "optional", "problem"
ICONS = {OK: "✅", OPTIONAL: "⚪", PROBLEM: "❌"}
SETUP = "python3 course.py lab"

COURSE = "ws-lessons"
WHY = {
    "fastapi": "the web framework of the course",
    "uvicorn": "the ASGI server",
    "websockets": "the WebSocket client (and uvicorn's protocol)",
    "pydantic": "message validation",
    "httpx": "HTTP client and TestClient",
    "jupyterlab": "the notebooks",
    "ipykernel": "the notebook kernel",
}


def minimums() -> dict[str, str]:
    """Each dependency's lowest version, as declared by the installed course (pyproject.toml)."""
    lowest = {}
    for line in metadata.requires(COURSE) or []:
        requirement = Requirement(line)
        floors = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if floors and requirement.marker is None:  # extras such as [test] carry a marker
            lowest[canonicalize_name(requirement.name)] = floors[0]
    return lowest


@dataclass(frozen=True)
class Finding:
    name: str
    status: str
    detail: str
    fix: str = ""


@dataclass(frozen=True, repr=False)
class Report:
    findings: list[Finding]

    @property
    def healthy(self) -> bool:
        return all(finding.status != PROBLEM for finding in self.findings)

    @property
    def table(self) -> Table:
        rows = [(ICONS[f.status], f.name, f.detail, f.fix) for f in self.findings]
        verdict = "ready for the course" if self.healthy else "fix the ❌ rows first"
        return Table(["", "check", "found", "fix"], rows, note=f"Verdict: {verdict}.", code=["fix"])

    def __str__(self) -> str:
        return str(self.table)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.table._repr_html_()


def check_python() -> Finding:
    # The package itself needs 3.11+, so if this runs, the version is fine.
    return Finding("python", OK, f"{platform.python_version()} at {sys.executable}")


def check_package(name: str, minimum: str, why: str) -> Finding:
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        return Finding(name, PROBLEM, f"missing ({why})", SETUP)
    if Version(version) < Version(minimum):
        return Finding(name, PROBLEM, f"{version}, need {minimum}+ ({why})", SETUP)
    return Finding(name, OK, version)


def check_websocket_library() -> Finding:
    """uvicorn's ``ws="auto"`` needs websockets or wsproto; without, handshakes fail."""
    from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

    if AutoWebSocketsProtocol is None:
        return Finding(
            "uvicorn ws",
            PROBLEM,
            "no WebSocket library: uvicorn would log 'Unsupported upgrade request.' and "
            "'No supported WebSocket library detected', and refuse every handshake",
            "pip install 'uvicorn[standard]' (or websockets)",
        )
    return Finding("uvicorn ws", OK, f"handshakes served by {AutoWebSocketsProtocol.__name__}")


def check_kernel() -> Finding:
    """The ``python3`` kernel JupyterLab starts must be this Python, with the course installed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        return Finding("kernel", PROBLEM, "no python3 kernel found", SETUP)
    program = shutil.which(spec.argv[0]) or spec.argv[0]
    # Compare paths as written: a virtual environment's python is a link to the base one.
    same = os.path.abspath(program) == os.path.abspath(sys.executable)
    where = "this notebook's kernel" if "ipykernel" in sys.modules else "the python3 kernel"
    if same:
        return Finding("kernel", OK, f"{where} runs {sys.executable}")
    return Finding(
        "kernel",
        PROBLEM,
        f"the python3 kernel runs {program}, not {sys.executable}",
        f"start JupyterLab with `{SETUP}` (it puts the course's Python first)",
    )


def check_loopback() -> Finding:
    """Serve a real app on 127.0.0.1 and do a WebSocket round trip with it."""
    app = FastAPI()

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())

    try:
        started = time.perf_counter()
        with serve(app, name="doctor") as server, connect(server.ws_url("/echo")) as ws:
            ws.send("ping")
            reply = ws.recv(timeout=5)
        elapsed = (time.perf_counter() - started) * 1000
    except Exception as exc:
        return Finding("loopback", PROBLEM, f"{type(exc).__name__}: {exc}", "allow 127.0.0.1")
    if reply != "ping":
        return Finding("loopback", PROBLEM, f"echo answered {reply!r}")
    return Finding(
        "loopback", OK, f"server + WebSocket round trip on 127.0.0.1 in {elapsed:.0f} ms"
    )


def check_proxies() -> Finding:
    """Proxy variables are fine: loopback bypasses them (``ws_lessons.proxies``)."""
    found = proxies.proxies_set()
    if not found:
        return Finding("proxy", OK, "no proxy variables set")
    detail = (
        f"{', '.join(found)} set; loopback bypasses them (no_proxy={os.environ.get('no_proxy')})"
    )
    return Finding("proxy", OK, detail)


def check_port(port: int = 8000) -> Finding:
    """The standalone chat listens on 8000 by default."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return Finding(
                f"port {port}", OPTIONAL, "in use (the standalone chat needs another --port)"
            )
    return Finding(f"port {port}", OK, "free")


def check_chromium() -> Finding:
    """The browser the browser tests and lessons 10 and 14 drive: ``$CHROMIUM``, else PATH."""
    found = browser.chromium()
    if found:
        return Finding("chromium", OK, found)
    return Finding(
        "chromium",
        OPTIONAL,
        "not found (needed only for the browser parts of lessons 10 and 14, and their tests)",
        "sudo apt-get install chromium (Debian/Ubuntu), install Chrome, or set CHROMIUM=path",
    )


def check_service(name: str, lessons: str) -> Finding:
    try:
        return Finding(name, OK, services.program(name))
    except services.ServiceUnavailable:
        return Finding(
            name, OPTIONAL, f"not found (needed only for {lessons})", services.INSTALL[name]
        )


def package_checks() -> list[Callable[[], Finding]]:
    """One check per dependency, against the minimum the course declares."""
    try:
        lowest = minimums()
    except metadata.PackageNotFoundError:
        missing = Finding(COURSE, PROBLEM, "the course is not installed in this Python", SETUP)
        return [lambda: missing]
    return [
        lambda name=name, minimum=minimum: check_package(
            name, minimum, WHY.get(name, "a dependency of the course")
        )
        for name, minimum in lowest.items()
    ]


def checks() -> list[Callable[[], Finding]]:
    return [
        check_python,
        *package_checks(),
        check_websocket_library,
        check_kernel,
        check_proxies,
        check_loopback,
        check_port,
        check_chromium,
        lambda: check_service("redis-server", "lesson 13"),
        lambda: check_service("nginx", "the reverse-proxy part of lesson 13"),
    ]


def run() -> Report:
    """Run every check and return the report (it renders as a table in a notebook)."""
    return Report([check() for check in checks()])
