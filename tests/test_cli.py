"""The seqnet command: charlm train, generate and evaluate, and their errors."""

import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import seqnet
from seqnet.cli import main

CORPUS = seqnet.datasets.shakespeare()[:6000]
FAST = ["--hidden", "8", "--maxlen", "12", "--batch-size", "64", "--sample-length", "20",
        "--progress", "2"]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS)
    return path


def _train(corpus, out, *extra):
    return main(["charlm", "train", "--corpus", str(corpus), "--out", str(out), *FAST, *extra])


def test_train_prints_losses_and_samples_and_saves(corpus, tmp_path, capsys):
    out = tmp_path / "m.npz"
    assert _train(corpus, out, "--epochs", "2") == 0
    text = capsys.readouterr().out
    lines = [line for line in text.splitlines() if line.startswith("epoch ")]
    assert [line.split(" - ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("nats" in line and "bits" in line and "val_loss" in line for line in lines)
    nats, bits = map(float, re.search(r"loss ([\d.]+) nats \(([\d.]+) bits\)", lines[0]).groups())
    assert bits == pytest.approx(nats / math.log(2), abs=1e-4)
    assert text.count("--- temperature") == 2 * 3
    model = seqnet.load_model(out)
    assert model.epochs_trained == 2 and model.metadata["maxlen"] == 12
    vocab = seqnet.text.vocabulary_of(model)
    assert vocab.lowercase and len(vocab) == len(set(CORPUS.lower()))


def test_resume_continues_exactly(corpus, tmp_path, capsys):
    """Two epochs at once equal one epoch, then --resume for one more: same weights."""
    once, twice = tmp_path / "once.npz", tmp_path / "twice.npz"
    assert _train(corpus, once, "--epochs", "2") == 0
    assert _train(corpus, twice, "--epochs", "1") == 0
    assert _train(corpus, twice, "--epochs", "1", "--resume") == 0
    assert "resuming" in capsys.readouterr().out
    a, b = seqnet.load_model(once), seqnet.load_model(twice)
    assert b.epochs_trained == 2
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


@pytest.fixture
def trained(corpus, tmp_path):
    out = tmp_path / "m.npz"
    assert _train(corpus, out, "--epochs", "1") == 0
    return out


def test_generate(trained, capsys):
    seed = CORPUS[:12].lower()
    args = ["charlm", "generate", "--model", str(trained), "--length", "50",
            "--seed-text", seed, "--temperature", "0"]
    assert main(args) == 0
    first = capsys.readouterr().out.rstrip("\n")
    assert first.startswith(seed) and len(first) == len(seed) + 50
    assert main(args) == 0
    assert capsys.readouterr().out.rstrip("\n") == first            # greedy: deterministic
    assert main(["charlm", "generate", "--model", str(trained), "--length", "30",
                 "--method", "window", "--top-k", "3", "--temperature", "1.0"]) == 0
    assert len(capsys.readouterr().out.rstrip("\n")) == 12 + 30       # random seed window


def test_evaluate_ends_with_the_loss_line(trained, corpus, capsys):
    assert main(["charlm", "evaluate", "--model", str(trained), "--corpus", str(corpus),
                 "--max-windows", "500"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    m = re.fullmatch(r"loss: ([\d.]+) nats/char \(([\d.]+) bits/char\)", last)
    assert m, last
    nats, bits = map(float, m.groups())
    assert 0 < nats < math.log(40) and bits == pytest.approx(nats / math.log(2), abs=1e-4)


@pytest.mark.parametrize("content,message", [
    ("", "is empty"),
    ("a", "too few for windows"),
    ("short text", "too few for windows of maxlen=12"),
])
def test_train_refuses_too_little_text(tmp_path, capsys, content, message):
    path = tmp_path / "tiny.txt"
    path.write_text(content)
    out = tmp_path / "m.npz"
    assert _train(path, out, "--epochs", "1") == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_evaluate_unseen_characters(trained, tmp_path, capsys):
    other = tmp_path / "other.txt"
    other.write_text("0123456789 " * 10)
    assert main(["charlm", "evaluate", "--model", str(trained), "--corpus", str(other)]) == 2
    assert "not in the vocabulary" in capsys.readouterr().err


def test_corrupt_and_foreign_model_files(trained, tmp_path, capsys):
    cut = tmp_path / "cut.npz"
    cut.write_bytes(trained.read_bytes()[:1000])
    assert main(["charlm", "generate", "--model", str(cut)]) == 2
    assert "not a readable seqnet model file" in capsys.readouterr().err
    foreign = tmp_path / "gru.npz"
    m = seqnet.Sequential([seqnet.GRU(4, input_size=3, return_sequences=False),
                           seqnet.Dense(2)])
    m.build((5, 3))
    m.save(foreign)
    assert main(["charlm", "evaluate", "--model", str(foreign)]) == 2
    assert "is not a seqnet character model" in capsys.readouterr().err
    assert main(["charlm", "generate", "--model", str(tmp_path / "missing.npz")]) == 2
    assert "no model file" in capsys.readouterr().err
    assert trained.exists() and seqnet.load_model(trained).epochs_trained == 1


def test_entry_point_help():
    result = subprocess.run([sys.executable, "-m", "seqnet", "charlm", "train", "--help"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "--epochs" in result.stdout and "--lr" in result.stdout


def test_arguments_and_the_output_are_checked_before_any_training(corpus, tmp_path, capsys,
                                                                  monkeypatch):
    """A bad --out (missing directory, a directory, a FIFO), --sample-length -5,
    --temperatures nan and --seed -1 fail before an epoch is spent: an error line
    naming the problem and exit status 2, nothing written."""
    spent = []
    monkeypatch.setattr(seqnet.Sequential, "fit", lambda *a, **k: spent.append(1))
    os.mkfifo(tmp_path / "fifo.npz")
    for out, message in ((tmp_path / "missing" / "x.npz", "does not exist"),
                         (tmp_path, "is a directory"),
                         (tmp_path / "fifo.npz", "is a FIFO, not a regular file")):
        assert _train(corpus, out, "--epochs", "1") == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err, err
    for option, value in (("--sample-length", "-5"), ("--temperatures", "nan"),
                          ("--temperatures", "0.5,inf"), ("--seed", "-1")):
        with pytest.raises(SystemExit) as info:
            _train(corpus, tmp_path / "m.npz", "--epochs", "1", option, value)
        assert info.value.code == 2
        assert f"argument {option}" in capsys.readouterr().err
    assert not spent and sorted(os.listdir(tmp_path)) == ["corpus.txt", "fifo.npz"]


def test_operating_system_errors_are_an_error_line(corpus, tmp_path, capsys, monkeypatch):
    """A corpus that cannot be read (/proc/self/mem) and a save that fails after an
    epoch (a full disk) end with one error line and status 2, not a traceback."""
    import errno

    if os.path.exists("/proc/self/mem"):
        assert _train("/proc/self/mem", tmp_path / "m.npz", "--epochs", "1") == 2
        assert capsys.readouterr().err.startswith("error: ")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    assert _train(corpus, tmp_path / "m.npz", "--epochs", "1") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "No space left on device" in err
    assert not (tmp_path / "m.npz").exists()


def test_generate_names_what_is_wrong(trained, tmp_path, capsys):
    """A corpus shorter than the model's window and a temperature that is not a
    number are named, not numpy's "high <= 0" or "probabilities contain NaN"."""
    short = tmp_path / "short.txt"
    short.write_text("too short")
    assert main(["charlm", "generate", "--model", str(trained), "--corpus", str(short)]) == 2
    err = capsys.readouterr().err
    assert "short.txt has 9 characters, too few for a seed window" in err
    assert "maxlen=12" in err
    with pytest.raises(SystemExit):
        main(["charlm", "generate", "--model", str(trained), "--temperature", "nan"])
    assert "argument --temperature: must be a finite number >= 0" in capsys.readouterr().err


def test_evaluate_offers_the_options_its_hints_name(trained, tmp_path, capsys):
    """Unseen characters: the hint names --unknown skip, which leaves them out; a
    file in another encoding: the hint names --encoding, which reads it."""
    mixed = tmp_path / "mixed.txt"
    mixed.write_text(CORPUS[:2000].lower() + "0123456789" * 3)
    assert main(["charlm", "evaluate", "--model", str(trained), "--corpus", str(mixed)]) == 2
    assert "pass --unknown skip" in capsys.readouterr().err
    assert main(["charlm", "evaluate", "--model", str(trained), "--corpus", str(mixed),
                 "--unknown", "skip"]) == 0
    out = capsys.readouterr().out
    assert "left out 30 characters not in the model's vocabulary" in out
    assert out.strip().splitlines()[-1].startswith("loss: ")
    utf16 = tmp_path / "utf16.txt"
    utf16.write_text(CORPUS[:2000].lower(), encoding="utf-16")
    assert main(["charlm", "evaluate", "--model", str(trained), "--corpus", str(utf16)]) == 2
    err = capsys.readouterr().err
    assert "--encoding" in err and "encoding=" not in err
    assert main(["charlm", "evaluate", "--model", str(trained), "--corpus", str(utf16),
                 "--encoding", "utf-16"]) == 0
