"""One small table type: plain text for terminals and logs, HTML for Jupyter.

Headings are shown in the learner's language: mark them ``N_("...")`` where they are written.
"""

from __future__ import annotations

import html
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from ws_lessons.i18n import _

__all__ = ["Table"]


@dataclass(frozen=True)
class Table:
    """Rows under a header. ``print(table)`` aligns columns; Jupyter shows an HTML table.

    Numbers are right-aligned, ``nan`` (not measured) shows as ``-``; ``code`` names the
    columns shown as ``<code>`` in HTML; ``note`` is a line printed under the table.
    """

    header: Sequence[str]
    rows: Sequence[Sequence[object]]
    note: str = ""
    code: Sequence[str] = field(default=())
    rule: bool = False

    def _cells(self) -> list[list[str]]:
        return [[_text(cell) for cell in row] for row in self.rows]

    def _numeric(self) -> list[bool]:
        """Per column: does it hold numbers only (shown right-aligned)?"""
        return [
            bool(self.rows) and all(isinstance(row[i], int | float) for row in self.rows)
            for i in range(len(self.header))
        ]

    def __str__(self) -> str:
        rows = [[_(name) for name in self.header], *self._cells()]
        widths = [max(_width(row[i]) for row in rows) for i in range(len(self.header))]
        numeric = self._numeric()
        lines = [
            "  ".join(
                _pad(cell, width, right=numeric[i] and n > 0)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
            for n, row in enumerate(rows)
        ]
        if self.rule:
            lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join([*lines, self.note] if self.note else lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(_(name))}</th>" for name in self.header)
        numeric = self._numeric()
        body = "".join(
            "<tr>"
            + "".join(
                _td(cell, code=name in self.code, right=right)
                for cell, name, right in zip(row, self.header, numeric, strict=True)
            )
            + "</tr>"
            for row in self.rows
        )
        note = f"<p>{html.escape(self.note)}</p>" if self.note else ""
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def _td(cell: object, *, code: bool, right: bool) -> str:
    text = html.escape(_text(cell))
    if code:
        text = f"<code>{text}</code>"
    style = " style='text-align:right'" if right else ""
    return f"<td{style}>{text}</td>"


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal: Chinese characters take two (UAX #11)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int, *, right: bool) -> str:
    space = " " * (width - _width(text))
    return space + text if right else text + space


def _text(cell: object) -> str:
    if isinstance(cell, float) and math.isnan(cell):
        return "-"  # not measured
    if isinstance(cell, float):
        return f"{cell:,.1f}" if abs(cell) >= 100 else f"{cell:.3g}"
    return "" if cell is None else str(cell)
