"""The reference chat: rooms, presence, history and resume over one WebSocket per client.

What it says on the wire is written out in ``docs/chat-contract.md``.
``create_app()`` builds the FastAPI app; ``run()`` serves it until Ctrl-C.
``SqliteBroker`` keeps history in a file; ``ChatClient`` stays connected and resumes.
"""

from .app import create_app, run
from .client import ChatClient, backoff
from .sqlite_broker import SqliteBroker

__all__ = ["ChatClient", "SqliteBroker", "backoff", "create_app", "run"]
