"""``tools/interop/onnx_serving.py`` runs on a tiny model: onnxruntime and seqnet,
each in a process of its own, generate the same characters, and it prints one table
row per engine (the timings themselves are not checked: they are measured on a
quiet machine)."""

import os
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

ROOT = pathlib.Path(__file__).resolve().parents[2]


def serve(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT / "tools" / "interop" / "onnx_serving.py"),
                           *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def test_onnx_serving_runs_on_a_tiny_model():
    done = serve("--vocab", "7", "--hidden", "5", "--length", "12", "--streams", "3",
                 "--rounds", "2", "--repeats", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("same characters from both") for line in lines), done.stdout
    rows = [line for line in lines if line.startswith("| ") and "engine" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["seqnet Sequential.step", "onnxruntime"]
    assert "3 stream(s) x 12 characters; each engine in a process of its own" in done.stdout
    assert "2 round(s) of best-of-1" in done.stdout
    speed = [line for line in lines if line.startswith("onnxruntime / seqnet")]
    assert len(speed) == 1 and float(speed[0].rsplit(":", 1)[1]) > 0


def test_onnx_serving_refuses_zero_rounds():
    done = serve("--vocab", "7", "--hidden", "5", "--rounds", "0")
    assert done.returncode == 2 and "--rounds must be at least 1" in done.stderr
