"""The long-range memory experiment: its data, its gradient measurement, its command."""

import json

import numpy as np
import pytest

from seqnet import Dense, Sequential
from seqnet.experiments import long_range as lr
from tests.reference import naive


def test_adding_problem_marks_one_step_in_each_half_and_sums_them():
    x, y = lr.adding_problem(20000, 30, np.random.default_rng(0))
    assert x.shape == (20000, 30, 2) and y.shape == (20000, 1)
    marks = x[:, :, 1]
    assert set(np.unique(marks)) == {0.0, 1.0}
    assert (marks[:, :15].sum(1) == 1).all() and (marks[:, 15:].sum(1) == 1).all()
    assert ((x[:, :, 0] >= 0) & (x[:, :, 0] < 1)).all()
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * marks).sum(1), rtol=1e-6)
    # Always predicting the mean, 1, scores Var(U + U') = 1/6.
    assert abs(np.mean((y - 1.0) ** 2) - lr.BASELINE_MSE) < 0.005


@pytest.mark.parametrize("kwargs, name", [(dict(n=0, length=5), "n"),
                                          (dict(n=3, length=1), "length")])
def test_adding_problem_rejects_bad_sizes(kwargs, name):
    with pytest.raises(ValueError, match=name):
        lr.adding_problem(rng=np.random.default_rng(0), **kwargs)


