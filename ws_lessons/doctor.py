"""Check that this machine can run the course, and say how to fix what is missing.

From a shell: ``python -m ws_lessons doctor``. In a notebook: ``doctor.run()`` shows the
same report as a table.
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

import httpx
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from websockets.sync.client import connect

from ws_lessons import autobahn, browser, proxies, services
from ws_lessons.apps import echo_app
from ws_lessons.i18n import N_, _
from ws_lessons.proxies import LOOPBACK
from ws_lessons.server import serve
from ws_lessons.table import Table

__all__ = [
    "COURSE",
    "ICONS",
    "PLACES",
    "SETUP",
    "WHY",
    "Finding",
    "Report",
    "check_chromium",
    "check_kernel",
    "check_loopback",
    "check_package",
    "check_port",
    "check_proxies",
    "check_python",
    "check_service",
    "check_websocket_library",
    "check_where",
    "checks",
    "in_a_kernel",
    "launched_as",
    "minimums",
    "package_checks",
    "run",
    "where",
]

OK, OPTIONAL, PROBLEM = "ok", "optional", "problem"
ICONS = {OK: "✅", OPTIONAL: "⚪", PROBLEM: "❌"}
SETUP = "python3 course.py lab"

COURSE = "ws-lessons"
WHY = {
    "fastapi": N_("the web framework of the course"),
    "uvicorn": N_("the ASGI server"),
    "websockets": N_("the WebSocket client (and uvicorn's protocol)"),
    "pydantic": N_("message validation"),
    "httpx": N_("HTTP client and TestClient"),
    "jupyterlab": N_("the notebooks"),
    "ipykernel": N_("the notebook kernel"),
}


def minimums() -> dict[str, str]:
    """Each dependency's lowest version, as declared by the installed course (pyproject.toml)."""
    lowest: dict[str, str] = {}
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
        note = (
            _("Verdict: ready for the course.")
            if self.healthy
            else _("Verdict: fix the ❌ rows first.")
        )
        return Table(["", N_("check"), N_("found"), N_("fix")], rows, note=note, code=["fix"])

    def __str__(self) -> str:
        return str(self.table)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.table._repr_html_()


def check_python() -> Finding:
    # The package itself needs 3.11+, so if this runs, the version is fine.
    detail = _("{version} at {path}").format(version=platform.python_version(), path=sys.executable)
    return Finding("python", OK, detail)


def check_package(name: str, minimum: str, why: str) -> Finding:
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        return Finding(name, PROBLEM, _("missing ({why})").format(why=_(why)), SETUP)
    if Version(version) < Version(minimum):
        detail = _("{version}, need {minimum}+ ({why})").format(
            version=version, minimum=minimum, why=_(why)
        )
        return Finding(name, PROBLEM, detail, SETUP)
    return Finding(name, OK, version)


def check_websocket_library() -> Finding:
    """uvicorn's ``ws="auto"`` needs websockets or wsproto; without, handshakes fail."""
    from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

    if AutoWebSocketsProtocol is None:
        return Finding(
            "uvicorn ws",
            PROBLEM,
            _(
                "no WebSocket library: uvicorn would log 'Unsupported upgrade request.' and "
                "'No supported WebSocket library detected', and refuse every handshake"
            ),
            _("pip install 'uvicorn[standard]' (or websockets)"),
        )
    detail = _("handshakes served by {name}").format(name=AutoWebSocketsProtocol.__name__)
    return Finding("uvicorn ws", OK, detail)


def in_a_kernel() -> bool:
    """Whether this code runs inside a Jupyter kernel (a notebook), not a terminal."""
    kernelapp = sys.modules.get("ipykernel.kernelapp")
    return kernelapp is not None and kernelapp.IPKernelApp.initialized()


def launched_as(program: str) -> str:
    """The Python a kernel spec's ``program`` becomes when JupyterLab starts the kernel.

    jupyter_client starts a spec that names a bare ``python``, ``python3`` or ``python3.X``
    with the Python that runs JupyterLab itself (``sys.executable``), not the one first on
    PATH (``KernelManager.format_kernel_cmd``). Any other program is looked up on PATH.
    """
    bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info)}
    if program in bare:
        return sys.executable
    return shutil.which(program) or program


