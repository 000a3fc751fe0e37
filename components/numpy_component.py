"""The base of ngc_optim's components: NumPy state, JSON arguments, HDF5 save/load, generated help.

A component's compartments hold NumPy arrays of fixed shape and dtype (set at
construction; a scalar such as a loss is a 0-d array). Its ``@compilable``
methods read compartments, compute with NumPy or a Numba kernel, and set
compartments; ngcsimlib compiles them into plain Python over its state dict.

Every subclass describes itself once, in ``SPEC``: a summary, its compartments
grouped by role (inputs, state, outputs) and its constructor arguments. ``help()``
is generated from it.

Where a method has a compiled form (``_steps_<method>`` returning a list of
:class:`ngc_optim.circuit.Step`), a process of such methods runs as one Numba
function (:mod:`ngc_optim.circuit`); the steps call the kernels the method calls.

``save(directory)`` writes every compartment's own value to
``<directory>/<name>.h5`` through :func:`ngc_optim.save_checkpoint`;
``load(directory)`` restores them into new arrays, strictly (same names, shapes and
dtypes). ngcsimlib's ``Context.save_to_json`` and ``Context.load`` call them.
"""

import inspect
import numbers
import os
from typing import ClassVar

import numpy as np
from ngcsimlib import Component
from ngcsimlib.global_state import stateManager

from ngc_optim.cell_kernels import affine, filled, scaled
from ngc_optim.checkpoint import restore_checkpoint, save_checkpoint
from ngc_optim.circuit import Step, shapes_changed
from ngc_optim.spike_kernels import seed_state

__all__ = ["DTYPES", "NumpyComponent", "seed_from"]

DTYPES = ("float32", "float64")


