"""``tools/profile/cell_options.py`` runs on a tiny shape and prints its table: one
row per setting, ratios of exactly 1 for the plain cells and consistent with the
printed times (rounded) for the others."""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_cell_options_table():
    env = dict(os.environ, PYTHONPATH=str(ROOT))   # this tree's seqnet, not an install's
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "profile" / "cell_options.py"),
                           "2,5,3,4", "--rounds", "1", "--min-time", "0.001"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in done.stdout.splitlines() if line.startswith("| ") and "ms" not in line]
    names = [r[0] for r in rows]
    assert names == ["lstm", "lstm layer_norm", "lstm proj_size=H/2", "lstm bias=False", "gru",
                     "gru layer_norm"]
    times = {r[0]: (float(r[3]), float(r[4])) for r in rows}
    for name, *_, shape, dtype, fwd, both, r_fwd, r_both in ([r[0], *r] for r in rows):
        assert shape == "2, 5, 3, 4" and dtype == "float32"
        base = times["gru" if name.startswith("gru") else "lstm"]
        assert abs(float(r_fwd) - float(fwd) / base[0]) < 0.01 + 0.05 * float(r_fwd)
        assert abs(float(r_both) - float(both) / base[1]) < 0.01 + 0.05 * float(r_both)
        if name in ("lstm", "gru"):
            assert r_fwd == r_both == "1.00"
