"""The Chinese edition links the Chinese page of a document in ``docs/`` wherever there is one."""

from __future__ import annotations

from pathlib import Path

import nbformat
from test_chinese_edition import TWINS, ZH, navigation, relative_links

ROOT = Path(__file__).resolve().parents[2]


def chinese_pages() -> list[tuple[str, str]]:
    """(where, markdown) for the Chinese glossary and every markdown cell of the twins."""
    pages = [(path.name, path.read_text(encoding="utf-8")) for path in ZH.glob("*.md")]
    for lesson in TWINS:
        path = lesson.path_in(navigation.CHINESE)
        cells = nbformat.read(path, as_version=4).cells
        pages += [
            (f"{path.name}, cell {index}", cell.source)
            for index, cell in enumerate(cells)
            if cell.cell_type == "markdown"
        ]
    return pages


def english_docs_linked(pages: list[tuple[str, str]]) -> list[str]:
    """Links to an English ``docs/*.md`` page that has a Chinese twin ``docs/*.zh.md``."""
    wrong = []
    for where, text in pages:
        for target in relative_links(text):
            page = (ZH / target.split("#")[0]).resolve()
            if page.parent != ROOT / "docs" or page.suffix != ".md" or page.stem.endswith(".zh"):
                continue
            if page.with_suffix(".zh.md").exists():
                wrong.append(f"{where}: {target} (there is {page.stem}.zh.md)")
    return wrong


def test_the_chinese_edition_links_the_chinese_docs() -> None:
    wrong = english_docs_linked(chinese_pages())
    assert not wrong, "English pages linked where a Chinese one exists:\n" + "\n".join(wrong)


def test_the_link_check_finds_an_english_page_with_a_chinese_twin() -> None:
    pages = [
        ("a", "see [the contract](../../docs/chat-contract.md#http-routes)"),
        ("b", "见[协议约定](../../docs/chat-contract.zh.md)"),
        ("c", "[instructors](../../docs/instructor.md), [MDN](https://developer.mozilla.org/)"),
    ]
    assert (ROOT / "docs" / "chat-contract.zh.md").exists()
    assert not (ROOT / "docs" / "instructor.zh.md").exists()
    assert english_docs_linked(pages) == [
        "a: ../../docs/chat-contract.md#http-routes (there is chat-contract.zh.md)"
    ]


def test_the_chinese_contract_and_the_english_one_link_each_other() -> None:
    english = (ROOT / "docs" / "chat-contract.md").read_text(encoding="utf-8")
    chinese = (ROOT / "docs" / "chat-contract.zh.md").read_text(encoding="utf-8")
    assert "](chat-contract.zh.md)" in english
    assert "](chat-contract.md)" in chinese
    # the same sections, the same tables: a faithful translation leaves out no part
    for marker in ("\n## ", "\n### ", "\n| ", "\n1. ", "\n- "):
        assert english.count(marker) == chinese.count(marker), marker
