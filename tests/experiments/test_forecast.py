"""The sunspots forecasting experiment: data, windows, baselines, recursion, command."""

import sys

import numpy as np
import pytest

from seqnet.experiments import forecast as fc

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sunspots():
    return fc.load_sunspots()


# ------------------------------------------------------------------------ data
def test_loader_returns_the_yearly_sunspot_numbers(sunspots):
    years, values = sunspots
    assert years.shape == values.shape == (309,)
    assert years.dtype == np.int64 and values.dtype == np.float64
    np.testing.assert_array_equal(years, np.arange(1700, 2009))
    known = {1700: 5.0, 1704: 36.0, 1950: 83.9, 1957: 190.2, 2000: 119.6, 2008: 2.9}
    for year, value in known.items():
        assert values[year - 1700] == value, year
    assert values.max() == 190.2 and years[np.argmax(values)] == 1957
    assert values.min() >= 0.0


def test_loader_without_statsmodels_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "statsmodels.datasets", None)
    with pytest.raises(ImportError, match=r"seqnet\[experiments\]"):
        fc.load_sunspots()


def test_plot_without_matplotlib_says_how_to_install(monkeypatch):
    # both: another test module may have imported matplotlib.figure already (Keras does)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"seqnet\[experiments\]"):
        fc.plot_results({}, "unused.png")


# ------------------------------------------------------------------- windows
def test_each_target_follows_its_window():
    series = np.arange(40.0) ** 1.5
    targets = np.array([5, 6, 17, 39])
    x, y = fc.make_windows(series, 5, targets)
    assert x.shape == (4, 5, 1) and y.shape == (4, 1)
    for i, t in enumerate(targets):
        np.testing.assert_array_equal(x[i, :, 0], series[t - 5:t])
        assert y[i, 0] == series[t]


def test_split_is_in_time_and_no_test_value_reaches_training(sunspots):
    years, _ = sunspots
    window = fc.DEFAULT_WINDOW
    train, val, test = fc.split_targets(years, window, fc.TRAIN_END, fc.VAL_END)
    # Windows of the index series hold the indices they read.
    x_tr, y_tr = fc.make_windows(np.arange(years.size, dtype=float), window, train)
    touched = np.union1d(x_tr.ravel(), y_tr.ravel()).astype(int)
    assert years[touched].max() == fc.TRAIN_END
    assert np.intersect1d(touched, test).size == 0
    assert np.intersect1d(touched, val).size == 0
    assert years[train[0]] == 1700 + window and years[train[-1]] == fc.TRAIN_END
    assert years[val[0]] == fc.TRAIN_END + 1 and years[val[-1]] == fc.VAL_END
    np.testing.assert_array_equal(years[test], np.arange(1959, 2009))   # the last 50 years


def test_scaler_uses_training_statistics_only(sunspots):
    years, values = sunspots
    train = values[years <= fc.TRAIN_END]
    mean, std = fc.fit_scaler(train)
    assert (mean, std) == (pytest.approx(train.mean()), pytest.approx(train.std()))
    assert abs(mean - values.mean()) > 1.0                  # the whole series differs
    # Multiplying the test years by 10 changes nothing that training sees.
    changed = values.copy()
    changed[years > fc.VAL_END] *= 10.0
    kwargs = {"epochs": 3, "seeds": [0], "hidden": 4, "horizon": 3, "log": None}
    a = fc.run(data=(years, values), **kwargs)
    b = fc.run(data=(years, changed), **kwargs)
    assert a["scaler"] == b["scaler"] == (mean, std)
    assert a["period"] == b["period"] == 11
    # Same network: identical forecasts from the origins before the test years
    # (the first `horizon` origins), different ones from origins inside them.
    for kind in fc.KINDS:
        pa, pb = a["models"][kind]["paths"][0], b["models"][kind]["paths"][0]
        assert years[a["origins"][2]] == fc.VAL_END
        np.testing.assert_array_equal(pa[:3], pb[:3])
        assert not np.allclose(pa[3:], pb[3:])


