"""Every script kept under ``tools/profile/`` runs, on a tiny shape, and prints the
tables its docstring promises, with numbers that add up.

Each script runs in a subprocess from the repository root, as its README says, with
one round and a millisecond of timing. numba compiles a kernel per dtype, not per
shape: every script runs the LSTM in float32 (the gate pass and the tile in float64
too), so that its kernels compile once. From an empty numba cache the file took 70 s
here, 28 s of it for the copy of HEAD that ab.py extracts and compiles (once per
commit: the copy and its cache are kept); from a warm cache, under 10 s.
"""

import importlib.util
import math
import os
import pathlib
import subprocess
import sys

import numba
import pytest

from seqnet import _dispatch

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "profile"
SHAPE = (2, 5, 3, 4)
SHAPE_ARG = ",".join(map(str, SHAPE))
SHAPE_CELL = ", ".join(map(str, SHAPE))   # as the tables print it
FAST = ["--rounds", "1", "--min-time", "0.001"]
HAS_TORCH = importlib.util.find_spec("torch") is not None


def run(script, *args, env=None):
    """The stdout of ``python tools/profile/SCRIPT ARGS``, run from the root; its
    exit status must be 0."""
    done = subprocess.run([sys.executable, str(TOOLS / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def tables(text):
    """Each markdown table in ``text`` as a list of rows, each a dict from the
    header's column names to the (stripped) cells."""
    found, header = [], None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            assert len(set(cells)) == len(cells), f"repeated column names: {line}"
            header = cells
            found.append([])
        elif set(line) <= set("|-"):
            continue
        else:
            assert len(cells) == len(header), line
            found[-1].append(dict(zip(header, cells, strict=True)))
    return found


def number(cell):
    """A cell's value, which must be a finite number."""
    value = float(cell)
    assert math.isfinite(value), cell
    return value


def close(a, b, tol):
    return abs(a - b) <= tol


def test_cell_split_times_a_cell_and_its_products_add_up():
    """The LSTM only: every cell takes the script's one path (by the registry's gate
    count), and each cell more costs 10-15 s of compiling from an empty cache."""
    out = run("cell_split.py", "lstm", SHAPE_ARG, "float32", *FAST)
    pieces, passes = tables(out)
    names = ["input projection", "forward per-step products", "backward per-step products",
             "dx, dW_ih, dW_hh"]
    assert [r["piece"] for r in pieces] == names
    assert [r["pass"] for r in passes] == ["fwd", "fwd+bwd"]
    ms = {}
    for r in pieces:
        assert (r["cell"], r["dtype"], r["B, T, I, H"]) == ("lstm", "float32", SHAPE_CELL)
        ms[r["piece"]] = number(r["ms"])
        assert ms[r["piece"]] > 0 and number(r["GFLOP/s"]) >= 0
    for r in passes:
        assert (r["cell"], r["dtype"], r["B, T, I, H"]) == ("lstm", "float32", SHAPE_CELL)
        seq, prod, rest = number(r["seqnet ms"]), number(r["products ms"]), number(r["rest ms"])
        # one round: the products are the pieces' own times (printed to 0.001 ms)
        parts = names[:2] if r["pass"] == "fwd" else names
        assert seq > 0 and close(prod, sum(ms[n] for n in parts), 0.003)
        assert close(rest, seq - prod, 0.002)
        if HAS_TORCH:
            torch_ms, ratio = number(r["torch ms"]), number(r["ratio"])
            assert torch_ms > 0 and close(ratio, seq / torch_ms, 0.01 + 0.05 * ratio)
            assert close(number(r["ratio if rest = 0"]), prod / torch_ms,
                         0.01 + 0.05 * ratio)
        else:
            assert (r["torch ms"], r["ratio"], r["ratio if rest = 0"]) == ("-", "-", "-")


def test_cell_split_packs_as_the_layer_does_and_runs_without_torch(tmp_path):
    """A shape whose call packs W_hh (B*T rows from PACK_MIN_ROWS): the header reports
    the dispatch plan the layer's call follows. PyTorch is blocked (a stub ``torch``
    that fails to import): its columns read "-"."""
    B, T, I, H = 4, 10, 3, 4
    stub = tmp_path / "torch"
    stub.mkdir()
    (stub / "__init__.py").write_text("raise ImportError('torch blocked by the test')\n")
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path),
                                                       os.environ.get("PYTHONPATH")]))}
    out = run("cell_split.py", "lstm", f"{B},{T},{I},{H}", "float32", *FAST, env=env)
    # the plan at the subprocess's thread count (numba's default), in "auto" mode
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        with _dispatch.parallel_mode("auto"):
            how = _dispatch.plan(B, T, 4 * H, I, H)
    finally:
        numba.set_num_threads(threads)
    assert how.pack
    head = out.splitlines()[0]
    assert f"time loop {'parallel' if how.parallel else 'serial'}, {how.blocks} row" in head
    assert "weights packed" in head
    pieces, passes = tables(out)
    assert len(pieces) == 4 and all(number(r["ms"]) > 0 for r in pieces)
    assert [r["pass"] for r in passes] == ["fwd", "fwd+bwd"]
    for r in passes:
        assert number(r["seqnet ms"]) > 0
        assert (r["torch ms"], r["ratio"], r["ratio if rest = 0"]) == ("-", "-", "-")


