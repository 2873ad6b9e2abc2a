"""The package behind the course "Real-time WebSockets with FastAPI"."""

from ws_lessons import hints
from ws_lessons.server import RunningServer, ServerError, serve, serve_streams, stop_all

hints.install()  # in a notebook: a hint under the tracebacks learners meet most

__all__ = ["RunningServer", "ServerError", "serve", "serve_streams", "stop_all"]
__version__ = "0.1.0"