# ------------------------------------------------------------------ baselines
def test_seasonal_naive_is_exact_on_a_periodic_series():
    pattern = np.random.default_rng(0).standard_normal(7)
    series = np.tile(pattern, 10)
    targets = np.arange(21, 70)
    for h in (1, 3, 7, 8, 14):
        f = fc.seasonal_naive_forecast(series, targets, h, 7)
        np.testing.assert_array_equal(f, series[targets])
    # With the wrong period it is not.
    assert np.abs(fc.seasonal_naive_forecast(series, targets, 1, 6) - series[targets]).max() > 0.1


def test_seasonal_naive_only_uses_values_seen_at_the_origin():
    series = np.arange(100.0)
    targets = np.array([40, 50])
    # h <= P: one period back; P < h <= 2P: two periods back (t - 2P >= t - h).
    np.testing.assert_array_equal(fc.seasonal_naive_forecast(series, targets, 5, 11), [29, 39])
    np.testing.assert_array_equal(fc.seasonal_naive_forecast(series, targets, 11, 11), [29, 39])
    np.testing.assert_array_equal(fc.seasonal_naive_forecast(series, targets, 12, 11), [18, 28])


def test_persistence_repeats_the_last_observed_value():
    slope = 2.5
    series = 3.0 + slope * np.arange(30)
    targets = np.arange(10, 30)
    for h in (1, 4, 10):
        f = fc.persistence_forecast(series, targets, h)
        np.testing.assert_array_equal(f, series[targets - h])
        np.testing.assert_allclose(series[targets] - f, slope * h)
    np.testing.assert_array_equal(fc.persistence_forecast(np.full(20, 4.0), targets[:5], 3), 4.0)


def test_period_of_a_periodic_series_and_of_the_sunspots(sunspots):
    pattern = np.random.default_rng(1).standard_normal(9)
    assert fc.seasonal_period(np.tile(pattern, 12))[0] == 9
    years, values = sunspots
    period, acf = fc.seasonal_period(values[years <= fc.TRAIN_END])
    assert period == 11 and acf[11] > acf[10] > acf[12]


def test_autocorrelation_matches_statsmodels(sunspots):
    from statsmodels.tsa.stattools import acf

    _, values = sunspots
    np.testing.assert_allclose(fc.autocorrelation(values, 20), acf(values, nlags=20),
                               rtol=1e-12, atol=1e-12)


def test_linear_ar_recovers_a_noiseless_autoregression():
    y = np.zeros(60)
    y[:2] = [1.0, 2.0]
    for t in range(2, 60):
        y[t] = 0.5 * y[t - 1] - 0.3 * y[t - 2] + 1.0
    x, target = fc.make_windows(y, 2, np.arange(2, 60))
    predict = fc.fit_linear_ar(x, target)
    np.testing.assert_allclose(predict.coef, [-0.3, 0.5, 1.0], atol=1e-10)
    np.testing.assert_allclose(predict(x), target, atol=1e-10)


def test_errors_by_horizon():
    f = np.array([[1.0, 2.0], [3.0, 6.0]])
    rmse, mae = fc.errors_by_horizon(f, np.array([1.0, 2.0]))
    np.testing.assert_allclose(rmse, [np.sqrt(0.5), np.sqrt(8.5)])
    np.testing.assert_allclose(mae, [0.5, 2.5])


# ------------------------------------------------------------ recursive forecast
def test_recursive_forecast_feeds_its_predictions_back():
    model = fc.build_model("GRU", hidden=3, seed=0)
    series = np.sin(np.arange(30) / 2.0)
    window, horizon, origins = 5, 4, np.array([4, 10, 29])
    paths = fc.recursive_forecast(model.predict, series, origins, window, horizon)
    assert paths.shape == (3, 4)
    for i, o in enumerate(origins):
        buf = list(series[o - window + 1:o + 1])
        for h in range(horizon):
            nxt = model.predict(np.array(buf[-window:])[None, :, None])[0, 0]
            # one row against three in a batch: equal to the last bits
            assert paths[i, h] == pytest.approx(nxt, rel=1e-12, abs=1e-12)
            buf.append(nxt)
    # Not the teacher-forced one-step forecasts: from step 2 on the inputs differ.
    x, _ = fc.make_windows(series, window, [11, 12])
    assert paths[1, 1] != model.predict(x)[1, 0]


