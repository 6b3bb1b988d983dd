"""Every ```python block in the README and docs/ runs, and prints what it says.

Each ``print(...)`` line states its output in a trailing comment,
``print(...)  # text``; the test checks that the block printed exactly those lines.
"""

import contextlib
import io
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _blocks():
    for path in FILES:
        text = path.read_text()
        for n, match in enumerate(re.finditer(r"^```python\n(.*?)^```$", text, re.S | re.M)):
            yield pytest.param(match.group(1), id=f"{path.relative_to(ROOT)}#{n}")


@pytest.mark.parametrize("code", list(_blocks()))
def test_code_block_runs_and_prints_what_it_says(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files a block writes land in a scratch folder
    expected = [m.group(1).strip() for line in code.splitlines()
                if (m := re.match(r"\s*print\(.*\)\s+#\s*(.*)$", line))]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(code, "<doc>", "exec"), {"__name__": "__doc__"})
    printed = [line.strip() for line in buffer.getvalue().splitlines()]
    assert printed == expected
