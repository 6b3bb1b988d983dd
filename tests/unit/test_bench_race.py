"""How ``python -m seqnet.bench`` turns timings into ratios (timings faked, so
nothing here depends on the machine's speed)."""

import pytest

from seqnet import bench


def test_race_alternates_and_takes_the_median_of_per_round_ratios(monkeypatch):
    """Rounds alternate seqnet, PyTorch; the ratio is the median of each round's
    ratio, not the ratio of the medians (a slow spell hits both sides of a round)."""
    calls = []
    # round 1 fast machine, round 2 a slow spell (both 3x), round 3 in between.
    times = {"s": iter([1.0, 3.0, 1.5]), "t": iter([2.0, 6.0, 2.0])}

    def fake_median_time(fn, *, min_time):
        calls.append(fn())
        return next(times[calls[-1]])

    monkeypatch.setattr(bench, "_median_time", fake_median_time)
    t, u, ratio = bench._race(lambda: "s", lambda: "t", 3)
    assert calls == ["s", "t", "s", "t", "s", "t"]
    assert (t, u) == (1.5, 2.0)
    assert ratio == pytest.approx(0.5)        # rounds: 0.5, 0.5, 0.75
    assert t / u == pytest.approx(0.75)       # what the ratio of medians would say


@pytest.mark.parametrize("argv", [["cells", "--rounds", "0"], ["charlm", "--block", "-1"],
                                  ["charlm", "--rounds", "2"]])
def test_bench_options_are_checked(argv, capsys):
    """A bad value, or an option the sub-command does not have, exits with status 2
    and a message naming the option."""
    with pytest.raises(SystemExit) as info:
        bench.main(argv)
    assert info.value.code == 2
    assert argv[1] in capsys.readouterr().err
