"""Kernels loaded from numba's on-disk cache run first thing in a fresh process."""

import os
import subprocess
import sys
import textwrap

import pytest

#: build a warm cache "the risky way": the parallel kernels and their callees first,
#: then, in another process, the serial kernels (which linked whatever callees came
#: from the cache).
WARM = textwrap.dedent("""
    import sys
    import numpy as np
    from seqnet import _dispatch, variants
    with _dispatch.parallel_mode(sys.argv[1]):
        for name in ("lstm", "gru", "rnn-tanh"):
            layer = variants.get(name).make(4, input_size=3, seed=0)
            out = layer.forward(np.ones((2, 40, 3), np.float32), training=True)
            layer.backward(np.ones_like(out))
""")

#: then, in a fresh process, call each serial kernel directly: its entry with a plan
#: that asks for whole-sequence products in two chunks (as a long sequence at batch 1
#: gets them), and nothing that starts numba's thread pool before.
FIRST_CALL = textwrap.dedent("""
    import numpy as np
    from seqnet import _dispatch
    from seqnet.kernels import gru, lstm, rnn
    wanted = dict(parallel=False, blocks=1, seq_chunks=2, seq_parallel=True, pack=False)
    how = _dispatch.Plan(**{f: wanted[f] for f in _dispatch.Plan._fields})
    _dispatch.plan = lambda *args: how          # no numba.get_num_threads() call
    _dispatch.guard = lambda: __import__("contextlib").nullcontext()
    rng = np.random.default_rng(0)
    B, T, I, H = 2, 40, 3, 4
    for kernel, G, n_state in ((lstm, 4, 2), (gru, 3, 1), (rnn, 1, 1)):
        x = rng.standard_normal((B, T, I)).astype(np.float32)
        W_ih, W_hh = (rng.standard_normal((G * H, k)).astype(np.float32) for k in (I, H))
        b = np.zeros(G * H, np.float32)
        state = tuple(np.zeros((B, H), np.float32) for _ in range(n_state))
        lengths = np.full(B, T, np.int64)
        out, final, cache = kernel.forward(x, W_ih, W_hh, b, b, state, lengths)
        dx, grads, d0 = kernel.backward(cache, np.ones_like(out), final)
        assert np.isfinite(dx).all() and all(np.isfinite(g).all() for g in grads)
    print("ok")
""")


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="compiled kernels only")
def test_a_serial_kernel_from_the_cache_runs_first_thing_in_a_fresh_process(tmp_path):
    """A serial kernel that called parallel code (the whole-sequence products of a
    long sequence) was cached by numba without the hook that starts its thread pool
    when its parallel callees came from the cache; called first thing in a fresh
    process it jumped to address 0 (a segfault). No serial kernel calls parallel
    code now, so the same steps finish."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    for mode in ("parallel", "serial"):
        subprocess.run([sys.executable, "-c", WARM, mode], env=env, check=True, timeout=900)
    done = subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr[-2000:])
    assert done.stdout.startswith("ok")


#: a tiny SimpleRNN forward, serial: the fewest compiles of any layer call.
TINY = ("import numpy as np, seqnet\n"
        "seqnet.SimpleRNN(3, input_size=2, seed=0).forward(np.ones((1, 2, 2), np.float32))\n"
        "print('ok')\n")


def test_a_one_line_notice_while_kernels_compile_and_none_from_the_cache(tmp_path):
    """A run that compiles prints one line on stderr saying so (once, however many
    kernels compile); a run that loads them all from numba's cache prints nothing."""
    from seqnet import _config

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", TINY], env=env, capture_output=True,
                           text=True, timeout=900, check=True) for _ in range(2)]
    assert runs[0].stdout == runs[1].stdout == "ok\n"
    assert runs[0].stderr.splitlines().count(_config.COMPILE_NOTICE_TEXT) == 1, runs[0].stderr
    assert _config.COMPILE_NOTICE_TEXT not in runs[1].stderr, runs[1].stderr
