"""The address a browser uses to reach a server of this kernel, locally or on a remote Jupyter.

A server started in the kernel listens on ``127.0.0.1`` of the machine the kernel runs
on. When JupyterLab runs on your own machine, your browser reaches it there. On a remote
Jupyter (JupyterHub in a workshop, a lab server, a cloud machine over SSH) the browser
reaches only the Jupyter server: jupyter-server-proxy then forwards
``<base_url>proxy/<port>/`` to that port, HTTP and WebSockets alike. :func:`browser_url`
picks the address that works in both cases.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any, Protocol

__all__ = ["browser_url", "jupyter_server"]


class _Listening(Protocol):
    port: int

    @property
    def url(self) -> str: ...


def jupyter_server() -> dict[str, Any] | None:
    """The Jupyter server that started this kernel (its ``base_url``, ``port``...), if any."""
    # jupyter_server names the notebook of each kernel it starts in JPY_SESSION_NAME, and
    # jupyter_client gives a kernel the launching process's pid in JPY_PARENT_PID.
    if "JPY_SESSION_NAME" not in os.environ:
        return None  # a script, a test, nbclient in CI, or an editor's own kernel
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return None
    parent = os.environ.get("JPY_PARENT_PID")
    return next((info for info in list_running_servers() if str(info["pid"]) == parent), None)


def browser_url(server: _Listening, path: str = "/") -> str:
    """Where a browser opens ``path`` of ``server``: through the Jupyter server when the
    kernel runs under one that has jupyter-server-proxy, directly otherwise."""
    info = jupyter_server()
    if info is not None and importlib.util.find_spec("jupyter_server_proxy") is not None:
        # A path without a host: the browser keeps the page's own origin, the Jupyter one.
        return f"{info['base_url'].rstrip('/')}/proxy/{server.port}/{path.lstrip('/')}"
    return f"{server.url}/{path.lstrip('/')}"
