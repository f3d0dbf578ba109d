"""The README's configuration table is `protocol.settings.render_markdown_table()`."""

from __future__ import annotations

from pathlib import Path

from protocol.settings import SETTINGS, render_markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def test_the_readme_configuration_table_is_generated_from_the_settings() -> None:
    lines = [line.strip() for line in README.read_text(encoding="utf-8").splitlines()]
    assert lines.count(START) == 1 and lines.count(END) == 1, f"README.md needs one {START} ... {END} block"
    start, end = lines.index(START), lines.index(END)
    assert start < end
    table = "\n".join(lines[start + 1:end]).strip()
    assert table == render_markdown_table(), (
        "README.md's configuration table differs from protocol.settings; paste the output of "
        "`python3 -c 'from protocol.settings import render_markdown_table as r; print(r())'` between the markers")


def test_every_setting_is_in_the_table() -> None:
    table = render_markdown_table()
    for setting in SETTINGS:
        assert f"| `{setting.env}` |" in table
