"""What the predictive-coding models share: argument checks, batching, the epoch loop and checkpoints.

A model built on :class:`PCModel` holds its learning synapses in ``self.W[1:]``
(``HebbianSynapse``), its constructor arguments as JSON data in ``self.config``,
a fixed ``batch_size``, the shuffling generator ``self.rng``, ``epoch`` and
``history``; it defines ``train_batch(*rows)`` (one step on a full batch,
returning the batch's mean energy before the update). The components have a
fixed batch size: ``_train`` trains on the full batches of a seeded permutation
of the training set each epoch (the remainder, fewer than ``batch_size``
samples, is left out of that epoch only); ``_batches`` pads the last batch of
an evaluation with zeros, and the model discards the padding.
"""

import itertools
import time

import numpy as np
from ngc_optim.components import ACTIVATIONS
from ngc_optim.components.initializers import validate

from ngc_optim.checkpoint import CheckpointError, load_checkpoint, restore_checkpoint, save_checkpoint
from ngc_optim.optim import get_optimizer

__all__ = ["DivergenceError", "PCModel", "checked_common_config"]

_contexts = itertools.count()


class DivergenceError(FloatingPointError):
    """Training diverged: an epoch's mean training result or validation score is not finite."""


class PCModel:
    """Base of the models: batching, ``_train`` (the epoch loop), ``save`` and ``load``.

    Subclasses set ``MODEL`` (the name in errors and in a checkpoint's ``model``
    entry) and ``SCORE`` (the history key of the validation score, e.g. ``val_accuracy``);
    ``TRAIN`` is the history key of the epoch's mean of ``train_batch``'s results.
    """

    MODEL = None
    SCORE = None
    TRAIN = "train_energy"

    def _start(self, config):
        """Take the checked ``config``; set sizes, T, dt, batch_size, epoch 0, no history, the shuffling
        generator (seeded with ``seed``) and a new context name."""
        self.config = config
        self.sizes = tuple(config["sizes"])
        self.T, self.dt, self.batch_size = config["T"], config["dt"], config["batch_size"]
        self.epoch = 0
        self.history = []
        self.rng = np.random.default_rng(config["seed"])
        self.context_name = f"{self.MODEL}{next(_contexts)}"

    @staticmethod
    def _batches(x, size):
        """(rows, valid count) of ``x`` in batches of ``size``, the last padded with zeros."""
        for start in range(0, len(x), size):
            rows = x[start:start + size]
            valid = len(rows)
            if valid < size:
                rows = np.concatenate([rows, np.zeros((size - valid, *rows.shape[1:]), rows.dtype)])
            yield rows, valid

    def _check_inputs(self, x):
        """``x`` as float32, which must be (samples, sizes[0])."""
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"{self.MODEL}: inputs have shape {x.shape}; expected (samples, {self.sizes[0]})")
        return x

    def _check_fit(self, epochs, batch_size):
        if batch_size is not None and batch_size != self.batch_size:
            raise ValueError(f"{self.MODEL}: built for batch_size={self.batch_size}, fit got batch_size={batch_size}; "
                             f"build the model with the batch size to train with")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"{self.MODEL}: epochs={epochs!r} must be a non-negative int")

    def _train(self, arrays, epochs, score, checkpoint, progress, on_epoch):
        """Train on the rows of ``arrays`` (checked, of equal length) until ``epochs`` epochs are done.

        Each epoch draws a permutation from ``self.rng`` and calls ``train_batch``
        with the rows of each full batch of it, then records ``score()`` (None
        without validation data) under ``SCORE``, saves ``checkpoint`` if given and
        calls ``on_epoch(self)`` if given. Returns ``history``.

        Raises:
            DivergenceError: an epoch's mean result or score is not finite; that epoch is neither recorded,
                saved nor passed to ``on_epoch`` (the weights, though, are the diverged ones).
        """
        from tqdm import tqdm

        samples = len(arrays[0])
        if samples < self.batch_size:
            raise ValueError(f"{self.MODEL}: {samples} training samples, fewer than one batch of {self.batch_size}")
        n_batches = samples // self.batch_size
        label, train_label = self.SCORE.removeprefix("val_"), self.TRAIN.removeprefix("train_")
        bar = tqdm(total=(epochs - self.epoch) * n_batches, disable=not progress, unit="batch")
        with bar:
            while self.epoch < epochs:
                start = time.perf_counter()
                order = self.rng.permutation(samples)[:n_batches * self.batch_size].reshape(n_batches, -1)
                results = []
                for rows in order:
                    results.append(self.train_batch(*(array[rows] for array in arrays)))
                    bar.update()
                    bar.set_postfix({"epoch": self.epoch + 1, train_label: f"{results[-1]:.4f}"}, refresh=False)
                value = score() if score is not None else None
                train_value = float(np.mean(results))
                if not all(np.isfinite(number) for number in (train_value, value) if number is not None):
                    raise DivergenceError(f"{self.MODEL}: training diverged in epoch {self.epoch + 1} "
                                          f"({self.TRAIN} {train_value}, {self.SCORE} {value}), which is neither "
                                          f"recorded nor saved: try a smaller step size")
                self.epoch += 1
                self.history.append({"epoch": self.epoch, self.TRAIN: train_value,
                                     self.SCORE: value, "seconds": time.perf_counter() - start})
                if value is not None:
                    bar.set_postfix({"epoch": self.epoch, train_label: f"{train_value:.4f}",
                                     label: f"{value:.4f}"})
                if checkpoint is not None:
                    self.save(checkpoint)
                if on_epoch is not None:
                    on_epoch(self)
        return self.history

    def _params(self):
        return {synapse.name: {"weights": synapse.weights.get(),
                               **({"biases": synapse.biases.get()} if synapse.has_bias else {})}
                for synapse in self.W[1:]}

    def _optimizers(self):
        return {synapse.name: (synapse.optimizer, synapse.opt_state) for synapse in self.W[1:]}

    def save(self, path, metadata=None):
        """Write weights, optimizer states, epoch, shuffling RNG state and history to an HDF5 checkpoint."""
        save_checkpoint(path, self._params(), self._optimizers(), step=self.epoch,
                        metadata={"model": self.MODEL, "config": self.config, "epoch": self.epoch,
                                  "rng": self.rng.bit_generator.state, "history": self.history,
                                  **(metadata or {})})

    @classmethod
    def load(cls, path):
        """A model rebuilt from a checkpoint written by :meth:`save`, ready to continue training."""
        metadata = load_checkpoint(path).metadata or {}
        if metadata.get("model") != cls.MODEL:
            raise CheckpointError(f"{path}: not a {cls.MODEL} checkpoint (model={metadata.get('model')!r})")
        model = cls(**metadata["config"])
        restore_checkpoint(path, model._params(), model._optimizers())
        model.epoch = int(metadata["epoch"])
        model.history = list(metadata["history"])
        model.rng.bit_generator.state = metadata["rng"]
        return model


