"""The docs show the kernels' source, never a copy of it.

The derivation pages include their code with pymdownx.snippets from sections marked
in the source by comment lines, ``# --8<-- [start:name]`` ... ``# --8<-- [end:name]``,
and a page names one as ``--8<-- "seqnet/kernels/lstm.py:lstm_gates_forward"``
inside a code fence. These tests check that

- every include on a page under docs/ names a file that exists and a section whose
  start and end markers both stand in that file, once each, in that order;
- no page under docs/derivations/ has a fenced block that is anything but includes,
  so that code cannot be copied onto them again;
- every section marker under seqnet/ is a comment line of a well-formed name with
  exactly one start before exactly one end, and every section is included by a page;
- mkdocs.yml turns the includes on and fails the build on a missing one.

Each check is a function returning the problems it finds; the ``*_catches_*`` tests
feed each one a broken input, so none of the assertions can pass vacuously.
"""

import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").rglob("*.md"))
DERIVATIONS = sorted((ROOT / "docs" / "derivations").glob("*.md"))
SOURCES = sorted((ROOT / "seqnet").rglob("*.py"))

#: an inline include, ``--8<-- "path"`` (pymdownx.snippets: any run of dashes, the
#: path in single or double quotes); ``;--8<--`` is an escaped, literal line.
INLINE = re.compile(r"""^\s*(?P<escape>;*)-+8<-+[ \t]+(?P<q>["'])(?P<target>.+?)(?P=q)\s*$""")
#: the marker that opens and closes a block include (one path a line between).
BLOCK = re.compile(r"^\s*(?P<escape>;*)-+8<-+\s*$")
#: a section marker, ``--8<-- [start:name]`` / ``[end:name]``, anywhere on a line.
MARKER = re.compile(r"-+8<-+[ \t]+\[[ \t]*(?P<kind>start|end)[ \t]*:"
                    r"[ \t]*(?P<name>[^\]\s]*)[ \t]*\]")
#: the section names pymdownx.snippets recognises.
NAME = re.compile(r"[a-z][-_0-9a-z]*", re.I)
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


def includes(text):
    """The targets (``path:section``) of the includes in a page's text."""
    targets, block = [], False
    for line in text.splitlines():
        if m := INLINE.match(line):
            if not m.group("escape"):
                targets.append(m.group("target").strip())
        elif m := BLOCK.match(line):
            if not m.group("escape"):
                block = not block
        elif block and line.strip() and not line.strip().startswith(";"):
            targets.append(line.strip())
    return targets


def markers(text):
    """``(line number, kind, name, line)`` of every section marker in a file's text."""
    return [(n, m.group("kind"), m.group("name"), line)
            for n, line in enumerate(text.splitlines(), 1)
            for m in [MARKER.search(line)] if m]


def include_problems(page_text, root=ROOT):
    """What is wrong with the includes of one page: a target without a section (a
    whole file or line numbers drift), a file that is not there, a section without
    exactly one start marker before exactly one end marker in that file."""
    problems = []
    for target in includes(page_text):
        path, _, section = target.rpartition(":")
        if not path or not NAME.fullmatch(section):
            problems.append(f"{target}: not a 'path:section' include")
            continue
        file = root / path
        if not file.is_file():
            problems.append(f"{target}: no file {path}")
            continue
        found = [(n, kind) for n, kind, name, _ in markers(file.read_text()) if name == section]
        starts = [n for n, kind in found if kind == "start"]
        ends = [n for n, kind in found if kind == "end"]
        if len(starts) != 1 or len(ends) != 1:
            problems.append(f"{target}: {len(starts)} start and {len(ends)} end markers "
                            f"of [{section}] in {path}, not one each")
        elif starts[0] > ends[0]:
            problems.append(f"{target}: the end marker of [{section}] comes before its start")
    return problems


def copy_problems(page_text):
    """The fenced blocks of a page that hold anything but includes (block includes'
    paths and blank lines allowed): a copy of code, which nothing checks."""
    problems, lines, i = [], page_text.splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, start, body, block = m.group("fence"), i + 1, [], False
        i += 1
        while i < len(lines):
            close = lines[i].strip()
            if close[:1] == fence[0] and set(close) == {fence[0]} and len(close) >= len(fence):
                break
            body.append(lines[i])
            i += 1
        i += 1
        for line in body:
            if BLOCK.match(line) and not BLOCK.match(line).group("escape"):
                block = not block
            elif not line.strip() or block or (INLINE.match(line)
                                               and not INLINE.match(line).group("escape")):
                continue
            else:
                problems.append(f"line {start}: a fenced block ({m.group('info').strip() or 'no'}"
                                f" language) that is not an include: {line.strip()[:60]!r}")
                break
        if not [line for line in body if line.strip()]:
            problems.append(f"line {start}: an empty fenced block")
    return problems


