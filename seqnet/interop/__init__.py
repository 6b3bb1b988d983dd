"""Converters to and from other frameworks: PyTorch modules, Keras 3 files, ONNX.

- :func:`from_torch`, :func:`to_torch`: ``torch.nn.RNN``, ``LSTM`` (with
  ``proj_size``) and ``GRU`` to seqnet's layers and back, parameter for parameter.
- :func:`flip_update_gate`: a GRU written with the other update-gate convention,
  ``h_t = (1 - z) h_{t-1} + z n_t``, as seqnet's.
- :func:`load_keras`, :func:`save_keras`: Keras 3 ``.keras`` files (h5py only).
- :func:`export_onnx`: an ONNX graph of ``LSTM``/``GRU``/``RNN`` operators and the
  layers around them, for onnxruntime or any other ONNX runtime.

The other frameworks are optional: each is imported when a converter first needs
it, and a missing one raises :class:`MissingExtraError` naming the extra
(``pip install "seqnet[interop]"``; torch is its own extra, ``seqnet[torch]``).
Each conversion is tested against the other framework's own numbers.
"""

from __future__ import annotations

from ._gates import flip_update_gate
from ._keras import UnsupportedLayerError, load_keras, save_keras
from ._lazy import MissingExtraError
from ._onnx import export_onnx
from ._torch import from_torch, to_torch

__all__ = ["MissingExtraError", "UnsupportedLayerError", "export_onnx", "flip_update_gate",
           "from_torch", "load_keras", "save_keras", "to_torch"]
