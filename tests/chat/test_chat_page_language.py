"""The chat page's language: the course's, else the browser's first choice, else English."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib.resources import files

import httpx
import pytest

from ws_lessons import i18n
from ws_lessons.chat import create_app
from ws_lessons.chat.page import TEXT, preferred, render
from ws_lessons.server import RunningServer, serve

CHINESE = re.compile(r"[\u4e00-\u9fff]")


pytestmark = pytest.mark.usefixtures("automatic_language")


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve(create_app(), name="chat page") as server:
        yield server


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR, zh-TW;q=0.8, en;q=0.5", "zh"),  # French first: the best language it speaks
        ("en;q=0.5, zh;q=0.7", "zh"),  # weights, not order
        ("zh;q=0, en;q=0.1", "en"),  # q=0: "not this one" (RFC 9110 §12.4.2)
        ("zh;q=oops, en", "en"),  # a malformed weight drops its language, not the header
        ("fr, de", None),
        ("*", None),
        ("", None),
        (None, None),
    ],
)
def test_the_browser_s_first_choice_among_english_and_chinese(
    header: str | None, language: str | None
) -> None:
    assert preferred(header) == language


def get(server: RunningServer, accept_language: str) -> httpx.Response:
    return httpx.get(server.url, headers={"Accept-Language": accept_language})


def test_a_chinese_browser_gets_the_chinese_page(server: RunningServer) -> None:
    page = get(server, "zh-CN,zh;q=0.9")
    assert page.headers["content-language"] == "zh-CN"
    assert "accept-language" in page.headers["vary"].lower()  # caches keep one per language
    assert '<html lang="zh-CN">' in page.text
    assert "<h1>聊天室</h1>" in page.text and '<button id="send">发送</button>' in page.text


def test_an_english_browser_gets_the_english_page(server: RunningServer) -> None:
    page = get(server, "en-GB,en;q=0.9")
    assert page.headers["content-language"] == "en"
    assert '<html lang="en">' in page.text and "<h1>Chat</h1>" in page.text
    assert not CHINESE.search(page.text)


def test_the_chinese_edition_speaks_chinese_to_every_browser(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WS_LESSONS_LANG", "zh")
    for header in ("en-US", "fr", ""):
        assert '<html lang="zh-CN">' in get(server, header).text


def test_every_text_of_the_page_is_translated_and_used() -> None:
    """The template and its script use the keys of TEXT, every one, and nothing else."""
    template = (files("ws_lessons.chat") / "static" / "index.html").read_text(encoding="utf-8")
    used = set(re.findall(r"\{\{ text\.(\w+) \}\}", template))
    used |= set(re.findall(r"""\b(?:say|reconnect)\("(\w+)\"""", template))
    assert used == set(TEXT)
    for key, english in TEXT.items():
        chinese = i18n.translate(english, "zh")
        assert CHINESE.search(chinese), f"{key}: {english!r} has no Chinese translation"
        assert re.findall(r"\{\w+\}", chinese) == re.findall(r"\{\w+\}", english), key
    for language in ("en", "zh"):
        table = re.search(r"const TEXT = (.*);\n", render(language))[1]
        translated = {key: i18n.translate(text, language) for key, text in TEXT.items()}
        assert json.loads(table) == translated  # what the page's script says
    assert not CHINESE.search(render("en"))
