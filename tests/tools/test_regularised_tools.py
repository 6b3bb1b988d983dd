"""The regularisers' profiling scripts (issue 15) run on a tiny shape and print the
tables their docstrings promise, with numbers that add up: the overhead of each
regulariser against the plain cell (tools/profile/regularised_overhead.py), and
seqnet's recurrent dropout against Keras's on its PyTorch backend
(tools/profile/keras_recurrent_dropout.py). They run with this checkout's seqnet
first on the path."""

import importlib.util
import math
import os

import pytest

from tests.tools.test_profile_tools import ROOT, run, tables

SHAPES = ["--shapes", "2,5,3,4", "3,4,2,5"]
FAST = ["--rounds", "1", "--min-time", "0.001"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def test_regularised_overhead_prints_every_option_of_every_cell_with_its_ratio():
    out = run("regularised_overhead.py", "--cells", "lstm,gru,rnn-tanh", *SHAPES, *FAST,
              env=ENV)
    [rows] = tables(out)
    seen = {(r["cell"], r["option"], r["B, T, I, H"]) for r in rows}
    for cell in ("lstm", "gru", "rnn-tanh"):
        for shape in ("2, 5, 3, 4", "3, 4, 2, 5"):
            options = {o for c, o, s in seen if c == cell and s == shape}
            expected = {"plain", "recurrent_dropout", "zoneout", "input_dropout",
                        "weight_dropout", "all"} | ({"cell_zoneout"} if cell == "lstm" else set())
            assert options == expected, (cell, shape)
    plain = {(r["cell"], r["B, T, I, H"]): float(r["ms fwd+bwd"]) for r in rows
             if r["option"] == "plain"}
    for r in rows:
        ms, ratio = float(r["ms fwd+bwd"]), float(r["ratio to plain"])
        assert ms > 0
        assert math.isclose(ratio, ms / plain[r["cell"], r["B, T, I, H"]], rel_tol=0.02,
                            abs_tol=2e-3), r


def test_regularised_overhead_refuses_an_unknown_option():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "tools/profile/regularised_overhead.py"),
                           "--options", "dropconnect"], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "dropconnect" in done.stderr


@pytest.mark.skipif(importlib.util.find_spec("keras") is None, reason="Keras not installed")
def test_keras_recurrent_dropout_race_prints_both_frameworks_and_the_ratio():
    out = run("keras_recurrent_dropout.py", "--shapes", "2,5,3,4", *FAST, env=ENV)
    [rows] = tables(out)
    assert [r["B, T, I, H"] for r in rows] == ["2, 5, 3, 4"]
    r = rows[0]
    ms = {k: float(v) for k, v in r.items() if k.endswith("ms")}
    assert len(ms) == 4 and all(v > 0 for v in ms.values())
    assert math.isclose(float(r["Keras ratio"]), ms["Keras recurrent_dropout ms"]
                        / ms["Keras plain ms"], rel_tol=0.02, abs_tol=2e-3)
    assert math.isclose(float(r["seqnet / Keras recurrent_dropout"]),
                        ms["seqnet recurrent_dropout ms"] / ms["Keras recurrent_dropout ms"],
                        rel_tol=0.02, abs_tol=2e-3)
