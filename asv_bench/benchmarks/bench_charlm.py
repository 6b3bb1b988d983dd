"""The reference character model: one training step and one generated character."""

import numpy as np

import seqnet
from seqnet.charlm import build_charlm
from seqnet.generate import generate_text


class CharLM:
    """LSTM(128) -> Dropout(0.2) -> Dense(40, softmax), batch 128, windows of 40."""

    timeout = 300

    def setup(self):
        rng = np.random.default_rng(0)
        self.x = rng.integers(0, 40, size=(128, 40))
        self.y = rng.integers(0, 40, size=128)
        self.model = build_charlm(40, seed=0)
        self.model.compile("sparse_categorical_crossentropy",
                           seqnet.optim.RMSprop(learning_rate=0.01))
        vocab = seqnet.text.CharVocabulary.from_text(
            "abcdefghijklmnopqrstuvwxyz .,;:!?'-\n&[]ABC"[:40])
        self.model.metadata = {"vocabulary": vocab.to_config(), "maxlen": 40}
        self.model.train_on_batch(self.x, self.y)            # compile the kernels
        self.seed = "abcdefghij" * 4
        generate_text(self.model, self.seed, 2, temperature=0)

    def time_train_step(self):
        self.model.train_on_batch(self.x, self.y)

    def peakmem_train_step(self):
        self.model.train_on_batch(self.x, self.y)

    def time_generate_100_characters(self):
        generate_text(self.model, self.seed, 100, temperature=0.5, seed=0)
