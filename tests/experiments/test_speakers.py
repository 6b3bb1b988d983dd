"""The speaker recognition experiment: the .ts reader, the data, DTW, the model, the command."""

import importlib.util
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from seqnet.experiments import speakers as sp

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

TS_FILE = """\
# a comment
@problemName Tiny
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength false
@classLabel true a b

@data
1.0,2.0,3.0:4.0,5.0,6.0:b
-1.5,2e-3:0.25,7:a
"""


@pytest.fixture(scope="module")
def vowels():
    return sp.load_japanese_vowels()


def naive_dtw(a, b):
    """Dynamic time warping by its recursion, in plain Python lists."""
    n, m = len(a), len(b)
    inf = float("inf")
    acc = [[inf] * (m + 1) for _ in range(n + 1)]
    acc[0][0] = 0.0
    for p in range(1, n + 1):
        for q in range(1, m + 1):
            cost = sum((float(u) - float(v)) ** 2 for u, v in zip(a[p - 1], b[q - 1],
                                                                  strict=True))
            acc[p][q] = cost + min(acc[p - 1][q - 1], acc[p - 1][q], acc[p][q - 1])
    return acc[n][m]


# ------------------------------------------------------------------ the reader
def test_read_ts_reads_variable_length_multivariate_series(tmp_path):
    path = tmp_path / "tiny.ts"
    path.write_text(TS_FILE.replace("\n", "\r\n"))          # the shipped files have CRLF
    series, labels = sp.read_ts(path)
    assert labels.tolist() == ["b", "a"]
    np.testing.assert_array_equal(series[0], [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]])
    np.testing.assert_array_equal(series[1], [[-1.5, 0.25], [2e-3, 7.0]])
    assert series[0].dtype == np.float64


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.split("@data")[0], "no @data section"),
    (lambda t: t.replace("@data\n", ""), r"line 10: expected a header line"),
    (lambda t: t.replace("@timeStamps false", "@timeStamps true"), "time stamps"),
    (lambda t: t.replace("@classLabel true a b", "@classLabel false"), "no class labels"),
    (lambda t: t.replace("2.0,3.0:4.0", "2.0,?:4.0"), r"line 11: missing values"),
    (lambda t: t.replace("4.0,5.0,6.0:b", "b"), r"line 11: expected 2 dimensions"),
    (lambda t: t.replace("4.0,5.0,6.0", "4.0,5.0"), r"line 11: .*different lengths"),
    (lambda t: t.replace("0.25,7:a", "0.25,x:a"), r"line 12: a value is not a number"),
    (lambda t: t.replace("0.25,7:a", "0.25,7:c"), r"line 12: label 'c'"),
    (lambda t: t.split("@data")[0] + "@data\n", "no series"),
])
def test_read_ts_refuses_a_malformed_file_naming_the_line(tmp_path, change, message):
    path = tmp_path / "bad.ts"
    path.write_text(change(TS_FILE))
    with pytest.raises(ValueError, match=message):
        sp.read_ts(path)


def test_pad_series_keeps_each_length_and_pads_with_zeros():
    rng = np.random.default_rng(0)
    series = [rng.standard_normal((t, 3)) for t in (4, 1, 6)]
    x, lengths = sp.pad_series(series, 8)
    assert x.shape == (3, 8, 3) and lengths.tolist() == [4, 1, 6]
    for s, row, n in zip(series, x, lengths, strict=True):
        np.testing.assert_array_equal(row[:n], s)
        assert not row[n:].any()
    with pytest.raises(ValueError, match="steps"):
        sp.pad_series(series, 5)
    with pytest.raises(ValueError, match="dimensions"):
        sp.pad_series([np.zeros((2, 3)), np.zeros((2, 4))])


