"""One live event feed served four ways, and the measurements that compare them.

Lessons 01 and 02 ask one question: how should a server tell a client that something
happened? They answer it with numbers.

- :class:`Ticker` makes numbered, timestamped events (a made-up share price) at a set
  average rate, or when you call :meth:`Ticker.publish`, and remembers the last few.
- :func:`feed_app` builds a FastAPI app serving one ticker four ways: short polling
  (``GET /poll?after=<id>``), long polling (``GET /long-poll?after=<id>``), Server-Sent
  Events (``GET /sse``) and a WebSocket (``/ws``).
- :class:`ByteCounter` is a loopback TCP proxy that counts the bytes going each way, so
  bytes per event are measured on the wire, HTTP headers and WebSocket frames included.
- :func:`measure_transports` runs a real client of each transport through a counter for a few
  seconds and returns :class:`Results` (latency, requests, bytes per event, events
  missed); :func:`sweep` does it for short polling at several intervals at once;
  ``plot_*`` draw them.
"""

from ws_lessons.feeds.app import PATHS, TRANSPORTS, feed_app
from ws_lessons.feeds.clients import Results, TransportRun, measure_transports, sweep
from ws_lessons.feeds.counter import ByteCounter
from ws_lessons.feeds.plots import plot_bytes, plot_latency, plot_sweep
from ws_lessons.feeds.ticker import Event, Ticker

__all__ = [
    "PATHS",
    "TRANSPORTS",
    "ByteCounter",
    "Event",
    "Results",
    "Ticker",
    "TransportRun",
    "feed_app",
    "measure_transports",
    "plot_bytes",
    "plot_latency",
    "plot_sweep",
    "sweep",
]
