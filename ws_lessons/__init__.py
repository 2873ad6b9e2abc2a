"""The package behind the course "Real-time WebSockets with FastAPI"."""

from ws_lessons.server import RunningServer, ServerError, serve, stop_all

__all__ = ["RunningServer", "ServerError", "serve", "stop_all"]
__version__ = "0.1.0"
