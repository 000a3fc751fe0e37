"""Fused, in-place Numba kernels: one pass over each parameter per optimizer step.

Every kernel works on contiguous 1-D views of equal length and one dtype
(float32 or float64). Hyperparameters arrive as Python floats and are cast to
the array's dtype inside the kernel, so a float32 parameter is updated in
float32 arithmetic throughout. Each rule is written once, as a ``prange`` loop,
and compiled twice (see :func:`_serial_and_parallel`): the two variants run the
same arithmetic and give bit-identical results; :func:`pick` chooses by size.

Regularisation is fused into every rule: ``regularization`` is ``NO_PENALTY``,
``L1`` or ``L2`` and replaces the update ``u`` by ``u + lam * sign(p)`` or
``u + lam * p`` before the rule reads it.

The formulas, with ``t`` the 1-based step count, are documented on the
optimizer classes in :mod:`ngc_optim.optim`; the kernels follow them operation
for operation (same order, same roundings) so that the NumPy reference in the
tests can match them bit for bit.
"""

import types

import numpy as np
from numba import njit, prange

from . import config, threads

__all__ = ["ELEMENTS", "L1", "L2", "NO_PENALTY", "Kernel", "adam", "momentum", "nag", "pick", "renamed", "rmsprop",
           "sgd"]

NO_PENALTY = 0
L1 = 1
L2 = 2


class Kernel:
    """A serial and a ``prange`` compilation of the update rule ``name``, and the function giving the scalar
    arguments of a step from the optimizer's constants and the step count (``scalars`` in Python, ``jit_scalars``
    compiled, for loops that count steps themselves: the same function, the same bits; None for a kernel that
    is not an optimizer's rule)."""

    __slots__ = ("jit_scalars", "name", "parallel", "scalars", "serial")

    def __init__(self, name, serial, parallel, scalars=None):
        self.name = name
        self.serial = serial
        self.parallel = parallel
        self.scalars = scalars
        self.jit_scalars = None if scalars is None else njit(**config.jit_options(False))(scalars)


def renamed(func, name, namespace=None):
    """A copy of ``func`` named ``name``, with the globals ``namespace`` (default: func's). Numba's on-disk
    cache is keyed on the function's qualified name, not on the compiler flags or the globals bound, so each
    compiled variant of one function needs a copy with a name of its own."""
    copy = types.FunctionType(func.__code__, func.__globals__ if namespace is None else namespace, name,
                              func.__defaults__, func.__closure__)
    copy.__qualname__ = name
    copy.__doc__ = func.__doc__
    copy.__module__ = func.__module__
    return copy


def _serial_and_parallel(func, scalars):
    """Compile ``func`` as a serial and as a parallel kernel.

    Numba's on-disk cache is keyed on the function's qualified name, not on the
    compiler flags, so two dispatchers built from one function object would share
    (and corrupt) one cache entry. Each variant therefore gets its own function
    object with its own name; in the serial one ``prange`` is plain ``range``.
    """
    variants = [njit(**config.jit_options(parallel))(renamed(func, f"{func.__name__}_{suffix}"))
                for suffix, parallel in (("serial", False), ("parallel", True))]
    return Kernel(func.__name__.lstrip("_"), *variants, scalars)


def pick(kernel, size):
    """The variant of ``kernel`` to run on ``size`` elements (see :mod:`ngc_optim.config`): the parallel one
    from the rule's threshold on, when ngc_optim may run more than one thread (:mod:`ngc_optim.threads`)."""
    parallel = config.PARALLEL and threads.get_threads() > 1
    if parallel and size >= config.PARALLEL_THRESHOLDS[kernel.name]:
        threads.prepare()
        return kernel.parallel
    return kernel.serial


@njit(inline="always")
def _penalised(u, p, regularization, lam):
    if regularization == L1:
        return u + lam * np.sign(p)
    if regularization == L2:
        return u + lam * p
    return u


@njit(inline="always")
def _sgd_rule(p, g, eta):
    return p - eta * g


@njit(inline="always")
def _nag_rule(p, g, phi, eta, mu):
    """NAG after its first step (the first is SGD's rule, with phi set to its result)."""
    phi_new = p - eta * g
    return phi_new + mu * (phi_new - phi), phi_new


@njit(inline="always")
def _momentum_rule(p, g, velocity, eta, mu):
    v = mu * velocity - eta * g
    return p + v, v


@njit(inline="always")
def _rmsprop_rule(p, g, cache, eta, decay, keep, eps):
    c = decay * cache + keep * (g * g)
    return p - eta * g / (np.sqrt(c) + eps), c


