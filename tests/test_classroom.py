"""The live classroom: real kernels' reporters, a real class server on loopback, its file.

The learner's side here is the real reporter (``ws_lessons.classroom.reporter``) and the
real checks; the dashboard is the real ``websockets`` client on ``/watch``. The page in
Chromium and three real kernels are in ``test_classroom_browser.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from ws_lessons.bench import bench_classroom
from ws_lessons.checks import check_00_1
from ws_lessons.classroom import reporter as classroom
from ws_lessons.classroom.app import create_app
from ws_lessons.classroom.models import (
    WELCOME_ANNOUNCEMENTS,
    Verdict,
    parse_instructor,
    parse_learner,
)
from ws_lessons.classroom.reporter import Reporter
from ws_lessons.server import RunningServer, serve

HANG_GUARD = 60.0  # seconds: waits end on events; this only stops a broken test
RIGHT = {"B", "D", "E"}  # the answer to 00.1


def json_values() -> st.SearchStrategy[Any]:
    """JSON documents, most of them objects with a "type" the server knows."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    values = st.recursive(
        scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)
    )
    kinds = st.sampled_from(["hello", "verdict", "announce", "ping", "x"])
    shaped = st.fixed_dictionaries(
        {"type": kinds},
        optional={"id": values, "code": values, "name": values, "text": values, "at": values},
    )
    return values | shaped


def wait_until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "class.sqlite3"


@pytest.fixture
def app(db: Path) -> FastAPI:
    return create_app(db)


@pytest.fixture
def server(app: FastAPI) -> Iterator[RunningServer]:
    with serve(app, ws_max_size=4096, name="classroom test") as running:
        yield running
    assert not [line for line in running.logs if "Traceback" in line]


@pytest.fixture(autouse=True)
def no_class() -> Iterator[None]:
    """Every test starts and ends outside a class, with no help seen, whatever ran before."""
    classroom._help_seen.clear()  # other tests of the session may have opened help
    yield
    if classroom._class is not None:
        classroom._class.stop(flush=0)
        classroom._class = None
    classroom._help_seen.clear()


def class_url(server: RunningServer) -> str:
    return server.ws_url("").rstrip("/")


def watch(server: RunningServer, token: str, since: int = 0) -> ClientConnection:
    return connect(server.ws_url(f"/watch?token={token}&since={since}"), max_size=None)


def events(ws: ClientConnection, count: int, kind: str = "verdict") -> list[dict[str, Any]]:
    """The next ``count`` events of ``kind`` on a dashboard connection."""
    found = []
    while len(found) < count:
        event = json.loads(ws.recv(timeout=HANG_GUARD))
        if event["type"] == kind:
            found.append(event)
    return found


def join(server: RunningServer, app: FastAPI, name: str = "Ada") -> None:
    classroom.join_class(class_url(server), code=app.state.store.code, name=name)