# -------------------------------------------------------------------- the data
def test_data_is_the_official_split(vowels):
    train, test = vowels
    assert train.x.shape == (270, 29, 12) and test.x.shape == (370, 29, 12)
    np.testing.assert_array_equal(np.bincount(train.y), [30] * 9)
    np.testing.assert_array_equal(np.bincount(test.y), [31, 35, 88, 44, 29, 24, 40, 50, 29])
    assert (train.lengths.min(), train.lengths.max()) == (7, 26)
    assert (test.lengths.min(), test.lengths.max()) == (7, 29)
    # The first training utterance (speaker 1) starts as the UCI file does.
    assert train.y[0] == 0 and train.lengths[0] == 20
    np.testing.assert_array_equal(train.x[0, :3, 0], [1.860936, 1.891651, 1.939205])
    assert train.x[0, 0, 1] == -0.207383
    for part in (train, test):                   # padded after each utterance, never inside
        valid = np.arange(29)[None, :] < part.lengths[:, None]
        assert not part.x[~valid].any()
        assert np.all(np.abs(part.x[valid]).sum(axis=-1) > 0)


def test_data_is_found_without_importing_sktime():
    folder = sp.data_dir()
    assert (folder / "JapaneseVowels_TEST.ts").is_file()
    # in a fresh interpreter: another test may have imported sktime in this one
    code = ("import sys; from seqnet.experiments import speakers as sp; "
            "train, test = sp.load_japanese_vowels(); "
            "print(len(train.y), len(test.y), 'sktime' in sys.modules)")
    root = pathlib.Path(sp.__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                         text=True, check=True).stdout
    assert out.split() == ["270", "370", "False"]


def test_missing_sktime_names_the_extra(monkeypatch, tmp_path, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sktime" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match=r"sktime.*seqnet\[experiments\]"):
        sp.load_japanese_vowels()
    assert sp.main(["--out-dir", str(tmp_path / "out")]) == 2
    assert 'pip install "seqnet[experiments]"' in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_plot_without_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"seqnet\[experiments\]"):
        sp.plot_confusion({}, "unused.png")


def test_scaler_reads_the_valid_frames_only():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 6, 2)) * [2.0, 0.5] + [1.0, -3.0]
    lengths = np.array([6, 2, 3, 1, 4])
    frames = np.concatenate([x[i, :n] for i, n in enumerate(lengths)])
    x_junk = x.copy()
    x_junk[np.arange(6)[None, :] >= lengths[:, None]] = 1e6     # the padding is ignored
    mean, std = sp.fit_scaler(x_junk, lengths)
    np.testing.assert_allclose(mean, frames.mean(axis=0))
    np.testing.assert_allclose(std, frames.std(axis=0))
    z = sp.scale(x_junk, lengths, mean, std, dtype=np.float64)
    valid = np.arange(6)[None, :] < lengths[:, None]
    np.testing.assert_allclose(z[valid].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z[valid].std(axis=0), 1)
    assert not z[~valid].any()


def test_deltas_are_the_frame_differences_within_each_utterance():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 5, 2))
    lengths = np.array([5, 3, 1])
    x[np.arange(5)[None, :] >= lengths[:, None]] = 0.0
    z = sp.add_deltas(x, lengths)
    assert z.shape == (3, 5, 4)
    np.testing.assert_array_equal(z[..., :2], x)
    for i, n in enumerate(lengths):
        assert not z[i, 0, 2:].any() and not z[i, n:, 2:].any()
        for t in range(1, n):
            np.testing.assert_array_equal(z[i, t, 2:], x[i, t] - x[i, t - 1])


def test_stratified_folds_partition_each_class_evenly():
    y = np.repeat(np.arange(4), 6)
    folds = sp.stratified_folds(y, 3, seed=2)
    assert len(folds) == 3
    np.testing.assert_array_equal(np.sort(np.concatenate(folds)), np.arange(24))
    for f in folds:
        np.testing.assert_array_equal(np.bincount(y[f]), [2, 2, 2, 2])
    assert [f.tolist() for f in sp.stratified_folds(y, 3, seed=2)] == [f.tolist()
                                                                       for f in folds]
    with pytest.raises(ValueError, match="n_folds"):
        sp.stratified_folds(y, 4)


# ------------------------------------------------------------------------- DTW
def test_dtw_matches_the_naive_recursion_on_random_series():
    rng = np.random.default_rng(3)
    for _ in range(25):
        d = int(rng.integers(1, 5))
        a = rng.standard_normal((int(rng.integers(1, 9)), d))
        b = rng.standard_normal((int(rng.integers(1, 9)), d))
        assert sp.dtw_distance(a, b) == pytest.approx(naive_dtw(a.tolist(), b.tolist()),
                                                      rel=1e-12, abs=1e-12)


