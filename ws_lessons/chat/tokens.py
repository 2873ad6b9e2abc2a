"""Signed demo tokens: who the bearer is and until when, under an HMAC of the server's secret.

A token is ``<payload>.<signature>``, both base64url: the payload is the JSON
``{"user": ..., "exp": ...}`` and the signature its HMAC-SHA256 under the secret.
There is no password: anyone may ask for a token in any free name. What the token
proves is that *this server* issued it, so a client cannot make one up or change
the name inside it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable

from .exceptions import InvalidToken

__all__ = ["TOKEN_TTL", "Clock", "InvalidToken", "issue", "verify"]

Clock = Callable[[], float]
"""Seconds since the epoch, like :func:`time.time`; tests pass their own instead of sleeping."""

TOKEN_TTL = 3600.0
"""How long a token stays valid, in seconds."""


def issue(user: str, secret: str, ttl: float = TOKEN_TTL, clock: Clock = time.time) -> str:
    """A token naming ``user`` that :func:`verify` accepts for ``ttl`` seconds."""
    claims = {"user": user, "exp": clock() + ttl}
    payload = _b64encode(json.dumps(claims).encode())
    return f"{payload}.{_sign(payload, secret)}"


def verify(token: str, secret: str, clock: Clock = time.time) -> str:
    """Return the user a token names, or raise :class:`InvalidToken`.

    The signature is checked first, in constant time (``hmac.compare_digest``), so
    nothing a client made up is ever decoded.
    """
    payload, _, signature = token.partition(".")
    try:
        genuine = hmac.compare_digest(signature.encode(), _sign(payload, secret).encode())
    except UnicodeEncodeError:
        genuine = False
    if not genuine:
        raise InvalidToken("bad signature")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if claims["exp"] < clock():
        raise InvalidToken("expired")
    return claims["user"]


def _sign(payload: str, secret: str) -> str:
    return _b64encode(hmac.digest(secret.encode(), payload.encode(), hashlib.sha256))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
