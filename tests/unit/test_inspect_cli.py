"""python -m seqnet.inspect: end to end on a tiny character model, its numbers
against seqnet.inspect's, and its errors."""

import re
import subprocess
import sys

import numpy as np
import pytest

import seqnet
from seqnet import inspect
from seqnet.cli import main as seqnet_main
from seqnet.inspect import __main__ as cli

CORPUS = seqnet.datasets.shakespeare()[:4000]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("inspect")
    corpus = tmp / "corpus.txt"
    corpus.write_text(CORPUS)
    for name, dropout in (("m.npz", "0.2"), ("nodrop.npz", "0")):
        assert seqnet_main(["charlm", "train", "--corpus", str(corpus), "--out",
                            str(tmp / name), "--hidden", "8", "--maxlen", "12", "--epochs",
                            "1", "--sample-length", "0", "--progress", "0",
                            "--dropout", dropout]) == 0
    return tmp, corpus


def test_end_to_end_prints_the_tables_and_writes_the_plot(files, capsys):
    tmp, corpus = files
    png = tmp / "fig.png"
    assert cli.main([str(tmp / "m.npz"), "--text", str(corpus), "--windows", "40",
                     "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "40 windows of 12 characters" in out
    for gate in "ifgoh":
        assert re.search(rf"^  l0 +{gate} +-?[\d.]+ ", out, re.M), gate
    assert re.search(r"^  l0 +h +([\d.e+-]+ +){5}[\d.e+-]+$", out, re.M)
    assert re.search(r"^  l0 +c +", out, re.M)
    assert "t=11" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {png}" in out


def test_the_numbers_are_seqnet_inspects(files, capsys):
    """The printed forget-gate fraction above 0.9 and the gradient norm at the last
    step are those of inspect.trace and inspect.state_gradients on the same windows
    (a model without dropout, so that the gradients are reproducible), whatever
    the batch size."""
    tmp, corpus = files
    path = str(tmp / "nodrop.npz")
    assert cli.main([path, "--text", str(corpus), "--windows", "30", "--batch-size", "7"]) == 0
    out = capsys.readouterr().out
    model = seqnet.load_model(path)
    vocab = seqnet.text.vocabulary_of(model)
    x, y = seqnet.text.char_windows(vocab.encode(CORPUS.lower()), 12, 12)
    x, y = x[:30], y[:30]
    f = inspect.trace(model, x)[0]["f"]
    high = float((f > 0.9).mean())
    assert re.search(rf"^  l0 +f +[\d.]+ +[\d.]+ +{high:.3f}", out, re.M)
    g = inspect.state_gradients(model, x, y)[0]["h"][0, :, -1] * 30
    last = float(np.linalg.norm(g.astype(np.float64), axis=1).mean())
    line = re.findall(r"^  l0 +h +(.*)$", out, re.M)[-1].split()   # the gradient table's
    assert float(line[-1]) == pytest.approx(last, rel=1e-2)
    one = cli.measure(model, x, y, batch_size=30)[0]
    several = cli.measure(model, x, y, batch_size=7)[0]
    np.testing.assert_allclose(several["grad"]["h"], one["grad"]["h"], rtol=1e-4)
    assert several["gates"]["l0"]["i"]["mean"] == pytest.approx(one["gates"]["l0"]["i"]["mean"])


@pytest.mark.parametrize("argv,message", [
    (["missing.npz"], "error: "),
    (["m.npz", "--plot", "fig.jpeg"], "error: --plot must end in .png, .pdf, .svg"),
    (["m.npz", "--text", "short.txt"], "too few for the model's windows"),
    (["m.npz", "--text", "other.txt"], "not in the vocabulary"),
    (["plain.npz"], "is not a seqnet character model"),
])
def test_errors_exit_2_with_an_error_line(files, argv, message, capsys, monkeypatch):
    tmp, _ = files
    monkeypatch.chdir(tmp)
    (tmp / "short.txt").write_text("to be")
    (tmp / "other.txt").write_text("\u00e9\u00e8" * 50)
    plain = seqnet.Sequential([seqnet.LSTM(2, input_size=3), seqnet.Dense(1)])
    plain.build((4, 3))
    plain.save(tmp / "plain.npz")
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_argument_errors_and_a_missing_matplotlib(files, capsys, monkeypatch):
    tmp, corpus = files
    with pytest.raises(SystemExit) as exc:
        cli.main([str(tmp / "m.npz"), "--windows", "0"])
    assert exc.value.code == 2 and "error: argument --windows" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    out = tmp / "never.png"
    assert cli.main([str(tmp / "m.npz"), "--plot", str(out)]) == 2
    assert "error: --plot needs matplotlib" in capsys.readouterr().err
    assert not out.exists()


def test_python_dash_m(files):
    tmp, corpus = files
    run = subprocess.run([sys.executable, "-m", "seqnet.inspect", str(tmp / "m.npz"), "--text",
                          str(corpus), "--windows", "5"], capture_output=True, text=True,
                         cwd=str(tmp), timeout=300,
                         env={**__import__("os").environ,
                              "PYTHONPATH": str(__import__("pathlib").Path(seqnet.__file__)
                                                .parent.parent)})
    assert run.returncode == 0, run.stderr
    assert "5 windows of 12 characters" in run.stdout and run.stderr == ""
