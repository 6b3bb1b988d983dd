"""Serve a character model with onnxruntime alone, streaming, and time it beside
seqnet.

The model (a trained ``charlm.npz`` from ``python -m seqnet charlm train``, or a
random one of ``--vocab`` characters and ``--hidden`` units) is exported with
``seqnet.interop.export_onnx(..., states=True)``. Both engines then generate
``--length`` characters greedily for ``--streams`` independent streams, one
character per call, carrying the LSTM's state from call to call: seqnet through
``Sequential.step``, onnxruntime through ``InferenceSession.run`` with the state
as inputs and outputs. The script checks that both generate the same characters
(and that the probabilities agree within 1e-5), then prints the characters per
second of each, the best of ``--rounds`` runs after a warm-up (numba's compilation
is not timed), and the host.

    python tools/interop/onnx_serving.py --model charlm.npz --length 2000 --streams 1
    python tools/interop/onnx_serving.py --vocab 40 --hidden 128 --length 2000

onnxruntime runs with one intra-op thread unless ``--threads`` says otherwise, as
seqnet's step path does (its BLAS held at one thread).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

import seqnet  # noqa: E402
from seqnet.interop import export_onnx  # noqa: E402


def cpu_model():
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load(args):
    if args.model:
        model = seqnet.load_model(args.model)
        vocab = seqnet.text.vocabulary_of(model)
        first = vocab.encode(args.seed_text or vocab.chars[0])
        return model, len(vocab.chars), first, vocab.decode
    model = seqnet.charlm.build_charlm(args.vocab, hidden=args.hidden, seed=0)
    model.build((1,), np.int64)
    rng = np.random.default_rng(0)
    for v in model.params.values():
        v[...] = rng.uniform(-0.3, 0.3, v.shape)
    return model, args.vocab, np.array([1]), lambda idx: " ".join(map(str, idx))


def run_seqnet(model, first, length, streams):
    states = None
    x = np.repeat(first[:, None][-1:], streams, axis=0)[:, 0]
    for t in first[:-1]:                       # prime on the seed text
        _, states = model.step(np.full(streams, t), states)
    out, probs = [], []
    for _ in range(length):
        p, states = model.step(x, states)
        x = p.argmax(axis=1)
        out.append(x)
        probs.append(p)
    return np.stack(out, 1), np.stack(probs, 1)


def run_onnx(session, first, length, streams, hidden):
    zeros = np.zeros((1, streams, hidden), np.float32)
    feeds = {"state_in_0_h": zeros, "state_in_0_c": zeros}
    for t in first[:-1]:
        _, h, c = session.run(None, {"input": np.full((streams, 1), t, np.int64), **feeds})
        feeds = {"state_in_0_h": h, "state_in_0_c": c}
    x = np.full((streams, 1), first[-1], np.int64)
    out, probs = [], []
    for _ in range(length):
        p, h, c = session.run(None, {"input": x, **feeds})
        feeds = {"state_in_0_h": h, "state_in_0_c": c}
        x = p.argmax(axis=1)[:, None].astype(np.int64)
        out.append(x[:, 0])
        probs.append(p)
    return np.stack(out, 1), np.stack(probs, 1)


def best_time(fn, rounds):
    best, result = float("inf"), None
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a trained charlm.npz (else a random model)")
    parser.add_argument("--seed-text", default="", help="text to prime a trained model")
    parser.add_argument("--vocab", type=int, default=40)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--length", type=int, default=2000, help="characters per stream")
    parser.add_argument("--streams", type=int, default=1, help="independent streams (batch)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    args = parser.parse_args(argv)
    import onnxruntime as ort

    model, vocab_size, first, decode = load(args)
    hidden = model.layers[0].hidden_size
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "charlm.onnx")
        export_onnx(model, path, states=True)
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        run_seqnet(model, first, 3, args.streams)           # compile, warm the caches
        run_onnx(session, first, 3, args.streams, hidden)
        t_seqnet, (chars_s, probs_s) = best_time(
            lambda: run_seqnet(model, first, args.length, args.streams), args.rounds)
        t_onnx, (chars_o, probs_o) = best_time(
            lambda: run_onnx(session, first, args.length, args.streams, hidden), args.rounds)
    worst = float(np.abs(probs_s - probs_o).max())
    same = bool(np.array_equal(chars_s, chars_o))
    if worst > 1e-5 or not same:
        print(f"MISMATCH: largest probability difference {worst:.3g}, same characters: {same}")
        return 1
    n = args.length * args.streams
    print(f"host: {cpu_model()}, {os.cpu_count()} cores; onnxruntime {ort.__version__}, "
          f"{args.threads} thread(s)")
    print(f"model: vocabulary {vocab_size}, LSTM({hidden}); {args.streams} stream(s) x "
          f"{args.length} characters, best of {args.rounds}")
    print(f"same characters from both; largest probability difference {worst:.3g}")
    print("| engine | seconds | characters/s |")
    print("|---|---|---|")
    print(f"| seqnet Sequential.step | {t_seqnet:.3f} | {n / t_seqnet:,.0f} |")
    print(f"| onnxruntime | {t_onnx:.3f} | {n / t_onnx:,.0f} |")
    print(f"sample: {decode(chars_o[0, :60])!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