def checked_common_config(owner, sizes, T, dt, tau_m, act_fx, eta, optim_type, optim_kwargs, weight_init,
                          batch_size, seed):
    """The arguments every model takes, checked (errors start with ``owner`` and name the argument), as JSON data.

    ``weight_init`` must be given (the models choose their own default before the check).
    """
    if not (isinstance(sizes, (list, tuple)) and len(sizes) >= 2
            and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes)):
        raise ValueError(f"{owner}: sizes={sizes!r} must be at least two positive ints (input, ..., output)")
    for key, value in (("T", T), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{owner}: {key}={value!r} must be a positive int")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"{owner}: seed={seed!r} must be a non-negative int")
    for key, value in (("dt", dt), ("tau_m", tau_m)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
            raise ValueError(f"{owner}: {key}={value!r} must be a positive number")
    if act_fx not in ACTIVATIONS:
        raise ValueError(f"{owner}: act_fx={act_fx!r}; expected one of {sorted(ACTIVATIONS)}")
    optim_kwargs = dict(optim_kwargs or {})
    try:
        get_optimizer(optim_type, eta=eta, **optim_kwargs)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{owner}: optimizer: {error}") from None
    validate(weight_init, f"{owner} weight_init")
    return {"sizes": list(sizes), "T": T, "dt": float(dt), "tau_m": float(tau_m), "act_fx": act_fx,
            "eta": float(eta), "optim_type": optim_type, "optim_kwargs": optim_kwargs, "weight_init": weight_init,
            "batch_size": batch_size, "seed": seed}
