"""Serve a character model with onnxruntime alone, streaming, and race it against
seqnet, each engine in a process of its own.

The model (a trained ``charlm.npz`` from ``python -m seqnet charlm train``, or a
random one of ``--vocab`` characters and ``--hidden`` units) is exported with
``seqnet.interop.export_onnx(..., states=True)``. Both engines then generate
``--length`` characters greedily for ``--streams`` independent streams, one
character per call, carrying the LSTM's state from call to call: seqnet through
``Sequential.step``, onnxruntime through ``InferenceSession.run`` with the state
as inputs and outputs.

Each engine runs in a fresh Python process (this script, ``--engine``), which
warms up (numba's compilation is not timed), times ``--repeats`` runs and keeps
its best; the onnxruntime process imports onnxruntime and NumPy only. The two take
turns, ``--rounds`` pairs of processes: one engine's threads never share a process
with the other's. The script checks that both generate the same characters (and
that the probabilities agree within 1e-5), then prints each engine's best time and
characters per second over the rounds, and the host.

    python tools/interop/onnx_serving.py --model charlm.npz --length 2000 --streams 1
    python tools/interop/onnx_serving.py --vocab 40 --hidden 128 --length 2000

onnxruntime runs with one intra-op thread unless ``--threads`` says otherwise, as
seqnet's step path does (its BLAS held at one thread).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]


def cpu_model():
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load(args):
    """The model, its vocabulary size, the seed indices and a decoder."""
    import seqnet
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


def best_time(fn, repeats):
    """The best of ``repeats`` timed calls of ``fn``, and the last call's result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def engine_main(args):
    """One engine's process: warm up, time ``--repeats`` runs, save the last run's
    characters and probabilities to ``--work``, print the best seconds as JSON."""
    work = pathlib.Path(args.work)
    meta = json.loads((work / "meta.json").read_text())
    first = np.array(meta["first"], np.int64)
    if args.engine == "seqnet":
        sys.path.insert(0, str(ROOT))
        import seqnet
        model = seqnet.load_model(work / "model.npz")
        run_seqnet(model, first, 3, args.streams)           # compile, warm the caches
        seconds, (chars, probs) = best_time(
            lambda: run_seqnet(model, first, args.length, args.streams), args.repeats)
    else:
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = ort.InferenceSession(str(work / "model.onnx"), options,
                                       providers=["CPUExecutionProvider"])
        run_onnx(session, first, 3, args.streams, meta["hidden"])
        seconds, (chars, probs) = best_time(
            lambda: run_onnx(session, first, args.length, args.streams, meta["hidden"]),
            args.repeats)
    np.savez(work / f"{args.engine}.npz", chars=chars, probs=probs)
    print(json.dumps({"seconds": seconds}))
    return 0


def run_engine(engine, args, work):
    """Seconds of ``engine``'s best run, from a process of its own."""
    cmd = [sys.executable, str(pathlib.Path(__file__).resolve()), "--engine", engine,
           "--work", str(work), "--length", str(args.length), "--streams", str(args.streams),
           "--repeats", str(args.repeats), "--threads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the {engine} process failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a trained charlm.npz (else a random model)")
    parser.add_argument("--seed-text", default="", help="text to prime a trained model")
    parser.add_argument("--vocab", type=int, default=40)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--length", type=int, default=2000, help="characters per stream")
    parser.add_argument("--streams", type=int, default=1, help="independent streams (batch)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="pairs of processes, the engines taking turns")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs in each process (its best is kept)")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    parser.add_argument("--engine", choices=("seqnet", "onnxruntime"), help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("length", "streams", "rounds", "repeats", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.engine:
        return engine_main(args)
    import onnxruntime as ort
    sys.path.insert(0, str(ROOT))
    from seqnet.interop import export_onnx

    model, vocab_size, first, decode = load(args)
    hidden = model.layers[0].hidden_size
    times = {"seqnet": [], "onnxruntime": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        model.save(work / "model.npz")
        export_onnx(model, work / "model.onnx", states=True)
        (work / "meta.json").write_text(json.dumps({"first": [int(v) for v in first],
                                                    "hidden": hidden}))
        for _ in range(args.rounds):
            for engine in times:
                times[engine].append(run_engine(engine, args, work))
        outs = {e: np.load(work / f"{e}.npz") for e in times}
        chars_s, probs_s = outs["seqnet"]["chars"], outs["seqnet"]["probs"]
        chars_o, probs_o = outs["onnxruntime"]["chars"], outs["onnxruntime"]["probs"]
    worst = float(np.abs(probs_s - probs_o).max())
    same = bool(np.array_equal(chars_s, chars_o))
    if worst > 1e-5 or not same:
        print(f"MISMATCH: largest probability difference {worst:.3g}, same characters: {same}")
        return 1
    n = args.length * args.streams
    t_seqnet, t_onnx = min(times["seqnet"]), min(times["onnxruntime"])
    print(f"host: {cpu_model()}, {os.cpu_count()} cores; onnxruntime {ort.__version__}, "
          f"{args.threads} thread(s)")
    print(f"model: vocabulary {vocab_size}, LSTM({hidden}); {args.streams} stream(s) x "
          f"{args.length} characters; each engine in a process of its own, taking turns, "
          f"{args.rounds} round(s) of best-of-{args.repeats}")
    print(f"same characters from both; largest probability difference {worst:.3g}")
    print("| engine | seconds | characters/s |")
    print("|---|---|---|")
    print(f"| seqnet Sequential.step | {t_seqnet:.3f} | {n / t_seqnet:,.0f} |")
    print(f"| onnxruntime | {t_onnx:.3f} | {n / t_onnx:,.0f} |")
    print(f"onnxruntime / seqnet, characters per second: {t_seqnet / t_onnx:.2f}")
    print(f"sample: {decode(chars_o[0, :60])!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