def check_kernel() -> Finding:
    """The ``python3`` kernel must be this Python, the one with the course installed.

    In a notebook the kernel is the running Python: its ``sys.executable`` is the answer.
    """
    if in_a_kernel():
        detail = _("this notebook's kernel runs {path}").format(path=sys.executable)
        return Finding("kernel", OK, detail)
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        return Finding("kernel", PROBLEM, _("no python3 kernel found"), SETUP)
    program = launched_as(spec.argv[0])
    # Compare paths as written: a virtual environment's python is a link to the base one.
    if os.path.abspath(program) == os.path.abspath(sys.executable):
        return Finding("kernel", OK, _("the python3 kernel runs {path}").format(path=program))
    return Finding(
        "kernel",
        PROBLEM,
        _("the python3 kernel runs {program}, not {path}").format(
            program=program, path=sys.executable
        ),
        _("start JupyterLab with `{setup}` (it puts the course's Python first)").format(
            setup=SETUP
        ),
    )


def check_loopback() -> Finding:
    """Serve a real app on 127.0.0.1 and do a WebSocket round trip with it."""
    app = echo_app("/echo")
    try:
        started = time.perf_counter()
        with serve(app, name="doctor") as server, connect(server.ws_url("/echo")) as ws:
            ws.send("ping")
            reply = ws.recv(timeout=5)
        elapsed = (time.perf_counter() - started) * 1000
    except Exception as exc:
        allow = _("allow {address}").format(address=LOOPBACK)
        return Finding("loopback", PROBLEM, f"{type(exc).__name__}: {exc}", allow)
    if reply != "ping":
        return Finding("loopback", PROBLEM, _("echo answered {reply!r}").format(reply=reply))
    detail = _("server + WebSocket round trip on {address} in {ms:.0f} ms").format(
        address=LOOPBACK, ms=elapsed
    )
    return Finding("loopback", OK, detail)


PLACES = {
    "lab": (
        N_("a local JupyterLab"),
        N_("everything: pages open at http://127.0.0.1:<port>/"),
    ),
    "remote": (
        N_("a remote Jupyter (JupyterHub, a lab server)"),
        N_("everything: pages open through the Jupyter server (jupyter-server-proxy)"),
    ),
    "vscode": (
        N_("VS Code"),
        N_("everything: VS Code forwards the port of a page you open"),
    ),
    "codespaces": (
        N_("GitHub Codespaces"),
        N_(
            "everything: pages open through forwarded ports (the Ports tab); a class "
            "server's port must be made Public for learners"
        ),
    ),
    "colab": (
        N_("Google Colab"),
        N_(
            "the kernel's servers and clients, but no browser page reaches them: the "
            "pages of lessons 08 and 09 and the chat page do not open"
        ),
    ),
    "terminal": (
        N_("a terminal or a script"),
        N_("everything in the kernel; open JupyterLab for the lessons"),
    ),
}
"""Where the course can run: its name, and what works there."""


def where(environ: dict[str, str] | None = None) -> str:
    """A key of :data:`PLACES`: where this Python runs, from what each place sets."""
    env = os.environ if environ is None else environ
    if "COLAB_RELEASE_TAG" in env:
        return "colab"
    if env.get("CODESPACES") == "true":
        return "codespaces"
    if "VSCODE_PID" in env or env.get("TERM_PROGRAM") == "vscode":
        return "vscode"
    if "JUPYTERHUB_API_URL" in env or "BINDER_SERVICE_HOST" in env:
        return "remote"
    if "JPY_SESSION_NAME" in env or "JPY_PARENT_PID" in env:
        return "lab"
    return "terminal"


def check_where() -> Finding:
    """Where the course runs, and what works there (Colab: no browser pages)."""
    place, works = PLACES[where()]
    status = OPTIONAL if where() == "colab" else OK
    detail = _("{place}; works: {works}").format(place=_(place), works=_(works))
    return Finding("where", status, detail)


def check_proxies() -> Finding:
    """Proxy variables are fine: loopback bypasses them (``ws_lessons.proxies``)."""
    found = proxies.proxies_set()
    if not found:
        return Finding("proxy", OK, _("no proxy variables set"))
    detail = _("{variables} set; loopback bypasses them (no_proxy={no_proxy})").format(
        variables=", ".join(found), no_proxy=os.environ.get("no_proxy")
    )
    return Finding("proxy", OK, detail)


def check_port(port: int = 8000) -> Finding:
    """The standalone chat listens on 8000 by default."""
    with socket.socket() as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            busy = _("in use (the standalone chat needs another --port)")
            return Finding(f"port {port}", OPTIONAL, busy)
    return Finding(f"port {port}", OK, _("free"))


def check_chromium() -> Finding:
    """The browser the browser tests and lessons 10 and 14 drive: ``$CHROMIUM``, else PATH."""
    found = browser.chromium()
    if found and shutil.which(found) is None:  # $CHROMIUM names no program: a typo?
        return Finding(
            "chromium",
            PROBLEM,
            _("CHROMIUM={path}, but no program is there").format(path=found),
            _("set CHROMIUM to the browser's full path, or unset it to use the one on PATH"),
        )
    if found:
        return Finding("chromium", OK, found)
    return Finding(
        "chromium",
        OPTIONAL,
        _("not found (needed only for the browser parts of lessons 10 and 14, and their tests)"),
        _("sudo apt-get install chromium (Debian/Ubuntu), install Chrome, or set CHROMIUM=path"),
    )


