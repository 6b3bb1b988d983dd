"""One direction of one recurrent layer over a whole sequence: the kernel wrappers.

These functions allocate every output and cache and make one kernel call per
sequence. They take batch-first arrays of one float dtype (``float32`` or
``float64``), as the layers do, and trust their arguments: the checks live in
:mod:`seqnet.layers`.

Shapes (B rows, T steps, I inputs, H hidden units, G gates: LSTM 4, GRU 3, RNN 1):

- ``x``: ``(B, T, I)``, C-contiguous; or ``(B, T)`` integer indices in ``[0, I)``,
  which computes exactly what the one-hot input would (the input projection is a
  gather of columns of ``W_ih``, its gradient a scatter-add; ``dx`` is ``None``).
- ``W_ih``: ``(G*H, I)``, ``W_hh``: ``(G*H, H)``, ``b_ih``, ``b_hh``: ``(G*H,)``.
- ``state``: a tuple of ``(B, H)`` arrays, ``(h,)`` or, for the LSTM, ``(h, c)``.
- ``lengths``: ``(B,)`` int64 with ``1 <= lengths[b] <= T``.
- ``out``: ``(B, T, H)``, zero past each row's length.

Each ``*_forward`` returns ``(out, final_state, cache)``; ``cache`` is ``None``
unless ``keep=True``. Each ``*_backward(cache, dout, dstate)`` returns
``(dx, (dW_ih, dW_hh, db_ih, db_hh), dstate0)``.

A backward spends its cache: it writes the gate gradients over the cached gates
(the LSTM, the GRU, whose recurrent n-block gradient also goes over ``hn`` in the
reset_after form) or over
the cached ``out`` (the SimpleRNN, whose ``out`` *is* its cache; over a copy of it
when something besides the cache still refers to it, so an output the caller holds
is never changed), and a second backward from one cache raises. The caller must
not change ``rnn_forward``'s ``out`` before the backward: :class:`seqnet.RecurrentLayer`
checks that it did not.
"""

from __future__ import annotations

import sys

import numba
import numpy as np

from . import _config, _threads
from .kernels import gru as _gru
from .kernels import lstm as _lstm
from .kernels import rnn as _rnn
from .kernels._common import scatter_add_rows
from .kernels._panel import pack_panels


def _run(serial, parallel, batch, width, hidden, *args):
    """Call the serial or the parallel kernel, with OpenBLAS held at one thread.

    Both kernels get the same ``n_chunks`` (in ``args``; see :func:`_n_chunks`): the
    serial one runs the chunks in turn, so the two agree bit for bit.
    """
    # the serial kernel may open parallel regions too (its whole-sequence products,
    # see _seq_split): every call takes the guard that numba's workqueue layer needs.
    kernel = parallel if _config.use_parallel(batch, width, hidden) else serial
    with _threads.blas_single_threaded(), _threads.parallel_call_guard():
        kernel(*args)


def _n_chunks(batch, width, hidden):
    """Blocks of batch rows for the time loop: numba's thread count (at most
    ``batch``), or 1 for a problem that ``"auto"`` mode runs serially
    (:func:`seqnet._config.big_enough`).

    Each block runs the whole sequence for its rows (rows never depend on each
    other). On packed weights a row's sums are made in the same order whatever
    block it is in, so there the block count changes no bit; BLAS (a short call,
    see :func:`_packs`) may round a block's product differently from the whole
    batch's. A forced mode (:func:`seqnet._config.parallel_mode` ``"serial"`` or
    ``"parallel"``) always gets the thread count and packs, so that the two run the
    same blocks and agree bit for bit.
    """
    if _config.get_parallel_mode() == "auto" and not _config.big_enough(batch, width, hidden):
        return 1
    return max(1, min(numba.get_num_threads(), batch))