def _steps(cell, params, x_row, h, c):
    """The reference state after running one row ``x_row`` (t, 2) from (h, c)."""
    p = tuple(params[k + "_l0"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    state = (h[None], c[None]) if cell == "LSTM" else (h[None],)
    name = {"LSTM": "lstm", "GRU": "gru"}.get(cell, "rnn")
    _, final = naive.run_direction(name, x_row[None], p, state)
    return final[0][0], (final[1][0] if cell == "LSTM" else c)


def _naive_loss(cell, params, dense, x_row, y_row, t, h, c):
    """One row's squared error, running the reference cell from step t with state (h, c)."""
    h, _ = _steps(cell, params, x_row[t:], h, c)
    pred = dense.params["weight"] @ h + dense.params["bias"]
    return float(((pred - y_row) ** 2).sum())


@pytest.mark.parametrize("cell", list(lr.CELLS))
def test_hidden_state_gradients_match_finite_differences_of_the_reference(cell):
    """dL_b/dh_t from the two-piece backward == central differences of the NumPy
    reference cell restarted from a perturbed state at t, for every t, row, unit."""
    B, T, H = 3, 6, 4
    rng = np.random.default_rng(7)
    rnn = lr.CELLS[cell](H, input_size=2, return_sequences=False, dtype=np.float64, seed=3)
    dense = Dense(1, dtype=np.float64, seed=4)
    model = Sequential([rnn, dense])
    model.build((T, 2))
    for name, value in rnn.params.items():
        if name.startswith("bias"):
            value[:] = rng.normal(0, 0.5, value.shape)
    dense.params["bias"][:] = 0.3
    x, y = lr.adding_problem(B, T, rng, dtype=np.float64)
    dh, dc = lr.hidden_state_gradients(model, x, y)
    assert dh.shape == (T + 1,) and (dc is None) == (cell != "LSTM")

    eps = 1e-6
    fd_h, fd_c = np.zeros((T + 1, B)), np.zeros((T + 1, B))
    for t in range(T + 1):
        for b in range(B):
            h, c = np.zeros(H), np.zeros(H)
            h_t, c_t = _steps(cell, rnn.params, x[b, :t], h, c)
            gh, gc = np.zeros(H), np.zeros(H)
            for k in range(H):
                e = np.zeros(H)
                e[k] = eps
                args = (cell, rnn.params, dense, x[b], y[b], t)
                gh[k] = (_naive_loss(*args, h_t + e, c_t) - _naive_loss(*args, h_t - e, c_t)) / (
                    2 * eps)
                gc[k] = (_naive_loss(*args, h_t, c_t + e) - _naive_loss(*args, h_t, c_t - e)) / (
                    2 * eps)
            fd_h[t, b], fd_c[t, b] = np.linalg.norm(gh), np.linalg.norm(gc)
    np.testing.assert_allclose(dh, fd_h.mean(1), rtol=1e-6, atol=1e-10)
    if cell == "LSTM":
        np.testing.assert_allclose(dc, fd_c.mean(1), rtol=1e-6, atol=1e-10)


def _two_piece_gradients(model, x, y):
    """The measurement's former method, O(T^2): for each t, run steps [0, t) for the
    state at t, then the backward of steps [t, T) from it returns its gradient."""
    rnn, dense = model.layers
    B, T = x.shape[:2]
    dh, dc = np.zeros(T + 1), np.zeros(T + 1)
    state = (np.zeros((1, B, rnn.hidden_size), rnn.dtype),) * len(rnn.state_names)
    for t in range(T + 1):
        if t > 0:
            _, state = rnn.call(x[:, t - 1:t], state, training=False)
        if t == T:
            d_out = 2.0 * (dense.forward(state[0][0]) - y)
            dh[t] = np.linalg.norm(d_out @ dense.params["weight"], axis=1).mean()
            continue
        out = rnn.forward(x[:, t:], state, training=True)
        pred = dense.forward(out, training=True)
        _, *dstate = rnn.backward(dense.backward(2.0 * (pred - y)))
        dh[t] = np.linalg.norm(dstate[0][0], axis=1).mean()
        if len(dstate) > 1:
            dc[t] = np.linalg.norm(dstate[1][0], axis=1).mean()
    return dh, (dc if len(rnn.state_names) > 1 else None)


@pytest.mark.parametrize("cell", list(lr.CELLS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_state_gradients_agree_with_the_two_piece_method(cell, dtype):
    """The measurement now comes from one backward (seqnet.inspect.state_gradients);
    the O(T^2) two-piece method it replaced gives the same curves, at
    initialisation and after a few training steps."""
    B, T = 8, 12
    rng = np.random.default_rng(5)
    model = lr.build_model(cell, 6, seed=1)
    if dtype == np.float64:
        model = Sequential([lr.CELLS[cell](6, input_size=2, return_sequences=False,
                                           dtype=dtype, seed=1), Dense(1, dtype=dtype, seed=1)])
        model.compile(loss="mse", optimizer="adam")
    x, y = lr.adding_problem(B, T, rng, dtype=dtype)
    for _ in range(2):
        new, old = lr.hidden_state_gradients(model, x, y), _two_piece_gradients(model, x, y)
        tol = 1e-10 if dtype == np.float64 else 2e-5
        np.testing.assert_allclose(new[0], old[0], rtol=tol)
        assert (new[1] is None) == (cell != "LSTM")
        if cell == "LSTM":
            np.testing.assert_allclose(new[1][:-1], old[1][:-1], rtol=tol)
            assert new[1][-1] == old[1][-1] == 0.0
        model.fit(x, y, batch_size=4, epochs=3, verbose=0)


def test_hidden_state_gradients_rejects_other_models():
    model = Sequential([Dense(3, input_size=2), Dense(1)])
    with pytest.raises(ValueError, match="model must be"):
        lr.hidden_state_gradients(model, np.zeros((2, 5, 2)), np.zeros((2, 1)))


def test_the_command_trains_measures_and_writes_its_figures(tmp_path, capsys):
    status = lr.main(["--out-dir", str(tmp_path), "--lengths", "6", "12", "--seeds", "0", "1",
                      "--epochs", "1", "--train-size", "200", "--test-size", "100",
                      "--grad-length", "12"])
    assert status == 0
    results = json.loads((tmp_path / "long_range.json").read_text())
    for cell in lr.CELLS:
        assert set(results["mse"][cell]) == {"6", "12"}
        assert all(len(v) == 2 and all(m > 0 for m in v) for v in results["mse"][cell].values())
        g = results["gradients"][cell]
        assert len(g["init"]) == len(g["trained"]) == 13
        assert g["init"] != g["trained"]  # training moved the weights
    assert "init_c" in results["gradients"]["LSTM"]
    table = (tmp_path / "long_range.md").read_text()
    assert table.splitlines()[0] == "| T | SimpleRNN | LSTM | GRU |"
    assert len(table.splitlines()) == 4 and table in capsys.readouterr().out
    for name in ("long_range_mse.png", "long_range_gradients.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_command_reports_bad_arguments(tmp_path, capsys):
    status = lr.main(["--out-dir", str(tmp_path), "--lengths", "10", "--grad-length", "50"])
    assert status == 2
    assert "error: grad_length must be one of lengths" in capsys.readouterr().err
    assert not (tmp_path / "long_range.json").exists()


def test_the_command_leaves_the_callers_matplotlib_alone(tmp_path):
    """The figures are drawn on Figure objects: pyplot's backend and its list of
    open figures are what they were."""
    import matplotlib
    import matplotlib.pyplot as plt

    backend, opened = matplotlib.get_backend(), plt.get_fignums()
    assert lr.main(["--out-dir", str(tmp_path), "--lengths", "6", "--seeds", "0",
                    "--epochs", "1", "--train-size", "50", "--test-size", "20",
                    "--grad-length", "6"]) == 0
    assert matplotlib.get_backend() == backend and plt.get_fignums() == opened


@pytest.mark.parametrize("argv, message", [
    (["--train-size", "0"], "train_size must be"),
    (["--lengths", "1"], "lengths must be at least 2"),
    (["--out-dir", "/proc/no/such/dir"], "cannot create --out-dir"),
])
def test_the_command_names_the_bad_argument(argv, message, tmp_path, capsys):
    argv = ["--out-dir", str(tmp_path), "--grad-length", "0", *argv]
    assert lr.main(argv) == 2
    assert message in capsys.readouterr().err