PYPI = "https://pypi.org/simple/"
MIRROR = "https://pypi.tuna.tsinghua.edu.cn/simple"
SLOW_INDEX = 3.0
"""Seconds: an index that takes longer than this to answer makes every install crawl."""
MIRROR_ADVICE = N_(
    "use a nearby mirror: PIP_INDEX_URL={mirror} python3 course.py lab (in mainland China; "
    "a university's or a cloud's mirror, e.g. https://mirrors.aliyun.com/pypi/simple/, works too)"
)


def package_index() -> str:
    """The index pip installs from: ``$PIP_INDEX_URL``, else pip's configuration, else PyPI."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"]
    try:
        listed = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return PYPI
    found = {}  # section -> value: pip's [install] section wins over its [global] one
    for line in listed.splitlines():
        key, _sep, value = line.partition("=")
        section, _dot, name = key.partition(".")
        if name == "index-url":
            found[section] = value.strip("'\"")
    return found.get("install") or found.get("global") or PYPI


def check_index(url: str | None = None, timeout: float = 5.0, slow: float = SLOW_INDEX) -> Finding:
    """How fast the package index serves a project's page (pip's, as ``pip install`` asks for
    one): slow or unreachable, the fix names a mirror."""
    url = url or package_index()
    if not url.startswith(("http://", "https://")):
        return Finding("package index", OK, url)  # a local folder (file://): nothing to wait for
    advice = _(MIRROR_ADVICE).format(mirror=MIRROR)
    started = time.perf_counter()
    try:
        # the headers of the page are enough: the time to the first answer is what pip waits
        with httpx.stream("GET", url.rstrip("/") + "/pip/", timeout=timeout) as answer:
            status = answer.status_code
    except httpx.TransportError as exc:  # refused, unresolved, timed out, TLS...
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        detail = _("{url} unreachable ({error})").format(url=url, error=error)
        return Finding("package index", OPTIONAL, detail, advice)
    seconds = time.perf_counter() - started
    if status >= 400:
        detail = _("{url} answered HTTP {status}: is it a package index?").format(
            url=url, status=status
        )
        return Finding("package index", OPTIONAL, detail, advice)
    if seconds > slow:
        detail = _("{url} answered in {seconds:.1f} s: slow").format(url=url, seconds=seconds)
        return Finding("package index", OPTIONAL, detail, advice)
    detail = _("{url} answered in {seconds:.1f} s").format(url=url, seconds=seconds)
    return Finding("package index", OK, detail)


def check_autobahn() -> Finding:
    """Autobahn|Testsuite, which lesson 06 runs against the learner's server."""
    command = autobahn.wstest()
    if command:
        return Finding("autobahn", OK, str(command))
    return Finding(
        "autobahn",
        OPTIONAL,
        _("not installed (needed only for the Autobahn|Testsuite runs of lessons 06 and 15)"),
        str(autobahn.HOW_TO_GET_IT),
    )


def check_service(name: str, lessons: str) -> Finding:
    try:
        return Finding(name, OK, services.program(name))
    except services.ServiceUnavailable:
        return Finding(
            name,
            OPTIONAL,
            _("not found (needed only for {lessons})").format(lessons=_(lessons)),
            services.INSTALL[name],
        )


def package_checks() -> list[Callable[[], Finding]]:
    """One check per dependency, against the minimum the course declares."""
    try:
        lowest = minimums()
    except metadata.PackageNotFoundError:
        missing = Finding(COURSE, PROBLEM, _("the course is not installed in this Python"), SETUP)
        return [lambda: missing]
    return [
        functools.partial(
            check_package, name, minimum, WHY.get(name, N_("a dependency of the course"))
        )
        for name, minimum in lowest.items()
    ]


def checks() -> list[Callable[[], Finding]]:
    return [
        check_python,
        *package_checks(),
        check_websocket_library,
        check_kernel,
        check_where,
        check_proxies,
        check_loopback,
        check_port,
        check_chromium,
        check_index,
        check_autobahn,
        lambda: check_service("redis-server", N_("lesson 13")),
        lambda: check_service("nginx", N_("the reverse-proxy part of lesson 13")),
    ]


def run() -> Report:
    """Run every check and return the report (it renders as a table in a notebook)."""
    return Report([check() for check in checks()])
