"""The package behind the course "Real-time WebSockets with FastAPI".

The top level imports lazily (PEP 562): ``import ws_lessons.frames`` loads the standard
library only, as a sans-I/O module should, and the server machinery (uvicorn, Starlette)
is imported on first use of ``serve``, ``stop_all``... which also installs the notebook
hints under tracebacks.
"""

from __future__ import annotations

import importlib
from typing import Any

from ws_lessons import proxies

__all__ = ["RunningServer", "ServerError", "browser_url", "serve", "serve_streams", "stop_all"]
__version__ = "0.1.0"

_HOMES = {"browser_url": "ws_lessons.jupyter"}

if proxies.proxies_set() and proxies.bypass_for_loopback():
    print(proxies.bypass_notice())


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'ws_lessons' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES.get(name, "ws_lessons.server")), name)
    if name != "browser_url":
        from ws_lessons import hints

        hints.install()  # in a notebook: a hint under the tracebacks learners meet most
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