def _seq_split(rows, width, inputs, hidden):
    """``(chunks, parallel)`` for the whole-sequence products (the input projection,
    ``dx`` and the weight gradients) of ``rows = B*T`` rows and gate width ``width``.

    In ``"auto"`` mode they run in one chunk per thread, in parallel, once
    ``rows*width*max(inputs, hidden)`` reaches :data:`seqnet._config.SEQUENCE_MIN_WORK`
    (also when the time loop itself is too small for the parallel kernels: batch 1
    over a long sequence), else serially in one chunk. A forced serial or parallel
    mode splits them in one chunk per thread either way, so the two give the same
    bits.
    """
    threads = numba.get_num_threads()
    mode = _config.get_parallel_mode()
    if mode != "auto":
        return threads, mode == "parallel"
    if threads > 1 and rows * width * max(inputs, hidden) >= _config.SEQUENCE_MIN_WORK:
        return threads, True
    return 1, False


def _packs(rows, steps):
    """Whether a call packs ``W_hh``: in ``"auto"`` mode from
    :data:`seqnet._config.PACK_MIN_ROWS` rows x steps; a forced mode
    (:func:`seqnet._config.parallel_mode`) always packs, so that the forced serial
    and parallel runs (the gradient-check suite's second pass) take the packed
    path even on small problems, and give the same bits."""
    if _config.get_parallel_mode() != "auto":
        return True
    return rows * steps >= _config.PACK_MIN_ROWS


def _row_panels(W_hh, pack=True):
    """``W_hh.T`` packed for the forward's per-step products ``h @ W_hh.T``
    (:func:`seqnet.kernels._panel.pack_panels` layout, 1-D), or an empty array
    when not ``pack`` (the kernels then use BLAS on ``W_hh``)."""
    if not pack:
        return np.empty(0, W_hh.dtype)
    return pack_panels(W_hh.T[None])[0]


def _col_panels(W_hh, pack=True):
    """``W_hh`` packed for the backward's per-step products ``dG @ W_hh`` (1-D), or
    an empty array when not ``pack``."""
    if not pack:
        return np.empty(0, W_hh.dtype)
    return pack_panels(W_hh[None])[0]


def _input(x, W_ih, dt):
    """(x for the kernel, gates buffer, project flag, B, T).

    Index input is gathered here (one numpy ``take``) and the kernel told not to
    project; it then gets an empty ``(B, T, 0)`` placeholder for ``x``.
    """
    B, T = x.shape[:2]
    if x.ndim == 2:
        gates = np.take(W_ih.T, x, axis=0)
        return np.empty((B, T, 0), dt), gates, False, B, T
    return x, np.empty((B, T, W_ih.shape[0]), dt), True, B, T


def _input_grads(x, W_ih, dG):
    """(dx buffer, dW_ih buffer, input_grads flag) for a backward kernel."""
    if x.ndim == 2:
        return np.empty((*x.shape, 0), dG.dtype), np.empty_like(W_ih), False
    return np.empty_like(x), np.empty_like(W_ih), True


def _index_weight_grad(x, dG, dW_ih):
    """dW_ih of an index input: a scatter-add of dG rows into columns of dW_ih."""
    dW_T = np.empty((dW_ih.shape[1], dW_ih.shape[0]), dG.dtype)
    scatter_add_rows(x.reshape(-1), dG.reshape(-1, dG.shape[2]), dW_T)
    dW_ih[...] = dW_T.T


def _spend(cache, name):
    """Take ``cache[name]`` for a backward pass that overwrites it; a second
    backward from the same cache raises instead of reading the overwritten values."""
    buffer = cache.pop(name, None)
    if buffer is None:
        raise ValueError("this forward's cache was spent by an earlier backward: run "
                         "forward(..., training=True) again before backward()")
    return buffer


def _history(keep, B, T, H, dtype):
    """Per-step state history for backward, or a 1-step dummy when not kept."""
    return np.empty((B, T if keep else 1, H), dtype)


