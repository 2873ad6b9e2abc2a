"""The sequence diagram of a connection the tap recorded, drawn from a real session."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect

from ws_lessons.apps import echo_app
from ws_lessons.i18n import set_language
from ws_lessons.sequence import SequenceDiagram, sequence_diagram
from ws_lessons.server import RunningServer, serve
from ws_lessons.tap import Tap

pytestmark = pytest.mark.timeout(60)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve(echo_app("/echo"), name="test sequence") as server:
        yield server


@pytest.fixture
def tap(server: RunningServer) -> Iterator[Tap]:
    with Tap(server) as tap:
        yield tap


def session(tap: Tap) -> None:
    with connect(tap.ws_url("/echo"), compression=None) as ws:
        ws.send("hello")
        ws.recv(timeout=5)
        ws.send(b"\x00\x01")
        ws.recv(timeout=5)
    tap.wait_idle(2.0)


def arrows(diagram: SequenceDiagram) -> list[ElementTree.Element]:
    root = ElementTree.fromstring(diagram.svg())  # well-formed XML, or this raises
    assert root.tag == f"{SVG}svg"
    return root.findall(f"{SVG}g[@class='arrow']")


def label(arrow: ElementTree.Element) -> str:
    return arrow.findall(f"{SVG}text")[1].text or ""


def test_each_record_is_an_arrow_in_order(tap: Tap) -> None:
    session(tap)
    diagram = tap.diagram()
    drawn = arrows(diagram)
    records = tap.records
    assert len(drawn) == len(records) == len(diagram.arrows)
    labels = [label(arrow) for arrow in drawn]
    assert labels[0] == "GET /echo" and labels[1] == "101 Switching Protocols"
    assert "TEXT 5 B 'hello'" in labels
    assert "BINARY 2 B 00 01" in labels
    assert [arrow.get("data-direction") for arrow in drawn] == [r.direction for r in records]
    heights = [float(arrow.find(f"{SVG}line").get("y1")) for arrow in drawn]
    assert heights == sorted(heights) and len(set(heights)) == len(heights)
    for arrow, record in zip(drawn, records, strict=True):  # client on the left, server right
        line = arrow.find(f"{SVG}line")
        going_right = float(line.get("x2")) > float(line.get("x1"))
        assert going_right == (record.direction == "→")


def test_a_longer_pause_leaves_a_larger_gap() -> None:
    from ws_lessons.tap import Record

    times = [0.0, 0.1, 0.2, 500.0]
    records = [Record(1, "→", time, "closed", b"") for time in times]
    heights = [arrow.y for arrow in SequenceDiagram(records).arrows]
    gaps = [later - earlier for earlier, later in itertools.pairwise(heights)]
    assert gaps[2] > 2 * gaps[1]
    assert "500.0" in SequenceDiagram(records).svg()  # each arrow shows its time


def test_one_connection_of_several(tap: Tap) -> None:
    session(tap)
    session(tap)
    assert "2 recorded" in tap.diagram().title
    second = tap.diagram(connection=2)
    assert all(arrow.label for arrow in second.arrows) and "#2" in second.title
    with pytest.raises(ValueError, match="no connection #9"):
        tap.diagram(connection=9)
    assert sequence_diagram(tap.records, 1).title.startswith("connection #1")


def test_labels_in_chinese(tap: Tap) -> None:
    session(tap)
    set_language("zh")
    try:
        page = tap.diagram().svg()
    finally:
        set_language(None)
    assert ">客户端<" in page and ">服务器<" in page
    root = ElementTree.fromstring(page)
    labels = [label(arrow) for arrow in root.findall(f"{SVG}g[@class='arrow']")]
    assert "TEXT 5 字节 'hello'" in labels and "关闭自己这一侧的 TCP" in labels


def test_a_tap_with_nothing_recorded_says_so(tap: Tap) -> None:
    assert "Nothing has crossed the tap yet" in tap._repr_html_()
    assert "<table" not in tap._repr_html_()
    assert "Nothing has crossed the tap yet" in str(tap)


MEASURE = """() => Array.from(document.querySelectorAll('g.arrow'), (arrow) => {
    const [time, label] = arrow.querySelectorAll('text');
    const line = arrow.querySelector('line').getBoundingClientRect();
    const box = label.getBoundingClientRect();
    return {y: line.top, left: line.left, right: line.right, width: box.width,
            labelLeft: box.left, labelRight: box.right, time: time.getBBox().width};
})"""


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.browser
def test_chromium_draws_it(tap: Tap, chromium_path: str, language: str) -> None:
    """In a real browser: every arrow drawn in order, its label legible between the lifelines."""
    from playwright.sync_api import sync_playwright

    from ws_lessons.browser import ARGS

    session(tap)
    set_language(language if language == "zh" else None)
    try:
        diagram = tap.diagram()
        svg = diagram.svg()
    finally:
        set_language(None)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 700})
            page.set_content(f"<!doctype html><meta charset='utf-8'><body>{svg}</body>")
            drawn = page.evaluate(MEASURE)
        finally:
            browser.close()
    assert len(drawn) == len(diagram.arrows) >= 8
    assert [arrow["y"] for arrow in drawn] == sorted(arrow["y"] for arrow in drawn)
    lifelines = min(arrow["left"] for arrow in drawn), max(arrow["right"] for arrow in drawn)
    for arrow in drawn:
        assert arrow["width"] > 20 and arrow["time"] > 5  # text was laid out, in some font
        assert lifelines[0] <= arrow["labelLeft"] <= arrow["labelRight"] <= lifelines[1]


def test_collapse_draws_a_run_of_like_frames_as_one_arrow() -> None:
    from ws_lessons.tap import Record

    sent = [("→", 0.0), ("→", 1.0), ("→", 2.5), ("←", 3.0), ("→", 4.0)]
    records = [Record(1, direction, time, "closed", b"") for direction, time in sent]
    every = SequenceDiagram(records).arrows
    runs = SequenceDiagram(records, collapse=True).arrows
    assert len(every) == 5
    assert [(arrow.direction, arrow.time) for arrow in runs] == [("→", 0.0), ("←", 3.0), ("→", 4.0)]
    assert runs[0].label == "closes its side of TCP, 3 times in 2.5 ms"
    assert runs[1].label == every[3].label  # a run of one keeps its label
    assert runs[1].y > runs[0].y  # the gap is measured from the run's last record
