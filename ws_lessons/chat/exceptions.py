"""The chat's exceptions: one root, :class:`ChatError`, for everything the chat raises itself.

The hierarchy (as ``websockets.exceptions`` documents its own)::

    ChatError
    ├── BrokerUnavailable    the broker's backend (Redis) cannot be reached right now
    ├── InvalidToken         a token is malformed, forged or expired (also a ValueError)
    └── SettingsError        settings that cannot work together (also a ValueError)

Whatever a broker keeps its rooms in, it says "not now" with :class:`BrokerUnavailable`:
the app closes the connections it concerns with 1013 Try Again Later and never needs to
know what is behind the broker.
"""

from __future__ import annotations

__all__ = ["BrokerUnavailable", "ChatError", "InvalidToken", "SettingsError"]


class ChatError(Exception):
    """The root of the chat's own exceptions."""


class BrokerUnavailable(ChatError):
    """The broker cannot serve right now; ``str(error)`` is the reason to give clients."""


class InvalidToken(ChatError, ValueError):
    """The token is malformed, was not signed with this secret, or has expired."""


class SettingsError(ChatError, ValueError):
    """Settings that contradict each other, e.g. several workers without Redis."""
