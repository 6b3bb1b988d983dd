"""Worked experiments that reproduce the figures and tables on the docs site.

Each module runs from one command, ``python -m seqnet.experiments.<name>``, and
needs the optional extra ``pip install "seqnet[experiments]"`` (matplotlib for the
figures, statsmodels for the forecasting data set, num2words for the words
of the translation experiment, sktime for the speech data set):

- `seqnet.experiments.long_range`: the adding problem at growing sequence
  lengths for SimpleRNN, LSTM and GRU, and the norm of dL/dh_t through time.
- `seqnet.experiments.forecast`: forecasting the yearly sunspot numbers
  shipped with statsmodels, against seasonal-naive, persistence and linear
  autoregressive baselines.
- `seqnet.experiments.streaming`: the reference character model trained on
  windows and on streams (stateful, truncated BPTT), held-out loss against
  wall time.
- `seqnet.experiments.wordlm`: a word-level LSTM language model on the bundled
  corpus against an interpolated Kneser-Ney trigram and a unigram model, and the
  five most likely next words after a prefix.
- `seqnet.experiments.translate`: numbers written out in words translated from
  one language to another (num2words) by a character-level encoder-decoder,
  with attention against without, greedy against beam search.
- `seqnet.experiments.speakers`: speaker recognition on the Japanese Vowels set
  shipped with sktime, a bidirectional LSTM against one-nearest-neighbour DTW.
"""
