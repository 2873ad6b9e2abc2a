"""A picture of the wire: a sequence diagram of one connection a tap recorded.

The client and the server are two lifelines; each handshake head, frame and TCP close
the tap saw is an arrow from the side that sent it, labelled with what it carried (the
opcode, the payload length and the start of the payload). Time runs down the page: each
arrow is marked with its time since the first byte, and the gap before an arrow grows
with the time that passed, so that a pause on the wire shows as a gap::

    from ws_lessons.sequence import sequence_diagram
    sequence_diagram(tap)            # the first connection the tap recorded
    tap.diagram(connection=2)        # the same, from the tap

The diagram is plain SVG, written here (no sequence-diagram library draws from recorded
data without a JavaScript or Java runtime). It shows in JupyterLab, in VS Code and in the
HTML copies of the lessons; its labels speak the learner's language (:mod:`ws_lessons.i18n`).
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ws_lessons.i18n import _
from ws_lessons.relay import CLIENT_TO_SERVER
from ws_lessons.tap import Record, Tap

__all__ = ["Arrow", "SequenceDiagram", "sequence_diagram"]

WIDTH = 720
CLIENT_X, SERVER_X = 190, 610  # where the two lifelines stand
TOP = 64  # the lifelines' heads take the space above
STEP = 34  # the least vertical room an arrow takes
GAP_PER_DECADE = 14  # more room for each tenfold of the time since the previous arrow
LABEL = 44  # characters of a label at most
_DIAGRAMS = itertools.count(1)
COLOURS = {"frame": "#1f5fa8", "handshake": "#2e7d32", "closed": "#757575", "invalid": "#c62828"}


@dataclass(frozen=True)
class Arrow:
    """One arrow of the diagram: who sent what, when, and how far down it is drawn."""

    y: float
    time: float  # ms since the first byte the tap recorded
    direction: str  # "→" client to server, "←" server to client
    kind: str  # the record's kind: "frame", "handshake", "closed", "invalid", ...
    label: str


class SequenceDiagram:
    """An SVG sequence diagram of recorded records; shows itself in a notebook.

    ``arrows`` lists what is drawn, top to bottom; :meth:`svg` is the picture.
    """

    def __init__(
        self, records: Iterable[Record], *, title: str = "", collapse: bool = False
    ) -> None:
        self.title = title
        self.arrows: list[Arrow] = []
        y, previous = float(TOP + 30), None
        for (direction, kind, label), run in _runs(records, collapse):
            first, last = run[0].time, run[-1].time
            if previous is not None:
                gap = max(first - previous, 0.0)
                y += STEP + GAP_PER_DECADE * math.log10(1 + gap * 10)  # 0.1 ms counts as 1
            if len(run) > 1:
                label = _("{label}, {n} times in {ms:.1f} ms").format(
                    label=label, n=len(run), ms=last - first
                )
            self.arrows.append(Arrow(y, first, direction, kind, label))
            previous = last
        self.height = int(y + 40)

    def svg(self) -> str:
        """The diagram as a standalone SVG document."""
        client, server = html.escape(_("client")), html.escape(_("server"))
        prefix = f"seq{next(_DIAGRAMS)}-"  # marker ids, unique among the diagrams of a page
        title = html.escape(self.title or _("a sequence diagram of a connection"))
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{self.height}" '
            f'viewBox="0 0 {WIDTH} {self.height}" role="img" font-family="Menlo, Consolas, '
            f"'DejaVu Sans Mono', 'Noto Sans Mono CJK SC', 'PingFang SC', 'Microsoft YaHei', "
            'monospace" font-size="12">',
            f"<title>{title}</title>",
            "<defs>"
            + "".join(
                f'<marker id="{prefix}{kind}" viewBox="0 0 10 10" refX="10" refY="5" '
                f'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
                f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
                for kind, colour in COLOURS.items()
            )
            + "</defs>",
            f'<rect width="{WIDTH}" height="{self.height}" fill="white"/>',
        ]
        if self.title:
            parts.append(f'<text x="8" y="16" fill="#444">{html.escape(self.title)}</text>')
        bottom = self.height - 12
        for x, name in [(CLIENT_X, client), (SERVER_X, server)]:
            parts.append(
                f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{bottom}" stroke="#999" '
                'stroke-dasharray="4 3"/>'
                f'<rect x="{x - 60}" y="{TOP - 30}" width="120" height="28" rx="4" '
                'fill="#f3f3f3" stroke="#999"/>'
                f'<text x="{x}" y="{TOP - 11}" text-anchor="middle" font-weight="bold">'
                f"{name}</text>"
            )
        parts.append(f'<text x="8" y="{TOP - 11}" fill="#666">ms</text>')
        for arrow in self.arrows:
            parts.append(_draw(arrow, prefix))
        parts.append("</svg>")
        return "".join(parts)

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_html_(self) -> str:
        """The SVG inline, so that HTML copies keep its text (searchable, in the page's fonts)."""
        return f'<div class="ws-lessons-sequence">{self.svg()}</div>'

    def __repr__(self) -> str:
        lines = [f"{arrow.time:9.1f} ms  {arrow.direction} {arrow.label}" for arrow in self.arrows]
        return "\n".join(([self.title] if self.title else []) + lines)


def sequence_diagram(
    source: Tap | Iterable[Record], connection: int | None = None, *, collapse: bool = False
) -> SequenceDiagram:
    """Draw one connection that ``source`` (a tap, or its records) recorded.

    ``connection`` is the number the tap's table shows (``#1``, ``#2``, ...); by default,
    the first one recorded. Handshakes, frames, TCP closes and what the tap could not
    decode each become an arrow; bytes still on their way (a frame in part) are left out.
    ``collapse=True`` draws a run of frames that look the same, one after another in one
    direction, as one arrow that says how many and how long they took.
    """
    records = list(source.records if isinstance(source, Tap) else source)
    numbers = sorted({record.connection for record in records})
    if connection is None:
        connection = numbers[0] if numbers else 0
    elif connection not in numbers:
        raise ValueError(f"no connection #{connection} was recorded; there are {numbers}")
    chosen = [
        record
        for record in records
        if record.connection == connection and record.kind not in ("partial", "http body")
    ]
    title = _("connection #{n}, as the tap saw it").format(n=connection)
    if len(numbers) > 1:
        title += " " + _("({count} recorded; pass connection= for another)").format(
            count=len(numbers)
        )
    return SequenceDiagram(chosen, title=title, collapse=collapse)


def _runs(
    records: Iterable[Record], collapse: bool
) -> Iterator[tuple[tuple[str, str, str], list[Record]]]:
    """Each record with its arrow's direction, kind and label; with ``collapse``, runs of
    records that would draw the same arrow come together."""
    keyed = (((record.direction, record.kind, _label(record)), record) for record in records)
    if not collapse:
        for key, record in keyed:
            yield key, [record]
        return
    for key, run in itertools.groupby(keyed, key=lambda pair: pair[0]):
        yield key, [record for _key, record in run]


def _label(record: Record) -> str:
    """What an arrow says: the start line of a head, or a frame's opcode, length and payload."""
    if record.kind == "closed":
        return _("closes its side of TCP")
    if record.frame is not None:
        size = _("{n} B").format(n=len(record.frame.payload))
        fin = "" if record.frame.fin else " FIN=0"
        text = f"{record.frame.opcode.name}{fin} {size} {record.note}".rstrip()
    elif record.head is not None:
        text = record.start_line
    else:
        text = f"{record.kind}: {record.note}"
    return text if len(text) <= LABEL else text[: LABEL - 1] + "…"


def _draw(arrow: Arrow, prefix: str) -> str:
    """The SVG of one arrow, its label above it and its time on the left."""
    kind = {"http": "handshake"}.get(arrow.kind, arrow.kind)
    kind = kind if kind in COLOURS else "invalid"  # "truncated": the connection closed mid-frame
    colour = COLOURS[kind]
    start, end = (
        (CLIENT_X, SERVER_X) if arrow.direction == CLIENT_TO_SERVER else (SERVER_X, CLIENT_X)
    )
    dash = ' stroke-dasharray="2 3"' if arrow.kind == "closed" else ""
    middle = (CLIENT_X + SERVER_X) / 2
    return (
        f'<g class="arrow" data-direction="{html.escape(arrow.direction)}">'
        f'<text x="8" y="{arrow.y + 4:.1f}" fill="#666">{arrow.time:.1f}</text>'
        f'<line x1="{start}" y1="{arrow.y:.1f}" x2="{end}" y2="{arrow.y:.1f}" '
        f'stroke="{colour}" stroke-width="1.5"{dash} marker-end="url(#{prefix}{kind})"/>'
        f'<text x="{middle}" y="{arrow.y - 5:.1f}" text-anchor="middle" fill="{colour}">'
        f"{html.escape(arrow.label)}</text></g>"
    )