@njit(inline="always")
def _adam_rule(p, g, g1, g2, eta, b1, a1, b2, a2, k1, k2, eps):
    m = b1 * g1 + a1 * g
    v = b2 * g2 + a2 * (g * g)
    return p - eta * (m * k1) / (np.sqrt(v * k2) + eps), m, v


def _sgd(p, u, eta, regularization, lam):
    """p = p - eta * u."""
    dt = p.dtype.type
    eta_, lam_ = dt(eta), dt(lam)
    for i in prange(p.size):
        p[i] = _sgd_rule(p[i], _penalised(u[i], p[i], regularization, lam_), eta_)


def _nag(p, u, phi, eta, mu, t, regularization, lam):
    """phi' = p - eta * u; p = phi' + mu * (phi' - phi) if t > 1 else phi'; phi = phi'."""
    dt = p.dtype.type
    eta_, mu_, lam_ = dt(eta), dt(mu), dt(lam)
    if t > 1:
        for i in prange(p.size):
            p[i], phi[i] = _nag_rule(p[i], _penalised(u[i], p[i], regularization, lam_), phi[i], eta_, mu_)
    else:
        for i in prange(p.size):
            phi_new = _sgd_rule(p[i], _penalised(u[i], p[i], regularization, lam_), eta_)
            p[i] = phi_new
            phi[i] = phi_new


def _momentum(p, u, velocity, eta, mu, regularization, lam):
    """v = mu * v - eta * u; p = p + v."""
    dt = p.dtype.type
    eta_, mu_, lam_ = dt(eta), dt(mu), dt(lam)
    for i in prange(p.size):
        p[i], velocity[i] = _momentum_rule(p[i], _penalised(u[i], p[i], regularization, lam_), velocity[i],
                                           eta_, mu_)


def _rmsprop(p, u, cache, eta, decay, eps, regularization, lam):
    """c = decay * c + (1 - decay) * u**2; p = p - eta * u / (sqrt(c) + eps)."""
    dt = p.dtype.type
    eta_, decay_, keep_, eps_, lam_ = dt(eta), dt(decay), dt(1.0 - decay), dt(eps), dt(lam)
    for i in prange(p.size):
        p[i], cache[i] = _rmsprop_rule(p[i], _penalised(u[i], p[i], regularization, lam_), cache[i],
                                       eta_, decay_, keep_, eps_)


def _adam(p, u, g1, g2, eta, beta1, beta2, eps, inverse_correction1, inverse_correction2,
          decoupled_decay, regularization, lam):
    """Adam, with AdamW's decoupled decay when ``decoupled_decay`` is not zero.

    g1 = b1*g1 + (1-b1)*u; g2 = b2*g2 + (1-b2)*u**2;
    p = p - (eta*decoupled_decay)*p  (only if decoupled_decay != 0);
    p = p - eta * (g1*k1) / (sqrt(g2*k2) + eps),
    with k_j = 1 / (1 - b_j**t) computed in float64 by the caller: multiplying by
    the inverse corrections leaves one division and one square root per element,
    which bound the loop's speed while the data are in cache.
    """
    dt = p.dtype.type
    eta_, b1, b2, eps_ = dt(eta), dt(beta1), dt(beta2), dt(eps)
    a1, a2 = dt(1.0 - beta1), dt(1.0 - beta2)
    k1, k2, lam_ = dt(inverse_correction1), dt(inverse_correction2), dt(lam)
    shrink = dt(eta * decoupled_decay)
    if decoupled_decay != 0.0:
        for i in prange(p.size):
            g = _penalised(u[i], p[i], regularization, lam_)
            p[i], g1[i], g2[i] = _adam_rule(p[i] - shrink * p[i], g, g1[i], g2[i], eta_, b1, a1, b2, a2,
                                            k1, k2, eps_)
    else:
        for i in prange(p.size):
            g = _penalised(u[i], p[i], regularization, lam_)
            p[i], g1[i], g2[i] = _adam_rule(p[i], g, g1[i], g2[i], eta_, b1, a1, b2, a2, k1, k2, eps_)


def _unchanged_scalars(constants, t):
    """SGD's (eta, regularization, lam), momentum's (eta, mu, ...) and RMSprop's (eta, decay, eps, ...)
    scalars do not depend on the step."""
    return constants


def _nag_scalars(constants, t):
    """(eta, mu, regularization, lam) -> (eta, mu, t, regularization, lam)."""
    eta, mu, regularization, lam = constants
    return eta, mu, t, regularization, lam


