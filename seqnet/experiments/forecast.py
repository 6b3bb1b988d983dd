r"""Forecasting the yearly sunspot numbers with an LSTM and a GRU, against naive baselines.

Run it with ``python -m seqnet.experiments.forecast`` (options: ``--out-dir``,
``--epochs``, ``--seeds``, ``--window``, ``--horizon``, ``--hidden``); it needs
``pip install "seqnet[experiments]"`` and runs offline.

The data are the yearly mean sunspot numbers 1700-2008 (309 values) that ship
inside the statsmodels wheel (``statsmodels.datasets.sunspots``). The steps:

1. **Split in time**, by the year of each target: training 1700-1928,
   validation 1929-1958 (early stopping), test 1959-2008 (the last 50 years).
2. **Scale** with the mean and standard deviation of the training years only.
3. **Window**: each sample is the ``window`` values before a year (default 22,
   two solar cycles) and its target the value of that year. A sample belongs to
   the part its target falls in; its inputs may come from earlier parts, which
   were observed by then.
4. **Models**: ``LSTM(32, return_sequences=False) -> Dense(1)`` and the same with
   a GRU, mean squared error, Adam, ten seeds, early stopping on the
   validation loss with the best weights restored.
5. **Recursive multi-step forecasts**: from an origin (the last observed year)
   the model predicts the next year, that prediction is appended to the window
   and fed back, and so on up to ``horizon`` years (default 11, one cycle). For
   each horizon ``h`` every test year ``t`` is forecast from origin ``t - h``, so
   every horizon is scored on the same 50 test years.
6. **Baselines**: persistence (``y[t]`` for every horizon from origin ``t``:
   the last observed value), the seasonal naive forecast with period ``P``
   (``y[t+h-P(k+1)]`` from origin ``t``, ``k = (h-1) // P``: the value one cycle
   earlier), with ``P`` the lag of the highest autocorrelation of the training
   years after the autocorrelation first turns negative (11 years here), and,
   as the reference a nonlinear model should beat, a linear autoregression on
   the same windows (least squares, forecast recursively too).

It writes ``forecast_sunspots.png`` (forecasts against the truth, and error
against horizon) and ``forecast_sunspots.md`` (RMSE and MAE per horizon, mean and
standard deviation over the seeds) into ``--out-dir`` (default
``docs/figures``), and prints the table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from .. import _checks
from .._io import atomic_write
from ..distributed import add_cluster_arguments, cluster_client, map_runs

__all__ = [
    "EXTRA_HINT",
    "autocorrelation",
    "build_model",
    "errors_by_horizon",
    "fit_linear_ar",
    "fit_scaler",
    "format_table",
    "load_sunspots",
    "main",
    "make_windows",
    "persistence_forecast",
    "plot_results",
    "recursive_forecast",
    "run",
    "seasonal_naive_forecast",
    "seasonal_period",
    "split_targets",
    "train_model",
]

EXTRA_HINT = 'install the experiments extra: pip install "seqnet[experiments]"'

#: last year of the training part, last year of the validation part (inclusive).
TRAIN_END, VAL_END = 1928, 1958
DEFAULT_WINDOW = 22
DEFAULT_HORIZON = 11
DEFAULT_HIDDEN = 32
DEFAULT_EPOCHS = 300
DEFAULT_SEEDS = tuple(range(10))
PATIENCE = 20
BATCH_SIZE = 16
LEARNING_RATE = 3e-3
KINDS = ("LSTM", "GRU")
FIGURE_NAME, TABLE_NAME = "forecast_sunspots.png", "forecast_sunspots.md"


# ---------------------------------------------------------------------- checks
def _series(values, name="series"):
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _indices(values, name, n):
    idx = np.asarray(values)
    if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
        raise ValueError(f"{name} must be a one-dimensional array of integers, "
                         f"got shape {idx.shape}, dtype {idx.dtype}")
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"{name} must index the series (0 <= i < {n}), "
                         f"got values in [{idx.min()}, {idx.max()}]")
    return idx


# ------------------------------------------------------------------------ data
def load_sunspots():
    """The yearly mean sunspot numbers 1700-2008 shipped with statsmodels.

    Returns
    -------
    years : ndarray of int64, shape (309,)
        1700, 1701, ..., 2008.
    values : ndarray of float64, shape (309,)
        The yearly mean total sunspot number (statsmodels' ``SUNACTIVITY``).

    Raises
    ------
    ImportError
        statsmodels is not installed (it comes with ``seqnet[experiments]``).
    """
    try:
        from statsmodels.datasets import sunspots
    except ImportError as exc:
        raise ImportError(f"the sunspots data come with statsmodels; {EXTRA_HINT}") from exc
    data = sunspots.load_pandas().data
    years = data["YEAR"].to_numpy().astype(np.int64)
    values = data["SUNACTIVITY"].to_numpy(dtype=np.float64)
    return years, values


def fit_scaler(values):
    """Mean and standard deviation of ``values`` (the training part only).

    Parameters
    ----------
    values : array_like, shape (n,)
        The training values, n >= 2, not all equal.

    Returns
    -------
    mean, std : float
        Scale with ``(x - mean) / std``, unscale with ``z * std + mean``.
    """
    values = _series(values, "values")
    if values.size < 2:
        raise ValueError(f"values needs at least 2 values, got {values.size}")
    std = float(values.std())
    if std == 0.0:
        raise ValueError("values are all equal: their standard deviation is 0")
    return float(values.mean()), std


def autocorrelation(series, max_lag):
    r"""Sample autocorrelation of ``series`` at lags ``0..max_lag``.

    .. math::
        r_k = \frac{\sum_{t=0}^{n-1-k} (x_t - \bar x)(x_{t+k} - \bar x)}
                   {\sum_{t=0}^{n-1} (x_t - \bar x)^2}

    (statsmodels' ``acf`` with its defaults).

    Parameters
    ----------
    series : array_like, shape (n,)
    max_lag : int, 1 <= max_lag < n

    Returns
    -------
    ndarray of float64, shape (max_lag + 1,)
        ``r[0] == 1``.
    """
    x = _series(series)
    max_lag = _checks.integer(max_lag, "max_lag", 1)
    if max_lag >= x.size:
        raise ValueError(f"max_lag must be smaller than the series length {x.size}, "
                         f"got {max_lag}")
    x = x - x.mean()
    denom = float(np.dot(x, x))
    if denom == 0.0:
        raise ValueError("series is constant: its autocorrelation is undefined")
    return np.array([np.dot(x[:x.size - k], x[k:]) / denom for k in range(max_lag + 1)])


def seasonal_period(series, max_lag=20):
    """The period of a cyclic series from its autocorrelation.

    The lag of the highest autocorrelation after the autocorrelation first turns
    negative (so that the slow decay at small lags does not count as a peak).

    Parameters
    ----------
    series : array_like, shape (n,)
    max_lag : int, default 20
        Largest lag considered, < n.

    Returns
    -------
    period : int
    acf : ndarray of float64, shape (max_lag + 1,)
        The autocorrelation, from :func:`autocorrelation`.

    Raises
    ------
    ValueError
        The autocorrelation never turns negative up to ``max_lag``.
    """
    acf = autocorrelation(series, max_lag)
    negative = np.nonzero(acf < 0)[0]
    if negative.size == 0:
        raise ValueError(f"the autocorrelation stays >= 0 up to max_lag={max_lag}: no cycle")
    first = int(negative[0])
    if first == max_lag:
        raise ValueError(f"the autocorrelation first turns negative at max_lag={max_lag}: "
                         "raise max_lag")
    return first + int(np.argmax(acf[first:])), acf


def make_windows(series, window, targets):
    """Input windows and their next values.

    Parameters
    ----------
    series : array_like, shape (n,)
    window : int, 1 <= window < n
        Number of past values in each input.
    targets : array_like of int, shape (N,)
        Indices of the values to predict; each must be >= ``window``.

    Returns
    -------
    x : ndarray of float64, shape (N, window, 1)
        ``x[i, :, 0] == series[targets[i] - window:targets[i]]``.
    y : ndarray of float64, shape (N, 1)
        ``y[i, 0] == series[targets[i]]``.
    """
    series = _series(series)
    window = _checks.integer(window, "window", 1)
    if window >= series.size:
        raise ValueError(f"window ({window}) must be shorter than the series "
                         f"({series.size} values)")
    targets = _indices(targets, "targets", series.size)
    if targets.size and targets.min() < window:
        raise ValueError(f"targets must be >= window ({window}) so that each has a full "
                         f"window, got {targets.min()}")
    cols = targets[:, None] + np.arange(-window, 0)[None, :]
    return series[cols][..., None], series[targets][:, None]


def split_targets(years, window, train_end, val_end):
    """Indices of the training, validation and test targets, split in time.

    A target belongs to the part its year falls in: training ``<= train_end``,
    validation ``train_end < year <= val_end``, test ``> val_end``. Training
    targets start at index ``window`` (the first full window), so every value a
    training window touches lies in the training years.

    Parameters
    ----------
    years : array_like of int, shape (n,)
        Consecutive years.
    window : int >= 1
    train_end, val_end : int
        ``years[0] + window <= train_end < val_end < years[-1]``.

    Returns
    -------
    train, val, test : ndarray of int64, shapes (n_train - window,), (n_val,), (n_test,)
    """
    years = np.asarray(years)
    if years.ndim != 1 or years.size < 3 or np.any(np.diff(years) != 1):
        raise ValueError("years must be at least 3 consecutive years")
    window = _checks.integer(window, "window", 1)
    if not years[0] <= train_end < val_end < years[-1]:
        raise ValueError(f"need {years[0]} <= train_end < val_end < {years[-1]}, "
                         f"got train_end={train_end}, val_end={val_end}")
    n_train = int(np.sum(years <= train_end))
    n_val_end = int(np.sum(years <= val_end))
    if window >= n_train:
        raise ValueError(f"window ({window}) must be shorter than the training part "
                         f"({n_train} values)")
    return (np.arange(window, n_train), np.arange(n_train, n_val_end),
            np.arange(n_val_end, years.size))


# ------------------------------------------------------------------- baselines
def persistence_forecast(series, targets, horizon):
    """The last value observed ``horizon`` steps before each target.

    Parameters
    ----------
    series : array_like, shape (n,)
    targets : array_like of int, shape (N,)
        Indices of the values to forecast, each >= ``horizon``.
    horizon : int >= 1
        Steps from the origin (the last observed index) to the target.

    Returns
    -------
    ndarray of float64, shape (N,)
        ``series[targets - horizon]``.
    """
    series = _series(series)
    horizon = _checks.integer(horizon, "horizon", 1)
    targets = _indices(targets, "targets", series.size)
    if targets.size and targets.min() < horizon:
        raise ValueError(f"targets must be >= horizon ({horizon}), got {targets.min()}")
    return series[targets - horizon]


def seasonal_naive_forecast(series, targets, horizon, period):
    """The value one period before each target, as seen from ``horizon`` steps earlier.

    From origin ``o = t - h`` the seasonal naive forecast of ``t`` is
    ``series[t - period * (k + 1)]`` with ``k = (h - 1) // period``: the latest
    value of the same phase that was observed at the origin.

    Parameters
    ----------
    series : array_like, shape (n,)
    targets : array_like of int, shape (N,)
    horizon : int >= 1
    period : int >= 1

    Returns
    -------
    ndarray of float64, shape (N,)
    """
    series = _series(series)
    horizon = _checks.integer(horizon, "horizon", 1)
    period = _checks.integer(period, "period", 1)
    targets = _indices(targets, "targets", series.size)
    lag = period * ((horizon - 1) // period + 1)
    if targets.size and targets.min() < lag:
        raise ValueError(f"targets must be >= {lag} (period {period} at horizon {horizon}), "
                         f"got {targets.min()}")
    return series[targets - lag]


def fit_linear_ar(x, y):
    """A linear autoregression on the same windows, fitted by least squares.

    The reference any nonlinear model should beat: ``y ~ w . x + b`` with one
    weight per lag (an AR(``window``) model with an intercept).

    Parameters
    ----------
    x : array_like, shape (N, window, 1)
        Training windows.
    y : array_like, shape (N, 1)
        Their next values.

    Returns
    -------
    callable
        ``predict(windows)`` maps ``(M, window, 1)`` to ``(M, 1)``; its ``coef``
        attribute holds ``(w_1, ..., w_window, b)``, shape ``(window + 1,)``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 3 or x.shape[2] != 1:
        raise ValueError(f"x must be (N, window, 1), got shape {x.shape}")
    if y.shape != (x.shape[0], 1):
        raise ValueError(f"y must be (N, 1) = ({x.shape[0]}, 1), got shape {y.shape}")
    if x.shape[0] <= x.shape[1]:
        raise ValueError(f"x needs more windows ({x.shape[0]}) than lags ({x.shape[1]})")
    design = np.hstack([x[:, :, 0], np.ones((x.shape[0], 1))])
    coef = np.linalg.lstsq(design, y[:, 0], rcond=None)[0]

    def predict(windows):
        windows = np.asarray(windows, dtype=np.float64)
        return (windows[:, :, 0] @ coef[:-1] + coef[-1])[:, None]

    predict.coef = coef
    return predict


# ---------------------------------------------------------------- forecasting
def recursive_forecast(predict, series, origins, window, horizon):
    """Multi-step forecasts that feed each prediction back as the next input.

    Parameters
    ----------
    predict : callable
        Maps windows ``(N, window, 1)`` to next values ``(N, 1)`` or ``(N,)``
        (e.g. ``model.predict``).
    series : array_like, shape (n,)
        The observed series (in the model's scale).
    origins : array_like of int, shape (N,)
        Index of the last observed value of each forecast; each >= ``window - 1``.
    window : int >= 1
        Input length of ``predict``.
    horizon : int >= 1
        Number of steps to forecast.

    Returns
    -------
    ndarray of float64, shape (N, horizon)
        Column ``h - 1`` forecasts ``series[origins + h]``; only
        ``series[:origin + 1]`` is used for each row.
    """
    series = _series(series)
    window = _checks.integer(window, "window", 1)
    horizon = _checks.integer(horizon, "horizon", 1)
    if window > series.size:
        raise ValueError(f"window ({window}) must not be longer than the series "
                         f"({series.size} values)")
    origins = _indices(origins, "origins", series.size)
    if origins.size and origins.min() < window - 1:
        raise ValueError(f"origins must be >= window - 1 ({window - 1}), got {origins.min()}")
    cols = origins[:, None] + np.arange(-window + 1, 1)[None, :]
    buf = np.empty((origins.size, window + horizon))
    buf[:, :window] = series[cols]
    for h in range(horizon):
        pred = np.asarray(predict(buf[:, h:h + window, None]), dtype=np.float64)
        buf[:, window + h] = pred.reshape(origins.size)
    return buf[:, window:].copy()


def errors_by_horizon(forecasts, truth):
    """RMSE and MAE of each column of ``forecasts``.

    Parameters
    ----------
    forecasts : array_like, shape (N, H)
    truth : array_like, shape (N,) or (N, H)

    Returns
    -------
    rmse, mae : ndarray of float64, shape (H,)
    """
    f = np.asarray(forecasts, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"forecasts must be (N, H), got shape {f.shape}")
    if t.ndim == 1:
        t = t[:, None]
    if t.shape[0] != f.shape[0]:
        raise ValueError(f"truth must have {f.shape[0]} rows, got shape {t.shape}")
    err = f - t
    return np.sqrt(np.mean(err ** 2, axis=0)), np.mean(np.abs(err), axis=0)


# ------------------------------------------------------------------- the model
def build_model(kind, hidden=DEFAULT_HIDDEN, seed=0, learning_rate=LEARNING_RATE):
    """A compiled ``LSTM(hidden) -> Dense(1)`` or ``GRU(hidden) -> Dense(1)`` regressor.

    Parameters
    ----------
    kind : {"LSTM", "GRU"}
    hidden : int, default 32
    seed : int, default 0
        Seeds the recurrent layer's and the dense layer's initialisation and the
        batch shuffling (three streams spawned from it).
    learning_rate : float, default 3e-3
        Adam's step size.

    Returns
    -------
    seqnet.Sequential
        Input ``(B, T, 1)``, output ``(B, 1)``, float64, loss ``"mse"``, Adam.
    """
    import seqnet

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    hidden = _checks.integer(hidden, "hidden", 1)
    seed = _checks.integer(seed, "seed", 0)
    rec_seed, dense_seed, fit_seed = (int(s) for s in
                                      np.random.SeedSequence(seed).generate_state(3))
    cls = seqnet.LSTM if kind == "LSTM" else seqnet.GRU
    model = seqnet.Sequential([
        cls(hidden, input_size=1, return_sequences=False, dtype=np.float64, seed=rec_seed),
        seqnet.Dense(1, dtype=np.float64, seed=dense_seed),
    ], seed=fit_seed)
    model.compile(loss="mse", optimizer=seqnet.optim.Adam(learning_rate=learning_rate))
    return model


def train_model(model, x, y, x_val, y_val, epochs=DEFAULT_EPOCHS, patience=PATIENCE,
                batch_size=BATCH_SIZE):
    """Fit with early stopping on the validation loss, keeping the best weights.

    Parameters
    ----------
    model : seqnet.Sequential
        From :func:`build_model`.
    x, y : ndarray, shapes (N, T, 1) and (N, 1)
        Training windows and targets (scaled).
    x_val, y_val : ndarray, shapes (M, T, 1) and (M, 1)
        Validation windows and targets (scaled).
    epochs : int >= 1
        Most epochs to run.
    patience : int >= 0
    batch_size : int >= 1

    Returns
    -------
    seqnet.History
    """
    import seqnet

    epochs = _checks.integer(epochs, "epochs", 1)
    stop = seqnet.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=True)
    return model.fit(x, y, batch_size=batch_size, epochs=epochs,
                     validation_data=(x_val, y_val), callbacks=[stop], verbose=0)


# ----------------------------------------------------------------- experiment
def run(epochs=DEFAULT_EPOCHS, seeds=DEFAULT_SEEDS, window=DEFAULT_WINDOW,
        horizon=DEFAULT_HORIZON, hidden=DEFAULT_HIDDEN, data=None, train_end=TRAIN_END,
        val_end=VAL_END, log=print, client=None):
    """Train the models, forecast the test years and score everything.

    Parameters
    ----------
    epochs : int >= 1
        Most training epochs per model (early stopping may end sooner).
    seeds : sequence of int
        One LSTM and one GRU per seed.
    window : int >= 1
    horizon : int >= 1
        Forecast 1..horizon steps ahead.
    hidden : int >= 1
    data : tuple (years, values), optional
        Shapes (n,) and (n,), consecutive years; default :func:`load_sunspots`.
    train_end, val_end : int
        Last year of the training and of the validation part; the test part is
        every later year.
    log : callable or None
        Receives progress lines.
    client : distributed.Client, optional
        Train the models as tasks on its Dask cluster
        (`seqnet.distributed.map_runs`); the results are the serial run's.

    Returns
    -------
    dict
        ``years`` (n,), ``values`` (n,), ``test`` (indices of the test years,
        (N_test,)), ``origins`` (N_o,), ``period``, ``acf``, ``scaler``
        (mean, std), ``baselines`` {name: {"rmse": (H,), "mae": (H,),
        "forecasts": (N_test, H), column ``h - 1`` the forecasts of the test years
        from ``h`` years before}} (the linear AR also has "paths"), ``models``
        {kind: {"rmse": (S, H), "mae": (S, H), "paths": (S, N_o, H) forecasts
        from every origin, "epochs": (S,), "seconds": (S,), "val_loss": (S,)}},
        ``settings``. ``S`` seeds, ``H`` horizons.
    """
    log = log or (lambda *a: None)
    epochs = _checks.integer(epochs, "epochs", 1)
    window = _checks.integer(window, "window", 1)
    horizon = _checks.integer(horizon, "horizon", 1)
    hidden = _checks.integer(hidden, "hidden", 1)
    seeds = [_checks.integer(s, "seeds", 0) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    years, values = load_sunspots() if data is None else data
    years = np.asarray(years).astype(np.int64)
    values = _series(values, "values")
    if years.shape != values.shape:
        raise ValueError(f"data must be (years, values) of one shape, got {years.shape} "
                         f"and {values.shape}")
    train, val, test = split_targets(years, window, train_end, val_end)
    n_train = train[-1] + 1
    period, acf = seasonal_period(values[:n_train])
    lag_needed = max(horizon, period * ((horizon - 1) // period + 1))
    if test[0] - lag_needed < window - 1:
        raise ValueError(f"horizon ({horizon}) reaches back before the first full window")
    mean, std = fit_scaler(values[:n_train])
    scaled = (values - mean) / std
    x_tr, y_tr = make_windows(scaled, window, train)
    x_va, y_va = make_windows(scaled, window, val)
    log(f"sunspots {years[0]}-{years[-1]}: train {years[0]}-{train_end} "
        f"({x_tr.shape[0]} windows of {window}), validation {train_end + 1}-{val_end} "
        f"({x_va.shape[0]}), test {years[test[0]]}-{years[-1]} ({test.size}); "
        f"period {period} (acf {acf[period]:.3f}); scaler mean {mean:.2f} std {std:.2f}")

    # Origin o forecasts o+1..o+H; target t at horizon h comes from origin t-h.
    origins = np.arange(test[0] - horizon, test[-1])
    truth = np.stack([values[test] for _ in range(horizon)], axis=1)

    def pick(paths):
        return _pick(paths, test, origins, horizon)

    ar = fit_linear_ar(x_tr, y_tr)
    ar_paths = recursive_forecast(ar, scaled, origins, window, horizon) * std + mean
    baselines = {f"linear AR({window})": {"forecasts": pick(ar_paths), "paths": ar_paths}}
    for name, fn in (("persistence", lambda h: persistence_forecast(values, test, h)),
                     (f"seasonal naive (P={period})",
                      lambda h: seasonal_naive_forecast(values, test, h, period))):
        baselines[name] = {"forecasts": np.stack([fn(h) for h in range(1, horizon + 1)],
                                                 axis=1)}
    for b in baselines.values():
        b["rmse"], b["mae"] = errors_by_horizon(b["forecasts"], truth)

    models = {}
    shared = (x_tr, y_tr, x_va, y_va, scaled, origins, window, horizon, mean, std, test,
              truth)
    jobs = [(kind, seed, hidden, epochs, shared) for kind in KINDS for seed in seeds]
    runs = map_runs(_model_run, jobs, client=client,
                    describe=lambda job, r: r["line"], log=log)
    for kind in KINDS:
        rec = {k: [r[k] for (kd, *_), r in zip(jobs, runs, strict=True) if kd == kind]
               for k in ("rmse", "mae", "paths", "epochs", "seconds", "val_loss")}
        models[kind] = {k: np.asarray(v) for k, v in rec.items()}
    return {"years": years, "values": values, "test": test, "origins": origins,
            "period": period, "acf": acf, "scaler": (mean, std), "baselines": baselines,
            "models": models,
            "settings": {"epochs": epochs, "seeds": seeds, "window": window,
                         "horizon": horizon, "hidden": hidden, "train_end": train_end,
                         "val_end": val_end, "patience": PATIENCE, "batch_size": BATCH_SIZE,
                         "learning_rate": LEARNING_RATE}}


def _pick(paths, test, origins, horizon):
    """(N_o, H) paths -> (N_test, H) forecasts of the test years."""
    return np.stack([paths[test - h - origins[0], h - 1] for h in range(1, horizon + 1)],
                    axis=1)


def _model_run(job):
    """One model of the grid, ``job = (kind, seed, hidden, epochs, shared data)``: a
    function of its arguments only, so it runs the same here or on a Dask worker."""
    kind, seed, hidden, epochs, shared = job
    x_tr, y_tr, x_va, y_va, scaled, origins, window, horizon, mean, std, test, truth = shared
    start = time.perf_counter()
    model = build_model(kind, hidden, seed)
    hist = train_model(model, x_tr, y_tr, x_va, y_va, epochs=epochs)
    paths = recursive_forecast(model.predict, scaled, origins, window, horizon)
    paths = paths * std + mean
    rmse, mae = errors_by_horizon(_pick(paths, test, origins, horizon), truth)
    seconds = time.perf_counter() - start
    best = float(np.min(hist.history["val_loss"]))
    line = (f"{kind} seed {seed}: {len(hist.epoch)} epochs, {seconds:.1f}s, best val mse "
            f"{best:.4f} (scaled), test RMSE h=1 {rmse[0]:.1f}, h={horizon} "
            f"{rmse[-1]:.1f}")
    return {"rmse": rmse, "mae": mae, "paths": paths, "epochs": len(hist.epoch),
            "seconds": seconds, "val_loss": best, "line": line}


def _pm(values):
    values = np.asarray(values)
    if values.size == 1:
        return f"{values[0]:.1f}"
    return f"{values.mean():.1f} ± {values.std(ddof=1):.1f}"


def format_table(results, metric="rmse"):
    """A markdown table of one metric per horizon: models (mean ± sd over seeds), baselines.

    Parameters
    ----------
    results : dict
        From :func:`run`.
    metric : {"rmse", "mae"}

    Returns
    -------
    str
        One row per horizon, one column per model and baseline, in sunspot numbers.
    """
    if metric not in ("rmse", "mae"):
        raise ValueError(f"metric must be 'rmse' or 'mae', got {metric!r}")
    models, baselines = results["models"], results["baselines"]
    names = [*models, *baselines]
    head = "| horizon (years) | " + " | ".join(names) + " |"
    rule = "|---:|" + "---:|" * len(names)
    rows = [head, rule]
    for h in range(results["settings"]["horizon"]):
        cells = [_pm(models[k][metric][:, h]) for k in models]
        cells += [f"{baselines[k][metric][h]:.1f}" for k in baselines]
        rows.append(f"| {h + 1} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _report(results, seconds):
    s = results["settings"]
    years = results["years"]
    test = results["test"]
    mean, std = results["scaler"]
    lines = [
        "# Sunspots forecast: test error per horizon",
        "",
        f"Yearly sunspot numbers {years[0]}-{years[-1]} (statsmodels); train "
        f"{years[0]}-{s['train_end']}, validation {s['train_end'] + 1}-{s['val_end']}, "
        f"test {years[test[0]]}-{years[-1]} ({test.size} years, each scored at every "
        f"horizon). Windows of {s['window']} years, scaled with the training mean "
        f"{mean:.2f} and standard deviation {std:.2f}. Models: {s['hidden']} units -> "
        f"Dense(1), MSE, Adam (learning rate {s['learning_rate']}), batch {s['batch_size']}, "
        f"at most {s['epochs']} epochs with early stopping (patience {s['patience']}) on the "
        f"validation loss; seeds {', '.join(map(str, s['seeds']))} "
        "(mean ± standard deviation over the seeds). Recursive multi-step forecasts. "
        f"Seasonal period {results['period']} years (training autocorrelation "
        f"{results['acf'][results['period']]:.3f}).",
        "",
        "RMSE (sunspot number):",
        "",
        format_table(results, "rmse"),
        "",
        "MAE (sunspot number):",
        "",
        format_table(results, "mae"),
        "",
    ]
    seasonal = next(b for name, b in results["baselines"].items() if name.startswith("seasonal"))
    ar = next(b for name, b in results["baselines"].items() if name.startswith("linear"))
    for kind, rec in results["models"].items():
        n = rec["rmse"].shape[0]
        beat_s = int(np.sum(np.all(rec["rmse"] < seasonal["rmse"], axis=1)))
        beat_ar = int(np.sum(np.all(rec["rmse"] < ar["rmse"], axis=1)))
        lines.append(f"{kind}: {_pm(rec['epochs'])} epochs, {_pm(rec['seconds'])} s per seed; "
                     f"RMSE below the seasonal naive at every horizon for {beat_s} of {n} "
                     f"seeds, below the linear AR at every horizon for {beat_ar} of {n}.")
        lines.append("")
    lines += [f"Wall time of the run: {seconds:.0f} s.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------- figure
def plot_results(results, path, plot_origins=None):
    """Save the figure: one-step forecasts, multi-step paths, error against horizon.

    Drawn on a :class:`matplotlib.figure.Figure` with the Agg canvas, without
    pyplot: no window opens and the caller's backend is left as it was.

    Parameters
    ----------
    results : dict
        From :func:`run`.
    path : str or path-like
        The PNG file to write.
    plot_origins : sequence of int, optional
        Years from which to draw the multi-step paths (default: every
        ``period`` years from the year before the test part).
    """
    try:
        # A Figure without pyplot renders with the Agg canvas and leaves the
        # caller's backend and open figures alone.
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(f"the figure needs matplotlib; {EXTRA_HINT}") from exc

    years, values, test = results["years"], results["values"], results["test"]
    origins, period = results["origins"], results["period"]
    horizon = results["settings"]["horizon"]
    models, baselines = results["models"], results["baselines"]
    colors = {"LSTM": "tab:blue", "GRU": "tab:orange"}
    base_styles = [("tab:purple", "-."), ("tab:gray", ":"), ("tab:green", "--")]

    fig = Figure(figsize=(10, 11), layout="constrained")
    axes = fig.subplots(3, 1)
    shown = years >= years[test[0]] - 2 * period
    tyears = years[test]
    val_start = max(results["settings"]["train_end"] + 1, int(years[shown][0]))
    for ax in axes[:2]:
        ax.axvspan(val_start - 0.5, tyears[0] - 0.5, color="gray", alpha=0.12, lw=0,
                   label="validation years")

    ax = axes[0]
    ax.plot(years[shown], values[shown], color="black", lw=2, label="observed")
    for kind, rec in models.items():
        one_step = rec["paths"][0][test - 1 - origins[0], 0]
        ax.plot(tyears, one_step, color=colors.get(kind), marker="o", ms=3,
                label=f"{kind}, 1 year ahead (seed {results['settings']['seeds'][0]})")
    for (name, b), (c, ls) in zip(baselines.items(), base_styles, strict=False):
        if name.startswith("seasonal"):
            ax.plot(tyears, b["forecasts"][:, 0], color=c, ls=ls, label=name)
    ax.set_title("One-step-ahead forecasts over the test years "
                 f"({tyears[0]}-{tyears[-1]})")
    ax.set_xlabel("year")
    ax.set_ylabel("sunspot number (yearly mean)")
    ax.legend(loc="upper left", fontsize=8)

    ax = axes[1]
    ax.plot(years[shown], values[shown], color="black", lw=2, label="observed")
    if plot_origins is None:
        plot_origins = list(range(int(years[test[0]]) - 1, int(years[-1]) - horizon + 1,
                                  period))
    for j, oy in enumerate(plot_origins):
        o = int(np.searchsorted(years, oy))
        if o not in set(origins.tolist()):
            raise ValueError(f"plot_origins: {oy} is not a forecast origin")
        r = o - origins[0]
        hy = years[o] + np.arange(1, horizon + 1)
        keep = hy <= years[-1]
        for kind, rec in models.items():
            ax.plot(hy[keep], rec["paths"][0][r][keep], color=colors.get(kind), marker="o",
                    ms=3, label=f"{kind}, 1-{horizon} years ahead" if j == 0 else None)
        ax.plot([years[o]], [values[o]], "ks", ms=6, label="forecast origin" if j == 0 else None)
    ax.set_title(f"Recursive {horizon}-year forecasts from origins "
                 f"{', '.join(map(str, plot_origins))} (seed {results['settings']['seeds'][0]})")
    ax.set_xlabel("year")
    ax.set_ylabel("sunspot number (yearly mean)")
    ax.legend(loc="upper left", fontsize=8)

    ax = axes[2]
    hs = np.arange(1, horizon + 1)
    for kind, rec in models.items():
        m = rec["rmse"].mean(axis=0)
        ax.plot(hs, m, color=colors.get(kind), marker="o",
                label=f"{kind} (mean over {rec['rmse'].shape[0]} seeds, band min-max)")
        ax.fill_between(hs, rec["rmse"].min(axis=0), rec["rmse"].max(axis=0),
                        color=colors.get(kind), alpha=0.2)
    # Zoom on the models: persistence climbs far above the rest mid-cycle.
    top = 1.6 * max(max(rec["rmse"].max() for rec in models.values()),
                    max(b["rmse"].min() for b in baselines.values()))
    for (name, b), (c, ls) in zip(baselines.items(), base_styles, strict=False):
        label = name
        if b["rmse"].max() > top:
            label += f" (off the top, up to {b['rmse'].max():.0f})"
        ax.plot(hs, b["rmse"], color=c, ls=ls, marker=".", label=label)
    ax.set_title(f"Test RMSE against forecast horizon ({tyears[0]}-{tyears[-1]})")
    ax.set_xlabel("horizon (years ahead)")
    ax.set_ylabel("RMSE (sunspot number)")
    ax.set_xticks(hs)
    ax.set_ylim(0, top)
    ax.legend(loc="lower right", fontsize=8)
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=110)


# ------------------------------------------------------------------------- CLI
def _parser():
    p = argparse.ArgumentParser(
        prog="python -m seqnet.experiments.forecast",
        description="Forecast the yearly sunspot numbers with an LSTM and a GRU against "
                    "persistence and seasonal naive baselines; write a figure and a table.")
    p.add_argument("--out-dir", default=os.path.join("docs", "figures"),
                   help="folder for forecast_sunspots.png and .md (default: docs/figures)")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS,
                   help=f"most epochs per model, early stopping may end sooner "
                        f"(default: {DEFAULT_EPOCHS})")
    p.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS),
                   help="one LSTM and one GRU per seed (default: 0 1 ... 9)")
    p.add_argument("--window", type=int, default=DEFAULT_WINDOW,
                   help=f"input length in years (default: {DEFAULT_WINDOW})")
    p.add_argument("--horizon", type=int, default=DEFAULT_HORIZON,
                   help=f"forecast 1..H years ahead (default: {DEFAULT_HORIZON})")
    p.add_argument("--hidden", type=int, default=DEFAULT_HIDDEN,
                   help=f"recurrent units (default: {DEFAULT_HIDDEN})")
    return p


def main(argv=None):
    """The command: train, forecast, print the table, write the figure and the table.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success; 2 after an ``error:`` line when an extra is missing or the
        output folder cannot be made (argparse exits 2 for bad options).
    """
    parser = _parser()
    add_cluster_arguments(parser)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:  # both extras are checked before any training
        data = load_sunspots()
        try:
            from matplotlib.figure import Figure  # noqa: F401
        except ImportError:
            raise ImportError(f"the figure needs matplotlib; {EXTRA_HINT}") from None
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        os.makedirs(args.out_dir, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot create --out-dir {args.out_dir!r}: {exc}", file=sys.stderr)
        return 2
    try:
        with cluster_client(args.workers, args.scheduler) as client:
            results = run(epochs=args.epochs, seeds=args.seeds, window=args.window,
                          horizon=args.horizon, hidden=args.hidden, data=data,
                          client=client)
    except ValueError as exc:
        parser.error(str(exc))
    figure = os.path.join(args.out_dir, FIGURE_NAME)
    plot_results(results, figure)
    report = _report(results, time.perf_counter() - start)
    table = os.path.join(args.out_dir, TABLE_NAME)
    with atomic_write(table, "w") as f:
        f.write(report)
    print(report)
    print(f"wrote {figure} and {table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
