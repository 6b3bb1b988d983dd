"""Every ``python -m seqnet...`` command shown in the README and the docs names a real
entry point, a real sub-command and options that entry point knows.

The README's own two commands run in CI; the long commands (training for ten
epochs, the benchmark grids, the experiments) cannot run in a test, so this test
asks each entry point's parser instead: no option shown in the docs may be unknown.
"""

import contextlib
import importlib
import io
import pathlib
import re
import shlex

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
#: the module each ``python -m`` target runs.
ENTRY = {"seqnet": "seqnet.cli", "seqnet.gradcheck": "seqnet.gradcheck.__main__",
         "seqnet.inspect": "seqnet.inspect.__main__"}


def _commands():
    seen = set()
    for path in FILES:
        for line in path.read_text().splitlines():
            for part in re.split(r"&&|`", line):
                m = re.search(r"python -m (seqnet[\w.]*)((?: [^#|]*)?)", part)
                if m and (m.group(1), m.group(2).strip()) not in seen:
                    seen.add((m.group(1), m.group(2).strip()))
                    yield pytest.param(m.group(1), m.group(2).strip(),
                                       id=f"{path.name}:{m.group(0).strip()}"[:90])


def _help(module, argv):
    main = importlib.import_module(ENTRY.get(module, module)).main
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return out.getvalue()


@pytest.mark.parametrize("module, args", list(_commands()))
def test_documented_command_uses_known_options(module, args):
    words = shlex.split(args)
    positional = []
    for word in words:
        if word.startswith("-"):
            break
        positional.append(word)
    text = _help(module, positional)  # an unknown sub-command exits 2, not 0
    for word in words:
        if word.startswith("--"):
            assert re.search(rf"{re.escape(word.split('=')[0])}\b", text), \
                f"{module} {' '.join(positional)} has no option {word}"


def test_the_commands_were_found():
    modules = {p.values[0] for p in _commands()}
    assert {"seqnet", "seqnet.bench", "seqnet.gradcheck", "seqnet.experiments.long_range",
            "seqnet.experiments.forecast", "seqnet.inspect"} <= modules