def _adam_scalars(constants, t):
    """(eta, beta1, beta2, eps, decoupled_decay, regularization, lam) -> the kernel's scalars, with the inverse
    bias corrections 1 / (1 - beta**t) in float64 (t as a float: C's pow, in Python and in Numba alike)."""
    eta, beta1, beta2, eps, decoupled_decay, regularization, lam = constants
    inverse_correction1 = 1.0 / (1.0 - beta1 ** float(t))
    inverse_correction2 = 1.0 / (1.0 - beta2 ** float(t))
    return eta, beta1, beta2, eps, inverse_correction1, inverse_correction2, decoupled_decay, regularization, lam


sgd = _serial_and_parallel(_sgd, renamed(_unchanged_scalars, "_sgd_scalars"))
nag = _serial_and_parallel(_nag, _nag_scalars)
momentum = _serial_and_parallel(_momentum, renamed(_unchanged_scalars, "_momentum_scalars"))
rmsprop = _serial_and_parallel(_rmsprop, renamed(_unchanged_scalars, "_rmsprop_scalars"))
adam = _serial_and_parallel(_adam, _adam_scalars)


@njit(inline="always")
def _sgd_cast(dtype, scalars):
    eta, regularization, lam = scalars
    return dtype(eta), regularization, dtype(lam)


@njit(inline="always")
def _sgd_element(p, u, first, second, cast):
    eta, regularization, lam = cast
    return _sgd_rule(p, _penalised(u, p, regularization, lam), eta), first, second


@njit(inline="always")
def _nag_cast(dtype, scalars):
    eta, mu, t, regularization, lam = scalars
    return dtype(eta), dtype(mu), t, regularization, dtype(lam)


@njit(inline="always")
def _nag_element(p, u, phi, second, cast):
    eta, mu, t, regularization, lam = cast
    g = _penalised(u, p, regularization, lam)
    if t > 1:
        p, phi = _nag_rule(p, g, phi, eta, mu)
        return p, phi, second
    phi = _sgd_rule(p, g, eta)
    return phi, phi, second


@njit(inline="always")
def _momentum_cast(dtype, scalars):
    eta, mu, regularization, lam = scalars
    return dtype(eta), dtype(mu), regularization, dtype(lam)


@njit(inline="always")
def _momentum_element(p, u, velocity, second, cast):
    eta, mu, regularization, lam = cast
    p, velocity = _momentum_rule(p, _penalised(u, p, regularization, lam), velocity, eta, mu)
    return p, velocity, second


@njit(inline="always")
def _rmsprop_cast(dtype, scalars):
    eta, decay, eps, regularization, lam = scalars
    return dtype(eta), dtype(decay), dtype(1.0 - decay), dtype(eps), regularization, dtype(lam)


@njit(inline="always")
def _rmsprop_element(p, u, cache, second, cast):
    eta, decay, keep, eps, regularization, lam = cast
    p, cache = _rmsprop_rule(p, _penalised(u, p, regularization, lam), cache, eta, decay, keep, eps)
    return p, cache, second


@njit(inline="always")
def _adam_cast(dtype, scalars):
    eta, beta1, beta2, eps, inverse_correction1, inverse_correction2, decoupled_decay, regularization, lam = scalars
    return (dtype(eta), dtype(beta1), dtype(1.0 - beta1), dtype(beta2), dtype(1.0 - beta2), dtype(inverse_correction1),
            dtype(inverse_correction2), dtype(eps), dtype(eta * decoupled_decay), decoupled_decay != 0.0,
            regularization, dtype(lam))


@njit(inline="always")
def _adam_element(p, u, g1, g2, cast):
    eta, b1, a1, b2, a2, k1, k2, eps, shrink, decoupled, regularization, lam = cast
    g = _penalised(u, p, regularization, lam)
    if decoupled:
        p = p - shrink * p
    return _adam_rule(p, g, g1, g2, eta, b1, a1, b2, a2, k1, k2, eps)


ELEMENTS = {"sgd": (_sgd_cast, _sgd_element), "nag": (_nag_cast, _nag_element),
            "momentum": (_momentum_cast, _momentum_element), "rmsprop": (_rmsprop_cast, _rmsprop_element),
            "adam": (_adam_cast, _adam_element)}
"""Kernel name -> (cast, element), each rule on one element, for loops of other kernels that step a value by an
optimizer (a rate cell's z): ``cast(dtype, scalars)`` rounds the scalars of a step (:attr:`Kernel.scalars`) to
the dtype once, ``element(p, u, first, second, cast)`` returns (p', first', second'), the parameter and the
optimizer's state slots (``slot_names`` in order; a slot the optimizer lacks is returned unchanged), with the
arithmetic of the rule's own kernel above, operation for operation."""