def test_recursive_forecast_of_a_mean_predictor_and_no_peeking():
    series = np.array([1.0, 2.0, 3.0, 4.0, 100.0, 200.0])
    paths = fc.recursive_forecast(lambda w: w.mean(axis=1), series, [3], 2, 3)
    np.testing.assert_allclose(paths, [[3.5, 3.75, 3.625]])   # ignores 100 and 200


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(("call", "name"), [
    (lambda: fc.make_windows(np.arange(10.0), 10, [10]), "window"),
    (lambda: fc.make_windows(np.arange(10.0), 0, [3]), "window"),
    (lambda: fc.make_windows(np.arange(10.0), 4, [3]), "targets"),
    (lambda: fc.make_windows(np.arange(10.0), 4, [10]), "targets"),
    (lambda: fc.recursive_forecast(np.sum, np.arange(10.0), [5], 3, 0), "horizon"),
    (lambda: fc.recursive_forecast(np.sum, np.arange(10.0), [5], 11, 2), "window"),
    (lambda: fc.recursive_forecast(np.sum, np.arange(10.0), [1], 3, 2), "origins"),
    (lambda: fc.persistence_forecast(np.arange(10.0), [5], 0), "horizon"),
    (lambda: fc.seasonal_naive_forecast(np.arange(10.0), [5], 1, 0), "period"),
    (lambda: fc.seasonal_naive_forecast(np.arange(10.0), [5], 1, 6), "targets"),
    (lambda: fc.autocorrelation(np.arange(10.0), 10), "max_lag"),
    (lambda: fc.fit_scaler(np.ones(5)), "values"),
    (lambda: fc.build_model("RNN"), "kind"),
    (lambda: fc.run(horizon=0, log=None), "horizon"),
    (lambda: fc.run(window=400, log=None), "window"),
    (lambda: fc.run(seeds=[], log=None), "seeds"),
    (lambda: fc.format_table({}, "mape"), "metric"),
])
def test_bad_arguments_raise_value_error_naming_them(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_command_rejects_a_bad_horizon(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        fc.main(["--out-dir", str(tmp_path), "--horizon", "0"])
    assert exc.value.code == 2
    assert "horizon" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------ end to end
def test_run_is_deterministic_given_the_seeds():
    kwargs = {"epochs": 2, "seeds": [3, 4], "hidden": 4, "horizon": 3, "log": None}
    a, b = fc.run(**kwargs), fc.run(**kwargs)
    for kind in fc.KINDS:
        np.testing.assert_array_equal(a["models"][kind]["paths"], b["models"][kind]["paths"])
    assert not np.array_equal(a["models"]["LSTM"]["paths"][0], a["models"]["LSTM"]["paths"][1])


def test_command_writes_the_figure_and_the_table(tmp_path, capsys):
    out = tmp_path / "figs"
    assert fc.main(["--out-dir", str(out), "--epochs", "1", "--seeds", "0", "1",
                    "--hidden", "4"]) == 0
    png = (out / "forecast_sunspots.png").read_bytes()
    assert png[:8] == PNG_MAGIC and len(png) > 10_000
    table = (out / "forecast_sunspots.md").read_text()
    assert table in capsys.readouterr().out
    header = ("| horizon (years) | LSTM | GRU | linear AR(22) | persistence "
              "| seasonal naive (P=11) |")
    assert table.count(header) == 2                      # RMSE and MAE
    rows = [line for line in table.splitlines() if line.startswith("| 11 |")]
    assert len(rows) == 2
    assert " ± " in rows[0]                              # two seeds: mean ± sd
    # The baselines do not depend on training: persistence at horizon 1 and the
    # seasonal naive, measured from the data by hand.
    years, values = fc.load_sunspots()
    test = values[years > fc.VAL_END]
    cells = [c.strip() for c in table.splitlines()[table.splitlines().index(header) + 2]
             .split("|")[1:-1]]
    assert cells[0] == "1"
    assert float(cells[4]) == round(np.sqrt(np.mean((test - values[-51:-1]) ** 2)), 1)
    assert float(cells[5]) == round(np.sqrt(np.mean((test - values[-61:-11]) ** 2)), 1)