def lstm_forward(x, W_ih, W_hh, b_ih, b_hh, state, lengths, reverse=False, keep=True):
    """Run an LSTM direction over a sequence (see the module docstring for shapes).

    Gate order i, f, g, o; ``c_t = f c_{t-1} + i g``, ``h_t = o tanh(c_t)``.
    """
    W_hh = np.ascontiguousarray(W_hh)   # BLAS's per-step path needs unit inner stride
    H = W_hh.shape[1]
    dt = W_hh.dtype
    x_k, gates, project, B, T = _input(x, W_ih, dt)
    h0, c0 = state
    out = np.empty((B, T, H), dt)
    hT = np.empty((B, H), dt)
    cT = np.empty((B, H), dt)
    h_prev = _history(keep, B, T, H, dt)
    c_prev = _history(keep, B, T, H, dt)
    n_chunks = _n_chunks(B, 4 * H, H)
    rec = np.empty((n_chunks, -(-B // n_chunks), 4 * H), dt)
    _run(_lstm.lstm_seq_forward_serial, _lstm.lstm_seq_forward_parallel, B, 4 * H, H,
         x_k, W_ih, _row_panels(W_hh, _packs(B, T)), W_hh, b_ih + b_hh, h0, c0, lengths,
         reverse, keep, project,
         n_chunks, *_seq_split(B * T, 4 * H, W_ih.shape[1], H),
         out, hT, cT, h_prev, c_prev, gates, rec)
    cache = None
    if keep:
        cache = dict(x=x, x_k=x_k, W_ih=W_ih, W_hh=W_hh, lengths=lengths, reverse=reverse,
                     h_prev=h_prev, c_prev=c_prev, gates=gates)
    return out, (hT, cT), cache


def lstm_backward(cache, dout, dstate):
    """Backpropagation through time for :func:`lstm_forward`.

    ``dout``: ``(B, T, H)``; ``dstate``: ``(dh_T, dc_T)``, each ``(B, H)``.
    """
    x, W_ih, W_hh = cache["x"], cache["W_ih"], cache["W_hh"]
    B, T = x.shape[:2]
    H = W_hh.shape[1]
    dt = W_hh.dtype
    db = np.empty(4 * H, dt)
    dh0 = np.empty((B, H), dt)
    dc0 = np.empty((B, H), dt)
    # dL/da of every step overwrites the gates it is made from (each element is
    # read before it is written, and nothing reads the gates after): the cache is
    # spent, and BPTT needs no second (B, T, 4H) buffer.
    dG = _spend(cache, "gates")
    dx, dW_ih, input_grads = _input_grads(x, W_ih, dG)
    dW_hh = np.empty_like(W_hh)
    n_chunks = _n_chunks(B, 4 * H, H)
    dh_parts = np.empty((n_chunks, -(-B // n_chunks), H), dt)
    _run(_lstm.lstm_seq_backward_serial, _lstm.lstm_seq_backward_parallel, B, 4 * H, H,
         cache["x_k"], W_ih, _col_panels(W_hh, _packs(B, T)), W_hh, cache["lengths"],
         cache["reverse"], input_grads, n_chunks, *_seq_split(B * T, 4 * H, W_ih.shape[1], H),
         cache["h_prev"], cache["c_prev"], dout, dstate[0], dstate[1],
         dx, dW_ih, dW_hh, db, dh0, dc0, dG, dh_parts)
    if not input_grads:
        _index_weight_grad(x, dG, dW_ih)
        dx = None
    return dx, (dW_ih, dW_hh, db, db.copy()), (dh0, dc0)


def gru_forward(x, W_ih, W_hh, b_ih, b_hh, state, lengths, reverse=False, keep=True,
                reset_after=True):
    """Run a GRU direction over a sequence (see the module docstring for shapes).

    Gate order r, z, n; ``h_t = (1 - z) n + z h_{t-1}``. ``reset_after=True``:
    ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``; ``False``:
    ``n = tanh(W_in x + b_in + W_hn (r h) + b_hn)``.
    """
    W_hh = np.ascontiguousarray(W_hh)   # BLAS's per-step path needs unit inner stride
    H = W_hh.shape[1]
    dt = W_hh.dtype
    x_k, gates, project, B, T = _input(x, W_ih, dt)
    (h0,) = state
    out = np.empty((B, T, H), dt)
    hT = np.empty((B, H), dt)
    h_prev = _history(keep, B, T, H, dt)
    # reset_after keeps W_hn h + b_hn for every step; reset_before keeps nothing
    # more (its r * h is made again in backward).
    hn = np.empty((B, T if reset_after else 0, H), dt)
    n_chunks = _n_chunks(B, 3 * H, H)
    rows = -(-B // n_chunks)
    rh = np.empty((n_chunks, 0 if reset_after else rows, H), dt)
    unused = np.empty(0, dt)   # the other form's weights
    pack = _packs(B, T)
    if reset_after:
        W_rows, W_rz_rows, W_n_rows = _row_panels(W_hh, pack), unused, unused
        widths = 3 * H, 0, 0
    else:
        W_rows = unused
        W_rz_rows, W_n_rows = _row_panels(W_hh[:2 * H], pack), _row_panels(W_hh[2 * H:], pack)
        widths = 0, 2 * H, H
    rec, rec_rz, rec_n = (np.empty((n_chunks, rows, w), dt) for w in widths)
    _run(_gru.gru_seq_forward_serial, _gru.gru_seq_forward_parallel, B, 3 * H, H,
         x_k, W_ih, W_rows, W_rz_rows, W_n_rows, W_hh, b_ih, b_hh, h0, lengths, reverse,
         reset_after, keep, project, n_chunks, *_seq_split(B * T, 3 * H, W_ih.shape[1], H),
         out, hT, h_prev, gates, hn, rec, rec_rz, rec_n, rh)
    cache = None
    if keep:
        cache = dict(x=x, x_k=x_k, W_ih=W_ih, W_hh=W_hh, lengths=lengths, reverse=reverse,
                     reset_after=reset_after, h_prev=h_prev, gates=gates, hn=hn)
    return out, (hT,), cache


#: rows of sum that a reset_before GRU's backward gathers (``seg`` steps of a row
#: block) before each product adding to ``dW_hn``.
GRU_SEGMENT_ROWS = 128


def _gru_segment(rows, steps):
    """Steps per ``dW_hn`` product in a reset_before GRU backward: enough for
    :data:`GRU_SEGMENT_ROWS` rows of a block of ``rows``, at most ``steps``."""
    return max(1, min(steps, -(-GRU_SEGMENT_ROWS // rows)))


def gru_backward(cache, dout, dstate):
    """Backpropagation through time for :func:`gru_forward`.

    ``dout``: ``(B, T, H)``; ``dstate``: ``(dh_T,)``, ``(B, H)``.
    """
    x, W_ih, W_hh = cache["x"], cache["W_ih"], cache["W_hh"]
    B, T = x.shape[:2]
    H = W_hh.shape[1]
    dt = W_hh.dtype
    dW_hh = np.empty_like(W_hh)
    db_ih = np.empty(3 * H, dt)
    db_hh = np.empty(3 * H, dt)
    dh0 = np.empty((B, H), dt)
    # the gate gradients are written over the gates, as in lstm_backward, and the
    # hidden side's n block (dan * r, reset_after) over hn, which only it reads
    # (reset_before: hn is empty, and dW_hn is summed in the time loop).
    dG = _spend(cache, "gates")
    hn = _spend(cache, "hn")
    dx, dW_ih, input_grads = _input_grads(x, W_ih, dG)
    dht = np.empty((B, H), dt)
    n_chunks = _n_chunks(B, 3 * H, H)
    rows = -(-B // n_chunks)
    dh_parts = np.empty((n_chunks, rows, H), dt)
    reset_after = cache["reset_after"]
    seg = _gru_segment(rows, T)
    rh, dan = (np.empty((n_chunks, 0 if reset_after else seg * rows, H), dt) for _ in range(2))
    dW_n_parts = np.empty((0 if reset_after else n_chunks - 1, H, H), dt)
    dW_hrz, dW_hn = dW_hh[:2 * H], dW_hh[2 * H:]
    _run(_gru.gru_seq_backward_serial, _gru.gru_seq_backward_parallel, B, 3 * H, H,
         cache["x_k"], W_ih, _col_panels(W_hh, _packs(B, T)), W_hh, cache["lengths"],
         cache["reverse"], cache["reset_after"], input_grads, n_chunks,
         *_seq_split(B * T, 3 * H, W_ih.shape[1], H), cache["h_prev"], hn, dout,
         dstate[0], dx, dW_ih, dW_hrz, dW_hn, dW_n_parts, db_ih, db_hh, dh0, dG, dht, dh_parts,
         seg, rh, dan)
    if not input_grads:
        _index_weight_grad(x, dG, dW_ih)
        dx = None
    return dx, (dW_ih, dW_hh, db_ih, db_hh), (dh0,)


def rnn_forward(x, W_ih, W_hh, b_ih, b_hh, state, lengths, reverse=False, keep=True,
                nonlinearity="tanh"):
    """Run a vanilla RNN direction over a sequence (see the module docstring).

    ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, ``act`` tanh or ReLU.
    The outputs are the whole cache of the backward (which writes the
    pre-activation gradients over them, unless they are still referenced
    elsewhere: :func:`rnn_backward`); the input projection is made in place in
    the output buffer too, so a forward allocates one ``[B, T, H]`` buffer.
    """
    W_hh = np.ascontiguousarray(W_hh)   # BLAS's per-step path needs unit inner stride
    H = W_hh.shape[1]
    dt = W_hh.dtype
    x_k, out, project, B, T = _input(x, W_ih, dt)   # out: the input projection, then h
    (h0,) = state
    relu = nonlinearity == "relu"
    hT = np.empty((B, H), dt)
    n_chunks = _n_chunks(B, H, H)
    rec = np.empty((n_chunks, -(-B // n_chunks), H), dt)
    _run(_rnn.rnn_seq_forward_serial, _rnn.rnn_seq_forward_parallel, B, H, H,
         x_k, W_ih, _row_panels(W_hh, _packs(B, T)), W_hh, b_ih + b_hh, h0, lengths, reverse,
         relu, project, n_chunks, *_seq_split(B * T, H, W_ih.shape[1], H), out, hT, rec)
    cache = None
    if keep:
        cache = dict(x=x, x_k=x_k, W_ih=W_ih, W_hh=W_hh, lengths=lengths, reverse=reverse,
                     relu=relu, h0=np.array(h0, dt, copy=True), out=out)
    return out, (hT,), cache


def rnn_backward(cache, dout, dstate):
    """Backpropagation through time for :func:`rnn_forward`.

    ``dout``: ``(B, T, H)``; ``dstate``: ``(dh_T,)``, ``(B, H)``.

    The pre-activation gradients are written over the forward's outputs when
    nothing but the cache refers to them (the caller dropped them, as a layer's
    caller that keeps only a copy does); otherwise over a copy, so that an output
    still held is never changed.
    """
    x, W_ih, W_hh = cache["x"], cache["W_ih"], cache["W_hh"]
    B, T = x.shape[:2]
    H = W_hh.shape[1]
    dt = W_hh.dtype
    dW_hh = np.empty_like(W_hh)
    db = np.empty(H, dt)
    dh0 = np.empty((B, H), dt)
    # dL/da overwrites the activations h_t it is made from, element by element
    # (as in lstm_backward), after each has served in dW_hh.
    dG = _spend(cache, "out")
    if sys.getrefcount(dG) > 2:   # this name and getrefcount's argument: no one else
        dG = dG.copy()
    dx, dW_ih, input_grads = _input_grads(x, W_ih, dG)
    n_chunks = _n_chunks(B, H, H)
    dh_parts = np.empty((n_chunks, -(-B // n_chunks), H), dt)
    dW_parts = np.empty((n_chunks - 1, H, H), dt)
    _run(_rnn.rnn_seq_backward_serial, _rnn.rnn_seq_backward_parallel, B, H, H,
         cache["x_k"], W_ih, _col_panels(W_hh, _packs(B, T)), W_hh, cache["h0"],
         cache["lengths"], cache["reverse"], cache["relu"],
         input_grads, n_chunks, *_seq_split(B * T, H, W_ih.shape[1], H),
         dout, dstate[0], dx, dW_ih, dW_hh, dW_parts, db, dh0, dG, dh_parts)
    if not input_grads:
        _index_weight_grad(x, dG, dW_ih)
        dx = None
    return dx, (dW_ih, dW_hh, db, db.copy()), (dh0,)
