"""The cost of a functional Model against the same layers in a Sequential:
python tools/profile/functional_overhead.py [STEPS] [--rounds R] [--chars N]
[--batch-size B] [--maxlen T] [--hidden H].

Builds the reference character model twice with the same seeds, as
``seqnet.charlm.build_charlm``'s Sequential (``LSTM(H) -> Dropout(0.2) ->
Dense(vocab, softmax)``, RMSprop) and as a ``seqnet.Model`` over ``seqnet.Input``
(the same layers called on symbolic tensors), on the first ``--chars`` characters
of the bundled corpus, lowercased, in windows of ``--maxlen`` every 3. After one
untimed step each (compilation), it runs R rounds; each round times STEPS
``train_on_batch`` calls of one model then of the other (which goes first
alternates), on the same batches. It prints the median milliseconds per step of
each and their ratio, functional / sequential. The defaults are the reference
settings (300,000 characters, B=128, T=40, H=128), float32, on 2 threads.
"""

import argparse
import statistics
import time

import numpy as np

import seqnet
from seqnet import datasets, optim, text
from seqnet.charlm import build_charlm


def functional_charlm(vocab_size, hidden, seed=0):
    """The reference character model as a functional Model (the seeds of
    ``build_charlm``)."""
    tokens = seqnet.Input(shape=(None,), dtype="int64")
    h = seqnet.LSTM(hidden, input_size=vocab_size, return_sequences=False, seed=seed)(tokens)
    h = seqnet.Dropout(0.2, seed=seed + 1)(h)
    probs = seqnet.Dense(vocab_size, activation="softmax", seed=seed + 2)(h)
    return seqnet.Model(tokens, probs, seed=seed + 3)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("steps", nargs="?", type=int, default=50)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--chars", type=int, default=300000, help="corpus characters (300000)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--maxlen", type=int, default=40)
    p.add_argument("--hidden", type=int, default=128)
    args = p.parse_args(argv)
    seqnet.set_num_threads(2)
    corpus = datasets.shakespeare().lower()[:args.chars]
    vocab = text.CharVocabulary.from_text(corpus)
    X, y = text.char_windows(vocab.encode(corpus), args.maxlen, 3)
    B = args.batch_size
    batches = [(X[i:i + B], y[i:i + B]) for i in range(0, B * args.steps, B)]
    batches = [(xb, yb) for xb, yb in batches if len(xb)] or [(X[:B], y[:B])]
    models = {"sequential": build_charlm(len(vocab), hidden=args.hidden, seed=0),
              "functional": functional_charlm(len(vocab), args.hidden, seed=0)}
    for model in models.values():
        model.compile("sparse_categorical_crossentropy", optim.RMSprop(learning_rate=0.01))
        model.train_on_batch(*batches[0])            # compile or load the kernels
    times = {name: [] for name in models}
    for r in range(args.rounds):
        order = list(models) if r % 2 == 0 else list(reversed(models))
        for name in order:
            model = models[name]
            start = time.perf_counter()
            for xb, yb in batches:
                model.train_on_batch(xb, yb)
            times[name].append((time.perf_counter() - start) / len(batches))
    print(f"{len(batches)} steps x {args.rounds} rounds, B={B} T={args.maxlen} "
          f"H={args.hidden} vocab={len(vocab)}, float32, 2 threads")
    print()
    print("| model | ms per step (median) | min | max |")
    print("|---|---|---|---|")
    med = {}
    for name, ts in times.items():
        med[name] = statistics.median(ts)
        print(f"| {name} | {1e3 * med[name]:.3f} | {1e3 * min(ts):.3f} | {1e3 * max(ts):.3f} |")
    print()
    print(f"ratio functional / sequential: {med['functional'] / med['sequential']:.3f}")
    same = all(np.array_equal(a, b) for a, b in zip(models["sequential"].params.values(),
                                                    models["functional"].params.values(),
                                                    strict=True))
    print(f"same weights after the same steps: {same}")


if __name__ == "__main__":
    main()
