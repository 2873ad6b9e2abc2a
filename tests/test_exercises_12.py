"""Lesson 12's check runs the learner's directives in a real nginx."""

from __future__ import annotations

import pytest

from ws_lessons import checks

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    "directives",
    [
        "proxy_http_version 1.1;",  # the headers forgotten: the chat sees a plain GET
        "proxy_http_version 1.1;\nproxy_set_header Upgrade $http_upgrade;",  # no Connection
        "proxy_http_version 1.1\nproxy_set_header Upgrade $http_upgrade;",  # not even valid
    ],
    ids=["no-headers", "no-connection-header", "syntax-error"],
)
def test_12_1_rejects(directives: str) -> None:
    assert not checks.check_12_1(directives)
