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

import inspect
import itertools
import os
import time

import numpy as np
from ngc_optim.components import ACTIVATIONS
from ngc_optim.components.initializers import validate

from ngc_optim.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ngc_optim.optim import get_optimizer

__all__ = ["DivergenceError", "PCModel", "checked_common_config", "checked_inference_config", "physical_memory"]

_contexts = itertools.count()


def physical_memory():
    """The machine's physical memory in bytes (what a model's :meth:`PCModel.memory_estimate` must fit in)."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


class DivergenceError(FloatingPointError):
    """Training diverged: an epoch's mean training result or validation score is not finite."""


class PCModel:
    """Base of the models: batching, ``_train`` (the epoch loop), ``save`` and ``load``.

    Subclasses set ``MODEL`` (the name in errors and in a checkpoint's ``model``
    entry), ``SCORE`` (the history key of the validation score, e.g. ``val_accuracy``)
    and ``EPOCHS`` (the epochs ``fit`` trains to by default); ``TRAIN`` is the history
    key of the epoch's mean of ``train_batch``'s results. The defaults of a model are
    those of its constructor's signature and ``EPOCHS``, the one place they are set:
    ``ngc-optim train`` reads them through :meth:`defaults`.
    """

    MODEL = None
    SCORE = None
    TRAIN = "train_energy"
    EPOCHS = None

    @classmethod
    def defaults(cls):
        """The constructor's default arguments, by name, as JSON data (tuples as lists, None as given)."""
        return {name: list(parameter.default) if isinstance(parameter.default, tuple) else parameter.default
                for name, parameter in inspect.signature(cls.__init__).parameters.items()
                if parameter.default is not inspect.Parameter.empty}

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
        """``epochs`` checked (None: the model's ``EPOCHS``); ValueError for a batch size not the model's."""
        if epochs is None:
            epochs = self.EPOCHS
        if batch_size is not None and batch_size != self.batch_size:
            raise ValueError(f"{self.MODEL}: built for batch_size={self.batch_size}, fit got batch_size={batch_size}; "
                             f"build the model with the batch size to train with")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"{self.MODEL}: epochs={epochs!r} must be a non-negative int")
        return epochs

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

    def _chunk_rows(self, process):
        """The rows of keywords of ``process`` for the T settling steps in chunks of ``update_every`` steps (the
        last one shorter when update_every does not divide T): one chunk of T rows without update_every."""
        key = (self.T, self.dt, self.update_every)
        cached = getattr(self, "_chunks", None)
        if cached is None or cached[0] != key:
            every = self.update_every or self.T
            lengths = [min(every, self.T - start) for start in range(0, self.T, every)]
            cached = self._chunks = (key, [np.array(process.pack_rows(length, dt=self.dt), np.float64)
                                           for length in lengths])
        return cached[1]

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
    def memory_estimate(cls, config):
        """Bytes a model of ``config`` (its constructor arguments) takes to build and train, roughly.

        Per weight 80 bytes (the weights, their update, optimizer state and the copies other synapses
        read), per unit and sample of a batch 200 (the cells' compartments), per settling step 200 (the
        rows of a scan): rounded up from tracemalloc's peak over building and one training batch of PCNs
        (64, 1000, 1000, 10), batch 10 (76 per weight); (64, 100, 10), batch 500 (161 per unit and
        sample); and (64, 100, 10), T 20000 (188 per step).
        """
        sizes = config["sizes"]
        weights = sum(rows * columns for rows, columns in itertools.pairwise(sizes))
        return 80 * weights + 200 * config["batch_size"] * sum(sizes) + 200 * config["T"]

    @classmethod
    def load(cls, path):
        """A model rebuilt from a checkpoint written by :meth:`save`, ready to continue training.

        Raises:
            CheckpointError: the file is missing or damaged, or is not a checkpoint of this model (the
                message names the file and what is wrong).
        """
        return cls.from_checkpoint(load_checkpoint(path))

    @classmethod
    def from_checkpoint(cls, checkpoint):
        """A model rebuilt from a :class:`ngc_optim.checkpoint.Checkpoint` that :meth:`save` wrote.

        Raises:
            CheckpointError: the checkpoint is not one of this model (its metadata, config, parameters
                or optimizers are not what :meth:`save` writes), naming the file and what is wrong.
        """
        metadata = checkpoint.metadata
        where = f"{checkpoint.path}: not a {cls.MODEL} checkpoint"
        if not isinstance(metadata, dict):
            raise CheckpointError(f"{where}: its metadata is {_kind(metadata)}, not an object")
        if metadata.get("model") != cls.MODEL:
            raise CheckpointError(f"{where} (model={metadata.get('model')!r})")
        missing = [key for key in ("config", "epoch", "rng", "history") if key not in metadata]
        if missing:
            raise CheckpointError(f"{where}: its metadata has no {', '.join(missing)}")
        config, epoch, history = metadata["config"], metadata["epoch"], metadata["history"]
        if not isinstance(config, dict):
            raise CheckpointError(f"{where}: its config is {_kind(config)}, not an object")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0 or epoch != checkpoint.step:
            raise CheckpointError(f"{where}: epoch={epoch!r} (step {checkpoint.step}); expected the same "
                                  f"non-negative integer")
        if not (isinstance(history, list) and len(history) == epoch and all(isinstance(row, dict) for row in history)):
            raise CheckpointError(f"{where}: its history is not a list of one object per epoch")
        cls._check_metadata(where, metadata)
        try:
            model = cls(**config)
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"{where}: its config does not build one: {error}") from None
        checkpoint.restore(model._params(), model._optimizers())
        try:
            model.rng.bit_generator.state = metadata["rng"]
        except (TypeError, ValueError, KeyError) as error:
            raise CheckpointError(f"{where}: its shuffling RNG state is not one: {error}") from None
        model.epoch = epoch
        model.history = list(history)
        return model

    @classmethod
    def _check_metadata(cls, where, metadata):
        """Raise CheckpointError (starting with ``where``) for what cannot build or fit a model of ``cls``
        before it is built: the layer sizes, batch and settling steps of its config, and its memory."""
        config = metadata["config"]
        for key in ("sizes", "batch_size", "T"):
            if key not in config:
                raise CheckpointError(f"{where}: its config has no {key}")
        sizes = config["sizes"]
        if not (isinstance(sizes, list) and len(sizes) >= 2 and all(_count(size) for size in sizes)):
            raise CheckpointError(f"{where}: sizes={sizes!r} is not a list of positive integers")
        if not (_count(config["batch_size"]) and _count(config["T"])):
            raise CheckpointError(f"{where}: batch_size={config['batch_size']!r}, T={config['T']!r}; expected "
                                  f"positive integers")
        cls._check_memory(where, config)

    @classmethod
    def _check_memory(cls, where, config):
        estimate = cls.memory_estimate(config)
        if estimate > physical_memory():
            raise CheckpointError(f"{where}: its config needs about {estimate / 2**30:.3g} GiB, more than this "
                                  f"machine's {physical_memory() / 2**30:.3g} GiB")


def _kind(value):
    return "null" if value is None else type(value).__name__


def _count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


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


def checked_inference_config(owner, state_optim, update_every):
    """``state_optim`` and ``update_every`` checked (errors start with ``owner`` and name the argument), as JSON
    data: the optimizer of the latent states (None, a name, or a dict of "name" and hyperparameters), and None
    or the settling steps between two updates of the weights (incremental predictive coding)."""
    if state_optim is not None:
        if isinstance(state_optim, str):
            state_optim = {"name": state_optim}
        if not (isinstance(state_optim, dict) and isinstance(state_optim.get("name"), str)):
            raise ValueError(f"{owner}: state_optim={state_optim!r}; expected None, an optimizer's name or a dict "
                             f"of its name and hyperparameters")
        hyperparameters = {key: value for key, value in state_optim.items() if key != "name"}
        try:
            get_optimizer(state_optim["name"], **hyperparameters)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{owner}: state_optim: {error}") from None
        state_optim = dict(state_optim)
    if update_every is not None and not _count(update_every):
        raise ValueError(f"{owner}: update_every={update_every!r} must be None or a positive int")
    return {"state_optim": state_optim, "update_every": update_every}