def test_checks_reach_the_dashboard_once_and_the_export(
    server: RunningServer, app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    with watch(server, app.state.store.token) as dashboard:
        start = json.loads(dashboard.recv(timeout=HANG_GUARD))
        assert start["type"] == "start" and "09.2" in start["exercises"]
        join(server, app)
        joined = capsys.readouterr().out
        assert "In the class at" in joined
        assert '"type":"verdict"' in joined and "Never your code" in joined
        check_00_1("not a set")
        check_00_1(RIGHT)
        got = events(dashboard, 2)
    assert [(e["name"], e["exercise"], e["outcome"]) for e in got] == [
        ("Ada", "00.1", "failed"),
        ("Ada", "00.1", "passed"),
    ]
    wait_until(lambda: not classroom._class.reporter.pending, "the acks")
    assert classroom._class.reporter.acked == 2
    token = app.state.store.token
    csv = httpx.get(f"{server.url}/export.csv", params={"token": token}).text.splitlines()
    assert csv[0].startswith("name,00.1,00.2,01.1")
    assert csv[1].startswith('Ada,"passed, 1 failed"')
    classroom.leave_class()
    assert "Left the class" in capsys.readouterr().out


def test_help_opened_is_sent_never_the_code(server: RunningServer, app: FastAPI) -> None:
    from ws_lessons import solutions

    seen: list[str] = []
    original = Reporter.submit

    def spy(self: Reporter, verdict: Verdict) -> None:
        seen.append(verdict.model_dump_json())
        original(self, verdict)

    join(server, app)
    with watch(server, app.state.store.token) as dashboard, pytest.MonkeyPatch.context() as mp:
        mp.setattr(Reporter, "submit", spy)
        solutions.reveal("00.1")
        check_00_1(RIGHT)
        (event,) = events(dashboard, 1)
    assert event["help"] == "hints"
    sent = json.loads(seen[0])
    assert set(sent) == {"type", "id", "exercise", "outcome", "help", "at"}
    assert "B" not in json.dumps({k: v for k, v in sent.items() if k != "id"})


def test_outside_a_class_nothing_is_sent_or_printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(classroom.ENVIRONMENT, raising=False)
    check_00_1(RIGHT)
    out = capsys.readouterr().out  # the check's own verdict only
    assert out.startswith("Exercise 00.1 ✅") and "🎓" not in out and "class" not in out
    assert classroom._class is None
    assert not [t for t in threading.enumerate() if t.name == "classroom reporter"]


def test_the_environment_joins_on_the_first_check(
    server: RunningServer,
    app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = app.state.store.code
    monkeypatch.setenv(classroom.ENVIRONMENT, f"{class_url(server)}/?code={code}&name=Grace")
    monkeypatch.setattr(classroom, "_auto_tried", False)
    with watch(server, app.state.store.token) as dashboard:
        check_00_1(RIGHT)
        (event,) = events(dashboard, 1)
    assert event["name"] == "Grace"
    assert "In the class at" in capsys.readouterr().out


def test_a_wrong_class_code_gets_one_clear_line(
    server: RunningServer, app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    classroom.join_class(class_url(server), code="WRONG1", name="Ada")
    out = capsys.readouterr().out
    assert out.strip().splitlines() == [
        f"🎓 The class server at {class_url(server)} refused: wrong class code. Nothing is sent."
    ]
    check_00_1(RIGHT)
    assert classroom._class is None
    assert app.state.store.verdict_count() == 0


def test_a_wrong_token_is_refused(server: RunningServer, app: FastAPI) -> None:
    with watch(server, "not-the-token") as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=HANG_GUARD)
    assert closed.value.rcvd.code == 1008
    assert closed.value.rcvd.reason == "wrong instructor token"
    answer = httpx.get(f"{server.url}/export.csv", params={"token": "nope"})
    assert answer.status_code == 403 and "wrong instructor token" in answer.text
    assert httpx.get(f"{server.url}/export.csv").status_code == 403


def test_an_unreachable_server_gets_one_line_and_keeps_the_verdicts(
    app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(app, ws_max_size=4096) as first:
        port, url = first.port, class_url(first)
    classroom.join_class(url, code=app.state.store.code, name="Ada")  # nobody listens now
    lines = capsys.readouterr().out.strip().splitlines()
    assert "unreachable" in lines[0] and "connection refused" in lines[0]
    assert "Traceback" not in "".join(lines)
    check_00_1(RIGHT)
    check_00_1({"A"})
    assert len(classroom._class.reporter.pending) == 2
    with serve(create_app(app.state.store.path), port=port), watch_later(app, port) as dashboard:
        got = events(dashboard, 2)
    assert [e["outcome"] for e in got] == ["passed", "failed"]


@contextlib.contextmanager
def watch_later(app: FastAPI, port: int) -> Iterator[ClientConnection]:
    with connect(f"ws://127.0.0.1:{port}/watch?token={app.state.store.token}") as ws:
        yield ws


def test_a_server_that_is_not_a_class_server(capsys: pytest.CaptureFixture[str]) -> None:
    other = FastAPI()
    with serve(other) as server:
        classroom.join_class(class_url(server), code="ABCDEF", name="Ada")
    out = capsys.readouterr().out.strip()
    assert out.endswith("refused: not a class server (HTTP 403). Nothing is sent.")
    assert classroom._class is None


def test_bad_join_arguments_get_a_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    classroom.join_class("http://127.0.0.1:8765", code="X", name="Ada")
    classroom.join_class("ws://127.0.0.1:8765", code="X", name="")
    classroom.join_class("ws://127.0.0.1:8765", code="X", name="a\nb")
    classroom.join_class("ws://127.0.0.1:8765", code="X", name="x" * 41)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("join_class: the address starts with ws://")
    assert lines[1:] == ["join_class: a name is 1 to 40 characters, on one line"] * 3
    assert classroom._class is None


HOSTILE = "<img src=x onerror=alert(1)>"


def test_hostile_names_are_kept_as_text(server: RunningServer, app: FastAPI) -> None:
    for name in (HOSTILE, "=HYPERLINK(1)"):
        reporter = Reporter(class_url(server), app.state.store.code, name)
        reporter.submit(Verdict(id=uuid.uuid4().hex, exercise="00.1", outcome="passed", at=1.0))
        asyncio.run(run_until_sent(reporter))
    token = app.state.store.token
    csv = httpx.get(f"{server.url}/export.csv", params={"token": token}).text
    assert f"\n{HOSTILE},passed" in csv
    assert "\n'=HYPERLINK(1),passed" in csv  # a spreadsheet shows it, never runs it


def test_names_in_any_script_join_and_a_reversed_one_does_not(
    server: RunningServer, app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    with watch(server, app.state.store.token) as dashboard:
        for name in (
            "\u0639\u0644\u06cc\u200c\u0631\u0636\u0627",
            "\U0001f469\u200d\U0001f4bb Ada",
        ):  # ZWNJ, ZWJ
            join(server, app, name)
            assert "🎓 In the class" in capsys.readouterr().out
            assert events(dashboard, 1, "joined")[0]["name"] == name
    join(server, app, "\u202eadA")  # shown as "Ada", right to left
    assert capsys.readouterr().out == "join_class: a name is 1 to 40 characters, on one line\n"


async def run_until_sent(reporter: Reporter) -> None:
    task = asyncio.create_task(reporter.run())
    async with asyncio.timeout(HANG_GUARD):
        while reporter.pending or reporter.state != "connected":
            await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def hello(app: FastAPI, name: str = "Mallory") -> str:
    return json.dumps({"type": "hello", "code": app.state.store.code, "name": name})


def test_garbage_gets_its_answer_and_the_server_goes_on(
    server: RunningServer, app: FastAPI
) -> None:
    learn = server.ws_url("/learn")
    with connect(learn) as ws:
        ws.send(hello(app))
        assert json.loads(ws.recv(timeout=HANG_GUARD))["type"] == "welcome"
        for frame, error in (
            ("{not json", "invalid_json"),
            (b"\x00\x01", "invalid_message"),
            ('{"type": "verdict", "id": "x"}', "invalid_message"),
            ('{"type": "verdict", "id": "' + "a" * 32 + '", "exercise": "00.1", '
             '"outcome": "passed", "at": 1, "code": "import os"}', "invalid_message"),
        ):  # fmt: skip
            ws.send(frame)
            answer = json.loads(ws.recv(timeout=HANG_GUARD))
            assert answer["type"] == "error" and answer["error"] == error, answer
            assert "import os" not in answer["detail"]  # what was sent is never echoed
        good = Verdict(id=uuid.uuid4().hex, exercise="00.1", outcome="passed", at=1.0)
        ws.send(good.model_dump_json())
        assert json.loads(ws.recv(timeout=HANG_GUARD)) == {"type": "ack", "id": good.id}
    with connect(learn) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.send('{"type": "verdict"}')  # no hello first
        ws.recv(timeout=HANG_GUARD)
    assert closed.value.rcvd.code == 1008
    odd = "名<" * 60
    made_up = (
        '{"type": "hello", "code": "", "name": "x", "' + odd + '": 1}',
        f'{{"type": "{odd}"}}',
    )
    for frame in made_up:  # a key or a type made up: never echoed, whatever its length
        with connect(learn) as ws, pytest.raises(ConnectionClosed) as closed:
            ws.send(frame)
            ws.recv(timeout=HANG_GUARD)
        assert closed.value.rcvd.code == 1008 and "名" not in closed.value.rcvd.reason
    with connect(learn, max_size=None) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.send(hello(app, "x" * 5000))  # over the 4 KiB the server takes
        ws.recv(timeout=HANG_GUARD)
    assert closed.value.rcvd.code == 1009
    assert app.state.store.verdict_count() == 1


def test_a_full_class_refuses_new_names_not_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(tmp_path / "small.sqlite3", learners=2)
    with serve(app, ws_max_size=4096) as server:
        for name in ("Ada", "Grace", "Ada"):  # Ada again: her kernel restarted
            with connect(server.ws_url("/learn")) as ws:
                ws.send(hello(app, name))
                assert json.loads(ws.recv(timeout=HANG_GUARD))["type"] == "welcome"
        join(server, app, "Mallory")
        assert "refused: the class is full. Nothing is sent." in capsys.readouterr().out
    assert not [line for line in server.logs if "Traceback" in line]
    assert app.state.store.export_csv([]).split() == ["name", "Ada", "Grace"]


def test_a_verdict_sent_twice_is_stored_once(server: RunningServer, app: FastAPI) -> None:
    verdict = Verdict(id=uuid.uuid4().hex, exercise="00.2", outcome="failed", at=1.0)
    with connect(server.ws_url("/learn")) as ws:
        ws.send(hello(app))
        ws.recv(timeout=HANG_GUARD)
        for _ in range(2):  # as after a lost ack
            ws.send(verdict.model_dump_json())
            assert json.loads(ws.recv(timeout=HANG_GUARD))["type"] == "ack"
    assert app.state.store.verdict_count() == 1


def test_a_clock_that_runs_ahead_is_not_believed(server: RunningServer, app: FastAPI) -> None:
    ahead = time.time() + 3600
    verdict = Verdict(id=uuid.uuid4().hex, exercise="00.1", outcome="passed", at=ahead)
    with watch(server, app.state.store.token) as dashboard, connect(server.ws_url("/learn")) as ws:
        ws.send(hello(app))
        ws.recv(timeout=HANG_GUARD)
        ws.send(verdict.model_dump_json())
        (shown,) = events(dashboard, 1)
    assert shown["at"] <= time.time() < ahead


def test_a_flood_is_rate_limited_and_still_arrives_once(db: Path, tmp_path: Path) -> None:
    app = create_app(tmp_path / "limited.sqlite3", rate=20, burst=5)
    with serve(app, ws_max_size=4096) as server:
        reporter = Reporter(class_url(server), app.state.store.code, "Flood")
        for _ in range(30):
            reporter.submit(Verdict(id=uuid.uuid4().hex, exercise="00.1", outcome="failed", at=1.0))
        asyncio.run(run_until_sent(reporter))
    assert app.state.store.verdict_count() == 30 and reporter.acked == 30


def test_verdicts_kept_while_unreachable_are_bounded(server: RunningServer) -> None:
    reporter = Reporter("ws://127.0.0.1:9", "X", "Ada", kept=3)
    for _ in range(5):
        reporter.submit(Verdict(id=uuid.uuid4().hex, exercise="00.1", outcome="failed", at=1.0))
    assert len(reporter.pending) == 3 and reporter.dropped == 2


def test_an_announcement_shows_under_the_next_check(
    server: RunningServer, app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    join(server, app)
    with watch(server, app.state.store.token) as dashboard:
        dashboard.send(json.dumps({"type": "announce", "text": "10 minutes break"}))
        events(dashboard, 1, "announcement")
        dashboard.send(json.dumps({"type": "announce", "text": "<b>x</b>\u0007"}))
        error = events(dashboard, 1, "error")[0]
        assert error["error"] == "invalid_message"
    wait_until(lambda: classroom._class.reporter.unseen, "the announcement")
    capsys.readouterr()
    check_00_1(RIGHT)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].endswith("from your instructor: 10 minutes break")
    check_00_1(RIGHT)  # shown once
    assert "10 minutes break" not in capsys.readouterr().out
    assert classroom.announcements()[0].endswith("10 minutes break")


def test_a_long_class_of_announcements_still_lets_a_learner_join(
    server: RunningServer, app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    """Announcements of 280 Chinese characters (840 bytes each): the welcome carries only the
    latest ones, so a kernel joining late still fits it in its frame limit."""
    for number in range(WELCOME_ANNOUNCEMENTS + 10):
        app.state.store.announce(f"{number:02d}" + "休" * 278)
    join(server, app, "Late")
    assert "🎓 In the class" in capsys.readouterr().out
    shown = classroom.announcements()
    assert len(shown) == WELCOME_ANNOUNCEMENTS and "19休" in shown[-1]


def test_restart_on_the_same_file_mid_class(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Stopped and started again on the same --db: the grid is whole, verdicts made
    meanwhile arrive once, and a dashboard that resumes sees nothing twice."""
    first = create_app(db)
    code, token = first.state.store.code, first.state.store.token
    with serve(first, ws_max_size=4096) as server:
        port, url = server.port, class_url(server)
        classroom.join_class(url, code=code, name="Ada")
        with watch(server, token) as dashboard:
            check_00_1(RIGHT)
            (before,) = events(dashboard, 1)
        wait_until(lambda: not classroom._class.reporter.pending, "the ack")
    wait_until(lambda: classroom._class.reporter.state == "unreachable", "the drop")
    check_00_1({"A"})  # made while the server is down
    check_00_1({"B"})
    assert "unreachable" in capsys.readouterr().out
    again = create_app(db)
    assert (again.state.store.code, again.state.store.token) == (code, token)
    with serve(again, port=port, ws_max_size=4096) as server:
        with watch(server, token, since=before["seq"]) as dashboard:
            after = events(dashboard, 2)
        wait_until(lambda: not classroom._class.reporter.pending, "the acks")
    assert [e["seq"] for e in after] == [before["seq"] + 1, before["seq"] + 2]
    assert again.state.store.verdict_count() == 3


def test_join_messages_come_from_the_catalogue(
    server: RunningServer, app: FastAPI, capsys: pytest.CaptureFixture[str], chinese: None
) -> None:
    join(server, app)
    classroom.join_class(class_url(server), code="WRONG1", name="Ada")
    out = capsys.readouterr().out
    assert "🎓 已加入课堂" in out and "绝不发送你的代码或答案" in out
    assert "拒绝了连接：课堂代码不对" in out
    assert "In the class" not in out and "wrong class code" not in out


def test_the_command_prints_code_join_line_and_dashboard(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "ws_lessons", "classroom", "--port", "0"]
    command += ["--db", str(tmp_path / "c.sqlite3")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(3)]
    finally:
        process.terminate()
        process.wait(timeout=HANG_GUARD)
    assert lines[0].startswith("class code: ") and len(lines[0].split(": ")[1]) == 6
    join = lines[1].removeprefix("learners run: ")
    assert join.startswith('classroom.join_class("ws://127.0.0.1:')
    # What learners paste is the line lesson 00's join cell has, in the same words.
    lesson = (Path(__file__).parent.parent / "notebooks" / "00_start_here.ipynb").read_text()
    assert '# classroom.join_class(\\"ws://HOST:PORT\\", code=' in lesson
    assert lines[2].startswith("dashboard: http://127.0.0.1:") and "/?token=" in lines[2]


@pytest.mark.slow
def test_the_command_says_in_one_line_what_it_cannot_do(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "ws_lessons", "classroom", "--port", "0"]
    ran = subprocess.run(
        [*command, "--db", str(tmp_path / "no" / "such" / "c.sqlite3")],
        capture_output=True, text=True, timeout=HANG_GUARD,
    )  # fmt: skip
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert ran.stderr.startswith("classroom: cannot keep the class in ")
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = str(busy.getsockname()[1])
        ran = subprocess.run(
            [*command[:-1], port, "--db", str(tmp_path / "c.sqlite3")],
            capture_output=True, text=True, timeout=HANG_GUARD,
        )  # fmt: skip
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert f"classroom: choose another --port than {port} (0: any free one)" in ran.stderr


@pytest.mark.slow
def test_bench_prints_its_figures_and_loses_nothing() -> None:
    lines = bench_classroom(20, seconds=3)
    text = "\n".join(lines)
    assert "0 lost, 0 shown twice" in text
    assert "check to dashboard: p50" in text and "server memory:" in text
    assert "target: check to dashboard p99 <= 250 ms" in text


def test_the_page_keeps_its_token_to_itself(server: RunningServer) -> None:
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200 and "<title>Classroom</title>" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "img-src" not in page.headers["content-security-policy"]  # default-src 'none'
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_chat_contract_check_reports_too(server: RunningServer, app: FastAPI) -> None:
    from ws_lessons.checks import check_chat

    join(server, app)
    with watch(server, app.state.store.token) as dashboard:
        check_chat("not an app")
        (event,) = events(dashboard, 1)
    assert (event["exercise"], event["outcome"]) == ("chat", "failed")


def test_a_server_that_never_answers_neither_slows_a_check_nor_hangs_the_kernel(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A port that takes connections and never says a word: the check returns, its verdict
    waits in the reporter, and leaving ends the reporter's thread."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts
        url = f"ws://127.0.0.1:{silent.getsockname()[1]}"
        classroom.join_class(url, code="ABCDEF", name="Ada", wait=0.2)
        assert capsys.readouterr().out.startswith(f"🎓 Connecting to the class at {url}...")
        verdict = check_00_1(RIGHT)
        assert verdict.passed and len(classroom._class.reporter.pending) == 1
        running = classroom._class
        classroom.leave_class()
        assert not running.thread.is_alive()
    assert "Verdicts not sent: 1." in capsys.readouterr().out


@given(st.one_of(st.binary(max_size=200), st.text(max_size=200), json_values().map(json.dumps)))
@settings(max_examples=100, deadline=None)
def test_parsing_never_raises(frame: str | bytes) -> None:
    for parse in (parse_learner, parse_instructor):
        assert parse(frame) is not None