def test_dtw_matrix_reads_each_series_up_to_its_length():
    rng = np.random.default_rng(4)
    la, lb = np.array([3, 7, 1]), np.array([5, 2])
    xa = rng.standard_normal((3, 7, 2))
    xb = rng.standard_normal((2, 6, 2))
    xa[np.arange(7)[None, :] >= la[:, None]] = 99.0             # garbage after the end
    xb[np.arange(6)[None, :] >= lb[:, None]] = -99.0
    dist = sp.dtw_distances(xa, la, xb, lb)
    assert dist.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            assert dist[i, j] == pytest.approx(
                naive_dtw(xa[i, :la[i]].tolist(), xb[j, :lb[j]].tolist()), rel=1e-12)


def test_dtw_properties():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((6, 3))
    b = rng.standard_normal((6, 3))
    assert sp.dtw_distance(a, a) == 0.0
    # repeating frames costs nothing: DTW aligns them to the same frame
    assert sp.dtw_distance(a, np.repeat(a, 2, axis=0)) == 0.0
    assert sp.dtw_distance(a, b) == pytest.approx(sp.dtw_distance(b, a), rel=1e-12)
    # the diagonal path is one of the paths: at most the squared Euclidean distance
    assert sp.dtw_distance(a, b) <= np.sum((a - b) ** 2) + 1e-12
    # one series of one frame: every frame of the other matches it
    assert sp.dtw_distance(a[:1], b) == pytest.approx(np.sum((b - a[0]) ** 2), rel=1e-12)


def test_nearest_neighbour_and_confusion_matrix():
    dist = np.array([[3.0, 1.0, 2.0], [0.5, 0.5, 9.0]])
    np.testing.assert_array_equal(sp.nearest_neighbour(dist, np.array([7, 8, 9])), [8, 7])
    cm = sp.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert cm.trace() == 4 and cm.sum() == 6


# ----------------------------------------------------------------------- model
def test_model_reads_each_utterance_up_to_its_length(vowels):
    train, _ = vowels
    feats = sp.add_deltas(train.x, train.lengths)
    mean, std = sp.fit_scaler(feats, train.lengths)
    x = sp.scale(feats[:6], train.lengths[:6], mean, std)
    assert x.shape == (6, 29, 24)
    model = sp.build_model({"hidden": 8}, seed=0)
    padded = model.predict(x, lengths=train.lengths[:6])
    for i in range(6):
        n = int(train.lengths[i])
        alone = model.predict(x[i:i + 1, :n])
        np.testing.assert_allclose(padded[i:i + 1], alone, rtol=1e-5, atol=1e-6)
    # without the lengths the padding is read as frames, and the outputs change
    assert not np.allclose(model.predict(x), padded, atol=1e-4)


def test_training_is_deterministic_given_the_seed(vowels):
    train, test = vowels
    config = {"hidden": 6, "epochs": 2}
    kwargs = {"seeds": (3,), "config": config, "data": (sp.Split(train.x[::5], train.lengths[::5],
                                                                 train.y[::5]), test),
              "log": None}
    a, b = sp.run(**kwargs), sp.run(**kwargs)
    np.testing.assert_array_equal(a["predictions"], b["predictions"])
    assert a["final_loss"][0] == b["final_loss"][0]
    c = sp.run(**{**kwargs, "seeds": (4,)})
    assert c["final_loss"][0] != a["final_loss"][0]


def test_run_trains_on_one_thread_and_restores_the_count(vowels):
    import seqnet

    train, test = vowels
    seen = []
    small = (sp.Split(train.x[::9], train.lengths[::9], train.y[::9]),
             sp.Split(test.x[::37], test.lengths[::37], test.y[::37]))
    before = seqnet.get_num_threads()
    sp.run(seeds=(0,), config={"hidden": 4, "epochs": 1}, data=small,
           log=lambda line: seen.append(seqnet.get_num_threads()))
    assert seen[-1] == 1                     # the line after the seed's training
    assert seqnet.get_num_threads() == before