def marker_problems(source_text):
    """What is wrong with the section markers of one source file: a marker that is not
    a comment line or whose name pymdownx.snippets would not read, a name without
    exactly one start before exactly one end, or a section with no line in it."""
    problems, seen = [], {}
    for n, kind, name, line in markers(source_text):
        if not line.lstrip().startswith("#"):
            problems.append(f"line {n}: a section marker that is not a comment line")
        seen.setdefault(name, {"start": [], "end": []})[kind].append(n)
    for name, at in seen.items():
        if not NAME.fullmatch(name):
            problems.append(f"[{name}]: not a section name that snippets reads")
        elif len(at["start"]) != 1 or len(at["end"]) != 1:
            problems.append(f"[{name}]: starts at lines {at['start']}, ends at lines "
                            f"{at['end']}, not one each")
        elif at["start"][0] >= at["end"][0]:
            problems.append(f"[{name}]: the end marker comes before its start")
        else:
            inside = source_text.splitlines()[at["start"][0]:at["end"][0] - 1]
            if not [line for line in inside if line.strip() and not MARKER.search(line)]:
                problems.append(f"[{name}]: an empty section")
    return problems


def _rel(path):
    return str(path.relative_to(ROOT))


# ------------------------------------------------------------------------ the tree


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_include_names_a_file_and_a_marked_section(page):
    assert include_problems(page.read_text()) == []


@pytest.mark.parametrize("page", DERIVATIONS, ids=_rel)
def test_derivation_pages_hold_no_copied_code(page):
    assert copy_problems(page.read_text()) == []


@pytest.mark.parametrize("source", [s for s in SOURCES if "8<-" in s.read_text()], ids=_rel)
def test_every_marker_is_a_comment_with_one_start_and_one_end(source):
    assert marker_problems(source.read_text()) == []


def test_derivation_pages_include_the_kernels_and_every_section_is_shown():
    shown = {t for page in PAGES for t in includes(page.read_text())}
    assert len({t for page in DERIVATIONS for t in includes(page.read_text())}) >= 20
    marked = {f"{_rel(s)}:{name}" for s in SOURCES
              for _, kind, name, _ in markers(s.read_text()) if kind == "start"}
    assert sorted(marked - shown) == [], "sections marked in seqnet/ that no page includes"


def test_mkdocs_enables_the_includes_and_fails_on_a_missing_one():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    found = [e for e in config["markdown_extensions"]
             if isinstance(e, dict) and "pymdownx.snippets" in e]
    assert len(found) == 1
    options = found[0]["pymdownx.snippets"]
    assert options["check_paths"] is True
    assert options["base_path"] == ["."]
    assert options.get("dedent_subsections") is True   # sections from a function body


# ------------------------------------------------- the checks fail where they should

SOURCE = """\
def f():
    # --8<-- [start:whole]
    x = 1
    # --8<-- [end:whole]
"""


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(SOURCE + "# --8<-- [start:open]\n")
    (tmp_path / "pkg" / "late.py").write_text("# --8<-- [end:late]\n# --8<-- [start:late]\n")
    return tmp_path


def test_include_check_catches_a_missing_file_or_section(tree):
    good = '```python\n--8<-- "pkg/mod.py:whole"\n```\n'
    assert include_problems(good, tree) == []
    for bad in ('--8<-- "pkg/gone.py:whole"', '--8<-- "pkg/mod.py:gone"',
                '--8<-- "pkg/mod.py:open"', '--8<-- "pkg/late.py:late"',
                '--8<-- "pkg/mod.py"', '--8<-- "pkg/mod.py:2:3"',
                "--8<--\npkg/mod.py:gone\n--8<--"):
        assert len(include_problems(f"```python\n{bad}\n```\n", tree)) == 1, bad
    assert include_problems(';--8<-- "pkg/gone.py:whole"\n', tree) == []   # escaped


def test_copy_check_catches_code_in_a_fence():
    assert copy_problems('```python title="a.py"\n--8<-- "a.py:s"\n\n--8<-- "a.py:t"\n```\n'
                         "```text\n--8<--\na.py:s\n--8<--\n```\n"
                         "$$\nx = 1\n$$\n") == []
    for bad in ("```text\nfor s in range(T):\n```", "```python\nx = 1\n```",
                '    ```py\n    --8<-- "a.py:s"\n    h = 0\n    ```',
                "~~~\nx\n~~~", "```text\n```", '````\n--8<-- "a.py:s"\n```\nx\n````'):
        assert len(copy_problems(bad + "\n")) == 1, bad


def test_marker_check_catches_a_broken_section():
    assert marker_problems(SOURCE) == []
    for bad in (SOURCE + "# --8<-- [start:open]\n",                     # no end
                SOURCE + "# --8<-- [end:whole]\n",                      # two ends
                "# --8<-- [end:s]\nx = 1\n# --8<-- [start:s]\n",        # end first
                "# --8<-- [start:s]\n# --8<-- [end:s]\n",               # empty
                'x = "--8<-- [start:s]"\ny = 1\n# --8<-- [end:s]\n',    # not a comment
                "# --8<-- [start:_s]\nx = 1\n# --8<-- [end:_s]\n"):     # a name snippets skips
        assert len(marker_problems(bad)) == 1, bad
