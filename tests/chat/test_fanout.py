"""The fan-out measurement, run small: it counts what it should (timings are not checked)."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from chatkit import receive
from websockets.asyncio.client import connect

from ws_lessons import bench
from ws_lessons.chat import create_app, tokens
from ws_lessons.chat.models import Said
from ws_lessons.fanout import BroadcastReport, measure_broadcast, naive_app
from ws_lessons.server import serve

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def report() -> BroadcastReport:
    # 20 clients, 20 messages, and an outbox of 8 so that the hub drops the stalled client.
    return measure_broadcast(clients=20, messages=20, queue_size=8)


def test_every_reading_client_gets_every_message_without_a_stall(report: BroadcastReport) -> None:
    for system in ("hub", "naive", "websockets", "websockets+deflate"):
        runs = report.rounds(system)
        assert [run.round for run in runs] == [1, 2, 3]
        for run in runs:
            assert (run.readers, run.messages) == (20, 20)
            assert run.delivered == run.expected == 400
            assert not run.timed_out
            assert run.dropped is None
            assert 90 <= run.message_bytes <= 120  # every system sends messages of one size
            assert run.cpu_seconds >= 0


def test_ratios_pair_the_runs_of_each_round(report: BroadcastReport) -> None:
    hub, naive = report.rounds("hub"), report.rounds("naive")
    ratios = sorted(mine.rate / theirs.rate for mine, theirs in zip(hub, naive, strict=True))
    assert report.ratio("hub", "naive") == pytest.approx(ratios[1])
    assert report.ratio("hub", "hub") == pytest.approx(1)


def test_the_hub_drops_the_stalled_client_and_serves_everyone_else(report: BroadcastReport) -> None:
    run = report.run("hub", stalled=True)
    assert run.readers == 19  # the stalled client does not count
    assert run.delivered == run.expected == 19 * 20
    assert not run.timed_out
    assert run.dropped is True


def test_the_naive_manager_stalls(report: BroadcastReport) -> None:
    run = report.run("naive", stalled=True)
    assert run.readers == 19
    assert run.delivered < run.expected
    assert run.timed_out
    assert run.dropped is False  # it still holds the stalled client


def test_memory_is_measured_on_both_sides(report: BroadcastReport) -> None:
    assert [memory.system for memory in report.memory] == ["hub", "naive"]
    for memory in report.memory:
        assert memory.connections == 19
        assert memory.server_bytes > 0
        assert memory.client_bytes > 0
        assert 0 <= memory.server_deflate_bytes <= memory.server_bytes
        assert 0 <= memory.client_deflate_bytes <= memory.client_bytes


def test_the_broadcast_suite_prints_its_figures_and_targets() -> None:
    lines = bench.SUITES["broadcast"](10)
    text = "\n".join(lines)
    assert "10 clients" in lines[0]
    for expected in ("hub", "naive", "ratio", "target", "memory per idle connection"):
        assert expected in text


@pytest.mark.anyio
async def test_the_naive_manager_broadcasts_to_everyone() -> None:
    with serve(naive_app(), name="naive manager test") as server:
        async with (
            connect(server.ws_url("/ws/1")) as one,
            connect(server.ws_url("/ws/2")) as two,
        ):
            await one.send("hello")
            async with asyncio.timeout(5):
                assert await one.recv() == "Client #1 says: hello"
                assert await two.recv() == "Client #1 says: hello"


@pytest.mark.slow
def test_the_broadcast_suite_reports_the_safety_target_and_the_stretch_goal() -> None:
    text = "\n".join(bench.SUITES["broadcast"](10))
    assert "safety costs no speed: without a stall the hub delivers as fast as the naive" in text
    assert "(median of 3 paired runs), hub / naive >= 0.95x" in text
    assert "target: stretch goal, hub deliveries to 10 clients >= 100,000/s" in text
    for reference in ("hub / websockets ", "hub / websockets+deflate"):
        assert reference in text


@pytest.mark.anyio
async def test_the_hub_turns_a_broadcast_into_json_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Five members, one message said: one model_dump_json for the `said`, not five."""
    dumps: list[str] = []
    original = Said.model_dump_json

    def counted(self: Said, **kwargs: object) -> str:
        dumps.append(self.text)
        return original(self, **kwargs)

    monkeypatch.setattr(Said, "model_dump_json", counted)
    app = create_app(secret="once")
    with serve(app, name="serialise once", before_stop=app.state.hub.close_all) as server:
        url = server.ws_url(f"/ws/once?token={tokens.issue('ada', 'once')}")
        async with contextlib.AsyncExitStack() as stack:
            members = [await stack.enter_async_context(connect(url)) for _ in range(5)]
            for ws in members:
                await receive(ws, "welcome")
            await members[0].send(json.dumps({"type": "say", "text": "for everyone"}))
            for ws in members:
                assert (await receive(ws, "said"))["text"] == "for everyone"
    assert dumps == ["for everyone"]


@pytest.mark.slow
def test_the_connections_suite_prints_its_table_for_a_small_count() -> None:
    lines = bench.SUITES["connections"](100)
    text = "\n".join(lines)
    assert "idle connections to the reference chat" in lines[0]
    assert "open files:" in lines[0]
    rows = [line.split() for line in lines if line.strip().startswith("100 ")]
    # one room and ten, each with and without permessage-deflate
    assert [(row[1], row[2]) for row in rows] == [
        ("1", "on"),
        ("1", "off"),
        ("10", "on"),
        ("10", "off"),
    ]
    for row in rows:
        assert row[4] == "KiB" and float(row[3]) > 0, text  # the server grew with its clients
        assert "FAILED:" not in row, text
    assert "about 64 KiB per connection with compression, 14 KiB without" in text
    assert "the largest count this machine held" in text and "100 (the largest tried)" in text


def test_the_hub_is_measured_again_right_after_its_stalled_client_is_dropped(
    report: BroadcastReport,
) -> None:
    after = report.after_stall["hub"]
    assert (after.stalled, after.readers, after.delivered) == (False, 19, 19 * 20)
    assert "naive" not in report.after_stall  # it never dropped its stalled client
    assert report.stall_share("hub") == pytest.approx(report.run("hub", True).rate / after.rate)
