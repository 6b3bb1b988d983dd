r"""Decoding with encoder-decoder models: greedy search and beam search.

The Keras pattern: train one model on whole target sequences (teacher forcing),
then build from the same layers an *encoder* model (source to the decoder's initial
states, and whatever attention reads) and a *decoder step* model, which takes one
token per row with the states and returns the next token's probabilities with the
new states::

    decoder([tokens, *constants, *states]) -> [probs, *new_states]

``tokens`` is ``(N, 1)`` integers, ``probs`` ``(N, 1, V)`` or ``(N, V)``, each
state batch-first as graphs give them (``(N, H)``), and ``constants`` are arrays
every step reads unchanged (the encoder's outputs, for attention). A step runs
each layer of the decoder once, on one time step, from the carried states: the
prefix is never run again.

Both searches return a `Decoded`: each row's tokens after the start token, up to
and including the end token; its length; and its score, the sum of the
log-probabilities the decoder gave those tokens, which is the model's
log-probability of the sequence given the start token:

$$
\text{score}(y) = \sum_{t=1}^{|y|} \log p(y_t \mid y_{<t}, x).
$$

Beam search keeps ``width`` hypotheses per row and runs all of them in one batched
decoder call per step (``N = B * width`` rows). It ranks hypotheses by
$\text{score}(y) / |y|^\alpha$ (``length_normalization`` $= \alpha$; 0 ranks by
the score itself, which favours short sequences). A hypothesis that has emitted the
end token is finished: it stays in the beam unchanged, competing with the others
on its normalised score. Ties go to the lower beam, then the lower token, so that
``width=1`` is exactly greedy search.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np

from . import _checks, _threads
from .model import Model

__all__ = ["Decoded", "beam_search", "greedy"]


@dataclasses.dataclass
class Decoded:
    """What a search found for each row.

    Parameters
    ----------
    tokens : ndarray of int64, shape (B, L), or (B, width, L) for every beam
        Each row's tokens after the start token, the end token included; past a
        row's length, the end token (0 when there is none).
    lengths : ndarray of int64, shape (B,) or (B, width)
        Tokens in each sequence (the end token included).
    scores : ndarray of float64, shape (B,) or (B, width)
        The sum of the log-probabilities of each sequence's tokens.
    """

    tokens: np.ndarray
    lengths: np.ndarray
    scores: np.ndarray


def _check(decoder, states, constants, start, max_length, end):
    if not isinstance(decoder, Model):
        raise TypeError(f"decoder must be a seqnet.Model (a decoder step), got "
                        f"{type(decoder).__name__}")
    states = [np.asarray(_checks.to_numpy(s)) for s in states]
    constants = [np.asarray(_checks.to_numpy(c)) for c in constants]
    n_in, n_out = len(decoder.inputs), len(decoder.outputs)
    if n_in != 1 + len(constants) + len(states) or n_out != 1 + len(states):
        raise ValueError(
            f"decoder must take [tokens, *constants, *states] and return [probs, *states]: "
            f"given {len(constants)} constant(s) and {len(states)} state(s) it should have "
            f"{1 + len(constants) + len(states)} inputs and {1 + len(states)} outputs, but "
            f"has {n_in} and {n_out}")
    if decoder.inputs[0].dtype.kind not in "iu":
        raise TypeError(f"the decoder's first input must be integer tokens, got "
                        f"{decoder.inputs[0].dtype}")
    arrays = states + constants
    if not arrays:
        raise ValueError("states must hold the decoder's initial states (from the "
                         "encoder)")
    B = arrays[0].shape[0] if arrays[0].ndim else 0
    for name, group in (("states", states), ("constants", constants)):
        for k, a in enumerate(group):
            if a.ndim < 1 or a.shape[0] != B:
                raise ValueError(f"{name}[{k}] must have one row per sequence ({B}), got "
                                 f"shape {a.shape}")
    if B == 0:
        raise ValueError("states hold no rows: nothing to decode")
    max_length = _checks.positive_int(max_length, "max_length")
    if isinstance(start, (bool, np.bool_)) or not isinstance(start, numbers.Integral):
        raise TypeError(f"start must be an integer token, got {start!r}")
    if start < 0:
        raise ValueError(f"start must be a token (>= 0), got {start}")
    if end is not None:
        if isinstance(end, (bool, np.bool_)) or not isinstance(end, numbers.Integral):
            raise TypeError(f"end must be an integer token or None, got {end!r}")
        if end < 0:
            raise ValueError(f"end must be a token (>= 0), got {end}")
    return states, constants, B, max_length


def _step(decoder, tokens, constants, states):
    """One decoder call on one token per row: log-probabilities ``(N, V)`` (float64)
    and the new states."""
    with _threads.blas_single_threaded():
        outs = decoder.forward([tokens[:, None], *constants, *states])
    probs = np.asarray(outs[0])
    if probs.ndim == 3:
        probs = probs[:, -1]
    if probs.ndim != 2:
        raise ValueError(f"the decoder's first output must be (N, 1, V) or (N, V) "
                         f"probabilities, got shape {probs.shape}")
    with np.errstate(divide="ignore"):
        logp = np.log(probs.astype(np.float64))
    return logp, list(outs[1:])


def greedy(decoder, states, *, start, max_length, end=None, constants=()):
    """The most probable token at every step, for each row.

    Parameters
    ----------
    decoder : Model
        A decoder step: ``[tokens, *constants, *states] -> [probs, *states]`` (see
        the module docstring).
    states : sequence of array_like
        The decoder's initial states, batch-first (what the encoder model gives).
    start : int
        The token that starts every sequence (it is not in the result).
    max_length : int
        The most tokens to emit per row.
    end : int, optional
        The token that ends a sequence; a row stops after emitting it. None: every
        row runs ``max_length`` steps.
    constants : sequence of array_like, default ()
        Arrays every step reads (the encoder's outputs, for attention), batch first.

    Returns
    -------
    Decoded
        ``tokens`` ``(B, L)`` with ``L <= max_length`` (the search stops when every
        row has ended), ``lengths`` and ``scores`` ``(B,)``.

    Raises
    ------
    TypeError
        ``decoder`` is not a Model, or a token is not an integer.
    ValueError
        A decoder of another structure, states or constants of different numbers
        of rows, a bad ``max_length``.
    """
    states, constants, B, max_length = _check(decoder, states, constants, start,
                                              max_length, end)
    pad = 0 if end is None else end
    tokens = np.full(B, start, np.int64)
    out = np.full((B, max_length), pad, np.int64)
    scores = np.zeros(B)
    lengths = np.full(B, max_length, np.int64)
    done = np.zeros(B, bool)
    rows = np.arange(B)
    for t in range(max_length):
        logp, states = _step(decoder, tokens, constants, states)
        nxt = np.argmax(logp, axis=1)
        scores += np.where(done, 0.0, logp[rows, nxt])
        nxt = np.where(done, pad, nxt)
        out[:, t] = nxt
        if end is not None:
            ended = ~done & (nxt == end)
            lengths[ended] = t + 1
            done |= ended
            if done.all():
                out = out[:, :t + 1]
                break
        tokens = nxt
    return Decoded(tokens=out, lengths=lengths, scores=scores)


def beam_search(decoder, states, *, start, max_length, end=None, width=4,
                length_normalization=0.0, constants=(), return_all=False):
    r"""The ``width`` best hypotheses per row, all extended in one decoder call per
    step; the best by $\text{score}/|y|^\alpha$.

    Parameters
    ----------
    decoder : Model
        A decoder step, as for `greedy`.
    states : sequence of array_like
        The decoder's initial states, batch-first.
    start : int
        The token that starts every sequence.
    max_length : int
        The most tokens per hypothesis.
    end : int, optional
        The token that finishes a hypothesis.
    width : int, default 4
        Hypotheses kept per row.
    length_normalization : float, default 0
        $\alpha \ge 0$: hypotheses are ranked by their score divided by their
        length to the power $\alpha$.
    constants : sequence of array_like, default ()
        Arrays every step reads, batch first (repeated for each hypothesis).
    return_all : bool, default False
        Return every row's ``width`` hypotheses, best first, rather than the best.

    Returns
    -------
    Decoded
        ``tokens`` ``(B, L)``, ``lengths`` and ``scores`` ``(B,)`` of each row's
        best hypothesis; with ``return_all``, ``(B, width, L)`` and ``(B, width)``.
        A score is the hypothesis's log-probability (not normalised).

    Raises
    ------
    TypeError
        ``decoder`` is not a Model, or a token or ``width`` is not an integer.
    ValueError
        A decoder of another structure, states or constants of different numbers
        of rows, a bad ``max_length``, ``width`` or ``length_normalization``.
    """
    states, constants, B, max_length = _check(decoder, states, constants, start,
                                              max_length, end)
    W = _checks.positive_int(width, "width")
    alpha = _checks.real(length_normalization, "length_normalization", 0.0, np.inf)
    return_all = _checks.flag(return_all, "return_all")
    pad = 0 if end is None else end
    states = [np.repeat(s, W, axis=0) for s in states]
    constants = [np.repeat(c, W, axis=0) for c in constants]
    scores = np.full((B, W), -np.inf)
    scores[:, 0] = 0.0                      # one live hypothesis per row at first
    seqs = np.zeros((B, W, 0), np.int64)
    lengths = np.zeros((B, W), np.int64)
    finished = np.zeros((B, W), bool)
    tokens = np.full(B * W, start, np.int64)
    base = (np.arange(B) * W)[:, None]
    for t in range(max_length):
        logp, new_states = _step(decoder, tokens, constants, states)
        V = logp.shape[1]
        cand = scores[..., None] + logp.reshape(B, W, V)
        new_len = np.broadcast_to(np.where(finished, lengths, t + 1)[..., None], cand.shape)
        if end is not None and finished.any():
            # a finished hypothesis goes on unchanged, as itself followed by padding
            cand = np.where(finished[..., None], -np.inf, cand)
            cand[..., end] = np.where(finished, scores, cand[..., end])
        key = cand / new_len.astype(np.float64) ** alpha if alpha else cand
        order = np.argsort(-key.reshape(B, W * V), axis=1, kind="stable")[:, :W]
        beam, tok = order // V, order % V
        scores = np.take_along_axis(cand.reshape(B, W * V), order, axis=1)
        was_finished = np.take_along_axis(finished, beam, axis=1)
        seqs = np.concatenate([np.take_along_axis(seqs, beam[..., None], axis=1),
                               np.where(was_finished, pad, tok)[..., None]], axis=2)
        lengths = np.where(was_finished, np.take_along_axis(lengths, beam, axis=1), t + 1)
        finished = was_finished | (tok == end) if end is not None else was_finished
        rows = (base + beam).ravel()
        states = [s[rows] for s in new_states]
        tokens = np.where(was_finished, pad, tok).ravel()
        if finished.all():
            break
    ranked = scores / np.maximum(lengths, 1).astype(np.float64) ** alpha if alpha else scores
    order = np.argsort(-ranked, axis=1, kind="stable")
    seqs = np.take_along_axis(seqs, order[..., None], axis=1)
    lengths = np.take_along_axis(lengths, order, axis=1)
    scores = np.take_along_axis(scores, order, axis=1)
    if return_all:
        return Decoded(tokens=seqs, lengths=lengths, scores=scores)
    return Decoded(tokens=seqs[:, 0], lengths=lengths[:, 0], scores=scores[:, 0])
