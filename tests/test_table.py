"""The one table type: aligned text, escaped HTML."""

from ws_lessons.table import Table


def test_text_aligns_columns_and_puts_numbers_on_the_right() -> None:
    table = Table(["name", "count"], [("a", 1), ("longer", 1000)], note="2 rows", rule=True)
    assert str(table).splitlines() == [
        "name    count",
        "------  -----",
        "a           1",
        "longer   1000",
        "2 rows",
    ]


def test_html_escapes_cells_and_marks_code_columns() -> None:
    table = Table(["field", "bits"], [("<FIN>", "1")], code=["bits"])
    page = table._repr_html_()
    assert "<td>&lt;FIN&gt;</td>" in page
    assert "<td><code>1</code></td>" in page
    assert "<th>field</th><th>bits</th>" in page


def test_chinese_text_takes_two_columns_so_the_columns_still_line_up() -> None:
    table = Table(["字段", "value"], [("操作码", "1"), ("FIN", "0")])
    lines = str(table).splitlines()
    assert lines == ["字段    value", "操作码  1", "FIN     0"]
