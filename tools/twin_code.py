"""Compare a lesson's code cell with its twin's: the same code, whatever the comments say.

The Chinese twin of a lesson runs the same code with its comments in Chinese. Two cells
hold the same code when IPython turns them into the same Python syntax tree (``%magics``
and ``!shell`` lines included); a cell magic's line must be the same, and its body is
compared as the language it is written in: Python by its syntax tree, a language whose
comments we know (JavaScript, INI, YAML, a Dockerfile, nginx's configuration, shell)
with its comments stripped, anything else byte for byte.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from IPython.core.inputtransformer2 import TransformerManager

HASH_COMMENT = re.compile(r"(?:^|(?<=\s))#.*$", re.MULTILINE)  # YAML, INI, nginx, shell...
SLASH_COMMENT = re.compile(r"/\*.*?\*/|(?:^|(?<=[\s;{}(),]))//[^\n]*", re.DOTALL)
HASH_LANGUAGES = {".ini", ".cfg", ".toml", ".yaml", ".yml", ".conf", ".sh", ".txt", ".env"}
HASH_NAMES = {"Dockerfile", "Containerfile", "Makefile", ".dockerignore", ".gitignore"}
SLASH_LANGUAGES = {".js", ".mjs", ".ts", ".css"}
PYTHON_MAGICS = {"time", "timeit", "capture", "prun"}  # cell magics whose body is Python
SHELL_MAGICS = {"bash", "sh", "script"}


def same_code(ours: str, theirs: str) -> bool:
    """Whether two code cells are the same code, comments apart."""
    if ours == theirs:
        return True
    if ours.startswith("%%") or theirs.startswith("%%"):
        (line, _, body), (other_line, _, other_body) = (
            ours.partition("\n"),
            theirs.partition("\n"),
        )
        return line.rstrip() == other_line.rstrip() and same_body(line, body, other_body)
    return python_tree(ours) == python_tree(theirs)


def same_body(magic_line: str, body: str, other: str) -> bool:
    """Whether two bodies of the cell magic ``magic_line`` are the same, comments apart."""
    words = magic_line.removeprefix("%%").split()
    name = words[0] if words else ""
    if name == "project":
        return same_file(words[-1], body, other)
    if name in PYTHON_MAGICS:
        return python_tree(body) == python_tree(other)
    if name in SHELL_MAGICS:
        return same_file("script.sh", body, other)
    return body == other


def same_file(path: str, text: str, other: str) -> bool:
    """Whether two texts of the file ``path`` are the same, comments apart (by its language)."""
    stripped = stripper(path)
    if stripped is None:
        return text == other
    return stripped(text) == stripped(other)


def stripper(path: str) -> Callable[[str], object] | None:
    """How the language of ``path`` is read without its comments; None if we do not know it."""
    name = PurePosixPath(path)
    if name.suffix == ".py":
        return python_tree
    if name.suffix in HASH_LANGUAGES or name.name in HASH_NAMES:
        return lambda text: _lines(HASH_COMMENT.sub("", text))
    if name.suffix in SLASH_LANGUAGES:
        return lambda text: _lines(SLASH_COMMENT.sub("", text))
    return None


def _lines(text: str) -> list[str]:
    """The lines that hold something, without trailing blanks: comments left empty lines."""
    return [line.rstrip() for line in text.splitlines() if line.strip()]


MAGIC_LINE = re.compile(r"^(\s*(?:[\w.]+\s*=\s*)?[%!].*?)\s+#[^'\"]*$", re.MULTILINE)
"""A ``%magic`` or ``!shell`` line with a comment at its end (IPython would pass it on)."""


def python_tree(source: str) -> str:
    """The syntax tree of a cell (IPython syntax transformed), comments and layout aside."""
    code = TransformerManager().transform_cell(MAGIC_LINE.sub(r"\1", source))
    try:
        return ast.dump(ast.parse(code))
    except SyntaxError:  # a cell that raises on purpose: compare it without its comments
        return "\n".join(_lines(_without_python_comments(code)))


def _without_python_comments(source: str) -> str:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    lines = source.splitlines()
    for token in reversed(tokens):
        if token.type == tokenize.COMMENT:
            row, column = token.start
            lines[row - 1] = lines[row - 1][:column]
    return "\n".join(lines)


@dataclass(frozen=True)
class Comment:
    """A comment of a code cell: a block of whole-line comments, or one after code."""

    line: int  # 0-based, its first line in the cell
    text: str  # without the comment marks, its lines joined by spaces
    trailing: bool


def python_comments(source: str) -> list[Comment]:
    """The comments of a Python cell (the body of a ``%%`` Python cell magic too)."""
    offset = 0
    if source.startswith("%%"):
        first, _, source = source.partition("\n")
        if not first.endswith(".py") and first.split()[0][2:] not in PYTHON_MAGICS:
            return []
        offset = 1
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    lines = source.splitlines()
    found: list[Comment] = []
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        row, column = token.start
        text = token.string.lstrip("#").strip()
        trailing = bool(lines[row - 1][:column].strip())
        previous = found[-1] if found else None
        if (
            not trailing
            and previous
            and not previous.trailing
            and previous.line + previous.text.count("\n") + 1 == row - 1 + offset
        ):
            found[-1] = Comment(previous.line, previous.text + "\n" + text, False)
        else:
            found.append(Comment(row - 1 + offset, text, trailing))
    return [Comment(c.line, " ".join(c.text.split("\n")), c.trailing) for c in found]