def seed_from(value):
    """A non-negative int seed from ``value``: an int or NumPy integer >= 0 is itself; a JAX-style key (a
    1-D array or sequence of unsigned 32-bit words, as ``jax.random.PRNGKey`` gives) is the integer of its
    words, first word lowest. The same value always gives the same seed.

    Raises:
        ValueError: anything else (a bool, a negative or non-integer number, words outside 0 .. 2**32-1).
    """
    boolean = isinstance(value, (bool, np.bool_))
    if isinstance(value, numbers.Integral) and not boolean:
        if value < 0:
            raise ValueError("must be a non-negative integer")
        return int(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        words = np.asarray(value)
        if words.ndim == 1 and words.size and words.dtype.kind in "iu" and words.min() >= 0 \
                and words.max() < 2**32:
            return int.from_bytes(words.astype("<u4").tobytes(), "little")
    problem = "is a bool, not an integer" if boolean else "must be a non-negative integer or a key of 32-bit words"
    raise ValueError(problem)


def _describe_key(value):
    if isinstance(value, np.ndarray):
        return f"{value.dtype}{list(value.shape)} array"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _plain(value):
    """``value`` with NumPy numbers and arrays as Python numbers and lists, tuples as lists (JSON's)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


class NumpyComponent(Component):
    """Base class: subclasses set ``SPEC`` and create their compartments in ``__init__``.

    Args:
        name: the component's name in its context.
        dtype: "float32" (default, as ngc-learn's JAX) or "float64", for every compartment.
    """

    SPEC: ClassVar[dict] = {"summary": "", "compartments": {}, "arguments": {}}
    PER_SAMPLE: ClassVar[frozenset] = frozenset()
    """Compartments that hold one row per sample of the batch (see :class:`ngc_optim.circuit.Step`'s rows)."""
    FIXED_BATCH: ClassVar[str] = ""
    """Why the component cannot take another batch size (empty: it can)."""

    @property
    def batch_size(self):
        """Samples per batch. Set to another value, the component is resized at the next run of a process
        (or ``reset``) that calls it, as ngc-learn's pc_reconstruction does (see :meth:`resize_batch`)."""
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value):
        self._batch_size = value
        if "built_batch" not in self.__dict__:
            self.built_batch = value
            """The batch size the compartments hold."""
        elif value != self.built_batch:
            shapes_changed()

    def __init__(self, name, dtype="float32"):
        if dtype not in DTYPES:
            raise ValueError(f"{type(self).__name__} {name!r}: dtype={dtype!r}; expected one of {DTYPES}")
        super().__init__(name)
        self.dtype = np.dtype(dtype)

    def _zeros(self, shape):
        return np.zeros(shape, self.dtype)

    def _error(self, message):
        return ValueError(f"{type(self).__name__} {self.name!r}: {message}")

    def _check_population(self, n_units, batch_size):
        if not (isinstance(n_units, int) and n_units > 0 and isinstance(batch_size, int) and batch_size > 0):
            raise self._error(f"n_units={n_units!r} and batch_size={batch_size!r} must be positive ints")

    def _set_population(self, n_units, batch_size):
        """Check and set n_units, batch_size, shape (batch_size, n_units) and owner (the name errors give)."""
        self._check_population(n_units, batch_size)
        self.n_units = n_units
        self.batch_size = batch_size
        self.shape = (batch_size, n_units)
        self.owner = f"{type(self).__name__} {self.name!r}"

    def per_sample_keys(self):
        """The state keys the per-sample compartments read (their own, or those they are wired to; not
        operations)."""
        targets = (getattr(self, name).target for name in sorted(self.PER_SAMPLE))
        return tuple(target for target in targets if isinstance(target, str))

    def resize_batch(self, batch_size, keep_rows=True):
        """Take batches of ``batch_size`` samples, as ngc-learn's compartments take the batch size JAX
        broadcasts them to. Each compartment with a batch axis keeps a value that already has batch_size
        rows (clamped data); one with a single row, or rows all equal (a reset state), has that row
        repeated (its first row with ``keep_rows=False``, before a reset that sets them anyway); what
        depends on the batch size (shapes, plans) follows (:meth:`_rebatch`).

        Raises:
            ValueError: naming the component: batch_size is not a positive int, the component takes one
                batch size only, or a compartment holds different rows of another batch size (samples that
                no new row can stand for: reset before clamping a batch of another size).
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
            raise self._error(f"batch_size={batch_size!r} must be a positive int")
        batch_size = int(batch_size)
        if batch_size == self.built_batch == self._batch_size:
            return
        if self.FIXED_BATCH:
            raise self._error(f"cannot take batches of {batch_size}: {self.FIXED_BATCH}")
        values = {}
        for name in sorted(self.PER_SAMPLE):
            compartment = getattr(self, name)
            value = stateManager.from_global_key(compartment.root)
            if value.shape[0] == batch_size:
                continue
            if keep_rows and compartment.target == compartment.root and value.shape[0] > 1 \
                    and not (value == value[:1]).all():
                raise self._error(f"{name} holds {value.shape[0]} different samples; reset before clamping a "
                                  f"batch of {batch_size}")
            values[compartment.root] = np.repeat(value[:1], batch_size, axis=0)
        self._rebatch(batch_size)
        stateManager.set_state(values)
        self._refresh_compiled()
        shapes_changed()

    def _held(self):
        """Components this one holds and drives from its own methods (ngc-learn's RateCell's lateral synapse)."""
        return ()

    def compile(self):
        """ngcsimlib's compile; then the compiled methods also see the names a held component's compiled
        methods use (ngcsimlib inlines those methods' code but not the globals of their module)."""
        super().compile()
        for held in self._held():
            names = {}
            for value in list(vars(held).values()):
                names.update(getattr(getattr(value, "compiled", None), "namespace", {}))
            for value in list(vars(self).values()):
                namespace = getattr(getattr(value, "compiled", None), "namespace", None)
                if namespace is not None:
                    for key, name in names.items():
                        namespace.setdefault(key, name)

    def _refresh_compiled(self):
        """Give ngcsimlib's compiled methods the attributes' current values (they hold the attributes they
        read, shapes and plans, as globals named <context path>_<attribute>; a held component's too)."""
        owners = [(f"{owner.context_path.replace(':', '_')}_", owner) for owner in (self, *self._held())]
        for value in list(vars(self).values()):
            compiled = getattr(value, "compiled", None)
            for key in getattr(compiled, "extra_globals", ()):
                for prefix, owner in owners:
                    if key.startswith(prefix) and hasattr(owner, key[len(prefix):]):
                        compiled.namespace[key] = getattr(owner, key[len(prefix):])

    def _rebatch(self, batch_size):
        """Set what depends on the batch size (subclasses add theirs): batch_size, built_batch, and a
        population's shape (batch_size, n_units)."""
        self._batch_size = self.built_batch = batch_size
        if hasattr(self, "n_units"):
            self.shape = (batch_size, self.n_units)

    def _number(self, key, value, low=None, strict=False):
        """``value`` as a float, after checking that it is a finite number (not a bool) and, when ``low`` is
        given, that it is above it (``strict``) or at least it; otherwise an error naming the component."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise self._error(f"{key}={value!r} must be a finite number")
        if low is not None and (value <= low if strict else value < low):
            raise self._error(f"{key}={value!r} must be {'>' if strict else '>='} {low}")
        return float(value)

    def _flag(self, key, value):
        """``value`` if it is a bool, otherwise an error naming the component."""
        if not isinstance(value, bool):
            raise self._error(f"{key}={value!r} must be True or False")
        return value

    def _seed(self, seed, key):
        """The component's seed, from ``seed`` or ngc-learn's ``key`` (one rule for both, see
        :func:`seed_from`); sets ``self.seed``, which ``to_json`` records."""
        if key is not None and not (seed is None or (isinstance(seed, numbers.Integral) and seed == 0)):
            raise self._error(f"give seed={seed!r} or key={_describe_key(key)}, not both")
        name, value = ("seed", 0 if seed is None else seed) if key is None else ("key", key)
        try:
            self.seed = seed_from(value)
        except ValueError as reason:
            raise self._error(f"{name}={_describe_key(value)} {reason}") from None
        return self.seed

    def _unused_key(self, key):
        """Check ngc-learn's ``key`` of a component that draws no random numbers (ngc-learn's takes one for
        every component): validated as :func:`seed_from` does, then unused, and not recorded by ``to_json``."""
        if key is not None:
            try:
                seed_from(key)
            except ValueError as reason:
                raise self._error(f"key={_describe_key(key)} {reason}") from None

    def _random_key(self, seed, key):
        """The initial state of the component's random stream for ``seed`` or ``key`` (see :meth:`_seed` and
        :mod:`ngc_optim.spike_kernels`)."""
        return seed_state(self._seed(seed, key))

    def to_json(self):
        """The constructor's arguments for ngcsimlib's ``Context.load``, all by keyword and JSON-safe: NumPy
        numbers and arrays as Python numbers and lists, tuples as lists, and ngc-learn's ``key`` as the
        ``seed`` it gave (so a loaded context draws the same values)."""
        signature = inspect.signature(type(self).__init__)
        arguments = signature.bind(self, *self._args, **self._kwargs).arguments
        arguments.pop("self")
        if arguments.pop("key", None) is not None and "seed" in signature.parameters:
            arguments["seed"] = self.seed
        return {"args": [], "kwargs": {name: _plain(value) for name, value in arguments.items()}}

    def compiled_steps(self, method):
        """The compiled form of ``method`` (a list of :class:`ngc_optim.circuit.Step`), or None if it has none."""
        build = getattr(self, f"_steps_{method}", None)
        return None if build is None else build()

    def _set_to(self, names, offset=None, unwired=()):
        """Steps setting each compartment in ``names`` to its value * 0 (+ offset, if given), as ``reset``'s
        ``x * 0`` and ``x * 0 + 1``, skipping those in ``unwired`` that are wired (a reset leaves wired inputs
        alone)."""
        return [Step(scaled, (name,), (name,), constants=(0,), rows=self._rows(name)) if offset is None else
                Step(affine, (name,), (name,), constants=(0, offset), rows=self._rows(name)) for name in names
                if not (name in unwired and getattr(self, name).targeted)]

    def _fill(self, name, value):
        """A step setting compartment ``name`` to ``value`` everywhere (exactly: ``ones * 0``, ``ones``)."""
        return Step(filled, (name,), (name,), constants=(value,), rows=self._rows(name))

    def _rows(self, name):
        """(name,) if compartment ``name`` holds one row per sample (it is in PER_SAMPLE), else ()."""
        return (name,) if name in self.PER_SAMPLE else ()

    def _own_arrays(self):
        """Each compartment's own value in the global state (for a wired one, the unused value under it)."""
        return {name: stateManager.from_global_key(compartment.root)
                for name, compartment in self.compartments if compartment.auto_save}

    def _optimizers(self):
        """Optimizers saved with the compartments, as ``{name: (optimizer, state)}``: none here."""
        return {}

    def save(self, directory):
        """Write the value of every compartment, and any optimizer state, to ``<directory>/<name>.h5``.

        Wired compartments are saved too (their own, unused value), so that saving
        and loading agree whether or not the wiring exists yet: ``Context.load``
        loads components before it restores their connections.
        """
        save_checkpoint(os.path.join(directory, f"{self.name}.h5"), {self.name: self._own_arrays()},
                        self._optimizers(), metadata={"component": type(self).__name__})

    def load(self, directory):
        """Restore what :meth:`save` wrote, strictly, into new arrays and optimizer states (values read before
        stay as they were); raises ``CheckpointError`` on any mismatch, changing nothing."""
        compartments = {name: compartment for name, compartment in self.compartments if compartment.auto_save}
        arrays = {name: np.empty_like(value) for name, value in self._own_arrays().items()}
        optimizers = {name: (optimizer, state.with_slots({slot: {key: np.empty_like(array)
                                                                  for key, array in state.slot(slot).items()}
                                                           for slot in state.slot_names}, state.count))
                      for name, (optimizer, state) in self._optimizers().items()}
        restore_checkpoint(os.path.join(directory, f"{self.name}.h5"), {self.name: arrays}, optimizers)
        stateManager.set_state({compartments[name].root: array for name, array in arrays.items()})
        self._set_optimizer_states({name: state for name, (_, state) in optimizers.items()})

    def _set_optimizer_states(self, states):
        """Set the optimizer states :meth:`load` restored (as ``{name: state}``, the keys of
        :meth:`_optimizers`): none here."""

    @classmethod
    def help(cls):
        """The component's description, compartments by role and arguments, from ``SPEC``."""
        spec = cls.SPEC
        return {cls.__name__: spec["summary"], "compartments": spec["compartments"],
                "arguments": spec["arguments"]}
