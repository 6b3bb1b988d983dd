"""The LSTM forward gate pass alone, per hidden unit, at several shapes: python gate_pass.py."""

import numpy as np
from numba import njit

from seqnet import bench
from seqnet._config import JIT_OPTIONS
from seqnet.kernels.lstm import lstm_units_forward


@njit(**JIT_OPTIONS)
def gate_pass(gates, rec, b, c, h, out, lengths, n_chunks):
    H = c.shape[1]
    for t in range(gates.shape[1]):
        for k in range(n_chunks):
            lstm_units_forward(k * H // n_chunks, (k + 1) * H // n_chunks, t, lengths,
                               gates, rec[k], b, c, h, out)


def main():
    rng = np.random.default_rng(0)
    f32 = np.float32
    for T, B, H, n_chunks in [(40, 128, 128, 2), (40, 128, 128, 1), (40, 1, 16384, 1),
                              (40, 16, 1024, 1)]:
        gates = rng.standard_normal((B, T, 4 * H)).astype(f32)
        rec = rng.standard_normal((n_chunks, B, 4 * (H // n_chunks))).astype(f32)
        args = (gates, rec, np.zeros(4 * H, f32), np.zeros((B, H), f32),
                np.zeros((B, H), f32), np.zeros((B, T, H), f32), np.full(B, T, np.int64),
                n_chunks)
        gate_pass(*args)
        s = bench._median_time(lambda args=args: gate_pass(*args))
        print(f"T={T} B={B} H={H} in {n_chunks} chunk(s), one thread: {s * 1e3:.2f} ms, "
              f"{s / (T * B * H) * 1e9:.2f} ns per hidden unit")


if __name__ == "__main__":
    main()
