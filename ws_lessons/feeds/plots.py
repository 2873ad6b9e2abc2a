"""Plots of the measurements (matplotlib): latency, bytes per event, the polling sweep."""

from __future__ import annotations

import random
from typing import Any

from ws_lessons.feeds.clients import Results

__all__ = ["plot_bytes", "plot_latency", "plot_sweep"]

COLORS = {"poll": "tab:red", "long-poll": "tab:orange", "sse": "tab:blue", "ws": "tab:green"}


def _plain_numbers(axis: Any, ticks: list[float] | None = None) -> None:
    """Label a log axis 1, 10, 100 (or at ``ticks``) rather than 10⁰, 10¹, 10²."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    if ticks is not None:
        axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def _axes(ax: Any, size: tuple[float, float]) -> Any:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def plot_latency(results: Results, ax: Any = None) -> Any:
    """Every event's latency (created → received) per transport, log scale; | marks the median."""
    ax = _axes(ax, (7, 0.6 + 0.55 * len(results)))
    jitter = random.Random(0)  # the same scatter every time
    for row, run in enumerate(results):
        values = [max(latency * 1000, 0.01) for latency in run.latencies]
        heights = [row + jitter.uniform(-0.2, 0.2) for _ in values]
        color = COLORS.get(run.transport, "tab:gray")
        ax.scatter(values, heights, s=10, alpha=0.5, color=color, linewidths=0)
        if values:
            ax.plot([run.median_ms] * 2, [row - 0.35, row + 0.35], color="black", linewidth=2)
    ax.set_yticks(range(len(results)), [run.name for run in results])
    ax.set_ylim(len(results) - 0.5, -0.5)
    ax.set_xscale("log")
    _plain_numbers(ax.xaxis)
    ax.set_xlabel("latency, event created → received (ms, log scale; | = median)")
    ax.set_title("How late does each event arrive?")
    ax.grid(axis="x", which="major", alpha=0.3)
    return ax


def plot_bytes(results: Results, ax: Any = None) -> Any:
    """Bytes on the wire per event, server → client and client → server, stacked."""
    ax = _axes(ax, (7, 0.6 + 0.55 * len(results)))
    names = [run.name for run in results]
    down = [run.down_per_event for run in results]
    up = [run.up_per_event for run in results]
    ax.barh(names, down, color="tab:blue", alpha=0.7, label="server → client")
    ax.barh(names, up, left=down, color="tab:orange", alpha=0.7, label="client → server")
    for row, run in enumerate(results):
        ax.text(run.bytes_per_event, row, f" {run.bytes_per_event:,.0f}", va="center")
    ax.set_ylim(len(results) - 0.5, -0.5)
    ax.set_xlim(0, max((run.bytes_per_event for run in results), default=1) * 1.2)
    ax.set_xlabel("bytes on the wire per event (headers and frames included)")
    ax.set_title("What does each event cost?")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize="small")
    return ax


def plot_sweep(results: Results, ax: Any = None) -> Any:
    """Short polling: latency (left axis) and bytes per event (right axis) against the interval."""
    ax = _axes(ax, (7, 3))
    runs = [run for run in results if run.interval is not None]
    intervals = [run.interval * 1000 for run in runs]  # type: ignore[operator]
    medians = [run.median_ms for run in runs]
    p95s = [run.p95_ms for run in runs]
    lines = ax.plot(intervals, medians, "o-", color="tab:red", label="median latency")
    lines += ax.plot(intervals, p95s, "o--", color="tab:red", alpha=0.4, label="p95 latency")
    ax.set_xscale("log")
    _plain_numbers(ax.xaxis, intervals)
    ax.set_xlabel("polling interval (ms, log scale)")
    ax.set_ylabel("latency (ms)", color="tab:red")
    ax.set_ylim(bottom=0)
    right = ax.twinx()
    sizes = [run.bytes_per_event for run in runs]
    lines += right.plot(intervals, sizes, "s-", color="tab:blue", label="bytes per event")
    right.set_ylabel("bytes per event", color="tab:blue")
    right.set_ylim(bottom=0)
    ax.legend(lines, [line.get_label() for line in lines], loc="upper center", fontsize="small")
    ax.set_title("Short polling: pay in bytes, or pay in delay")
    return ax
