"""seqnet.interop needs its optional packages only when a converter runs: a
missing one raises MissingExtraError (a ModuleNotFoundError) naming the extra, and
``import seqnet`` imports none of them."""

import subprocess
import sys

import numpy as np
import pytest

import seqnet
from seqnet.interop import MissingExtraError, export_onnx, from_torch, load_keras, save_keras


@pytest.mark.parametrize("package, extra, call", [
    ("h5py", "interop", lambda tmp: load_keras(tmp / "m.keras")),
    ("h5py", "interop", lambda tmp: save_keras(seqnet.Sequential([]), tmp / "m.keras")),
    ("onnx", "interop", lambda tmp: export_onnx(seqnet.Sequential([]), tmp / "m.onnx")),
    ("torch", "torch", lambda tmp: from_torch(None)),
])
def test_a_missing_package_names_its_extra(package, extra, call, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, package, None)    # import raises ImportError
    with pytest.raises(MissingExtraError, match=f'pip install "seqnet\\[{extra}\\]"') as info:
        call(tmp_path)
    assert isinstance(info.value, ModuleNotFoundError)
    assert package in str(info.value)


def test_import_seqnet_loads_no_optional_package():
    code = ("import sys, seqnet, seqnet.interop; "
            "print(sorted(m for m in ('torch', 'h5py', 'onnx', 'keras', 'onnxruntime') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_flip_needs_nothing():
    gru = seqnet.GRU(2, input_size=1, seed=0)
    assert np.all(seqnet.interop.flip_update_gate(gru).params["weight_ih_l0"][2:4]
                  == -gru.params["weight_ih_l0"][2:4])
