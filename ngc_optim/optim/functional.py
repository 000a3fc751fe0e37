"""ngc-learn's functional optimizer API (``ngclearn.utils.optim``), over ngc_optim's kernels.

Code written for ngc-learn ports by changing the import::

    from ngc_optim.optim import get_opt_init_fn, get_opt_step_fn

    opt_params = get_opt_init_fn("adam")([W, b])
    step = get_opt_step_fn("adam", eta=0.01)
    opt_params, [W, b] = step(opt_params, [W, b], [dW, db])

As in ngc-learn the functions are pure: they return new parameters and a new
optimizer state and leave their arguments untouched (the object API,
:class:`ngc_optim.Adam` and friends, updates in place and is the fast path).
The state has ngc-learn's structure: the bare step count for SGD,
``(phi, time_step)`` for NAG, ``(g1, g2, time_step)`` for Adam, with one array
per parameter in each list. ``get_opt_init_fn`` and ``get_opt_step_fn`` also
accept ngc_optim's other optimizers (``momentum``, ``rmsprop``, ``adamw``),
whose state is ``(slot arrays..., time_step)`` in the same way.

Differences from ngc-learn: the step count is an int (ngc-learn keeps a float32,
which stops counting exactly after 2**24 steps; an integral float is accepted),
state arrays take the dtype of their parameter, and parameters and updates must
share a float32 or float64 dtype (no silent promotion).
"""

import numbers

import numpy as np

from .optimizers import NAG, OPTIMIZERS, SGD, Adam

__all__ = [
    "adam_init",
    "adam_step",
    "get_opt_init_fn",
    "get_opt_step_fn",
    "nag_init",
    "nag_step",
    "sgd_init",
    "sgd_step",
]


def _step_count(time_step):
    value = np.asarray(time_step)
    if value.shape != () or not np.issubdtype(value.dtype, np.number) or np.issubdtype(value.dtype, np.complexfloating):
        raise TypeError(f"time_step must be a scalar step count, got {time_step!r}")
    count = value.item()
    if isinstance(count, float) and not count.is_integer():
        raise ValueError(f"time_step={count!r} is not a whole number of steps")
    if not isinstance(count, numbers.Real) or count < 0:
        raise ValueError(f"time_step={count!r} must be a non-negative step count")
    return int(count)


def _as_list(what, values):
    if isinstance(values, np.ndarray) or not hasattr(values, "__len__"):
        raise TypeError(f"{what} must be a list of arrays, got {type(values).__name__}")
    return list(values)


def _init(optimizer_cls, theta):
    theta = _as_list("theta", theta)
    slots = tuple([np.zeros_like(np.asarray(param)) for param in theta]
                  for _ in optimizer_cls.State.slot_names)
    return slots + (0,) if slots else 0


def _step(optimizer, opt_params, theta, updates):
    theta = _as_list("theta", theta)
    updates = _as_list("updates", updates)
    if len(updates) != len(theta):
        raise ValueError(f"{len(updates)} updates for {len(theta)} parameters")
    slot_names = optimizer.State.slot_names
    if slot_names:
        if not isinstance(opt_params, (tuple, list)) or len(opt_params) != len(slot_names) + 1:
            raise ValueError(f"{optimizer.name} opt_params must be ({', '.join(slot_names)}, time_step)")
        *slot_lists, time_step = opt_params
    else:
        slot_lists, time_step = [], opt_params
    count = _step_count(time_step)
    params = {i: np.array(param, copy=True) for i, param in enumerate(theta)}
    slots = {}
    for slot, arrays in zip(slot_names, slot_lists):
        arrays = _as_list(slot, arrays)
        if len(arrays) != len(theta):
            raise ValueError(f"{slot} holds {len(arrays)} arrays for {len(theta)} parameters")
        slots[slot] = {i: np.array(array, copy=True, order="K") for i, array in enumerate(arrays)}
        for i, array in slots[slot].items():
            if array.shape != params[i].shape:
                raise ValueError(f"{slot}[{i}] has shape {array.shape}; theta[{i}] has {params[i].shape}")
    state = optimizer.State({i: param.shape for i, param in params.items()}, count, slots)
    optimizer.step(params, dict(enumerate(updates)), state)
    new_theta = [params[i] for i in range(len(theta))]
    new_slots = tuple([state.slot(slot)[i] for i in range(len(theta))] for slot in slot_names)
    return (new_slots + (state.count,) if new_slots else state.count), new_theta


def sgd_init(theta):
    """SGD state for ``theta``: the step count 0."""
    return _init(SGD, theta)


def sgd_step(opt_params, theta, updates, eta=0.001):
    """One SGD step (see :class:`ngc_optim.SGD`); returns ``(time_step, new_theta)``."""
    return _step(SGD(eta=eta), opt_params, theta, updates)


def nag_init(theta):
    """NAG state for ``theta``: ``(phi, 0)`` with ``phi`` a list of zero arrays."""
    return _init(NAG, theta)


def nag_step(opt_params, theta, updates, eta=0.01, mu=0.9):
    """One NAG step (see :class:`ngc_optim.NAG`); returns ``((phi, time_step), new_theta)``."""
    return _step(NAG(eta=eta, mu=mu), opt_params, theta, updates)


def adam_init(theta):
    """Adam state for ``theta``: ``(g1, g2, 0)`` with ``g1``, ``g2`` lists of zero arrays."""
    return _init(Adam, theta)


def adam_step(opt_params, theta, updates, eta=0.001, beta1=0.9, beta2=0.999, eps=1e-08):
    """One Adam step (see :class:`ngc_optim.Adam`); returns ``((g1, g2, time_step), new_theta)``."""
    return _step(Adam(eta=eta, beta1=beta1, beta2=beta2, eps=eps), opt_params, theta, updates)


def _optimizer_class(opt):
    try:
        return OPTIMIZERS[opt]
    except (KeyError, TypeError):
        raise ValueError(f"unknown optimizer {opt!r}; expected one of {sorted(OPTIMIZERS)}") from None


def get_opt_init_fn(opt="adam"):
    """The init function of optimizer ``opt``: ``theta -> opt_params``."""
    optimizer_cls = _optimizer_class(opt)
    return lambda theta: _init(optimizer_cls, theta)


def get_opt_step_fn(opt="adam", **kwargs):
    """The step function of optimizer ``opt`` with hyperparameters ``kwargs``.

    The hyperparameters are validated here, once; the returned function maps
    ``(opt_params, theta, updates)`` to ``(new_opt_params, new_theta)``.
    """
    optimizer = _optimizer_class(opt)(**kwargs)
    return lambda opt_params, theta, updates: _step(optimizer, opt_params, theta, updates)
