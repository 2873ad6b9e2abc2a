"""Keep the Chinese message catalogue of the package in step with its code.

    python tools/catalogue.py          # extract marked messages, update the .po, compile the .mo
    python tools/catalogue.py --check  # exit 1 if a message is untranslated or the .mo is stale

Messages are marked in the code with ``_("...")`` or ``N_("...")`` (see ``ws_lessons/i18n.py``);
the ``nudge=`` and ``hint=`` of each ``@exercise(...)`` are messages without a mark; the labels
the code cells of the English lessons print are marked ``tr("...")``.
New messages land in the .po with an empty ``msgstr``: translate them there, then run this again.
"""

from __future__ import annotations

import ast
import io
import sys
from collections.abc import Collection, Iterator
from pathlib import Path
from string import Formatter

import nbformat
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_python
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ws_lessons"
MESSAGES = PACKAGE / "locale" / "zh_CN" / "LC_MESSAGES"
PO, MO = MESSAGES / "ws_lessons.po", MESSAGES / "ws_lessons.mo"
NOTEBOOKS = ROOT / "notebooks"
KEYWORDS = {"_": None, "N_": None}
EXERCISE_HELP = ("nudge", "hint")
"""The arguments of ``exercise(...)`` that ``solutions.reveal`` shows, translated."""


def extract_exercises(
    fileobj: io.BufferedIOBase,
    keywords: Collection[str],
    comment_tags: Collection[str],
    options: dict,
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Babel's Python extraction, plus the ``nudge=`` and ``hint=`` of every ``exercise(...)``
    call (a Babel extraction method: see ``babel.messages.extract.extract``)."""
    source = fileobj.read()
    yield from extract_python(io.BytesIO(source), keywords, comment_tags, options)
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "exercise"):
            continue
        for argument in node.keywords:
            if argument.arg not in EXERCISE_HELP:
                continue
            value = argument.value
            if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
                raise ValueError(
                    f"line {value.lineno}: the {argument.arg}= of exercise() must be a string "
                    "literal, for the catalogue to find it"
                )
            yield value.lineno, None, value.value, []


def extract_lesson(path: Path) -> Iterator[tuple[str, int, str]]:
    """The ``tr("...")`` labels of a lesson's Python code cells: (where, cell index, label)."""
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or cell.source.startswith("%%"):
            continue
        code = TransformerManager().transform_cell(cell.source)
        for node in ast.walk(ast.parse(code)):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "tr"):
                continue
            label = node.args[0] if node.args else None
            if not (isinstance(label, ast.Constant) and isinstance(label.value, str)):
                raise ValueError(
                    f"{path.name}, cell {index}: tr() takes a string literal, for the "
                    "catalogue to find it"
                )
            yield f"notebooks/{path.name}", index, label.value


def extracted() -> Catalog:
    """Every message marked in the package's code and the English lessons, with where it is."""
    template = Catalog(project="ws-lessons", charset="utf-8")
    for filename, line, message, _comments, context in extract_from_dir(
        PACKAGE,
        method_map=[("exercises/lesson*.py", extract_exercises), ("**.py", "python")],
        keywords=KEYWORDS,
    ):
        template.add(message, locations=[(f"ws_lessons/{filename}", line)], context=context)
    for lesson in sorted(NOTEBOOKS.glob("[0-9]*.ipynb")):
        for where, cell, message in extract_lesson(lesson):
            template.add(message, locations=[(where, cell)])
    return template


def translations() -> Catalog:
    """The Chinese catalogue as it is on disk (empty if there is none yet)."""
    if not PO.exists():
        return Catalog(
            locale="zh_CN",
            project="ws-lessons",
            version="0.1",
            header_comment="# Simplified Chinese messages of the ws-lessons package.",
            msgid_bugs_address="",
            last_translator="the ws-lessons authors",
            language_team="简体中文",
            fuzzy=False,
        )
    with PO.open("rb") as file:
        return read_po(file, locale="zh_CN")


def untranslated(catalogue: Catalog, template: Catalog) -> list[str]:
    """The messages of ``template`` that ``catalogue`` does not translate."""
    missing = []
    for message in template:
        if not message.id:
            continue
        found = catalogue.get(message.id, message.context)
        if found is None or not found.string or found.fuzzy:
            missing.append(message.id)
    return missing


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of ``text``, as ``str.format`` reads them."""
    try:
        return {name for _text, name, _spec, _conv in Formatter().parse(text) if name is not None}
    except ValueError:  # a lone brace: no fields format() could fill
        return set()


def mismatched(catalogue: Catalog) -> list[str]:
    """The messages whose translation has other ``{placeholders}`` than the English."""
    return [
        message.id
        for message in catalogue
        if message.id
        and message.string
        and placeholders(message.id) != placeholders(message.string)
    ]


def compiled(catalogue: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalogue)
    return out.getvalue()


def update() -> Catalog:
    """Merge newly marked messages into the .po (dropping those gone from the code)."""
    catalogue = translations()
    template = extracted()
    template.creation_date = catalogue.creation_date  # no churn in the header
    catalogue.update(template, no_fuzzy_matching=True)
    catalogue.obsolete.clear()
    MESSAGES.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as file:
        write_po(file, catalogue, width=100, sort_by_file=True, include_lineno=False)
    MO.write_bytes(compiled(catalogue))
    return catalogue


def main(argv: list[str]) -> int:
    if "--check" in argv:
        catalogue = translations()
        missing = untranslated(catalogue, extracted())
        stale = not MO.exists() or MO.read_bytes() != compiled(catalogue)
        wrong = mismatched(catalogue)
        for message in missing:
            print(f"untranslated: {message!r}")
        for message in wrong:
            print(f"the translation has other {{placeholders}} than: {message!r}")
        if stale:
            print(f"{MO.name} is out of date: run python tools/catalogue.py")
        return 1 if missing or wrong or stale else 0
    catalogue = update()
    missing = untranslated(catalogue, extracted())
    print(f"{len(catalogue)} messages, {len(missing)} still to translate in {PO.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
