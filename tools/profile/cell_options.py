"""What a cell option costs against the same cell without it:
python tools/profile/cell_options.py [B,T,I,H ...] [--dtypes ...] [--rounds R]
[--min-time S] [--settings NAME ...].

For each shape and dtype, builds one seeded layer per setting of :data:`SETTINGS`
(the plain LSTM and GRU, ``layer_norm=True``, ``proj_size=H/2``, ``bias=False``),
compiles its kernels with one untimed forward and backward, then runs R rounds;
each round times every setting in turn (the order alternates between rounds), its
inference forward and its training forward plus backward, each the best of as many
calls as fill ``--min-time`` seconds. It prints the median milliseconds of each and
the ratio of each setting to its plain cell (``lstm`` or ``gru``): the issue's
target for ``layer_norm`` is at most 1.5 forward plus backward, at (32, 100, 128,
128) and at the char-LM's (32, 40, 65, 128) (the defaults), float32, on 2 threads.
"""

import argparse
import statistics
import time

import numpy as np

import seqnet

#: name: (layer class, keywords, the plain setting it is compared with).
SETTINGS = {
    "lstm": (seqnet.LSTM, {}, "lstm"),
    "lstm layer_norm": (seqnet.LSTM, {"layer_norm": True}, "lstm"),
    "lstm proj_size=H/2": (seqnet.LSTM, {"proj_size": None}, "lstm"),
    "lstm bias=False": (seqnet.LSTM, {"bias": False}, "lstm"),
    "gru": (seqnet.GRU, {}, "gru"),
    "gru layer_norm": (seqnet.GRU, {"layer_norm": True}, "gru"),
}


def make(setting, B, T, I, H, dtype):
    """A seeded layer of ``setting``, an input and an upstream gradient, its kernels
    compiled."""
    cls, options, _ = SETTINGS[setting]
    options = {k: (max(1, H // 2) if v is None else v) for k, v in options.items()}
    layer = cls(H, input_size=I, dtype=dtype, seed=0, **options)
    x = np.random.default_rng(0).standard_normal((B, T, I)).astype(dtype)
    out = layer.forward(x, training=True)
    dout = np.ones_like(out)
    layer.backward(dout)
    return layer, x, dout


def best_time(fn, min_time):
    """The fastest of as many calls of ``fn`` as fill ``min_time`` seconds (1 at least)."""
    best, spent = float("inf"), 0.0
    while True:
        start = time.perf_counter()
        fn()
        t = time.perf_counter() - start
        best, spent = min(best, t), spent + t
        if spent >= min_time:
            return best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("shapes", nargs="*", default=["32,100,128,128", "32,40,65,128"])
    p.add_argument("--dtypes", default="float32")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--min-time", type=float, default=0.2)
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    args = p.parse_args(argv)
    seqnet.set_num_threads(2)
    print(f"{args.rounds} rounds, best of {args.min_time} s each, 2 threads")
    print()
    print("| setting | B, T, I, H | dtype | fwd ms | fwd+bwd ms | fwd ratio | fwd+bwd ratio |")
    print("|---|---|---|---|---|---|---|")
    for shape in args.shapes:
        B, T, I, H = map(int, shape.split(","))
        for dtype in args.dtypes.split(","):
            names = list(args.settings)
            for name in names:   # the plain cells, for the ratios
                if SETTINGS[name][2] not in names:
                    names.append(SETTINGS[name][2])
            runs = {n: make(n, B, T, I, H, np.dtype(dtype)) for n in names}
            times = {n: ([], []) for n in names}
            for r in range(args.rounds):
                for n in (names if r % 2 == 0 else names[::-1]):
                    layer, x, dout = runs[n]

                    def train(layer=layer, x=x, dout=dout):
                        layer.forward(x, training=True)
                        layer.backward(dout)

                    times[n][0].append(best_time(lambda layer=layer, x=x: layer.forward(x),
                                                 args.min_time))
                    times[n][1].append(best_time(train, args.min_time))
            med = {n: tuple(statistics.median(ts) for ts in times[n]) for n in names}
            for n in args.settings:
                base = med[SETTINGS[n][2]]
                fwd, both = med[n]
                print(f"| {n} | {B}, {T}, {I}, {H} | {dtype} | {1e3 * fwd:.3f} | "
                      f"{1e3 * both:.3f} | {fwd / base[0]:.2f} | {both / base[1]:.2f} |")


if __name__ == "__main__":
    main()
