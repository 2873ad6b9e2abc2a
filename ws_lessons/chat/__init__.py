"""The reference chat: rooms, presence, history and resume over one WebSocket per client.

``create_app()`` builds the FastAPI app; ``run()`` serves it until Ctrl-C.
"""

from .app import create_app, run

__all__ = ["create_app", "run"]
