"""``tools/interop/onnx_serving.py`` runs on a tiny model: onnxruntime and seqnet
generate the same characters, and it prints one table row per engine (the timings
themselves are not checked: they are measured on a quiet machine)."""

import os
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_onnx_serving_runs_on_a_tiny_model():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "interop" / "onnx_serving.py"),
                           "--vocab", "7", "--hidden", "5", "--length", "12", "--streams", "3",
                           "--rounds", "1"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("same characters from both") for line in lines), done.stdout
    rows = [line for line in lines if line.startswith("| ") and "engine" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["seqnet Sequential.step", "onnxruntime"]
    assert "3 stream(s) x 12 characters" in done.stdout
