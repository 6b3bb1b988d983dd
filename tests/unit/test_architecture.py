"""The floors of the house (docs/architecture.md): a module imports only from floors
below its own, never sideways or upwards, except inside its own package."""

import ast
import pathlib

import pytest

import seqnet

ROOT = pathlib.Path(seqnet.__file__).parent

#: floor of each module or package (the longest matching name wins).
FLOORS = {
    # the foundations: flags, checks, files, thread pools
    "seqnet._config": 0, "seqnet._checks": 0, "seqnet._io": 0, "seqnet._progress": 0,
    "seqnet._registry": 0,
    "seqnet._threads": 1,
    "seqnet._dispatch": 2, "seqnet._checksum": 2,
    # numba kernels, and what the layers and the training stack are made of
    "seqnet.kernels": 3, "seqnet.activations": 3, "seqnet.optim": 3, "seqnet.text": 3,
    "seqnet.datasets": 3, "seqnet.callbacks": 3, "seqnet.graph": 3,
    # layers, losses, model files
    "seqnet.layers": 4, "seqnet.losses": 4, "seqnet.metrics": 4, "seqnet.saving": 4,
    # models and the cell registry
    "seqnet.model": 5, "seqnet.variants": 5,
    # what uses models
    "seqnet.charlm": 6, "seqnet.generate": 6, "seqnet.decode": 6, "seqnet.gradcheck": 6,
    "seqnet.inspect": 6, "seqnet.interop": 6, "seqnet.distributed": 6,
    # the package's front door: it re-exports the public names of the floors below;
    # beside it, the test tools for users' layers, which `import seqnet` never loads
    "seqnet": 7, "seqnet.testing": 7,
    # applications: the command line, the benchmarks, the worked experiments
    "seqnet.cli": 8, "seqnet.bench": 8, "seqnet.experiments": 8, "seqnet.inspect.__main__": 8,
    # python -m seqnet
    "seqnet.__main__": 9,
}


def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _floor(name):
    key = max((k for k in FLOORS if name == k or name.startswith(k + ".")), key=len)
    return key, FLOORS[key]


def _imports(source, name, is_package=False):
    """The seqnet modules that the source of module ``name`` imports (relative and
    absolute, at the top or inside functions)."""
    package = name if is_package else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("seqnet"):
                continue
            for alias in node.names:   # `from . import text` imports seqnet.text
                sub = f"{target}.{alias.name}"
                module_file = ROOT.parent / (sub.replace(".", "/") + ".py")
                package_dir = ROOT.parent / sub.replace(".", "/")
                found.add(sub if module_file.exists() or package_dir.is_dir() else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("seqnet"))
    found.discard(name)
    return found


def _violations(name, imported):
    """The imports of module ``name`` that go up or sideways."""
    own_key, own = _floor(name)
    bad = []
    for target in sorted(imported):
        key, floor = _floor(target)
        if not ((key == own_key and key != "seqnet") or floor < own):
            bad.append(f"{name} (floor {own}) imports {target} (floor {floor})")
    return bad


MODULES = sorted(ROOT.rglob("*.py"))


def test_every_module_has_a_floor():
    for path in MODULES:
        name = _module_name(path)
        assert any(name == k or name.startswith(k + ".") for k in FLOORS), name


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_go_down_only(path):
    """Every seqnet module a module imports is on a lower floor, or inside the same
    package (the kernels' helpers, the layers' base class). So the generic model
    imports no char-LM code, no activation imports a loss, no library module imports
    the command line."""
    name = _module_name(path)
    imported = _imports(path.read_text(), name, path.name == "__init__.py")
    assert not _violations(name, imported), "upward or sideways imports"


def test_the_check_sees_upward_and_sideways_imports():
    """The check can fail: the imports issue 12 found are refused, inside functions
    too, and imports inside a package or downwards pass."""
    source = "def f():\n    from .losses import softmax\n"
    assert _imports(source, "seqnet.activations") == {"seqnet.losses"}
    assert _violations("seqnet.activations", {"seqnet.losses"})          # sideways
    assert _violations("seqnet.bench", {"seqnet.cli"})                  # sideways
    assert _violations("seqnet.layers.recurrent", {"seqnet.model"})     # upward
    assert _violations("seqnet.model", {"seqnet.text"}) == []            # downward
    assert _imports("from . import _steps\nfrom .. import _dispatch\n",
                    "seqnet.kernels.lstm") == {"seqnet.kernels._steps", "seqnet._dispatch"}
    assert _violations("seqnet.kernels.lstm", {"seqnet.kernels._steps", "seqnet._dispatch"}) == []
