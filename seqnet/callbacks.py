"""Callbacks for [`Model.fit`][seqnet.Model.fit]: early stopping and checkpointing."""

from __future__ import annotations

import math

import numpy as np

from . import _checks

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint", "LambdaCallback"]


class Callback:
    """Base class: override any hook. ``self.model`` is set by ``fit``.

    Hooks: ``on_train_begin(logs)``, ``on_epoch_begin(epoch, logs)``,
    ``on_batch_end(batch, logs)``, ``on_epoch_end(epoch, logs)``,
    ``on_train_end(logs)``. ``epoch`` counts from 0 over the model's whole life
    (it goes on across ``fit`` calls and saved models); ``logs`` holds the
    epoch's metrics, e.g. ``{"loss": 1.93, "val_loss": 1.88}``.
    """

    model = None

    def on_train_begin(self, logs=None):
        """Called once before the first epoch.

        Parameters
        ----------
        logs : dict, optional
            Empty (``{}``).
        """

    def on_epoch_begin(self, epoch, logs=None):
        """Called before each epoch.

        Parameters
        ----------
        epoch : int
            The epoch about to run, counted from 0 over the model's life.
        logs : dict, optional
            Empty (``{}``).
        """

    def on_batch_end(self, batch, logs=None):
        """Called after each training batch.

        Parameters
        ----------
        batch : int
            The batch's index within the epoch, from 0.
        logs : dict of str to float, optional
            ``{"loss": batch_loss}``, the batch's mean loss.
        """

    def on_epoch_end(self, epoch, logs=None):
        """Called after each epoch, with the epoch's metrics.

        Parameters
        ----------
        epoch : int
            The epoch just run, counted from 0 over the model's life.
        logs : dict of str to float, optional
            The epoch's metrics: ``"loss"``, and ``"val_loss"``, ``"accuracy"``,
            ... when computed (not ``"seconds"``).
        """

    def on_train_end(self, logs=None):
        """Called once after the last epoch (also after an early stop).

        Parameters
        ----------
        logs : dict, optional
            Empty (``{}``).
        """


def _monitored(logs, monitor):
    if monitor not in logs:
        raise ValueError(f"monitor {monitor!r} is not among the epoch's metrics "
                         f"{sorted(logs)}; with val_* pass validation data to fit")
    return float(logs[monitor])


def _improves(mode, value, best, min_delta):
    if mode == "min":
        return value < best - min_delta
    return value > best + min_delta


class EarlyStopping(Callback):
    """Stop training when a metric has stopped improving.

    Parameters
    ----------
    monitor : str, default "val_loss"
        The metric of ``logs`` to watch (``"val_*"`` needs validation data).
    min_delta : float, default 0
        Smallest change that counts as an improvement (its absolute value).
    patience : int, default 0
        Stop once this many epochs in a row brought no improvement (at the
        first such epoch when 0), as Keras.
    mode : {"min", "max"}, default "min"
        Whether lower or higher values of ``monitor`` are better.
    restore_best_weights : bool, default False
        At the end of training (stopped early or not), put back the parameters
        of the best epoch.

    Attributes
    ----------
    stopped_epoch : int or None
        The epoch after which training stopped, or ``None``.

    Raises
    ------
    ValueError
        A ``mode`` other than ``"min"`` and ``"max"``, or a ``patience`` that is
        not an integer >= 0.
    """

    def __init__(self, monitor="val_loss", *, min_delta=0.0, patience=0, mode="min",
                 restore_best_weights=False):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        patience = _checks.integer(patience, "patience", 0)
        self.monitor, self.min_delta, self.patience = monitor, abs(min_delta), patience
        self.mode, self.restore_best_weights = mode, restore_best_weights
        self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        """Reset the best value, the wait and the saved weights.

        Parameters
        ----------
        logs : dict, optional
            Unused.
        """
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.best_weights = None
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        """Note an improvement, or count the epoch and stop the model after ``patience``.

        Parameters
        ----------
        epoch : int
            The epoch just run.
        logs : dict of str to float
            The epoch's metrics; must hold ``monitor``.

        Raises
        ------
        ValueError
            ``monitor`` is not in ``logs``.
        """
        value = _monitored(logs, self.monitor)
        if _improves(self.mode, value, self.best, self.min_delta):
            self.best, self.wait = value, 0
            if self.restore_best_weights:
                self.best_weights = {k: v.copy() for k, v in self.model.params.items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        """Put back the best epoch's parameters when ``restore_best_weights``.

        Parameters
        ----------
        logs : dict, optional
            Unused.
        """
        if self.restore_best_weights and self.best_weights is not None:
            for k, v in self.model.params.items():
                np.copyto(v, self.best_weights[k])


class ModelCheckpoint(Callback):
    """Save the model after every epoch, or only when a metric improves.

    Parameters
    ----------
    filepath : str or os.PathLike
        May hold ``{epoch}`` (1-based) and metric fields, e.g.
        ``"model-{epoch:02d}-{val_loss:.3f}.npz"``. Saved atomically.
    monitor : str, default "val_loss"
        The metric that ``save_best_only`` watches.
    save_best_only : bool, default False
        Save only when ``monitor`` improves on the best value so far.
    mode : {"min", "max"}, default "min"
        Whether lower or higher values of ``monitor`` are better.

    Raises
    ------
    ValueError
        A ``mode`` other than ``"min"`` and ``"max"``.
    """

    def __init__(self, filepath, *, monitor="val_loss", save_best_only=False, mode="min"):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.filepath, self.monitor = str(filepath), monitor
        self.save_best_only, self.mode = save_best_only, mode
        self.best = math.inf if mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        """Save the model to ``filepath`` (formatted), unless it did not improve.

        Parameters
        ----------
        epoch : int
            The epoch just run (``{epoch}`` in ``filepath`` is ``epoch + 1``).
        logs : dict of str to float, optional
            The epoch's metrics, for ``filepath``'s fields and ``monitor``.

        Raises
        ------
        ValueError
            ``save_best_only`` and ``monitor`` is not in ``logs``.
        """
        logs = dict(logs or {})
        if self.save_best_only:
            value = _monitored(logs, self.monitor)
            if not _improves(self.mode, value, self.best, 0.0):
                return
            self.best = value
        self.model.save(self.filepath.format(epoch=epoch + 1, **logs))


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=f)``.

    Parameters
    ----------
    **hooks : callable
        Any of ``on_train_begin``, ``on_epoch_begin``, ``on_batch_end``,
        ``on_epoch_end`` and ``on_train_end``, each called with the hook's
        arguments (``f(epoch, logs)``, ...).

    Raises
    ------
    ValueError
        A keyword that is not a hook's name.
    """

    def __init__(self, **hooks):
        allowed = {"on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end",
                   "on_train_end"}
        unknown = set(hooks) - allowed
        if unknown:
            raise ValueError(f"unknown hooks {sorted(unknown)}; known: {sorted(allowed)}")
        for name, fn in hooks.items():
            setattr(self, name, fn)
