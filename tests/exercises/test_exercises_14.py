"""Lesson 14's checks: the reference answers pass, and each typical mistake gets its own hint."""

from __future__ import annotations

from typing import Any

import pytest
from exercisekit import rejected

from ws_lessons import checks, i18n
from ws_lessons.exercises.lesson14 import STORY_14_1, socket_url_14_2


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ({"A", "B", "C", "D", "E", "F"}, "think again about B"),
        ({"A", "D", "E", "F"}, "think again about C"),
        ({"A", "C", "D", "E"}, "think again about F"),
        ({"A", "C", "D", "E", "F", "G"}, "there is no line G"),
        ("ACDEF", "a set of letters"),
    ],
    ids=["all of them", "Linus left out", "reconnect left out", "unknown letter", "a string"],
)
def test_14_1_names_the_mistake(answer: Any, hint: str) -> None:
    assert hint in rejected(checks.check_14_1, answer)


def scheme_only(page: str, path: str) -> str:
    """Right scheme, but from the host's root."""
    scheme = "wss" if page.startswith("https:") else "ws"
    return f"{scheme}://{page.split('://', 1)[1].split('/', 1)[0]}/{path}"


def appended(page: str, path: str) -> str:
    """Right scheme, but the page's file name and query kept."""
    return "ws" + page.removeprefix("http") + path


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (socket_url_14_2, "mixed"),
        (scheme_only, "lost the page's path prefix"),
        (appended, "keeps the page's file name or query"),
        (lambda page, path: page + path, "is an HTTP address"),
        (lambda page: page, "takes two arguments"),
        ("ws://x/ws/lobby", "pass your function itself"),
    ],
    ids=["the lesson's version", "host root", "appended", "http", "one argument", "a value"],
)
def test_14_2_names_the_mistake(answer: Any, hint: str) -> None:
    assert hint in rejected(checks.check_14_2, answer)


@pytest.mark.usefixtures("chinese")
def test_14_2_speaks_chinese_in_the_chinese_edition() -> None:
    message = rejected(checks.check_14_2, scheme_only)
    assert "对于页面 https://example.com/chat/，套接字地址丢掉了页面的路径前缀" in message
    assert "请相对于页面解析路径，而不是相对于主机的根路径" in message


@pytest.mark.usefixtures("chinese")
def test_14_1_gives_its_reasons_in_chinese() -> None:
    message = rejected(checks.check_14_1, {"A", "B", "C", "D", "E", "F"})
    assert "这不会发生" in message
    assert "Grace 的套接字在工作进程 B 的 `rooms` 里；工作进程 A 根本不知道它的存在" in message


@pytest.mark.usefixtures("chinese")
def test_the_story_the_lesson_prints_is_chinese_in_the_chinese_edition() -> None:
    assert str(STORY_14_1["C"]) == "同样在工作进程 A 上的 Linus 收到了 Ada 的消息。"
    assert str(dict(STORY_14_1.items())["A"]) == "Ada 收到了自己发出的消息。"
    assert sorted(STORY_14_1) == ["A", "B", "C", "D", "E", "F"]


def test_the_story_is_english_in_the_english_edition() -> None:
    i18n.set_language("en")
    try:
        assert str(STORY_14_1["C"]) == "Linus, also on worker A, receives Ada's message."
    finally:
        i18n.set_language(None)
