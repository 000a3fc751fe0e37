"""Hebbian kernels: the element-wise part of a Hebbian synapse's evolve, fused into one pass over W.

Given the matrix product ``m = (pre * pre_wght).T @ (post * post_wght)``, each
kernel makes, per element and in this order, the adjustment

    d = m * (w_bound - |w|)               if w_bound > 0
    d = d + prior term                    l2: -lmbda * w;  l1: -lmbda * sign(w);
                                          l1l2: (-l1_ratio * sign(w) - w * (1 - l1_ratio)/2) * lmbda
    d = d * sign_value

writes it back into ``m`` (the synapse's dWeights), takes one step of an
optimizer's rule on ``w`` with ``d`` (the rules of :mod:`ngc_optim.kernels`,
with their own l1/l2 penalty), then clips ``w`` to ``[low, w_bound]`` when
``w_bound > 0`` and multiplies it by ``mask`` when ``masked``. The arithmetic is
NumPy's for the same formulas in the array's dtype, operation for operation.

A kernel's arguments are ``(w, m, mask, masked, prior, hebbian, *slots, *scalars)``:
``hebbian`` is the float tuple ``(w_bound, lmbda, l1_ratio, sign_value, low)``,
``slots`` the optimizer's state arrays for ``w`` and ``scalars`` what the
optimizer's ``advance`` returns. :data:`ADJUST` computes the adjustment alone.

The kernels are serial. They run right after the matrix product, and on a
2-core machine a parallel loop there loses: the OpenMP threads of Numba's
parallel region spin after it ends and compete with OpenBLAS's threads for the
next product, which cost about 10 ms per step at every size measured
(``benchmarks/bench_components.py``; 512x512 to 4096x4096). Even with
``OMP_WAIT_POLICY=passive`` the parallel loop was no faster than the serial one
(6.0 against 5.5 ms at 2048x2048, 30.1 against 30.5 ms at 4096x4096, SGD): the
product dominates and the element-wise pass is memory-bound.
"""

import numpy as np
from numba import njit

from . import config
from .kernels import (
    L1,
    L2,
    _adam_rule,
    _momentum_rule,
    _nag_rule,
    _penalised,
    _rmsprop_rule,
    _sgd_rule,
)

__all__ = ["ADJUST", "HEBBIAN", "L1L2", "PRIOR_CODES"]

L1L2 = 3
PRIOR_CODES = {None: 0, "l1": L1, "l2": L2, "l1l2": L1L2}
"""Penalty name (as :data:`ngc_optim.components.PRIORS` gives it) -> the kernels' prior code."""


@njit(inline="always")
def _constants(dt, hebbian):
    w_bound, lmbda, l1_ratio, sign_value, low = hebbian
    return (dt(w_bound), dt(lmbda), dt(l1_ratio), dt((1.0 - l1_ratio) / 2.0), dt(sign_value), dt(low),
            w_bound > 0.0)


@njit(inline="always")
def _adjustment(m, w, prior, bounded, w_bound, lmbda, l1_ratio, half, sign_value):
    d = m * (w_bound - np.abs(w)) if bounded else m
    if prior == L2:
        d = d + (-w * lmbda)
    elif prior == L1:
        d = d + (-np.sign(w) * lmbda)
    elif prior == L1L2:
        d = d + (-np.sign(w) * l1_ratio - w * half) * lmbda
    return d * sign_value


@njit(inline="always")
def _limited(w, bounded, low, w_bound, masked, mask):
    if bounded:
        if w < low:
            w = low
        elif w > w_bound:
            w = w_bound
    return w * mask if masked else w


def _adjust(w, m, prior, hebbian):
    """m = the adjustment of w for the product m (no optimizer step)."""
    dt = w.dtype.type
    w_bound, lmbda, l1_ratio, half, sign_value, _, bounded = _constants(dt, hebbian)
    for i in range(w.size):
        m[i] = _adjustment(m[i], w[i], prior, bounded, w_bound, lmbda, l1_ratio, half, sign_value)


def _hebbian_sgd(w, m, mask, masked, prior, hebbian, eta, regularization, lam):
    dt = w.dtype.type
    w_bound, lmbda, l1_ratio, half, sign_value, low, bounded = _constants(dt, hebbian)
    eta_, lam_ = dt(eta), dt(lam)
    for i in range(w.size):
        wi = w[i]
        d = _adjustment(m[i], wi, prior, bounded, w_bound, lmbda, l1_ratio, half, sign_value)
        m[i] = d
        new = _sgd_rule(wi, _penalised(d, wi, regularization, lam_), eta_)
        w[i] = _limited(new, bounded, low, w_bound, masked, mask[i])