def test_ab_races_head_against_the_working_tree():
    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "HEAD"],
                         capture_output=True)
    if git.returncode != 0:
        pytest.skip("not a git checkout: ab.py needs a revision")
    out = run("ab.py", "HEAD", "lstm", SHAPE_ARG, "--dtypes", "float32", *FAST)
    (rows,) = tables(out)
    assert len(rows) == 1
    r = rows[0]
    assert (r["cell"], r["dtype"], r["B, T, I, H"]) == ("lstm", "float32", SHAPE_CELL)
    old, new, ratio, old_fb, new_fb, ratio_fb = (number(r[k]) for k in (
        "fwd old", "fwd new", "fwd ratio", "fwd+bwd old", "fwd+bwd new", "fwd+bwd ratio"))
    assert min(old, new, old_fb, new_fb) > 0
    # one round: each ratio is new / old of the times printed (to 0.001 ms)
    assert close(ratio, new / old, 0.01 + 0.1 * ratio)
    assert close(ratio_fb, new_fb / old_fb, 0.01 + 0.05 * ratio_fb)


def test_charlm_split_times_each_part_inside_the_step():
    out = run("charlm_split.py", "2", "--chars", "2000", "--batch-size", "2", "--maxlen", "5",
              "--hidden", "4")
    assert out.startswith("2 steps, B=2 T=5 ")
    (rows,) = tables(out)
    ms = {r["part"]: number(r["ms per step"]) for r in rows}
    assert list(ms) == ["LSTM forward (kernel call)",
                        "of which the index gather (input projection)",
                        "LSTM backward (kernel call)", "of which the index scatter-add (dW_ih)",
                        "Dropout, Dense, RMSprop", "total (the loss and Python in the rest)"]
    fwd, gather, bwd, scatter, rest, total = ms.values()
    # every wrapped part was called; the nested ones inside theirs, all inside the step
    assert min(fwd, bwd, rest, gather, scatter) > 0
    assert gather <= fwd and scatter <= bwd
    assert fwd + bwd + rest <= total + 0.002


def test_gate_pass_times_per_hidden_unit():
    T, B, H = 5, 2, 4
    out = run("gate_pass.py", f"{T},{B},{H}", "--dtypes", "float32,float64", "--min-time",
              "0.001")
    (rows,) = tables(out)
    assert [(r["dtype"], r["T, B, H"]) for r in rows] == [
        ("float32", "5, 2, 4"), ("float64", "5, 2, 4")]
    for r in rows:
        ms, ns = number(r["ms"]), number(r["ns per hidden unit and step"])
        assert ms > 0 and close(ns * T * B * H / 1e6, ms, 0.0005 + 0.01 * ms)


def test_panel_products_checks_and_races_the_tile():
    """Shapes with a 4-row tile and a tail row, a partial panel and one wider than a
    panel (64 float32 columns, 32 float64): the script checks every product against
    OpenBLAS before timing it, so a wrong tile fails it."""
    shapes, tn_shapes = ["2,4,16", "5,70,67"], ["10,16,4", "130,5,40"]
    out = run("panel_products.py", "1", "--dtypes", "float32,float64", "--shapes", *shapes,
              "--tn-shapes", *tn_shapes, "--flops", "1e4", "--min-time", "0.001")
    (rows,) = tables(out)
    expected = []
    for dtype in ("float32", "float64"):
        for s in shapes:
            M, K, N = s.split(",")
            expected.append((dtype, f"given {s}", f"{M}x{K} @ {K}x{N}"))
        for s in tn_shapes:
            K, M, N = s.split(",")
            expected.append((dtype, f"given {s}", f"{M}x{K} @ {K}x{N} (A^T B)"))
    assert [(r["dtype"], r["product"], r["shape"]) for r in rows] == expected
    for r in rows:
        blas, tile = number(r["OpenBLAS GFLOP/s"]), number(r["tile GFLOP/s"])
        assert blas > 0 and tile > 0
        # the ratio is of times: tile / OpenBLAS, the inverse of the rates' ratio
        assert close(number(r["ratio"]), blas / tile, 0.01 + 0.1 * blas / tile)


