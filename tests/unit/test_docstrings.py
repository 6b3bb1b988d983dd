"""Every public name has a numpydoc docstring that documents each of its parameters.

The public API is ``seqnet.__all__`` plus every public (non-underscore) function and
class defined in the public modules below, with their public methods, class- and
static methods and properties. A name whose signature takes parameters (``self``
and ``cls`` aside; for a class, its constructor's) must have a ``Parameters``
section with an entry for each of them: ``x``, ``x, y : ...`` (one entry for
several) or ``**kwargs``. Examples in those docstrings must run.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re

import pytest

import seqnet

#: the public modules (the underscore modules and ``kernels`` are internal).
PUBLIC_MODULES = (
    "seqnet.layers", "seqnet.layers.base", "seqnet.layers.recurrent", "seqnet.layers.core",
    "seqnet.layers.sequence", "seqnet.layers.normalization", "seqnet.layers.padding",
    "seqnet.layers.merge", "seqnet.layers.attention", "seqnet.layers.wrappers",
    "seqnet.model", "seqnet.saving", "seqnet.losses", "seqnet.metrics", "seqnet.optim",
    "seqnet.activations",
    "seqnet.callbacks", "seqnet.text", "seqnet.generate", "seqnet.decode", "seqnet.charlm",
    "seqnet.variants",
    "seqnet.gradcheck", "seqnet.gradcheck.__main__", "seqnet.inspect", "seqnet.inspect.__main__",
    "seqnet.testing", "seqnet.datasets",
    "seqnet.bench",
    "seqnet.interop",
    "seqnet.cli", "seqnet.experiments.long_range", "seqnet.experiments.forecast",
    "seqnet.experiments.streaming",
    "seqnet.experiments.wordlm",
)
#: modules whose examples another test module already runs (test_<name>.py).
DOCTESTED_ELSEWHERE = ("seqnet.datasets", "seqnet.losses", "seqnet.metrics", "seqnet.optim",
                       "seqnet.text")
#: names allowed to leave a parameter out of their Parameters section, with the reason.
#: Empty: add an entry only when documenting the parameter is truly impossible.
UNDOCUMENTED_PARAMETERS: dict[str, set[str]] = {}

_HEADER = re.compile(r"^(\S.*)\n-{3,}[ \t]*$", re.M)


def _is_routine(obj):
    return inspect.isfunction(inspect.unwrap(obj))


def _members(cls):
    """(name, function or property) of the public members ``cls`` defines itself."""
    for name, attr in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(attr, property):
            yield name, attr, "property"
        elif isinstance(attr, staticmethod):
            yield name, attr.__func__, "static"
        elif isinstance(attr, classmethod):
            yield name, attr.__func__, "bound"
        elif _is_routine(attr):
            yield name, attr, "bound"


def _public_api():
    """{qualified name: (object, kind)}; kind is module, class, function, property,
    bound (a method: its first parameter is self or cls) or static."""
    found = {}

    def add_class(qualname, cls):
        found[qualname] = (cls, "class")
        for name, member, kind in _members(cls):
            found[f"{qualname}.{name}"] = (member, kind)

    for name in seqnet.__all__:
        obj = getattr(seqnet, name)
        if inspect.ismodule(obj):
            found[obj.__name__] = (obj, "module")
        elif inspect.isclass(obj):
            add_class(f"{obj.__module__}.{obj.__qualname__}", obj)
        elif _is_routine(obj):
            found[f"{obj.__module__}.{obj.__qualname__}"] = (obj, "function")
    for modname in PUBLIC_MODULES:
        module = importlib.import_module(modname)
        found[modname] = (module, "module")
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != modname:
                continue
            if inspect.isclass(obj):
                add_class(f"{modname}.{name}", obj)
            elif _is_routine(obj):
                found[f"{modname}.{name}"] = (obj, "function")
    return found


API = _public_api()


def _parameters(obj, kind):
    """Names a Parameters section must document (``*args``/``**kwargs`` as such)."""
    if kind in ("module", "property"):
        return []
    params = list(inspect.signature(obj).parameters.values())
    if kind == "bound":
        params = params[1:]
    stars = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    return [stars.get(p.kind, "") + p.name for p in params]


def _section(doc, title):
    """The body of the numpydoc section ``title`` (None when absent)."""
    headers = list(_HEADER.finditer(doc))
    for i, match in enumerate(headers):
        if match.group(1).strip() == title:
            end = headers[i + 1].start() if i + 1 < len(headers) else len(doc)
            return doc[match.end():end]
    return None


def _documented(section):
    """Parameter names of a Parameters section's entries (unindented lines)."""
    names = set()
    for line in section.splitlines():
        if line.strip() and not line[0].isspace():
            for name in line.split(" : ")[0].split(","):
                names.add(name.strip())
    return names


def _doc(obj, kind):
    target = obj.fget if kind == "property" else obj
    return inspect.cleandoc(target.__doc__) if target.__doc__ else ""


def test_the_walk_finds_the_public_api():
    assert "seqnet.layers.recurrent.LSTM" in API
    assert "seqnet.layers.base.Layer.forward" in API
    assert "seqnet.layers.recurrent.RecurrentLayer.call" in API
    assert "seqnet.text.CharVocabulary.from_text" in API       # a classmethod
    assert "seqnet.datasets.shakespeare" in API                  # behind lru_cache
    assert "seqnet._threads.set_num_threads" in API              # seqnet.__all__
    assert "seqnet.gradcheck.__main__.main" in API
    assert not [name for name in API if name.rsplit(".", 1)[-1].startswith("_")
                and not name.endswith("__main__")]
    assert len(API) > 150


@pytest.mark.parametrize("name", sorted(API))
def test_public_name_has_a_docstring(name):
    obj, kind = API[name]
    doc = _doc(obj, kind)
    assert doc, f"{name} has no docstring"
    assert doc.splitlines()[0].strip(), f"{name}: the docstring must open with a summary line"


@pytest.mark.parametrize("name", sorted(n for n, (obj, kind) in API.items()
                                        if _parameters(obj, kind)))
def test_parameters_section_names_every_parameter(name):
    obj, kind = API[name]
    doc = _doc(obj, kind)
    section = _section(doc, "Parameters")
    assert section is not None, f"{name} takes {_parameters(obj, kind)} but has no Parameters"
    documented = {n.lstrip("*") for n in _documented(section)}
    allowed = UNDOCUMENTED_PARAMETERS.get(name, set())
    missing = [p for p in _parameters(obj, kind)
               if p.lstrip("*") not in documented and p not in allowed]
    assert not missing, f"{name}: Parameters does not document {missing}"


def test_the_checks_catch_a_gap():
    def documented(x, *, y=1, **rest):
        """Summary.

        Parameters
        ----------
        x, y : int
            Numbers.
        **rest
            Anything.

        Returns
        -------
        int
        """

    def gap(x, y):
        """Summary.

        Parameters
        ----------
        x : int

        Returns
        -------
        y : int
        """

    assert _documented(_section(_doc(documented, "function"), "Parameters")) == {
        "x", "y", "**rest"}
    assert _documented(_section(_doc(gap, "function"), "Parameters")) == {"x"}
    assert _section(_doc(gap, "function"), "Raises") is None


@pytest.mark.parametrize("modname", [m for m in PUBLIC_MODULES if m not in DOCTESTED_ELSEWHERE])
def test_docstring_examples_run(modname):
    result = doctest.testmod(importlib.import_module(modname),
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