def test_cross_validation_scores_each_held_out_fold(vowels):
    import seqnet

    train, _ = vowels
    keep = np.concatenate([np.nonzero(train.y == c)[0][:6] for c in range(9)])
    small = sp.Split(train.x[keep], train.lengths[keep], train.y[keep])
    before = seqnet.get_num_threads()
    acc = sp.cross_validate(small, {"hidden": 4, "epochs": 2}, seeds=(0, 1))
    assert acc.shape == (3, 2)
    counts = acc * 18                                # 2 utterances per speaker per fold
    np.testing.assert_allclose(counts, np.rint(counts), atol=1e-9)
    assert np.all((acc >= 0) & (acc <= 1))
    assert seqnet.get_num_threads() == before
    again = sp.cross_validate(small, {"hidden": 4, "epochs": 2}, seeds=(0, 1))
    np.testing.assert_array_equal(acc, again)


@pytest.mark.parametrize(("call", "name"), [
    (lambda: sp.build_model({"cell": "RNN"}), "cell"),
    (lambda: sp.build_model({"units": 3}), "unknown keys"),
    (lambda: sp.build_model({"dropout": 1.0}), "dropout"),
    (lambda: sp.run(seeds=[0], threads=0, log=None), "threads"),
    (lambda: sp.run(seeds=[], log=None), "seeds"),
    (lambda: sp.run(seeds=[1, 1], log=None), "seeds"),
    (lambda: sp.confusion_matrix([0, 3], [0, 1], 3), "y_true"),
    (lambda: sp.nearest_neighbour(np.zeros((2, 3)), [1, 2]), "distances"),
    (lambda: sp.dtw_distances(np.zeros((2, 3, 1)), [3, 4], np.zeros((1, 3, 1)), [1]),
     "lengths"),
    (lambda: sp.dtw_distances(np.zeros((1, 3, 1)), [3], np.zeros((1, 3, 2)), [1]),
     "features"),
])
def test_bad_arguments_raise_value_error_naming_them(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_command_help_describes_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        sp.main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--out-dir", "--seeds", "--epochs", "--quick", "--tune"):
        assert option in text
    assert f"{100 * sp.QUICK_ACCURACY:.0f} %" in text


def test_command_rejects_bad_seeds(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        sp.main(["--out-dir", str(tmp_path), "--seeds", "1", "1"])
    assert exc.value.code == 2
    assert "seeds" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------ end to end
def test_quick_command_reaches_its_figure(tmp_path, capsys, vowels):
    out = tmp_path / "figs"
    assert sp.main(["--quick", "--out-dir", str(out)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(printed[-1])
    assert summary["quick"] is True and summary["seeds"] == list(sp.QUICK["seeds"])
    assert summary["accuracy"] >= sp.QUICK_ACCURACY
    assert summary["accuracy_min"] <= summary["accuracy"] <= summary["accuracy_max"]
    # 1-NN DTW does not depend on training: the kernel agrees with the naive
    # recursion on real utterances, and the printed accuracy is its predictions'.
    train, test = vowels
    for i, j in ((0, 0), (100, 57), (369, 269)):
        assert sp.dtw_distances(test.x[i:i + 1], test.lengths[i:i + 1], train.x[j:j + 1],
                                train.lengths[j:j + 1])[0, 0] == pytest.approx(
            naive_dtw(test.x[i, :test.lengths[i]].tolist(),
                      train.x[j, :train.lengths[j]].tolist()), rel=1e-12)
    pred = sp.nearest_neighbour(sp.dtw_distances(test.x, test.lengths, train.x,
                                                 train.lengths), train.y)
    dtw_accuracy = np.mean(pred == test.y)
    assert summary["dtw_accuracy"] == pytest.approx(dtw_accuracy, abs=1e-6)
    assert 0.9 < dtw_accuracy < summary["accuracy"]
    png = (out / sp.FIGURE_NAME).read_bytes()
    assert png[:8] == PNG_MAGIC and len(png) > 10_000
    table = (out / sp.TABLE_NAME).read_text()
    assert table in "\n".join(printed) + "\n"
    assert f"| 1-nearest-neighbour DTW | {100 * dtw_accuracy:.2f} % |" in table
    assert "| Kudo, Toyama and Shimbo 1999" in table