def test_functional_overhead_races_the_two_forms_of_one_model():
    out = run("functional_overhead.py", "2", "--rounds", "2", "--chars", "2000",
              "--batch-size", "2", "--maxlen", "5", "--hidden", "4")
    assert out.startswith("2 steps x 2 rounds, B=2 T=5 H=4")
    (rows,) = tables(out)
    ms = {r["model"]: number(r["ms per step (median)"]) for r in rows}
    assert set(ms) == {"sequential", "functional"} and min(ms.values()) > 0
    ratio = float(out.split("ratio functional / sequential: ")[1].split()[0])
    assert close(ratio, ms["functional"] / ms["sequential"], 0.01 + 0.01 * ratio)
    assert "same weights after the same steps: True" in out


def test_compiles_lists_what_a_command_compiled(tmp_path):
    """compiles.py on a tiny training run from an empty numba cache: the kernels it
    ran are listed as compiled, the totals add up, and each epoch has its time."""
    import json

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    out = run("compiles.py", "--json", str(tmp_path / "c.json"), "--", "charlm", "train",
              "--max-chars", "3000", "--epochs", "2", "--hidden", "8", "--sample-length",
              "0", "--progress", "0", "--out", str(tmp_path / "m.npz"), env=env)
    report = json.loads((tmp_path / "c.json").read_text())
    assert len(report["epochs"]) == 2
    compiled = [r for r in report["rows"] if r["compiled"]]
    names = {r["function"] for r in compiled}
    assert any(n.startswith("seqnet.kernels.lstm._lstm_seq_forward") for n in names)
    assert any(n.startswith("seqnet.kernels.lstm._lstm_seq_backward") for n in names)
    for r in compiled:
        assert 0 <= r["own_seconds"] <= r["seconds"] + 1e-9
    assert f"{len(compiled)} compiled (" in out
    assert "| seqnet.kernels.lstm._lstm_seq_forward" in out


def test_cold_kernels_times_a_fresh_compile():
    """One fresh process with an empty numba cache compiles the serial LSTM pair: its
    first call takes seconds, its second milliseconds (the parallel mode is the same
    code path in the child; compiling it too would double the test's time)."""
    rows = tables(run("cold_kernels.py", "--runs", "1", "--modes", "serial"))[0]
    assert [r["kernels"] for r in rows] == ["serial"]
    first, second = float(rows[0]["first call s"]), float(rows[0]["second call ms"])
    assert first > 1.0 > second / 1000 > 0
    assert float(rows[0]["compile s (first - second)"]) == pytest.approx(
        first - second / 1000, abs=0.02)


def test_weight_grads_checks_and_races_the_tile_against_blas():
    """Both products of every row are checked against numpy's before they are
    printed (a wrong one raises), one row per dtype, shape and weight, both timed."""
    out = run("weight_grads.py", "--dtypes", "float32,float64", "--shapes", "3,5,7,16",
              "2,4,33,8", "--repeats", "1")
    (rows,) = tables(out)
    assert [(r["dtype"], r["B, T, I, H"], r["product"]) for r in rows] == [
        (dt, s, w) for dt in ("float32", "float64") for s in ("3, 5, 7, 16", "2, 4, 33, 8")
        for w in ("dW_ih", "dW_hh")]
    for r in rows:
        assert number(r["tile ms"]) >= 0 and number(r["OpenBLAS ms"]) >= 0
        assert number(r["tile GFLOP/s"]) >= 0 and number(r["OpenBLAS GFLOP/s"]) >= 0


def test_weight_grads_fails_when_a_product_is_wrong(monkeypatch):
    """The check before printing is real: a tile that computes the wrong product
    makes the script raise."""
    import runpy

    module = runpy.run_path(str(TOOLS / "weight_grads.py"))
    # break the BLAS path: a zero product is not dG^T h
    monkeypatch.setitem(module["main"].__globals__, "_blas", lambda dG, h, dW, n: dW.fill(0))
    with pytest.raises(AssertionError, match="differs from numpy"):
        module["main"](["--dtypes", "float64", "--shapes", "2,3,4,8", "--repeats", "1"])
