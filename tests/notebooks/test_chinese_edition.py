"""The Chinese edition: a twin of every lesson, in step with the English one, in Chinese.

The twins are ``notebooks/zh/<same name>.ipynb``: the same cells in the same order, the
same code (its comments in Chinese), the prose in Chinese. The package speaks Chinese there
through its gettext catalogue; these tests check that nothing it prints in a lesson escapes it.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from fastapi import FastAPI, WebSocket
from nbclient import NotebookClient
from websockets.exceptions import InvalidURI

from ws_lessons import doctor, explain, frames, hints, i18n, proxies, solutions
from ws_lessons.checks import check_00_1
from ws_lessons.exercises.core import HELP, Hint, Verdict, connected, exchange, outcome, served

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import catalogue  # noqa: E402
import navigation  # noqa: E402
import twin_code  # noqa: E402

ENGLISH = navigation.written(navigation.ENGLISH)
TWINS = navigation.written(navigation.CHINESE)
ZH = navigation.CHINESE.folder
GENERATED = {"nav-top", "nav-bottom", "lesson-list"}


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def ids(lessons: list[navigation.Lesson]) -> list[str]:
    return [lesson.stem for lesson in lessons]


pytestmark = pytest.mark.usefixtures("automatic_language")


# --- the twins ---------------------------------------------------------------------------


@pytest.mark.parametrize("lesson", ENGLISH, ids=ids(ENGLISH))
def test_every_lesson_has_a_twin_with_the_same_code(lesson: navigation.Lesson) -> None:
    twin = lesson.path_in(navigation.CHINESE)
    assert twin.exists(), f"{lesson.stem} has no Chinese twin: write notebooks/zh/{twin.name}"
    english, chinese = read(lesson.path).cells, read(twin).cells
    for index, (ours, theirs) in enumerate(zip(english, chinese, strict=False)):
        assert ours.cell_type == theirs.cell_type, (
            f"{lesson.stem}, cell {index}: {ours.cell_type} in English, {theirs.cell_type} in "
            "the twin; a cell was added, removed or moved in one of them"
        )
        if ours.cell_type == "code":
            assert twin_code.same_code(ours.source, theirs.source), (
                f"{lesson.stem}, cell {index}: the twin's code differs from the English by more "
                "than its comments; run: python tools/navigation.py --sync-code"
            )
            assert theirs.metadata == ours.metadata, (
                f"{lesson.stem}, cell {index}: the twin's tags differ from the English; run: "
                "python tools/navigation.py --sync-code"
            )
    assert len(chinese) == len(english), (
        f"{lesson.stem}: {len(english)} cells in English, {len(chinese)} in the twin"
    )


def test_every_twin_has_an_english_lesson() -> None:
    known = {lesson.path_in(navigation.CHINESE) for lesson in navigation.LESSONS}
    assert set(ZH.glob("*.ipynb")) <= known


@pytest.mark.parametrize("lesson", TWINS, ids=ids(TWINS))
def test_twin_skeleton_and_no_outputs(lesson: navigation.Lesson) -> None:
    cells = read(lesson.path_in(navigation.CHINESE)).cells
    assert "nav-top" in cells[0].metadata.get("tags", [])
    assert "nav-bottom" in cells[-1].metadata.get("tags", [])
    assert cells[1].source.startswith(f"# {lesson.number} · {lesson.title_zh}\n"), (
        f"the twin's title must be the one the navigation links: {lesson.title_zh}"
    )
    if lesson.original:
        assert lesson.original in cells[1].source
    for index, cell in enumerate(cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"cell {index} has outputs"
            assert cell.execution_count is None, f"cell {index} has an execution count"


# --- the prose is Chinese ------------------------------------------------------------------

NOT_PROSE = [
    re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE),  # code blocks
    re.compile(r"(`+).+?\1", re.DOTALL),  # code spans
    re.compile(r"\]\([^)]*\)"),  # link targets (the link text stays: it is prose)
    re.compile(r"<?https?://\S+"),  # bare addresses
    re.compile(r"<[^>]+>"),  # HTML tags
    re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.DOTALL),  # formulas
]
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
LONG_ENOUGH = 5  # Latin words: shorter paragraphs are headings, names, table cells


def english_paragraphs(markdown: str) -> list[str]:
    """The paragraphs of ``markdown`` that read as English rather than Chinese.

    The rule: leave out what is not prose (code blocks, code spans, link targets,
    addresses, HTML tags, formulas); in each paragraph left (text between blank lines)
    of at least five Latin words, count the Han characters and the Latin words. A
    Chinese sentence spends about two Han characters per word of the English it
    translates, and keeps English only for terms in parentheses and names, so a
    paragraph with fewer than two Han characters per Latin word is mostly English.
    """
    for pattern in NOT_PROSE:
        markdown = pattern.sub(" ", markdown)
    found = []
    for paragraph in re.split(r"\n\s*\n", markdown):
        words = len(LATIN_WORD.findall(paragraph))
        if words >= LONG_ENOUGH and len(HAN.findall(paragraph)) < 2 * words:
            found.append(" ".join(paragraph.split()))
    return found


def test_the_prose_rule_tells_english_from_chinese() -> None:
    english = "The server sends a close frame, then waits for the client's own close frame."
    assert english_paragraphs(english) == [english]
    half = "服务器发送一个关闭帧（close frame），then waits for the client's own close frame."
    assert english_paragraphs(half)
    chinese = (
        "服务器先发送一个关闭帧（close frame），再等待客户端回复它自己的关闭帧；"
        "见 [RFC 6455 §5.5.1](https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1)。"
        "\n\n```python\nawait websocket.close(code=1000, reason='bye bye for now')\n```"
    )
    assert english_paragraphs(chinese) == []


@pytest.mark.parametrize("lesson", TWINS, ids=ids(TWINS))
def test_no_prose_left_in_english(lesson: navigation.Lesson) -> None:
    for index, cell in enumerate(read(lesson.path_in(navigation.CHINESE)).cells):
        if cell.cell_type != "markdown" or GENERATED & set(cell.metadata.get("tags", [])):
            continue
        assert HAN.search(cell.source), f"{lesson.stem}, cell {index} has no Chinese"
        english = english_paragraphs(cell.source)
        assert not english, f"{lesson.stem}, cell {index} reads as English: {english[0][:200]}"


LINK = re.compile(r"\]\(([^)\s]+)[^)]*\)|(?:href|src)=\"([^\"]+)\"")


def relative_links(markdown: str) -> list[str]:
    targets = [first or second for first, second in LINK.findall(markdown)]
    return [target for target in targets if not re.match(r"[a-z][a-z0-9+.-]*:|#", target)]


def test_relative_links_of_the_chinese_edition_resolve() -> None:
    broken = []
    pages = [(path.name, path.read_text(encoding="utf-8")) for path in ZH.glob("*.md")]
    for lesson in TWINS:
        path = lesson.path_in(navigation.CHINESE)
        pages += [
            (f"{path.name}, cell {index}", cell.source)
            for index, cell in enumerate(read(path).cells)
            if cell.cell_type == "markdown"
        ]
    for where, text in pages:
        for target in relative_links(text):
            if not (ZH / target.split("#")[0]).exists():
                broken.append(f"{where}: {target}")
    assert not broken, "links that lead nowhere from notebooks/zh/:\n" + "\n".join(broken)


def test_the_first_lesson_links_the_glossary() -> None:
    index = navigation.INDEX.path_in(navigation.CHINESE)
    assert index.exists(), "the Chinese edition has no 00_start_here"
    assert "glossary.md" in {
        target.split("#")[0] for cell in read(index).cells for target in relative_links(cell.source)
    }


def test_the_chinese_index_lists_the_lessons_in_chinese() -> None:
    listing = navigation.lesson_list(navigation.CHINESE)
    assert listing.startswith("| # | 课程 |")
    for lesson in navigation.LESSONS[1:]:
        assert f"| {lesson.number} | " in listing
        assert lesson.title_zh in listing
        assert lesson.title not in listing
    assert "[目录](00_start_here.ipynb)" in navigation.navigation(
        navigation.LESSONS[7], navigation.CHINESE
    )


def test_sync_code_keeps_translated_comments_copies_changed_code_and_refuses_a_new_cell(
    tmp_path: Path,
) -> None:
    english, twin = tmp_path / "01_x.ipynb", tmp_path / "zh" / "01_x.ipynb"
    twin.parent.mkdir()
    cells = [
        nbformat.v4.new_markdown_cell("Hello"),
        nbformat.v4.new_code_cell("print(2)  # two"),
        nbformat.v4.new_code_cell("# the answer\nx = 42"),
    ]
    cells[1].metadata["tags"] = ["raises-exception"]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), english)
    translated = [
        nbformat.v4.new_markdown_cell("你好"),
        nbformat.v4.new_code_cell("print(1)  # 一"),
        nbformat.v4.new_code_cell("# 答案\nx = 42"),
    ]
    nbformat.write(nbformat.v4.new_notebook(cells=translated), twin)

    assert navigation.sync_code(english, twin) == [1], "only the cell whose code changed"
    sources = [cell.source for cell in read(twin).cells]
    assert sources == ["你好", "print(2)  # two", "# 答案\nx = 42"]
    assert read(twin).cells[1].metadata["tags"] == ["raises-exception"]
    assert navigation.sync_code(english, twin) == []
    cells[1].metadata["tags"] = []
    nbformat.write(nbformat.v4.new_notebook(cells=cells), english)
    assert navigation.sync_code(english, twin) == [], "new tags: no code to translate again"
    assert read(twin).cells[1].metadata["tags"] == []

    cells.insert(1, nbformat.v4.new_markdown_cell("A new step"))
    nbformat.write(nbformat.v4.new_notebook(cells=cells), english)
    with pytest.raises(navigation.CellsDiffer, match=r"zh/01_x.ipynb: cell 1 is markdown"):
        navigation.sync_code(english, twin)
    cells.pop(1)
    cells.append(nbformat.v4.new_code_cell("print(3)"))
    nbformat.write(nbformat.v4.new_notebook(cells=cells), english)
    with pytest.raises(navigation.CellsDiffer, match=r"has 4 cells, the twin 3"):
        navigation.sync_code(english, twin)
    assert read(twin).cells[2].source == "# 答案\nx = 42"


@pytest.mark.parametrize(
    ("english", "twin", "same"),
    [
        ("x = 1  # one", "x = 1  # 一", True),
        ("x = 1", "x = 2", False),
        ("x = '# one'", "x = '# 一'", False),  # a string, not a comment
        ("# a\nif x:\n    y()", "if x:\n    # 乙\n    y()", True),
        ("%time f()  # f", "%time f()  # 函数", True),
        ("%time f()", "%time g()", False),
        ("!ls  # list", "!ls -a", False),
        ("%%project m/a.py\nx = 1  # one", "%%project m/a.py\nx = 1  # 一", True),
        ("%%project m/a.py\nx = 1", "%%project m/b.py\nx = 1", False),
        ("%%project m/a.py\nx = 1", "%%project m/a.py\nx = 1\ny = 2", False),
        ("%%project m/a.js\nf(1);  // one", "%%project m/a.js\nf(1);  // 一", True),
        ("%%project m/a.js\nu = 'https://x';", "%%project m/a.js\nu = 'https://y';", False),
        ("%%project a.yaml\n# top\nk: v  # why", "%%project a.yaml\n# 顶部\nk: v  # 原因", True),
        ("%%project a.yaml\nk: v", "%%project a.yaml\nk: w", False),
        ("%%project Dockerfile\n# pin\nFROM x", "%%project Dockerfile\n# 固定\nFROM x", True),
        ("%%project nginx.conf\nlisten 1;  # a", "%%project nginx.conf\nlisten 2;  # a", False),
        ("%%project a.html\n<!-- a -->", "%%project a.html\n<!-- 一 -->", False),  # unknown
        ("%%bash\necho hi  # say", "%%bash\necho hi  # 说", True),
        ("%%html\n<b>hi</b>", "%%html\n<b>你好</b>", False),
    ],
)
def test_same_code_means_the_same_syntax_whatever_the_comments(
    english: str, twin: str, same: bool
) -> None:
    assert twin_code.same_code(english, twin) is same


def project_files(path: Path) -> dict[str, str]:
    from ws_lessons.project import run_cells

    return run_cells(read(path))


@pytest.mark.parametrize("lesson", TWINS, ids=ids(TWINS))
def test_the_twins_project_cells_write_the_same_files_but_for_comments(
    lesson: navigation.Lesson,
) -> None:
    """The course's answers come from the English lessons; a learner of the Chinese edition
    gets the same project, its comments in Chinese."""
    english, chinese = project_files(lesson.path), project_files(lesson.path_in(navigation.CHINESE))
    assert list(chinese) == list(english)
    for path, text in english.items():
        assert twin_code.same_file(path, text, chinese[path]), f"{lesson.stem}: {path} differs"


CODE_LIKE = re.compile(r"^(noqa|type:|pragma|fmt:|ruff:|https?://)|^\W*$")


def english_comments(source: str) -> list[str]:
    """The comments of a code cell that read as English: no Han character, two Latin words
    or more (code spans aside), and not code-like (a ``noqa``, an address, a line of code
    commented out, such as ``classroom.join_class(...)``)."""
    found = []
    for comment in twin_code.python_comments(source):
        text = re.sub(r"`[^`]*`", " ", comment.text)
        if HAN.search(text) or CODE_LIKE.search(text):
            continue
        if len(re.findall(r"[A-Za-z]{2,}", text)) < 2 or is_python(text):
            continue
        found.append(comment.text)
    return found


def is_python(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return not re.fullmatch(r"[A-Za-z ]+", text)  # "the welcome" parses as nothing useful


def test_the_comment_rule_tells_english_from_chinese_and_code() -> None:
    source = (
        "x = 1  # the server speaks first\n"
        "# 在这里写你的代码\n"
        "y = 2  # noqa: E731\n"
        '# classroom.join_class("ws://HOST:PORT", code="...")\n'
        "z = 3  # RFC 6455 §1.3\n"
        "# welcome\n"
    )
    assert english_comments(source) == ["the server speaks first"]


@pytest.mark.parametrize("lesson", TWINS, ids=ids(TWINS))
def test_no_comment_left_in_english(lesson: navigation.Lesson) -> None:
    left = [
        f"cell {index}: {comment}"
        for index, cell in enumerate(read(lesson.path_in(navigation.CHINESE)).cells)
        if cell.cell_type == "code"
        for comment in english_comments(cell.source)
    ]
    assert not left, f"{lesson.stem}: comments still in English:\n" + "\n".join(left)


# --- the catalogue -------------------------------------------------------------------------


def test_the_catalogue_is_complete_and_compiled(capsys: pytest.CaptureFixture[str]) -> None:
    assert catalogue.main(["--check"]) == 0, capsys.readouterr().out


def test_every_translation_keeps_the_placeholders() -> None:
    assert catalogue.mismatched(catalogue.translations()) == []


def test_the_catalogue_holds_every_nudge_and_hint() -> None:
    held = {message.id for message in catalogue.extracted()}
    help_steps = {step for steps in HELP.values() for step in steps}
    assert len(help_steps) > 30 and help_steps <= held, sorted(help_steps - held)


def test_the_catalogue_holds_the_labels_the_lessons_print(tmp_path: Path) -> None:
    held = catalogue.extracted()
    label = held.get("{case}. RFC 6455 asks for {rule}.")
    assert label is not None
    assert ("notebooks/04_handshake.ipynb", 36) in label.locations
    i18n.set_language("zh")
    assert i18n.tr("{n} bytes:", n=11) == "11 字节："
    assert i18n.tr("a label no catalogue holds") == "a label no catalogue holds"
    lesson = tmp_path / "99_x.ipynb"
    cells = [nbformat.v4.new_code_cell("label = 'x'\nprint(tr(label))")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), lesson)
    with pytest.raises(ValueError, match=r"99_x.ipynb, cell 0: tr\(\) takes a string literal"):
        list(catalogue.extract_lesson(lesson))


def test_a_nudge_that_is_not_a_literal_is_a_clear_error(tmp_path: Path) -> None:
    source = tmp_path / "lesson99.py"
    source.write_text(
        "@exercise('99.1', nudge=f'look {where}', hint='the idea')\ndef check(): ...\n"
    )
    with source.open("rb") as file, pytest.raises(ValueError, match="nudge= of exercise"):
        list(catalogue.extract_exercises(file, catalogue.KEYWORDS, (), {}))


LESSON_FACING = [
    path
    for path in sorted(
        [*(ROOT / "ws_lessons" / "exercises").glob("*.py")]
        + [
            ROOT / "ws_lessons" / name
            for name in ("__init__.py", "solutions.py", "hints.py", "checks.py", "proxies.py")
        ]
    )
]
SHOWN = {"Hint", "Skip", "print"}
PROSE = re.compile(r"[A-Za-z]{2,}[\s,;:.!?]+[A-Za-z]{2,}")  # two words: "not yet", not "/a-b"


class Unmarked(ast.NodeVisitor):
    """Where a module shows English no catalogue holds.

    What a learner sees: the text given to ``Hint(...)``, ``Skip(...)`` and ``print(...)``,
    and what a check decorated with ``@exercise`` returns (its success message). Each must be
    built from ``_()``/``N_()`` calls (the ``nudge``/``hint`` of ``@exercise`` are string
    literals the catalogue extracts by itself, ``catalogue.EXERCISE_HELP``): a
    string literal of two words or more outside them is a message that escapes the catalogue.
    A name is followed to the text the function (or module) assigns to it; what fills the
    placeholders of ``_("...").format(...)`` is data, not a message.
    """

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []
        self.scopes: list[ast.AST] = []

    def visit_Module(self, node: ast.Module) -> None:
        self.scopes.append(node)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scopes.append(node)
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "exercise":
                for keyword in decorator.keywords:
                    if keyword.arg not in catalogue.EXERCISE_HELP:
                        self.judge(keyword.value)
                for statement in ast.walk(node):
                    if isinstance(statement, ast.Return) and statement.value is not None:
                        self.judge(statement.value)
            else:
                self.visit(decorator)
        for statement in node.body:
            self.visit(statement)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        name = getattr(node.func, "id", None)
        if name in SHOWN:
            for argument in node.args:
                self.judge(argument)
        self.generic_visit(node)

    def judge(self, node: ast.AST, depth: int = 0) -> None:
        if isinstance(node, ast.Call):
            if getattr(node.func, "id", None) in {"_", "N_"}:
                return
            if isinstance(node.func, ast.Attribute) and node.func.attr == "format":
                self.judge(node.func.value, depth)  # its arguments are data, not messages
                return
            if depth:  # a name holding what a function returned: that function is judged
                return
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if PROSE.search(node.value):
                self.found.append((node.lineno, node.value))
            return
        if isinstance(node, ast.Name) and depth < 3:
            for value in self.assigned(node.id):
                self.judge(value, depth + 1)
            return
        for child in ast.iter_child_nodes(node):
            self.judge(child, depth)

    def assigned(self, name: str) -> Iterator[ast.AST]:
        for statement in ast.walk(self.scopes[-1]):
            if isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = (
                    statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                )
                names = {target.id for target in targets if isinstance(target, ast.Name)}
                if name in names and statement.value is not None:
                    yield statement.value


def unmarked(path: Path) -> list[tuple[int, str]]:
    visitor = Unmarked()
    visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
    return visitor.found


@pytest.mark.parametrize(
    "path", LESSON_FACING, ids=[path.relative_to(ROOT).as_posix() for path in LESSON_FACING]
)
def test_no_message_escapes_the_catalogue(path: Path) -> None:
    name = path.relative_to(ROOT).as_posix()
    found = unmarked(path)
    assert not found, f"{name} shows text the catalogue does not hold: " + "; ".join(
        f"line {line}: {text!r}" for line, text in found
    )


def test_the_checker_finds_an_unmarked_message() -> None:
    source = (
        "@exercise('01.1', nudge='look up', hint='the idea here')\n"
        "def check(answer):\n"
        "    message = 'not like this'\n"
        "    if answer:\n"
        "        raise Hint(message)\n"
        "    print(_('fine {x}').format(x='/a-b c d'), f'{answer} ok', len('one two'))\n"
        "    reply = send('a message sent')\n"
        "    print(reply, f'{reply} got back')\n"
        "    return 'all good now'\n"
    )
    visitor = Unmarked()
    visitor.visit(ast.parse(source))
    assert [text for _line, text in visitor.found] == [  # nudge and hint: the catalogue's
        "all good now",
        "not like this",
        "one two",
        " got back",
    ]


# --- the language --------------------------------------------------------------------------


def test_english_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert i18n.language() == "en"
    assert i18n._("Answer:") == "Answer:"


@pytest.mark.parametrize("value", ["zh", "zh_CN", "zh-CN", "ZH_cn.UTF-8"])
def test_the_environment_chooses_chinese(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WS_LESSONS_LANG", value)
    assert i18n.language() == "zh"
    assert i18n._("Answer:") == "参考答案："


def test_a_kernel_in_notebooks_zh_speaks_chinese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "notebooks" / "zh").mkdir(parents=True)
    (tmp_path / "elsewhere" / "zh").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks" / "zh")
    assert i18n.language() == "zh"
    monkeypatch.setenv("WS_LESSONS_LANG", "en")
    assert i18n.language() == "en", "the environment wins over the folder"
    monkeypatch.delenv("WS_LESSONS_LANG")
    monkeypatch.chdir(tmp_path / "elsewhere" / "zh")
    assert i18n.language() == "en"


def test_set_language_wins_then_lets_go(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WS_LESSONS_LANG", "en")
    i18n.set_language("zh")
    assert i18n.language() == "zh"
    i18n.set_language(None)
    assert i18n.language() == "en"


def test_an_unknown_language_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"no such language: 'fr'; the course speaks en, zh"):
        i18n.set_language("fr")
    assert i18n.language() == "en", "the failed choice changed nothing"
    env = dict(os.environ, WS_LESSONS_LANG="fr")
    imported = subprocess.run(
        [sys.executable, "-c", "import ws_lessons"], env=env, capture_output=True, text=True
    )
    assert imported.returncode == 1
    assert "$WS_LESSONS_LANG" in imported.stderr
    assert "no such language: 'fr'" in imported.stderr


def test_a_wrong_answer_gets_its_hint_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    i18n.set_language("zh")
    verdict = check_00_1("AB")
    assert not verdict
    assert capsys.readouterr().out == '练习 00.1 ❌ 尚未通过：答案请写成一组字母，例如 {"A", "B"}\n'
    i18n.set_language("en")
    check_00_1("AB")
    assert capsys.readouterr().out.startswith("Exercise 00.1 ❌ not yet: answer with a set")


def test_the_reference_answer_passes_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    i18n.set_language("zh")
    assert check_00_1(solutions.SOLUTIONS["00.1"]())
    assert capsys.readouterr().out.startswith("练习 00.1 ✅ 通过：")


def test_a_message_kept_in_a_constant_is_translated_when_shown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ws_lessons.exercises.core import HELP, exercise
    from ws_lessons.i18n import N_

    kept = N_("Answer:")  # a message the catalogue holds, kept untranslated until shown

    @exercise("99.9", nudge=N_("Answer:"))
    def check(answer: object) -> str:
        raise Hint(kept)

    try:
        i18n.set_language("zh")
        check(None)
        assert capsys.readouterr().out == "练习 99.9 ❌ 尚未通过：参考答案：\n"
        assert i18n._(HELP["99.9"][0]) == "参考答案："
        assert i18n._("") == ""
    finally:
        del HELP["99.9"]


def test_a_check_that_fails_to_talk_explains_in_chinese(
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = FastAPI()

    @app.websocket("/ws")
    async def hang_up(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        await websocket.close(code=1000)

    i18n.set_language("zh")
    with (
        served(app, "zh") as server,
        connected(server, "/ws") as ws,
        pytest.raises(Hint) as hint,
    ):
        exchange(ws, "hi", after="发送 'hi'")
    assert str(hint.value) == (
        "发送 'hi'之后服务器关闭了连接（关闭码 1000）：你的端点是否用 `while True` 持续循环？"
    )
    with (
        served(app, "zh") as server,
        pytest.raises(Hint, match=r"^/nowhere 上的握手被拒绝，HTTP 403。路径对吗"),
        connected(server, "/nowhere"),
    ):
        pass
    assert outcome(Verdict("07.1", True, "好")) == "练习 07.1 ✅ 通过：好"


def test_help_hints_and_notices_in_chinese() -> None:
    i18n.set_language("zh")
    shown = repr(solutions.reveal("00.1"))
    assert "💡 00.1 的提示：从哪里看起" in shown
    assert "参考答案：\ndef solution_00_1" in shown
    assert "🔑 00.1 的参考答案" in solutions.reveal("00.1")._repr_html_()
    assert hints.hint_for(InvalidURI("http://x", "not ws")).startswith("WebSocket 的 URL")
    assert proxies.bypass_notice().startswith("ws_lessons：这个环境设置了代理")


def test_tables_and_the_doctor_in_chinese() -> None:
    """Headings are translated where a table is shown; the frame explainer and the doctor's
    report carry their own sentences through the catalogue too."""
    frame = frames.encode(frames.Frame(frames.Opcode.TEXT, b"hi"), mask=b"\x01\x02\x03\x04")
    english = str(explain.explain(frame))
    i18n.set_language("zh")
    shown = str(explain.explain(frame))
    assert shown.splitlines()[0].split() == ["字段", "位", "值", "含义"]
    assert "0x1 = 文本帧" in shown and "2 字节的 UTF-8 文本" in shown
    assert shown.endswith("有效的帧，8 字节")
    assert english.splitlines()[0].split() == ["field", "bits", "value", "meaning"]
    report = doctor.Report([doctor.check_proxies(), doctor.check_python()])
    assert str(report).splitlines()[0].split() == ["检查项", "结果", "修复方法"]
    assert str(report).endswith("结论：可以开始学习本课程。")


def test_a_kernel_started_in_the_chinese_folder_prints_chinese(tmp_path: Path) -> None:
    """What the notebook tests rely on: a kernel started in a notebooks/zh folder (as
    nbclient and Jupyter start one, in its notebook's folder) speaks Chinese."""
    folder = tmp_path / "notebooks" / "zh"
    folder.mkdir(parents=True)
    code = "from ws_lessons.checks import check_00_1\ncheck_00_1('A')"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    env = {key: value for key, value in os.environ.items() if key != "WS_LESSONS_LANG"}
    client = NotebookClient(
        notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    with client.setup_kernel(env=env):
        client.execute_cell(notebook.cells[0], 0)
    text = "".join(output.get("text", "") for output in notebook.cells[0].outputs)
    assert text.startswith("练习 00.1 ❌ 尚未通过：")


# --- opening the edition -------------------------------------------------------------------


def test_course_lab_opens_the_chosen_edition() -> None:
    sys.path.insert(0, str(ROOT))
    import course

    assert course.language(["--lang", "zh", "--no-browser"]) == ("zh", ["--no-browser"])
    assert course.language(["--lang=en"]) == ("en", [])
    assert course.language(["--port=9999"]) == ("en", ["--port=9999"])
    for edition, first in course.FIRST_LESSON.items():
        assert (ROOT / first).exists(), f"--lang {edition} opens {first}, which is missing"
    speaks = "import os, sys; sys.exit(os.environ['WS_LESSONS_LANG'] != 'zh')"
    assert course.run([sys.executable, "-c", speaks], WS_LESSONS_LANG="zh") == 0
    refused = subprocess.run(
        [sys.executable, str(ROOT / "course.py"), "lab", "--lang", "fr"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 1
    assert "no edition in language 'fr'; choose --lang en or --lang zh" in refused.stderr


def test_the_readme_opens_with_chinese() -> None:
    top = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## ", 1)[0]
    assert "**中文**" in top
    assert "python3 course.py lab --lang zh" in top
    assert "PIP_INDEX_URL=https://pypi.tuna.tsinghua.edu.cn/simple" in top
    for target in relative_links(top):
        assert (ROOT / target).exists(), f"the README links {target}, which is missing"
