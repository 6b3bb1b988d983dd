"""How ``python -m seqnet.bench`` turns timings into ratios (timings faked, so
nothing here depends on the machine's speed)."""

import argparse
import json

import pytest

from seqnet import bench


def test_race_alternates_and_takes_the_median_of_per_round_ratios():
    """Rounds alternate seqnet, PyTorch; the ratio is the median of each round's
    ratio, not the ratio of the medians (a slow spell hits both sides of a round)."""
    calls = []
    # round 1 fast machine, round 2 a slow spell (both 3x), round 3 in between.
    times = {"s": iter([1.0, 3.0, 1.5]), "t": iter([2.0, 6.0, 2.0])}

    def measure(name):
        calls.append(name)
        return next(times[name])

    t, u, ratio = bench._race(lambda: measure("s"), lambda: measure("t"), 3)
    assert calls == ["s", "t", "s", "t", "s", "t"]
    assert (t, u) == (1.5, 2.0)
    assert ratio == pytest.approx(0.5)        # rounds: 0.5, 0.5, 0.75
    assert t / u == pytest.approx(0.75)       # what the ratio of medians would say


@pytest.mark.parametrize("argv", [["cells", "--rounds", "0"], ["charlm", "--block", "-1"],
                                  ["charlm", "--rounds", "2"], ["cells", "--shapes", "1,2,3"],
                                  ["memory", "--shapes", "1,2,0,4"],
                                  ["memory", "--json", "x.json"]])
def test_bench_options_are_checked(argv, capsys):
    """A bad value, or an option the sub-command does not have, exits with status 2
    and a message naming the option."""
    with pytest.raises(SystemExit) as info:
        bench.main(argv)
    assert info.value.code == 2
    assert argv[1] in capsys.readouterr().err


@pytest.mark.parametrize("flags, isa", [({"sse2", "avx", "avx2", "fma", "avx512f"}, "AVX-512"),
                                        ({"sse2", "avx", "avx2", "fma"}, "AVX2"),
                                        ({"sse2", "avx"}, "AVX"), ({"sse2"}, "SSE"),
                                        (set(), "unknown")])
def test_vector_isa_is_the_widest_in_the_flags(flags, isa):
    assert bench.vector_isa(flags) == isa


def test_cpuinfo_reads_the_first_cpu(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9R45\nflags\t\t: fpu avx2 fma\n\n"
                    "processor\t: 1\nmodel name\t: other\nflags\t\t: fpu\n")
    assert bench._cpuinfo(str(path)) == ("AMD EPYC 9R45", {"fpu", "avx2", "fma"})
    assert bench._cpuinfo(str(tmp_path / "missing")) == (None, set())


def test_host_report_names_the_cpu_isa_peaks_and_openblas_kernels(monkeypatch):
    """The host report of every run: the CPU model, its ISA, the cores, each
    OpenBLAS's kernel and threads, the thread settings that were set, the peaks."""
    monkeypatch.setattr(bench, "_cpuinfo", lambda: ("Some CPU 9000", {"avx2", "fma"}))
    monkeypatch.setenv("OMP_WAIT_POLICY", "passive")
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    info = bench.host_info(2)
    info["gemm_peak_gflops"] = {"float32": 400.4, "float64": 200.0}
    text = "\n".join(bench.host_lines(info))
    assert "- host: Some CPU 9000, AVX2, " in text
    assert info["isa"] == "AVX2" and info["threads"] == 2
    assert "GEMM peak float32: 400 GFLOP/s" in text and "GEMM peak float64: 200" in text
    assert "OMP_WAIT_POLICY=passive" in text
    assert "OPENBLAS_CORETYPE: unset" in text
    assert info["openblas"], "numpy's and scipy's OpenBLAS are found"
    for blas in info["openblas"]:
        assert f"OpenBLAS {blas['library']}: kernel {blas['kernel']}" in text
    json.dumps(info)  # the --json file holds it as it is


def test_shapes_option_replaces_the_grid():
    assert bench._parse_shape("32,40,65,128") == (32, 40, 65, 128)
    with pytest.raises(argparse.ArgumentTypeError, match="B,T,I,H"):
        bench._parse_shape("32,40,x,128")


def test_cells_race_in_worker_processes_writes_table_and_json(tmp_path, capsys):
    """A tiny race, each framework in its own worker process: a markdown row per
    case with both ratios and peak fractions, and the same figures in the JSON."""
    pytest.importorskip("torch")
    out = tmp_path / "race.json"
    assert bench.main(["cells", "--cells", "lstm", "--shapes", "2,3,4,5", "--rounds", "2",
                       "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "each in a process of its own" in text
    rows = [line for line in text.splitlines() if line.startswith("| lstm |")]
    assert len(rows) == 2 and all(len(r.split("|")) == 15 for r in rows)
    report = json.loads(out.read_text())
    assert set(report["threads"]) == {"seqnet", "torch"}
    for name, threads in report["threads"].items():
        assert f"{name} after its runs: numba threading layer " in text
        assert threads["threads"] >= 1 and isinstance(threads["openmp_runtimes"], list)
    assert report["threads"]["torch"]["numba_threading_layer"] is None  # no seqnet kernel ran
    assert report["host"]["gemm_peak_gflops"]["float32"] > 0
    assert [r["dtype"] for r in report["rows"]] == ["float32", "float64"]
    for row in report["rows"]:
        assert row["shape"] == [2, 3, 4, 5]
        assert row["flops_fwd"] == 2 * 2 * 3 * 4 * 5 * (4 + 5)
        for pass_ in ("fwd", "fwd_bwd"):
            fig = row[pass_]
            assert fig["seqnet_s"] > 0 and fig["torch_s"] > 0 and fig["ratio"] > 0
            factor = 3 if pass_ == "fwd_bwd" else 1
            peak = report["host"]["gemm_peak_gflops"][row["dtype"]] * 1e9
            assert fig["seqnet_peak_fraction"] == pytest.approx(
                factor * row["flops_fwd"] / fig["seqnet_s"] / peak)


def test_worker_reports_a_failure_instead_of_hanging():
    worker = bench._Worker("seqnet", 1)
    try:
        with pytest.raises(RuntimeError, match="seqnet worker failed: ValueError"):
            worker.ask({"kind": "cell", "cell": "no-such-cell", "shape": [1, 1, 1, 1],
                        "dtype": "float32", "pass": "fwd", "min_time": 0.0})
    finally:
        worker.close()
    assert worker.proc.returncode == 0


def test_thread_report_names_the_layer_and_openmp_runtimes_in_use():
    """In this process, after a parallel kernel call: numba's layer is chosen, and the
    OpenMP runtime it uses (omp layer) is among those loaded."""
    import numpy as np

    import seqnet
    from seqnet import _dispatch

    layer = seqnet.LSTM(8, input_size=3, seed=0)
    with _dispatch.parallel_mode("parallel"):
        layer.forward(np.ones((2, 4, 3), np.float32))
    report = bench.thread_report()
    assert report["numba_threading_layer"] in ("omp", "tbb", "workqueue")
    if report["numba_threading_layer"] == "omp":
        assert any(name.startswith(("libgomp", "libiomp", "libomp"))
                   for name in report["openmp_runtimes"])
    assert report["threads"] >= 1
