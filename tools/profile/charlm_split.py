"""Time each part of the character model's training step:
python tools/profile/charlm_split.py [STEPS] [--chars N] [--batch-size B]
[--maxlen T] [--hidden H].

Builds the reference model (``seqnet.charlm.build_charlm``: LSTM(H) -> Dropout(0.2)
-> Dense(vocab, softmax), RMSprop) on the first ``--chars`` characters of the
bundled corpus, lowercased, in windows of ``--maxlen`` every 3, and runs STEPS
(default 300) training steps of ``--batch-size`` windows, after one untimed step on
the first batch (which compiles or loads the kernels). Each part's calls are
wrapped with ``time.perf_counter``: the LSTM's kernel entries
(``seqnet.kernels.lstm.forward`` and ``backward``) and, inside them, the index
input's gather of ``W_ih``'s columns (its input projection) and scatter-add (its
``dW_ih``); the Dropout and Dense layers and the optimiser. The total is the whole
``train_on_batch``: the loss and the model's Python are in the rest. The defaults
are the reference settings (300,000 characters, B=128, T=40, H=128); the model is
float32, on 2 threads.
"""

import argparse
import collections
import time

import numpy as np

import seqnet
from seqnet import datasets, optim, text
from seqnet.charlm import build_charlm
from seqnet.kernels import lstm as lstm_kernel

#: the rows printed, in order; "  of which" rows are inside the row above them.
PARTS = ("LSTM forward (kernel call)", "  of which the index gather (input projection)",
         "LSTM backward (kernel call)", "  of which the index scatter-add (dW_ih)",
         "Dropout, Dense, RMSprop")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("steps", nargs="?", type=int, default=300)
    p.add_argument("--chars", type=int, default=300000, help="corpus characters (300000)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--maxlen", type=int, default=40)
    p.add_argument("--hidden", type=int, default=128)
    args = p.parse_args(argv)
    seqnet.set_num_threads(2)
    corpus = datasets.shakespeare().lower()[:args.chars]
    vocab = text.CharVocabulary.from_text(corpus)
    X, y = text.char_windows(vocab.encode(corpus), args.maxlen, 3)
    model = build_charlm(len(vocab), hidden=args.hidden, seed=0)
    model.compile("sparse_categorical_crossentropy", optim.RMSprop(learning_rate=0.01))
    spent = collections.defaultdict(float)

    def timed(name, fn):
        def wrapper(*a, **kw):
            start = time.perf_counter()
            result = fn(*a, **kw)
            spent[name] += time.perf_counter() - start
            return result
        return wrapper

    # the layer calls its kernel module's entries, and they their buffer helpers,
    # through module attributes: wrapping those wraps every call.
    lstm_kernel.forward = timed(PARTS[0], lstm_kernel.forward)
    lstm_kernel.input_buffers = timed(PARTS[1], lstm_kernel.input_buffers)
    lstm_kernel.backward = timed(PARTS[2], lstm_kernel.backward)
    lstm_kernel.index_weight_grad = timed(PARTS[3], lstm_kernel.index_weight_grad)
    _, dropout, dense = model.layers
    for layer in (dropout, dense):
        layer.forward = timed(PARTS[4], layer.forward)
        layer.backward = timed(PARTS[4], layer.backward)
    model.optimizer.step = timed(PARTS[4], model.optimizer.step)
    B = args.batch_size
    if args.steps * B > len(X):
        p.error(f"{args.steps} steps of {B} windows need {args.steps * B}, the corpus "
                f"gives {len(X)}: raise --chars")
    order = np.random.default_rng(0).permutation(len(X))
    batches = [order[i * B:(i + 1) * B] for i in range(args.steps)]
    model.train_on_batch(X[batches[0]], y[batches[0]])  # compile or load the kernels
    spent.clear()
    start = time.perf_counter()
    for idx in batches:
        model.train_on_batch(X[idx], y[idx])
    total = (time.perf_counter() - start) / args.steps
    print(f"{args.steps} steps, B={B} T={args.maxlen} I={len(vocab)} (index input) "
          f"H={args.hidden}, float32, 2 threads\n")
    print("| part | ms per step |\n|---|---|")
    for name in PARTS:
        print(f"| {name} | {spent[name] / args.steps * 1e3:.3f} |")
    print(f"| total (the loss and Python in the rest) | {total * 1e3:.3f} |")


if __name__ == "__main__":
    main()
