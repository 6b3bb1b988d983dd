"""``seqnet charlm train --mode stream``: stateful training on streams, end to end.

Train on a small slice of the bundled corpus in stream mode, then generate from
the saved file (both methods) and evaluate it, which measures it as the windowed
model is measured (the same numbers as `seqnet.charlm.windows_model`); and the
bad ``--bptt`` values are refused before anything is trained.
"""

import math
import re

import numpy as np
import pytest

import seqnet
from seqnet import charlm, text
from seqnet.cli import main

FAST = ["--hidden", "8", "--maxlen", "12", "--sample-length", "20", "--progress", "2",
        "--max-chars", "4000"]


def _train(out, *extra):
    return main(["charlm", "train", "--out", str(out), *FAST, *extra])


def test_stream_mode_trains_saves_generates_and_evaluates(tmp_path, capsys):
    out = tmp_path / "stream.npz"
    assert _train(out, "--mode", "stream", "--bptt", "16", "--batch-size", "8",
                  "--epochs", "2") == 0
    printed = capsys.readouterr().out
    assert "windows of 16 in 8 streams (stream mode)" in printed
    lines = [line for line in printed.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 2 and all("val_loss" in line and "bits" in line for line in lines)
    nats, bits = map(float, re.search(r"val_loss ([\d.]+) nats \(([\d.]+) bits\)",
                                      lines[-1]).groups())
    assert bits == pytest.approx(nats / math.log(2), abs=1e-4)
    assert printed.count("--- temperature") == 2 * 3

    model = seqnet.load_model(out)
    lstm = model.layers[0]
    assert lstm.stateful and lstm.return_sequences and lstm.states is None
    assert model.metadata["mode"] == "stream" and model.metadata["bptt"] == 16
    assert model.epochs_trained == 2

    # the held-out loss fit printed is the stream loss of the held-out tail
    corpus = seqnet.datasets.shakespeare()[:4000].lower()
    vocab = text.vocabulary_of(model)
    held_out = corpus[len(corpus) - int(round(len(corpus) * 0.1)):]
    X, Y = text.stream_arrays(vocab.encode(held_out), 8, 16)
    assert model.evaluate(X, Y, batch_size=8)["loss"] == pytest.approx(nats, abs=5e-5)

    for method in ("stream", "window"):
        assert main(["charlm", "generate", "--model", str(out), "--length", "30",
                     "--seed-text", "to be or not to be", "--method", method]) == 0
        assert len(capsys.readouterr().out.strip()) >= 30

    corpus_file = tmp_path / "eval.txt"
    corpus_file.write_text(corpus[:1500])
    assert main(["charlm", "evaluate", "--model", str(out), "--corpus", str(corpus_file),
                 "--step", "5"]) == 0
    loss = float(re.search(r"loss: ([\d.]+) nats", capsys.readouterr().out).group(1))
    Xw, yw = text.char_windows(vocab.encode(corpus[:1500]), 12, 5)
    expected = charlm.windows_model(model).evaluate(Xw, yw, batch_size=512)["loss"]
    assert loss == pytest.approx(expected, abs=1e-4)
    assert np.isfinite(loss)

    assert _train(out, "--resume", "--epochs", "1") == 0   # resumes in stream mode
    assert "stream mode" in capsys.readouterr().out
    assert seqnet.load_model(out).epochs_trained == 3


@pytest.mark.parametrize("bptt", ["0", "-3", "2.5", "many"])
def test_bad_bptt_values_are_refused_by_the_parser(tmp_path, bptt, capsys):
    out = tmp_path / "m.npz"
    with pytest.raises(SystemExit) as exc:
        _train(out, "--mode", "stream", "--bptt", bptt)
    assert exc.value.code == 2
    assert "--bptt" in capsys.readouterr().err
    assert not out.exists()


def test_a_bptt_too_long_for_the_text_or_without_stream_mode_is_refused(tmp_path, capsys):
    out = tmp_path / "m.npz"
    assert _train(out, "--mode", "stream", "--bptt", "500", "--batch-size", "16") == 2
    err = capsys.readouterr().err
    assert "--batch-size 16 streams of --bptt + 1 = 501" in err and "epoch" not in err
    assert _train(out, "--bptt", "20") == 2
    assert "--bptt 20 is the window of --mode stream" in capsys.readouterr().err
    assert not out.exists()
