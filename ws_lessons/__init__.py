"""The package behind the course "Real-time WebSockets with FastAPI"."""

from ws_lessons import hints, proxies
from ws_lessons.jupyter import browser_url
from ws_lessons.server import RunningServer, ServerError, serve, serve_streams, stop_all

hints.install()  # in a notebook: a hint under the tracebacks learners meet most
if proxies.proxies_set() and proxies.bypass_for_loopback():
    print(
        "ws_lessons: a proxy is set in this environment; 127.0.0.1, localhost and ::1 "
        "now bypass it (added to no_proxy), so the lessons reach their own servers."
    )

__all__ = [
    "RunningServer",
    "ServerError",
    "browser_url",
    "serve",
    "serve_streams",
    "stop_all",
]
__version__ = "0.1.0"
