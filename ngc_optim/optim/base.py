"""The optimizer object API: validated hyperparameters, named state, in-place steps.

An optimizer owns its hyperparameters; its state owns the step count and one
array per parameter for each of the optimizer's state slots (``g1``/``g2`` for
Adam, ``phi`` for NAG, ...). ``step`` validates everything it is given before it
changes anything, then runs one fused kernel per parameter.
"""

import inspect
import math
import numbers
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from .. import kernels

__all__ = ["Hyperparameter", "Optimizer", "OptimizerState"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_PENALTIES = {None: kernels.NO_PENALTY, "l1": kernels.L1, "l2": kernels.L2}


class Hyperparameter(NamedTuple):
    """One hyperparameter: its default and the interval it must lie in.

    The interval is ``[low, high]``, with either end open when ``low_open`` or
    ``high_open`` is set.
    """

    name: str
    default: float
    low: float = 0.0
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    doc: str = ""

    def interval(self):
        left = "<" if self.low_open else "<="
        right = "<" if self.high_open else "<="
        if math.isinf(self.high):
            return f"{self.name} {'>' if self.low_open else '>='} {self.low:g}"
        return f"{self.low:g} {left} {self.name} {right} {self.high:g}"

    def validate(self, owner, value):
        """Return ``value`` as a float, or raise ``ValueError``/``TypeError`` naming it."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{owner}: {self.name} must be a real number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{owner}: {self.name}={value!r} is not finite")
        below = value <= self.low if self.low_open else value < self.low
        above = value >= self.high if self.high_open else value > self.high
        if below or above:
            raise ValueError(f"{owner}: {self.name}={value!r} is out of range; expected {self.interval()}")
        return value


_WEIGHT_DECAY = Hyperparameter("weight_decay", 0.0, doc="lambda of the l1 or l2 penalty")


class _Binding:
    """A parameter array checked against its state, with the flat views a kernel needs."""

    __slots__ = ("dtype", "flat", "kernel", "order", "param", "shape", "slot_flats")

    def __init__(self, param, shape, dtype, order, flat, slot_flats, kernel):
        self.param = param
        self.shape = shape
        self.dtype = dtype
        self.order = order
        self.flat = flat
        self.slot_flats = slot_flats
        self.kernel = kernel


def _layout(what, array):
    """The memory order ('C' or 'F') in which ``array`` can be viewed as 1-D."""
    if array.flags.c_contiguous:
        return "C"
    if array.flags.f_contiguous:
        return "F"
    raise ValueError(f"{what} is not contiguous; an in-place update needs a C- or F-contiguous "
                     f"array (np.ascontiguousarray makes one: keep and pass that)")


def _check_float_array(what, array):
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{what} must be a numpy array, got {type(array).__name__}")
    if array.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{what} has dtype {array.dtype}; expected float32 or float64")


def _check_names(what, mapping, names):
    if not hasattr(mapping, "keys"):
        raise TypeError(f"{what} must be a dict of name -> array, got {type(mapping).__name__}")
    if mapping.keys() != names:
        missing = sorted(names - mapping.keys())
        unexpected = sorted(mapping.keys() - names, key=str)
        raise ValueError(f"{what} do not match the optimizer state: missing {missing}, "
                         f"unexpected {unexpected}")


class OptimizerState:
    """Step count and per-parameter arrays of one optimizer.

    Attributes:
        count: number of steps taken (int); the next step runs with t = count + 1.
        Each name in ``slot_names`` is an attribute too: a read-only mapping from
        parameter name to an array of the parameter's shape and dtype.
    """

    slot_names = ()

    def __init__(self, shapes, count, slots):
        """Args: shapes: name -> parameter shape; count: steps taken; slots: slot -> name -> array."""
        self.count = count
        self._shapes = dict(shapes)
        self._order = tuple(shapes)
        self._names = frozenset(shapes)
        self._slots = {slot: dict(slots[slot]) for slot in self.slot_names}
        self._bindings = {}

    def __repr__(self):
        shapes = ", ".join(f"{name}: {self._shapes[name]}" for name in self._order)
        return f"{type(self).__name__}(count={self.count}, params={{{shapes}}})"

    def slot(self, slot_name):
        """The read-only mapping parameter name -> array of state slot ``slot_name``."""
        return MappingProxyType(self._slots[slot_name])

    @property
    def param_names(self):
        """Names of the parameters this state was created for, in creation order."""
        return self._order

    @property
    def shapes(self):
        """Parameter name -> shape, for the parameters this state was created for."""
        return dict(self._shapes)

    def arrays(self, name):
        """The state's arrays for parameter ``name``, one per slot, in ``slot_names`` order."""
        return tuple(self._slots[slot][name] for slot in self.slot_names)

    def with_slots(self, slots, count):
        """A state of this kind for the same parameters with ``count`` and ``slots`` (slot -> name -> array of
        the parameter's shape and dtype, not checked); this one unchanged."""
        return type(self)(self._shapes, count, slots)

    def state_dict(self):
        """The state as plain data: ``{"count": int, slot: {name: array}}``.

        The arrays are this state's own (not copies): copy them to keep a snapshot.
        """
        return {"count": self.count, **{slot: dict(self._slots[slot]) for slot in self.slot_names}}

    def load_state_dict(self, data, *, what="state"):
        """Copy ``data`` (the form :meth:`state_dict` returns) into this state's arrays.

        Everything is checked before anything is copied: the count must be a
        non-negative int; each slot must name exactly this state's parameters with
        their shapes and dtypes. On error nothing is changed.

        Raises:
            ValueError: a missing or unexpected slot or name, a bad count, or a shape
                or dtype that does not match (the message names the entry, prefixed
                by ``what``).
        """
        expected = {"count", *self.slot_names}
        if set(data) != expected:
            raise ValueError(f"{what}: has entries {sorted(data)}; expected {sorted(expected)}")
        count = data["count"]
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f"{what}: count={count!r} is not a non-negative integer")
        for slot in self.slot_names:
            arrays = data[slot]
            if set(arrays) != self._names:
                raise ValueError(f"{what}: {slot} holds {sorted(arrays)}; expected {sorted(self._names)}")
            for name, array in arrays.items():
                own = self._slots[slot][name]
                if array.shape != own.shape or array.dtype != own.dtype:
                    raise ValueError(f"{what}: {slot}[{name!r}] is {array.dtype}{list(array.shape)}; "
                                     f"expected {own.dtype}{list(own.shape)}")
        for slot in self.slot_names:
            for name, array in data[slot].items():
                np.copyto(self._slots[slot][name], array)
        self.count = int(count)


