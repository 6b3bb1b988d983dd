"""The streams-against-windows experiment, run tiny: its numbers, files and errors."""

import json

import numpy as np
import pytest

from seqnet import charlm, text
from seqnet.experiments import streaming as st

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY = ["--max-chars", "6000", "--epochs", "2", "--hidden", "8", "--maxlen", "12",
        "--stream-batch-size", "4", "--bptt", "10", "--max-stream-epochs", "3"]


def test_the_command_trains_both_ways_and_writes_its_figure_and_table(tmp_path, capsys):
    assert st.main(["--out-dir", str(tmp_path), *TINY]) == 0
    results = json.loads((tmp_path / "streaming.json").read_text())
    cfg = results["config"]
    assert cfg["chars"] == 6000 and cfg["held_out_chars"] == 600
    assert cfg["stream_batches_per_epoch"] == ((5400 // 4) - 1) // 10
    w, s = results["windows"], results["stream"]
    assert len(w["loss"]) == 2 and 1 <= len(s["loss"]) <= 3
    for r in (w, s):
        assert all(np.diff(r["seconds"]) > 0) and all(np.isfinite(r["loss"]))
    assert results["target"] == w["loss"][-1]
    assert results["windows_seconds"] == w["seconds"][-1]
    # stream training stops once it has used the windowed time (or its epoch bound)
    assert len(s["loss"]) == 3 or s["seconds"][-1] >= w["seconds"][-1]
    assert all(v is not None and np.isfinite(v) for v in s["stream_loss"])
    reached = [t for t, v in zip(s["seconds"], s["loss"], strict=True) if v <= results["target"]]
    assert results["stream_seconds_to_target"] == (reached[0] if reached else None)
    if reached:
        assert results["ratio"] == pytest.approx(reached[0] / results["windows_seconds"])
    assert (tmp_path / "streaming.png").read_bytes()[:8] == PNG_MAGIC
    table = (tmp_path / "streaming.md").read_text()
    assert table in capsys.readouterr().out
    assert "| windows | 2 |" in table and "| stream | 1 |" in table
    assert "| both (untrained) | 0 | 0.0 |" in table


def test_held_out_loss_measures_a_stream_model_as_the_windowed_model():
    """The same weights give the same windowed loss whichever way they were built,
    and the untrained models of both kinds start from the same weights."""
    ids = np.random.default_rng(0).integers(0, 9, 400)
    X, y = text.char_windows(ids, 12, 3)
    windows = st._compile(charlm.build_charlm(9, hidden=6, seed=4), 0.01)
    windows.fit(X, y, batch_size=16, verbose=0)   # trained weights, not the initial ones
    stream = charlm.build_stream_charlm(9, hidden=6, seed=7)
    for k in (0, 2):
        stream.layers[k].load_state_dict(windows.layers[k].state_dict())
    assert st.held_out_loss(stream, X, y) == pytest.approx(st.held_out_loss(windows, X, y),
                                                           abs=1e-6)
    fresh_w = charlm.build_charlm(9, hidden=6, seed=4)
    fresh_s = charlm.build_stream_charlm(9, hidden=6, seed=4)
    for a, b in zip(fresh_w.layers[0].params.values(), fresh_s.layers[0].params.values(),
                    strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_table_says_when_streams_never_reach_the_target():
    results = {"config": dict(hidden=8, dropout=0.2, train_chars=100, held_out_windows=5,
                              maxlen=4, step=3, held_out_chars=20, windows_per_epoch=30,
                              batch_size=8, lr=0.01, stream_batch_size=2, bptt=5,
                              stream_batches_per_epoch=9, stream_lr=0.01, epochs=1,
                              stream_budget=1.0),
               "initial_loss": 2.5, "windows": dict(seconds=[2.0], loss=[2.0]),
               "stream": dict(seconds=[1.0, 2.1], loss=[2.3, 2.2], stream_loss=[2.4, None]),
               "target": 2.0, "windows_seconds": 2.0, "stream_seconds_to_target": None,
               "ratio": None}
    table = st.table(results)
    assert "did not reach the windowed model's loss after 1 epochs (2.0000 nats)" in table
    assert "| stream | 2 | 2.1 | 2.2000 | 3.1739 |  |" in table


@pytest.mark.parametrize("argv, name", [(["--bptt", "0"], "--bptt"),
                                        (["--stream-batch-size", "-1"], "--stream-batch-size"),
                                        (["--lr", "0"], "--lr"),
                                        (["--epochs", "0"], "epochs"),
                                        (["--stream-budget", "0"], "stream_budget")])
def test_the_command_names_the_bad_argument(argv, name, tmp_path, capsys):
    assert st.main(["--out-dir", str(tmp_path), *TINY, *argv]) == 2
    assert name in capsys.readouterr().err
    assert not (tmp_path / "streaming.json").exists()


def test_a_corpus_too_short_for_the_streams_is_refused(tmp_path, capsys):
    argv = ["--out-dir", str(tmp_path), *TINY, "--stream-batch-size", "30", "--bptt", "500"]
    assert st.main(argv) == 2
    assert "batch_size=30 streams" in capsys.readouterr().err