def _hebbian_nag(w, m, mask, masked, prior, hebbian, phi, eta, mu, t, regularization, lam):
    dt = w.dtype.type
    w_bound, lmbda, l1_ratio, half, sign_value, low, bounded = _constants(dt, hebbian)
    eta_, mu_, lam_ = dt(eta), dt(mu), dt(lam)
    if t > 1:
        for i in range(w.size):
            wi = w[i]
            d = _adjustment(m[i], wi, prior, bounded, w_bound, lmbda, l1_ratio, half, sign_value)
            m[i] = d
            new, phi[i] = _nag_rule(wi, _penalised(d, wi, regularization, lam_), phi[i], eta_, mu_)
            w[i] = _limited(new, bounded, low, w_bound, masked, mask[i])
    else:
        for i in range(w.size):
            wi = w[i]
            d = _adjustment(m[i], wi, prior, bounded, w_bound, lmbda, l1_ratio, half, sign_value)
            m[i] = d
            new = _sgd_rule(wi, _penalised(d, wi, regularization, lam_), eta_)
            phi[i] = new
            w[i] = _limited(new, bounded, low, w_bound, masked, mask[i])


def _hebbian_momentum(w, m, mask, masked, prior, hebbian, velocity, eta, mu, regularization, lam):
    dt = w.dtype.type
    w_bound, lmbda, l1_ratio, half, sign_value, low, bounded = _constants(dt, hebbian)
    eta_, mu_, lam_ = dt(eta), dt(mu), dt(lam)
    for i in range(w.size):
        wi = w[i]
        d = _adjustment(m[i], wi, prior, bounded, w_bound, lmbda, l1_ratio, half, sign_value)
        m[i] = d
        new, velocity[i] = _momentum_rule(wi, _penalised(d, wi, regularization, lam_), velocity[i], eta_, mu_)
        w[i] = _limited(new, bounded, low, w_bound, masked, mask[i])


def _hebbian_rmsprop(w, m, mask, masked, prior, hebbian, cache, eta, decay, eps, regularization, lam):
    dt = w.dtype.type
    w_bound, lmbda, l1_ratio, half, sign_value, low, bounded = _constants(dt, hebbian)
    eta_, decay_, keep_, eps_, lam_ = dt(eta), dt(decay), dt(1.0 - decay), dt(eps), dt(lam)
    for i in range(w.size):
        wi = w[i]
        d = _adjustment(m[i], wi, prior, bounded, w_bound, lmbda, l1_ratio, half, sign_value)
        m[i] = d
        new, cache[i] = _rmsprop_rule(wi, _penalised(d, wi, regularization, lam_), cache[i], eta_, decay_,
                                      keep_, eps_)
        w[i] = _limited(new, bounded, low, w_bound, masked, mask[i])


def _hebbian_adam(w, m, mask, masked, prior, hebbian, g1, g2, eta, beta1, beta2, eps, inverse_correction1,
                  inverse_correction2, decoupled_decay, regularization, lam):
    dt = w.dtype.type
    w_bound, lmbda, l1_ratio, half, sign_value, low, bounded = _constants(dt, hebbian)
    eta_, b1, b2, eps_ = dt(eta), dt(beta1), dt(beta2), dt(eps)
    a1, a2 = dt(1.0 - beta1), dt(1.0 - beta2)
    k1, k2, lam_ = dt(inverse_correction1), dt(inverse_correction2), dt(lam)
    shrink = dt(eta * decoupled_decay)
    if decoupled_decay != 0.0:
        for i in range(w.size):
            wi = w[i]
            d = _adjustment(m[i], wi, prior, bounded, w_bound, lmbda, l1_ratio, half, sign_value)
            m[i] = d
            g = _penalised(d, wi, regularization, lam_)
            new, g1[i], g2[i] = _adam_rule(wi - shrink * wi, g, g1[i], g2[i], eta_, b1, a1, b2, a2, k1, k2, eps_)
            w[i] = _limited(new, bounded, low, w_bound, masked, mask[i])
    else:
        for i in range(w.size):
            wi = w[i]
            d = _adjustment(m[i], wi, prior, bounded, w_bound, lmbda, l1_ratio, half, sign_value)
            m[i] = d
            g = _penalised(d, wi, regularization, lam_)
            new, g1[i], g2[i] = _adam_rule(wi, g, g1[i], g2[i], eta_, b1, a1, b2, a2, k1, k2, eps_)
            w[i] = _limited(new, bounded, low, w_bound, masked, mask[i])


_compile = njit(**config.jit_options(False))
ADJUST = _compile(_adjust)
HEBBIAN = {rule: _compile(func) for rule, func in (
    ("sgd", _hebbian_sgd), ("nag", _hebbian_nag), ("momentum", _hebbian_momentum),
    ("rmsprop", _hebbian_rmsprop), ("adam", _hebbian_adam))}
"""Optimizer kernel name -> the Hebbian kernel that runs its rule (``adam`` serves AdamW too)."""
