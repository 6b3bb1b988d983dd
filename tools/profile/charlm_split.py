"""Time each part of the character model's training step: python charlm_split.py [STEPS]."""

import collections
import sys
import time

import numpy as np

import seqnet
from seqnet import cells, datasets, optim, text
from seqnet.cli import build_charlm


def main(steps=300):
    seqnet.set_num_threads(2)
    corpus = datasets.shakespeare().lower()[:300000]
    vocab = text.CharVocabulary.from_text(corpus)
    X, y = text.char_windows(vocab.encode(corpus), 40, 3)
    model = build_charlm(len(vocab), seed=0)
    model.compile("sparse_categorical_crossentropy", optim.RMSprop(learning_rate=0.01))
    spent = collections.defaultdict(float)

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            result = fn(*args, **kwargs)
            spent[name] += time.perf_counter() - start
            return result
        return wrapper

    cells.lstm_forward = timed("LSTM forward (kernel call)", cells.lstm_forward)
    cells.lstm_backward = timed("LSTM backward (kernel call)", cells.lstm_backward)
    lstm, dropout, dense = model.layers
    for layer in (dropout, dense):
        layer.forward = timed("Dropout, Dense, RMSprop", layer.forward)
        layer.backward = timed("Dropout, Dense, RMSprop", layer.backward)
    model.optimizer.step = timed("Dropout, Dense, RMSprop", model.optimizer.step)
    order = np.random.default_rng(0).permutation(len(X))
    batches = [order[i * 128:(i + 1) * 128] for i in range(steps)]
    model.train_on_batch(X[batches[0]], y[batches[0]])  # compile or load the kernels
    spent.clear()
    start = time.perf_counter()
    for idx in batches:
        model.train_on_batch(X[idx], y[idx])
    total = (time.perf_counter() - start) / steps
    print("| part | ms per step |\n|---|---|")
    for name, seconds in spent.items():
        print(f"| {name} | {seconds / steps * 1e3:.1f} |")
    print(f"| total (the loss and Python in the rest) | {total * 1e3:.1f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