def _slot_property(slot_name, doc):
    return property(lambda state: state.slot(slot_name), doc=doc)


class Optimizer:
    """Base class: subclasses declare ``name``, ``kernel``, ``hyperparameters``, ``State``.

    A subclass's constructor takes its hyperparameters as keyword arguments (its
    signature is generated from ``hyperparameters``), plus ``regularization``
    (None, "l1" or "l2") and ``weight_decay``, the penalty's lambda, which adds
    ``weight_decay * sign(p)`` (l1) or ``weight_decay * p`` (l2) to each update
    before the rule reads it.
    """

    name = None
    kernel = None
    hyperparameters = ()
    State = OptimizerState

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        options = [inspect.Parameter(h.name, inspect.Parameter.KEYWORD_ONLY, default=h.default)
                   for h in cls.hyperparameters]
        options.append(inspect.Parameter("regularization", inspect.Parameter.KEYWORD_ONLY, default=None))
        options.append(inspect.Parameter("weight_decay", inspect.Parameter.KEYWORD_ONLY, default=0.0))
        cls.__signature__ = inspect.Signature(options)

    def __init__(self, **hyperparameters):
        accepted = [h.name for h in self.hyperparameters] + ["regularization", "weight_decay"]
        unknown = sorted(set(hyperparameters) - set(accepted))
        if unknown:
            raise TypeError(f"{self.name}: unknown hyperparameter(s) {unknown}; accepted: {accepted}")
        values = {h.name: h.validate(self.name, hyperparameters.get(h.name, h.default))
                  for h in self.hyperparameters}
        regularization = hyperparameters.get("regularization")
        if regularization not in _PENALTIES:
            raise ValueError(f"{self.name}: regularization={regularization!r}; expected None, 'l1' or 'l2'")
        weight_decay = _WEIGHT_DECAY.validate(self.name, hyperparameters.get("weight_decay", 0.0))
        if regularization is None and weight_decay != 0.0:
            raise ValueError(f"{self.name}: weight_decay={weight_decay!r} has no effect without "
                             f"regularization='l1' or 'l2'")
        self._values = values
        self._regularization = regularization
        self._weight_decay = weight_decay
        self._penalty = (_PENALTIES[regularization], weight_decay)
        for key, value in values.items():
            setattr(self, key, value)
        self.step_constants = self._constants()
        """What the kernel's ``scalars`` (Python) and ``jit_scalars`` (Numba) take with the step count."""

    @property
    def regularization(self):
        return self._regularization

    @property
    def weight_decay(self):
        return self._weight_decay

    def get_hyperparameters(self):
        """All hyperparameters as a JSON-serialisable dict (what a checkpoint stores)."""
        return {**self._values, "regularization": self._regularization, "weight_decay": self._weight_decay}

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_hyperparameters().items())
        return f"{self.name}({args})"

    def __eq__(self, other):
        return type(other) is type(self) and other.get_hyperparameters() == self.get_hyperparameters()

    def __hash__(self):
        return hash((type(self), tuple(self.get_hyperparameters().items())))

    def init(self, params):
        """A fresh state for ``params`` (dict name -> float32/float64 array): count 0, slots zero.

        Raises:
            TypeError: ``params`` is not a dict of float32/float64 numpy arrays.
            ValueError: a parameter is not contiguous.
        """
        if not hasattr(params, "items"):
            raise TypeError(f"{self.name}.init: params must be a dict of name -> array, "
                            f"got {type(params).__name__}")
        for name, param in params.items():
            _check_float_array(f"params[{name!r}]", param)
            _layout(f"params[{name!r}]", param)
        slots = {slot: {name: np.zeros_like(param) for name, param in params.items()}
                 for slot in self.State.slot_names}
        return self.State({name: param.shape for name, param in params.items()}, 0, slots)

    def step(self, params, updates, state):
        """One optimizer step: ``params`` and ``state`` are updated in place.

        Args:
            params: dict name -> array, the names of ``state``; each array writable,
                C- or F-contiguous, of the state's shape and dtype.
            updates: dict name -> array of the same names, shapes and dtypes (any
                strides: a non-contiguous update is copied first).
            state: this optimizer's state for ``params``.

        Raises:
            TypeError: wrong state type, a non-array, or a dtype mismatch.
            ValueError: names, shapes or layout that do not fit. Nothing is changed
                when any check fails.
        """
        if type(state) is not self.State:
            raise TypeError(f"{self.name}.step: state is a {type(state).__name__}, "
                            f"expected {self.State.__name__} from {self.name}.init")
        order = state._order
        bindings = state._bindings
        work = []
        try:
            if len(params) != len(order) or len(updates) != len(order):
                raise KeyError
            for name in order:
                param = params[name]
                binding = bindings.get(name)
                if binding is None or binding.param is not param:
                    binding = self._bind(state, name, param)
                    bindings[name] = binding
                update = updates[name]
                if type(update) is not np.ndarray or update.dtype is not binding.dtype \
                        or update.shape != binding.shape:
                    _check_update(name, update, binding)
                work.append((binding, update.ravel(binding.order)))
        except (KeyError, TypeError):
            _check_names("params", params, state._names)
            _check_names("updates", updates, state._names)
            raise
        state.count += 1
        scalars = self._step_scalars(state.count)
        for binding, update in work:
            binding.kernel(binding.flat, update, *binding.slot_flats, *scalars)

    def scalars(self, count):
        """The scalar arguments of this optimizer's kernel for step ``count`` (the first is 1), as
        :meth:`advance` returns them, counting nothing."""
        return self._step_scalars(count)

    def advance(self, state):
        """Count one step on ``state`` and return the scalar arguments of this optimizer's kernel for it.

        For code that runs the optimizer's rule inside a loop of its own (see
        :mod:`ngc_optim.hebbian_kernels`) instead of calling :meth:`step`: the
        kernel's arguments are a parameter, its update, ``state.arrays(name)``,
        then these scalars. Nothing is checked but the state's type.
        """
        if type(state) is not self.State:
            raise TypeError(f"{self.name}.advance: state is a {type(state).__name__}, "
                            f"expected {self.State.__name__} from {self.name}.init")
        state.count += 1
        return self._step_scalars(state.count)

    def _bind(self, state, name, param):
        what = f"params[{name!r}]"
        _check_float_array(what, param)
        slots = [state._slots[slot][name] for slot in state.slot_names]
        shape = state._shapes[name]
        if param.shape != shape:
            raise ValueError(f"{what} has shape {param.shape}; the optimizer state has {shape}")
        for slot, array in zip(state.slot_names, slots):
            if array.dtype != param.dtype:
                raise TypeError(f"{what} has dtype {param.dtype}; state {slot}[{name!r}] has {array.dtype}")
        if not param.flags.writeable:
            raise ValueError(f"{what} is read-only; an in-place update needs a writable array")
        order = _layout(what, param)
        for slot, array in zip(state.slot_names, slots):
            in_order = array.flags.c_contiguous if order == "C" else array.flags.f_contiguous
            if not (in_order and array.flags.writeable):
                raise ValueError(f"state {slot}[{name!r}] is not a writable array in the memory "
                                 f"order of {what} ({order})")
        flat = param.ravel(order)
        slot_flats = tuple(array.ravel(order) for array in slots)
        return _Binding(param, shape, param.dtype, order, flat, slot_flats,
                        kernels.pick(self.kernel, flat.size))

    def _step_scalars(self, t):
        """Kernel arguments after the arrays for step ``t``, the penalty last."""
        return self.kernel.scalars(self.step_constants, t)

    def _constants(self):
        """The hyperparameters ``kernel.scalars`` takes (with the step count) to give a step's scalars."""
        raise NotImplementedError


def _check_update(name, update, binding):
    what = f"updates[{name!r}]"
    _check_float_array(what, update)
    if update.dtype != binding.dtype:
        raise TypeError(f"{what} has dtype {update.dtype}; params[{name!r}] has {binding.dtype}")
    if update.shape != binding.shape:
        raise ValueError(f"{what} has shape {update.shape}; params[{name!r}] has {binding.shape}")
