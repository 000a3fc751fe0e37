"""Fused synapse kernels: the element-wise part of a learning synapse's evolve, in one pass over W.

Two rules share the same loops, one per optimizer rule of :mod:`ngc_optim.kernels`:

**Hebbian** (:data:`HEBBIAN`). Given the matrix product
``m = (pre * pre_wght).T @ (post * post_wght)``, the adjustment of each element is

    d = m * (w_bound - |w|)               if w_bound > 0
    d = d + prior term                    l2: -lmbda * w;  l1: -lmbda * sign(w);
                                          l1l2: (-l1_ratio * sign(w) - w * (1 - l1_ratio)/2) * lmbda
    d = d * sign_value

and the optimizer steps ``w`` with the update ``d``; then ``w`` is clipped to
``[low, w_bound]`` when ``w_bound > 0``.

**Trace STDP** (:data:`STDP`). Given the products ``p = (pre_trace - pretrace_target).T @ post_spike``
and ``q = pre_spike.T @ post_trace`` and, when the rule depends on the weights
(ngc-learn's mu > 0), the factors ``a = (w_bound - w)**mu`` and ``b = w**mu``, the
adjustment (ngc-learn's ``TraceSTDPSynapse``) is

    d = (a * p) * A_plus - (b * q) * A_minus       weight-dependent
    d = p * A_plus - q * A_minus                    otherwise
                                                    (the q term only if A_minus > 0)

and, as ngc-learn adds ``eta * d`` to ``w``, the optimizer steps ``w`` with the update ``-d``;
then ``w = w - w_old / tau_w`` when ``tau_w > 0`` (ngc-learn's decay, outside the optimizer)
and ``w`` is clipped to ``[0, w_bound]``. The factors come in as arrays, computed
in a loop of their own before (NumPy's fast paths for the exponents 0.5, 1 and 2,
else the C library's ``pow``; on AVX-512 CPUs ``np.power``'s own loops differ from it by up to an ulp),
which keeps these loops vectorised.

In both, ``d`` is written back into the first product (the synapse's dWeights),
the optimizer's rule runs with its own l1/l2 penalty, and ``w`` is multiplied
by ``mask`` when ``masked``. The arithmetic is NumPy's for the same formulas in
the array's dtype, operation for operation.

A kernel's arguments are ``(w, out, products, mask, masked, code, settings, *slots, *slots_out, *scalars)``:
the new weights go to ``out`` and the optimizer's new state to ``slots_out`` (``w`` and ``slots`` themselves
to update in place), ``products`` the tuple of flat arrays (Hebbian ``(m,)``, STDP ``(p, q)`` or ``(p, q, a, b)``),
``code`` the Hebbian prior (:data:`PRIOR_CODES`; 0 for STDP), ``settings`` the
rule's float tuple (Hebbian ``(w_bound, lmbda, l1_ratio, sign_value, low)``,
STDP ``(A_plus, A_minus, w_bound, tau_w)``), ``slots`` the optimizer's state
arrays for ``w`` and ``scalars`` what the optimizer's ``advance`` returns.
:data:`ADJUST` computes the Hebbian adjustment alone.

The loops are written once per optimizer rule (``_fused_*``) over three element
functions, ``CONSTANTS``, ``ADJUSTMENT`` and ``LIMITED``, which each synapse's
compiled copy binds to its own (see :func:`_specialised`), so the loops carry
no branch on the synapse kind.

The kernels are serial. They run right after the matrix product, and on a
2-core machine a parallel loop there loses: the OpenMP threads of Numba's
parallel region spin after it ends and compete with OpenBLAS's threads for the
next product, which cost about 10 ms per step at every size measured
(``benchmarks/bench_components.py``; 512x512 to 4096x4096). Even with
``OMP_WAIT_POLICY=passive`` the parallel loop was no faster than the serial one
(6.0 against 5.5 ms at 2048x2048, 30.1 against 30.5 ms at 4096x4096, SGD): the
product dominates and the element-wise pass is memory-bound.
"""

from functools import partial

import numpy as np
from numba import njit

from . import config, kernels
from .cell_kernels import OUTERS, copy_into, count_nonzero, list_nonzero, outer_into
from .kernels import (
    L1,
    L2,
    _adam_rule,
    _momentum_rule,
    _nag_rule,
    _penalised,
    _rmsprop_rule,
    _sgd_rule,
    renamed,
)

__all__ = ["ADJUST", "HEBBIAN", "HEBBIAN_ADJUSTMENTS", "HEBBIAN_EVOLVE", "HEBBIAN_EVOLVE_IN_PLACE", "HEBBIAN_IN_PLACE",
           "HEBBIAN_PATCHED", "HEBBIAN_PATCHED_EVOLVE", "HEBBIAN_PATCHED_EVOLVE_IN_PLACE", "HEBBIAN_PATCHED_IN_PLACE",
           "HEBBIAN_PATCHED_STEP", "HEBBIAN_PRODUCTS", "HEBBIAN_STEP", "L1L2", "PATCHED_ADJUSTMENTS", "PRIOR_CODES",
           "STDP", "STDP_EVOLVE", "STDP_EVOLVE_IN_PLACE", "STDP_IN_PLACE", "STDP_STEP", "compiled_evolves",
           "hebbian_adjustments", "hebbian_products", "patched_adjustments", "specialised_loops", "stdp_events_later",
           "stdp_events_settle", "stdp_sgd_events", "within"]

L1L2 = 3
PRIOR_CODES = {None: 0, "l1": L1, "l2": L2, "l1l2": L1L2}
"""Penalty name (as :data:`ngc_optim.components.PRIORS` gives it) -> the kernels' prior code."""

CONSTANTS = None
ADJUSTMENT = None
LIMITED = None
"""Bound in each compiled copy of the loops (see :func:`_specialised`): the synapse's element functions."""
IN_PLACE = False
"""Bound true in the loops' in-place copies: ``out`` is ``w`` and the slots' outputs are the slots (passed or
not), which LLVM then sees, and vectorises the loop (with distinct arguments that are the same arrays, its
runtime overlap check sends the loop to its scalar fallback: 4x slower)."""
KERNEL = BIAS = EVOLVE = EVOLVE_IN_PLACE = SCALARS = PRODUCTS = None
WEIGHTED = False
OUTER = outer_into
"""Bound in each compiled copy of a whole evolve (see HEBBIAN_EVOLVE, STDP_EVOLVE and their steps): the rule's
kernels, the evolves a step calls, the rule's jit_scalars, the Hebbian products (HEBBIAN_PRODUCTS), whether
STDP depends on the weights and the outer products it takes (cell_kernels.OUTERS, by the synapse's
cell_kernels.outer_kind)."""


@njit(inline="always")
def _hebbian_constants(dt, hebbian):
    w_bound, lmbda, l1_ratio, sign_value, low = hebbian
    return (dt(w_bound), dt(lmbda), dt(l1_ratio), dt((1.0 - l1_ratio) / 2.0), dt(sign_value), dt(low),
            w_bound > 0.0)


@njit(inline="always")
def _hebbian_adjustment(m, w, prior, constants):
    w_bound, lmbda, l1_ratio, half, sign_value, _, bounded = constants
    d = m * (w_bound - np.abs(w)) if bounded else m
    if prior == L2:
        d = d + (-w * lmbda)
    elif prior == L1:
        d = d + (-np.sign(w) * lmbda)
    elif prior == L1L2:
        d = d + (-np.sign(w) * l1_ratio - w * half) * lmbda
    return d * sign_value


@njit(inline="always")
def _hebbian_element(products, i, w, prior, constants):
    """(the adjustment, the optimizer's update): the same for a Hebbian synapse."""
    d = _hebbian_adjustment(products[0][i], w, prior, constants)
    return d, d


@njit(inline="always")
def _patched_element(products, i, w, prior, constants):
    """(the adjustment, the optimizer's update) of a patched Hebbian synapse (ngc-learn's
    HebbianPatchedSynapse): the Hebbian adjustment times the block mask (products[1]) and times 0 where the
    weight is 0 (a weight outside the patches, or cut by p_conn, never grows)."""
    dt = products[1].dtype.type
    d = _hebbian_adjustment(products[0][i], w, prior, constants) * products[1][i]
    d = d * (dt(1) if w != dt(0) else dt(0))
    return d, d


@njit(inline="always")
def _hebbian_limited(new, old, constants, masked, mask):
    w_bound, _, _, _, _, low, bounded = constants
    if bounded:
        if new < low:
            new = low
        elif new > w_bound:
            new = w_bound
    return new * mask if masked else new


@njit(inline="always")
def _stdp_constants(dt, stdp):
    a_plus, a_minus, w_bound, tau_w = stdp
    return dt(a_plus), dt(a_minus), dt(w_bound), dt(tau_w), dt(0.0), a_minus > 0.0, tau_w > 0.0


@njit(inline="always")
def _stdp_change(p, q, constants):
    """dW of trace STDP without weight dependence for the products p and q."""
    a_plus, a_minus, _, _, _, depressing, _ = constants
    d = p * a_plus
    if depressing:
        d = d + (-q) * a_minus
    return d


@njit(inline="always")
def _stdp_element(products, i, w, code, constants):
    """(dW, the optimizer's update -dW) of trace STDP without weight dependence: products (p, q)."""
    d = _stdp_change(products[0][i], products[1][i], constants)  # q read unconditionally: a conditional load
    return d, -d                                                  # stops vectorising


@njit(inline="always")
def _weighted_stdp_element(products, i, w, code, constants):
    """(dW, the optimizer's update -dW) of weight-dependent trace STDP: products (p, q, a, b)."""
    a_plus, a_minus, _, _, _, depressing, _ = constants
    d, q, b = (products[2][i] * products[0][i]) * a_plus, products[1][i], products[3][i]
    if depressing:
        d = d + (-(b * q)) * a_minus
    return d, -d


@njit(inline="always")
def _stdp_limited(new, old, constants, masked, mask):
    _, _, w_bound, tau_w, zero, _, decays = constants
    if decays:
        new = new - old / tau_w
    if new < zero:
        new = zero
    elif new > w_bound:
        new = w_bound
    return new * mask if masked else new


@njit(inline="always")
def _adjust(w, m, prior, hebbian):
    """m = the Hebbian adjustment of w for the product m (no optimizer step)."""
    constants = _hebbian_constants(w.dtype.type, hebbian)
    for i in range(w.size):
        m[i] = _hebbian_adjustment(m[i], w[i], prior, constants)


def _fused_sgd(w, out, products, mask, masked, code, settings, eta, regularization, lam):
    if IN_PLACE:
        out = w
    dt = w.dtype.type
    constants = CONSTANTS(dt, settings)
    eta_, lam_ = dt(eta), dt(lam)
    for i in range(w.size):
        wi = w[i]
        d, u = ADJUSTMENT(products, i, wi, code, constants)
        products[0][i] = d
        new = _sgd_rule(wi, _penalised(u, wi, regularization, lam_), eta_)
        out[i] = LIMITED(new, wi, constants, masked, mask[i])


def _fused_nag(w, out, products, mask, masked, code, settings, phi, phi_out, eta, mu, t, regularization, lam):
    if IN_PLACE:
        out, phi_out = w, phi
    dt = w.dtype.type
    constants = CONSTANTS(dt, settings)
    eta_, mu_, lam_ = dt(eta), dt(mu), dt(lam)
    if t > 1:
        for i in range(w.size):
            wi = w[i]
            d, u = ADJUSTMENT(products, i, wi, code, constants)
            products[0][i] = d
            new, phi_out[i] = _nag_rule(wi, _penalised(u, wi, regularization, lam_), phi[i], eta_, mu_)
            out[i] = LIMITED(new, wi, constants, masked, mask[i])
    else:
        for i in range(w.size):
            wi = w[i]
            d, u = ADJUSTMENT(products, i, wi, code, constants)
            products[0][i] = d
            new = _sgd_rule(wi, _penalised(u, wi, regularization, lam_), eta_)
            phi_out[i] = new
            out[i] = LIMITED(new, wi, constants, masked, mask[i])


def _fused_momentum(w, out, products, mask, masked, code, settings, velocity, velocity_out, eta, mu, regularization,
                    lam):
    if IN_PLACE:
        out, velocity_out = w, velocity
    dt = w.dtype.type
    constants = CONSTANTS(dt, settings)
    eta_, mu_, lam_ = dt(eta), dt(mu), dt(lam)
    for i in range(w.size):
        wi = w[i]
        d, u = ADJUSTMENT(products, i, wi, code, constants)
        products[0][i] = d
        new, velocity_out[i] = _momentum_rule(wi, _penalised(u, wi, regularization, lam_), velocity[i], eta_, mu_)
        out[i] = LIMITED(new, wi, constants, masked, mask[i])


def _fused_rmsprop(w, out, products, mask, masked, code, settings, cache, cache_out, eta, decay, eps, regularization,
                   lam):
    if IN_PLACE:
        out, cache_out = w, cache
    dt = w.dtype.type
    constants = CONSTANTS(dt, settings)
    eta_, decay_, keep_, eps_, lam_ = dt(eta), dt(decay), dt(1.0 - decay), dt(eps), dt(lam)
    for i in range(w.size):
        wi = w[i]
        d, u = ADJUSTMENT(products, i, wi, code, constants)
        products[0][i] = d
        new, cache_out[i] = _rmsprop_rule(wi, _penalised(u, wi, regularization, lam_), cache[i], eta_, decay_,
                                      keep_, eps_)
        out[i] = LIMITED(new, wi, constants, masked, mask[i])


def _fused_adam(w, out, products, mask, masked, code, settings, g1, g2, g1_out, g2_out, eta, beta1, beta2, eps,
                inverse_correction1, inverse_correction2, decoupled_decay, regularization, lam):
    if IN_PLACE:
        out, g1_out, g2_out = w, g1, g2
    dt = w.dtype.type
    constants = CONSTANTS(dt, settings)
    eta_, b1, b2, eps_ = dt(eta), dt(beta1), dt(beta2), dt(eps)
    a1, a2 = dt(1.0 - beta1), dt(1.0 - beta2)
    k1, k2, lam_ = dt(inverse_correction1), dt(inverse_correction2), dt(lam)
    shrink = dt(eta * decoupled_decay)
    if decoupled_decay != 0.0:
        for i in range(w.size):
            wi = w[i]
            d, u = ADJUSTMENT(products, i, wi, code, constants)
            products[0][i] = d
            g = _penalised(u, wi, regularization, lam_)
            new, g1_out[i], g2_out[i] = _adam_rule(wi - shrink * wi, g, g1[i], g2[i], eta_, b1, a1, b2, a2, k1, k2, eps_)
            out[i] = LIMITED(new, wi, constants, masked, mask[i])
    else:
        for i in range(w.size):
            wi = w[i]
            d, u = ADJUSTMENT(products, i, wi, code, constants)
            products[0][i] = d
            g = _penalised(u, wi, regularization, lam_)
            new, g1_out[i], g2_out[i] = _adam_rule(wi, g, g1[i], g2[i], eta_, b1, a1, b2, a2, k1, k2, eps_)
            out[i] = LIMITED(new, wi, constants, masked, mask[i])


_LOOPS = {"sgd": _fused_sgd, "nag": _fused_nag, "momentum": _fused_momentum, "rmsprop": _fused_rmsprop,
          "adam": _fused_adam}


def _specialised(loop, kind, **bindings):
    """A serial compiled copy of ``loop`` with the functions ``bindings`` bound as constants, under its own name
    (Numba's cache is keyed on the qualified name)."""
    copy = renamed(loop, f"{loop.__name__}_{kind}", {**loop.__globals__, **bindings})
    return njit(**config.jit_options(False))(copy)


_compile = njit(**config.jit_options(False))
ADJUST = _compile(_adjust.py_func)
def specialised_loops(kind, **bindings):
    """(optimizer kernel name -> the loop of its rule with the element functions ``bindings``, and the same
    in place: see IN_PLACE)."""
    return ({rule: _specialised(loop, kind, **bindings) for rule, loop in _LOOPS.items()},
            {rule: _specialised(loop, f"{kind}_in_place", IN_PLACE=True, **bindings) for rule, loop in _LOOPS.items()})


HEBBIAN, HEBBIAN_IN_PLACE = specialised_loops("hebbian", CONSTANTS=_hebbian_constants, ADJUSTMENT=_hebbian_element,
                                              LIMITED=_hebbian_limited)
"""Optimizer kernel name -> the Hebbian kernel that runs its rule (``adam`` serves AdamW too); its in-place copy."""
HEBBIAN_PATCHED, HEBBIAN_PATCHED_IN_PLACE = specialised_loops("patched_hebbian", CONSTANTS=_hebbian_constants,
                                                              ADJUSTMENT=_patched_element, LIMITED=_hebbian_limited)
"""Optimizer kernel name -> the patched Hebbian kernel (products: the Hebbian product and the block mask); its
in-place copy."""
_STDP_LOOPS = {weighted: specialised_loops("weighted_stdp" if weighted else "stdp", CONSTANTS=_stdp_constants,
                                           ADJUSTMENT=_weighted_stdp_element if weighted else _stdp_element,
                                           LIMITED=_stdp_limited) for weighted in (False, True)}
STDP = {weighted: loops for weighted, (loops, _) in _STDP_LOOPS.items()}
"""Weight-dependent or not -> optimizer kernel name -> the trace-STDP kernel that runs its rule (``adam`` serves
AdamW too)."""
STDP_IN_PLACE = {weighted: loops for weighted, (_, loops) in _STDP_LOOPS.items()}
"""The same, in place (see IN_PLACE)."""


def _hebbian_products(pre, post, weights, settings, blocks):
    """(the Hebbian product, db) of a HebbianSynapse (``settings`` as _hebbian_evolve's): pre and post scaled
    in their dtype (NumPy's array times a Python number), db = (the column sums of the scaled post, row by
    row) * sign_value, the product (pre.T @ post) of OUTER in ``blocks`` blocks."""
    _, _, hebbian, pre_wght, post_wght, _ = settings
    dtype = weights.dtype.type
    scaled_pre = pre * dtype(pre_wght) if pre_wght != 1.0 else pre
    scaled_post = post * dtype(post_wght) if post_wght != 1.0 else post
    d_biases = scaled_post[0:1].copy()
    for r in range(1, scaled_post.shape[0]):
        for c in range(scaled_post.shape[1]):
            d_biases[0, c] += scaled_post[r, c]
    d_biases *= dtype(hebbian[3])
    product = np.empty((pre.shape[1], post.shape[1]), weights.dtype)
    OUTER(blocks, scaled_pre, scaled_post, product)
    return product, d_biases


HEBBIAN_PRODUCTS = {kind: _specialised(_hebbian_products, kind, OUTER=outer) for kind, outer in OUTERS.items()}
"""cell_kernels.outer_kind -> _hebbian_products through that kind's outer products."""
hebbian_products = HEBBIAN_PRODUCTS["split"]


def _patched_adjustments(pre, post, weights, mask, settings, blocks):
    """A patched Hebbian synapse's calc_update: hebbian_adjustments' dW times the block mask and times 0 where
    the weight is 0 (see _patched_element), and db."""
    product, d_biases = PRODUCTS(pre, post, weights, settings, blocks)
    w, m, d = weights.ravel(), mask.ravel(), product.ravel()
    constants = _hebbian_constants(w.dtype.type, settings[2])
    for i in range(w.size):
        d[i] = _patched_element((d, m), i, w[i], settings[1], constants)[0]
    return product, d_biases


def _hebbian_adjustments(pre, post, weights, settings, blocks):
    """A HebbianSynapse's calc_update: (dW, db) of its rule for the current values (PRODUCTS, then the bound,
    prior and sign of ADJUST on dW), changing nothing else."""
    product, d_biases = PRODUCTS(pre, post, weights, settings, blocks)
    _adjust(weights.ravel(), product.ravel(), settings[1], settings[2])
    return product, d_biases


def _adjustments_by_kind(function):
    """cell_kernels.outer_kind -> a compiled copy of ``function`` through HEBBIAN_PRODUCTS of that kind."""
    return {kind: _specialised(function, kind, PRODUCTS=products) for kind, products in HEBBIAN_PRODUCTS.items()}


HEBBIAN_ADJUSTMENTS = _adjustments_by_kind(_hebbian_adjustments)
"""cell_kernels.outer_kind -> a HebbianSynapse's calc_update (see _hebbian_adjustments)."""
PATCHED_ADJUSTMENTS = _adjustments_by_kind(_patched_adjustments)
"""cell_kernels.outer_kind -> a patched Hebbian synapse's calc_update (see _patched_adjustments)."""
hebbian_adjustments, patched_adjustments = HEBBIAN_ADJUSTMENTS["split"], PATCHED_ADJUSTMENTS["split"]


def _hebbian_evolve(pre, post, weights, out, biases, biases_out, mask, settings, blocks, slots, slots_out, bias_slots,
                    scalars):
    """A HebbianSynapse's evolve: the new weights into ``out``, the optimizer's new slots of the weights into
    ``slots_out`` and the new biases into ``biases_out`` (the arrays themselves to update in place; the
    biases' slots are updated in place), in one pass; returns (dW, db).

    ``settings`` = (masked, prior code, (w_bound, lmbda, l1_ratio, sign_value, low), pre_wght, post_wght,
    has_bias); ``slots``/``bias_slots`` the optimizer's flat state arrays of weights/biases; ``scalars`` the
    step's (its ``advance``, or ``jit_scalars``). pre and post are scaled in their dtype (NumPy's array
    times a Python number), db = (the column sums of the scaled post, row by row) * sign_value, dW the
    product of PRODUCTS in ``blocks`` blocks, then KERNEL (HEBBIAN of the rule) and BIAS (the rule's serial
    kernel) step weights and biases.
    """
    masked, prior, hebbian, _, _, has_bias = settings
    product, d_biases = PRODUCTS(pre, post, weights, settings, blocks)
    KERNEL(weights.ravel(), out.ravel(), (product.ravel(), mask.ravel()), mask.ravel(), masked, prior, hebbian,
           *slots, *slots_out, *scalars)
    if has_bias:
        copy_into(biases_out, 0, biases)
        BIAS(biases_out.ravel(), d_biases.ravel(), *bias_slots, *scalars)
    return product, d_biases


def _hebbian_step(pre, post, weights, biases, mask, settings, optimizer_constants, count, first, blocks, slots,
                  bias_slots, out, biases_out, slots_out):
    """The compiled circuit's form of _hebbian_evolve: counts the step in ``count`` (int64 (1,)) and computes its
    scalars with the rule's jit_scalars (SCALARS); returns (W, b, dW, db). With ``first[0]`` set (the step's
    first run in a call of the circuit; cleared here) the new weights, biases and the weights' slots go into
    ``out``, ``biases_out`` and ``slots_out`` (EVOLVE), the state's arrays unchanged; after it (a scan's later
    rows, and a synapse that updates in place) they are updated in place there (EVOLVE_IN_PLACE)."""
    count[0] += 1
    scalars = SCALARS(optimizer_constants, count[0])
    if first[0]:
        first[0] = 0
        d_weights, d_biases = EVOLVE(pre, post, weights, out, biases, biases_out, mask, settings, blocks, slots,
                                     slots_out, bias_slots, scalars)
    else:
        d_weights, d_biases = EVOLVE_IN_PLACE(pre, post, out, out, biases_out, biases_out, mask, settings, blocks,
                                              slots_out, slots_out, bias_slots, scalars)
    return out, biases_out, d_weights, d_biases


_RULES = {kernel.name: kernel for kernel in (kernels.sgd, kernels.nag, kernels.momentum, kernels.rmsprop,
                                             kernels.adam)}
def compiled_evolves(function, step_function, name, kernels, in_place_kernels, **bindings):
    """(evolve, in-place evolve, step) per optimizer kernel name: compiled copies of ``function`` with KERNEL
    bound to ``kernels``' (or ``in_place_kernels``') loop and BIAS to the rule's serial kernel, and of
    ``step_function`` with EVOLVE and EVOLVE_IN_PLACE bound to the two evolves and SCALARS to the rule's
    jit_scalars; ``name(function, rule)`` names each copy.

    The copies are ``inline="always"``: a compiled circuit takes their code into its own, so that what they
    call (the loops, the products) is linked and optimised by LLVM once per circuit rather than once more for
    each level of calls (the cold compile of a circuit of seven Hebbian synapses: 47 s with the steps and
    evolves compiled on their own, 30 s inlined). Called from Python, each compiles on its own (cached)."""
    def evolves(loops, suffix):
        return {rule: njit(inline="always", **config.jit_options(False))(
                    renamed(function, name(f"evolve{suffix}", rule),
                            {**function.__globals__, **bindings, "KERNEL": loops[rule], "BIAS": kernel.serial}))
                for rule, kernel in _RULES.items()}
    evolve, in_place = evolves(kernels, ""), evolves(in_place_kernels, "_in_place")
    step = {rule: njit(inline="always")(renamed(step_function, name("step", rule),
                                                {**step_function.__globals__, "EVOLVE": evolve[rule],
                                                 "EVOLVE_IN_PLACE": in_place[rule], "SCALARS": kernel.jit_scalars}))
            for rule, kernel in _RULES.items()}
    return evolve, in_place, step


def _by_kind(prefix, kernels, in_place_kernels):
    """(evolve, in-place evolve, step): cell_kernels.outer_kind -> optimizer kernel name -> the compiled copies
    of _hebbian_evolve and _hebbian_step (see compiled_evolves) through HEBBIAN_PRODUCTS of that kind."""
    evolves = {kind: compiled_evolves(_hebbian_evolve, _hebbian_step,
                                      lambda function, rule, kind=kind: f"_{prefix}hebbian_{kind}_{function}_{rule}",
                                      kernels, in_place_kernels, PRODUCTS=products)
               for kind, products in HEBBIAN_PRODUCTS.items()}
    return tuple({kind: copies[index] for kind, copies in evolves.items()} for index in range(3))


HEBBIAN_EVOLVE, HEBBIAN_EVOLVE_IN_PLACE, HEBBIAN_STEP = _by_kind("", HEBBIAN, HEBBIAN_IN_PLACE)
"""cell_kernels.outer_kind -> optimizer kernel name -> a HebbianSynapse's whole evolve (see _hebbian_evolve), the
same in place, and its step in a compiled circuit (counting the optimizer's steps). Each kind compiles only the
outer products it may call (the first compile of a synapse whose product is never split does not compile the
parallel one)."""
HEBBIAN_PATCHED_EVOLVE, HEBBIAN_PATCHED_EVOLVE_IN_PLACE, HEBBIAN_PATCHED_STEP = _by_kind(
    "patched_", HEBBIAN_PATCHED, HEBBIAN_PATCHED_IN_PLACE)
"""The same for a patched Hebbian synapse (HEBBIAN_PATCHED's rule)."""


@njit(inline="always")
def _stdp_sgd_element(w, i, j, d, r, c, p, q, constants, eta):
    """d[r, c] = dW and w[i, j] one SGD step with the update -dW, clipped: what STDP["sgd"] does to an element
    without regularisation, decay or mask (dW at (i, j) of d, or elsewhere in a buffer: see
    stdp_sgd_events). dW is stored plus 0, which makes a -0.0 (a product with a zero spike) +0.0, as d holds
    where no step wrote: so d's bits do not depend on which elements a step wrote."""
    change = _stdp_change(p, q, constants)
    old = w[i, j]
    d[r, c] = change + constants[4]
    w[i, j] = _stdp_limited(_sgd_rule(old, -change, eta), old, constants, False, old)


@njit(**config.jit_options(False))
def within(w, low, high):
    """Whether every element of w lies in [low, high] (NaN does not)."""
    for x in w.ravel():
        if not (low <= x <= high):
            return False
    return True


COLUMN_FACTOR = 20
"""stdp_sgd_events updates every row whole once more than 1/COLUMN_FACTOR of the postsynaptic units spiked: a
spiking column's elements, strided, cost about 20 times as much each as those of whole rows, whose loop
vectorises (measured for 784 x 100 float32: 2.5 us a column of 784, 11-12 us all of w)."""


def stdp_events_later(shape, dtype):
    """The buffers of stdp_sgd_events's deferred dW for weights of ``shape``: (rows of dW, columns of dW,
    their rows, their columns, counts, flags (defer, pending)). The two buffers are as large as the weights,
    but only the rows a step writes are ever touched (np.empty maps no memory until then)."""
    n_in, n_out = shape
    return (np.empty((n_in, n_out), dtype), np.empty((n_out, n_in), dtype), np.empty(n_in, np.int64),
            np.empty(n_out, np.int64), np.zeros(2, np.int64), np.zeros(2, np.int64))


@njit(**config.jit_options(False))
def stdp_sgd_events(w, d, rows, cols, counts, later, pre_spike, post_spike, pre_trace, post_trace,
                    pretrace_target, settings, eta):
    """One batch-1 trace-STDP step through SGD without regularisation, decay (tau_w 0), weight dependence or
    mask, for w already in [0, w_bound] (see :func:`within`), in place on w and on d (which holds dW after
    it): the same bits as the products and STDP["sgd"].

    Only the rows of the presynaptic units that spiked (when A_minus > 0) and the columns of the
    postsynaptic units that spiked have a nonzero dW; elsewhere SGD leaves w as it is, and the clip to
    [0, w_bound] too. So only they are updated, and d is cleared where it holds the dW of an earlier step
    (``rows[:counts[0]]``, ``cols[:counts[1]]``) and written there. When the spikes are many (over a quarter
    of w to update, or over 1/COLUMN_FACTOR of the columns), or ``counts[0]`` < 0 (which a caller sets after
    writing d otherwise), every row of w and d is updated and written whole instead, as the dense kernel
    does. ``rows``, ``cols`` (int64, of the input and output sizes) and ``counts`` (int64 (2,)) are the
    caller's scratch, kept from step to step: where d's nonzero values are.

    ``later`` (see :func:`stdp_events_later`): when its flags' defer is 1 (a compiled circuit in which
    nothing reads dW before the call ends) and the spikes are few, d is not written: the step's dW rows and
    columns go into the buffers' first rows, with their positions, and the flags' pending is set;
    :func:`stdp_events_settle` writes them into d after the call. The weights' rows of a step's spikes come
    from memory once (3.1 MB weights and as much dW do not fit in a core's cache), not with dW's.
    """
    dt = w.dtype.type
    constants = _stdp_constants(dt, settings)
    depressing = constants[5]
    eta_, target = dt(eta), dt(pretrace_target)
    n_in, n_out = w.shape
    spikes_in, spikes_out, trace_in, trace_out = pre_spike[0], post_spike[0], pre_trace[0], post_trace[0]
    n_rows = count_nonzero(spikes_in, n_in if depressing else 0)
    n_cols = count_nonzero(spikes_out, n_out)
    many = n_cols * COLUMN_FACTOR > n_out or 4 * (n_rows * n_out + n_cols * n_in) > w.size
    row_buffer, column_buffer, new_rows, new_cols, new_counts, flags = later
    if flags[0] and not many:
        list_nonzero(spikes_in, n_in if depressing else 0, new_rows)
        list_nonzero(spikes_out, n_out, new_cols)
        new_counts[0], new_counts[1] = n_rows, n_cols
        _stdp_sgd_lines(w, row_buffer, column_buffer, new_rows, new_cols, n_rows, n_cols, True, spikes_in,
                        spikes_out, trace_in, trace_out, target, constants, eta_)
        flags[1] = 1
        return
    whole = many or counts[0] < 0
    if not whole:
        _cleared(d, rows, cols, counts)
    counts[0], counts[1] = n_rows, n_cols
    list_nonzero(spikes_in, n_in if depressing else 0, rows)
    list_nonzero(spikes_out, n_out, cols)
    flags[1] = 0
    if whole:
        for i in range(n_in):
            _stdp_sgd_row(w, i, d, i, trace_in[i] - target, spikes_in[i], spikes_out, trace_out, constants, eta_)
        return
    _stdp_sgd_lines(w, d, d, rows, cols, n_rows, n_cols, False, spikes_in, spikes_out, trace_in, trace_out,
                    target, constants, eta_)


@njit(inline="always")
def _cleared(d, rows, cols, counts):
    """d's rows rows[:counts[0]] and columns cols[:counts[1]] set to 0 (all of d when counts[0] < 0)."""
    if counts[0] < 0:
        for i in range(d.shape[0]):
            for j in range(d.shape[1]):
                d[i, j] = 0
        return
    for k in range(counts[0]):
        row = rows[k]
        for j in range(d.shape[1]):
            d[row, j] = 0
    for k in range(counts[1]):
        column = cols[k]
        for i in range(d.shape[0]):
            d[i, column] = 0


@njit(inline="always")
def _stdp_sgd_lines(w, row_d, column_d, rows, cols, n_rows, n_cols, buffered, spikes_in, spikes_out, trace_in,
                    trace_out, target, constants, eta):
    """The spiking rows of w whole, then the spiking columns (outside those rows); dW into row_d and
    column_d at the elements' own places, or (``buffered``) into their k-th row for the k-th row or column
    (column_d's rows then hold columns)."""
    depressing = constants[5]
    for k in range(n_rows):
        i = rows[k]
        _stdp_sgd_row(w, i, row_d, k if buffered else i, trace_in[i] - target, spikes_in[i], spikes_out, trace_out,
                      constants, eta)
    for k in range(n_cols):
        j = cols[k]
        y, z = spikes_out[j], trace_out[j]
        for i in range(w.shape[0]):
            if not (depressing and spikes_in[i] != 0):
                r, c = (k, i) if buffered else (i, j)
                _stdp_sgd_element(w, i, j, column_d, r, c, (trace_in[i] - target) * y, spikes_in[i] * z, constants,
                                  eta)


@njit(inline="always")
def _stdp_sgd_row(w, i, d, r, x, s, spikes_out, trace_out, constants, eta):
    """Row ``i`` of stdp_sgd_events (x = its pre_trace - pretrace_target, s its pre_spike), dW into row ``r`` of
    d: every element, in a loop that vectorises (indexed by the row, not through a row view: each view costs
    an atomic update of the array's reference count)."""
    for j in range(w.shape[1]):
        _stdp_sgd_element(w, i, j, d, r, j, x * spikes_out[j], s * trace_out[j], constants, eta)


@njit(**config.jit_options(False))
def stdp_events_settle(d, rows, cols, counts, later):
    """After a call whose steps deferred dW (see stdp_sgd_events): when the last step's is pending, d's old
    rows and columns cleared, the step's columns and then rows (which hold the values where the two cross)
    written from the buffers, and rows, cols and counts set to them."""
    row_buffer, column_buffer, new_rows, new_cols, new_counts, flags = later
    if not flags[1]:
        return
    _cleared(d, rows, cols, counts)
    n_rows, n_cols = new_counts[0], new_counts[1]
    for k in range(n_cols):
        column = new_cols[k]
        for i in range(d.shape[0]):
            d[i, column] = column_buffer[k, i]
    for k in range(n_rows):
        row = new_rows[k]
        for j in range(d.shape[1]):
            d[row, j] = row_buffer[k, j]
    for k in range(n_rows):
        rows[k] = new_rows[k]
    for k in range(n_cols):
        cols[k] = new_cols[k]
    counts[0], counts[1] = n_rows, n_cols
    flags[1] = 0


@njit(inline="always")
def _power(x, mu):
    """x**mu with NumPy's fast paths for a scalar exponent: sqrt(x) for 0.5, x*x for 2, x for 1 (the same bits,
    and sqrt vectorises where pow does not), else the C library's pow."""
    if mu == 0.5:
        return np.sqrt(x)
    if mu == 2.0:
        return x * x
    if mu == 1.0:
        return x
    return x**mu


@njit(**config.jit_options(False))
def _factor(w, out, w_bound, mu, potentiating):
    """out = (w_bound - w)**mu (potentiating) or w**mu, by _power: a function of its own, which LLVM
    vectorises (inlined in the evolve, the same loops ran 10x slower)."""
    if potentiating:
        for i in range(w.size):
            out[i] = _power(w_bound - w[i], mu)
    else:
        for i in range(w.size):
            out[i] = _power(w[i], mu)


@njit(inline="always")
def _synced(out, weights, changed):
    """out = weights: only the rows and columns ``changed`` = (rows, cols, counts) lists when out held the
    weights before the last step and that step changed only those (an event-driven one; its bookkeeping, see
    stdp_sgd_events), else all of them (``changed`` None-like: counts[0] < 0 or an empty tuple), and all of them
    too when the columns are many: a column's elements, strided, cost about COLUMN_FACTOR times as much each
    as a whole copy's (measured for 784 x 100 float32: a column 0.85 us, the whole copy 2.9 us; 26 rows and 14
    columns 13.7 us). Each listed index is read once, before its loop (in the loop, Numba's code reloads it
    after every store, which keeps the row's copy from vectorising: 40 rows of 1000, 27 against 2.7 us)."""
    rows, cols, counts, exact = changed
    n_rows, n_cols = counts[0], counts[1]
    n_in, n_out = weights.shape
    if exact[0] == 0 or n_rows < 0 or n_rows * n_out + COLUMN_FACTOR * n_cols * n_in > weights.size:
        copy_into(out, 0, weights)
        return
    for k in range(n_rows):
        row = rows[k]
        for j in range(n_out):
            out[row, j] = weights[row, j]
    for k in range(n_cols):
        column = cols[k]
        for i in range(n_in):
            out[i, column] = weights[i, column]


def _stdp_evolve(pre_spike, post_spike, pre_trace, post_trace, weights, out, mask, settings, scratch, blocks,
                 bounded, slots, slots_out, scalars):
    """A TraceSTDPSynapse's evolve: the new weights into ``out`` and the optimizer's new slots into
    ``slots_out`` (``weights`` and ``slots`` themselves to update in place); returns dW.

    ``settings`` = (the rule's (A_plus, A_minus, w_bound, tau_w), pretrace_target, w_bound and mu in the
    weights' dtype, masked, depressing (A_minus > 0), sparse (the event-driven step may apply: batch 1, SGD,
    no decay, weight dependence or mask)); ``scratch`` = (the depression product, and for the event-driven
    step dW kept from step to step, rows, cols, counts and its deferred dW: see stdp_sgd_events; then the two
    factors of the weight dependence; then ``changed``, the last step's rows, cols and counts and ``exact``
    (1 when ``out`` held the weights before the last step), so that bringing ``out`` to the weights copies
    only what that step changed); ``bounded[0]`` is 1 when the weights are known to lie in [0, w_bound] (set
    here after checking them, or after a step that clipped them).

    With ``sparse``, no regularisation (``scalars[1]`` of SGD) and weights in bounds, the event-driven step
    runs on ``out`` (a copy of the weights unless it is them; whole rows when the spikes are many, see
    stdp_sgd_events); otherwise p = (pre_trace - pretrace_target).T @ post_spike and q = pre_spike.T @
    post_trace (OUTER, ``blocks`` blocks) go to KERNEL (STDP of the rule), with the factors
    (w_bound - w)**mu and w**mu when WEIGHTED (see _power).
    """
    rule, target, w_bound, mu, masked, depressing, sparse = settings
    depression, d_weights, rows, cols, counts, later, potentiating, depressing_factor, changed = scratch
    if sparse and scalars[1] == 0:
        if bounded[0] == 0 and within(weights, weights.dtype.type(0), w_bound):
            bounded[0] = 1
        if bounded[0] == 1:
            if out.ctypes.data != weights.ctypes.data:
                _synced(out, weights, changed)
            stdp_sgd_events(out, d_weights, rows, cols, counts, later, pre_spike, post_spike, pre_trace, post_trace,
                            target, rule, scalars[0])
            return d_weights
    potentiation = np.empty(weights.shape, weights.dtype)
    OUTER(blocks, pre_trace - target, post_spike, potentiation)
    if depressing:
        OUTER(blocks, pre_spike, post_trace, depression)
    else:
        depression = potentiation
    w, a, b = weights.ravel(), potentiation.ravel(), depression.ravel()
    if WEIGHTED:
        a = potentiating.ravel()
        _factor(w, a, w_bound, mu, True)
        b = a
        if depressing:
            b = depressing_factor.ravel()
            _factor(w, b, w_bound, mu, False)
    KERNEL(w, out.ravel(), (potentiation.ravel(), depression.ravel(), a, b), mask.ravel(), masked, 0, rule, *slots,
           *slots_out, *scalars)
    if sparse:
        counts[0] = -1
        later[5][1] = 0
        bounded[0] = 1
    return potentiation


def _stdp_step(pre_spike, post_spike, pre_trace, post_trace, weights, mask, settings, optimizer_constants, count,
               first, scratch, blocks, bounded, slots, out, slots_out):
    """The compiled circuit's form of _stdp_evolve, as _hebbian_step: returns (W, dW), the new weights and
    slots written into ``out`` and ``slots_out`` by the step's first run in a call (``first[0]``), updated in
    place there after it."""
    count[0] += 1
    scalars = SCALARS(optimizer_constants, count[0])
    if first[0]:
        first[0] = 0
        d_weights = EVOLVE(pre_spike, post_spike, pre_trace, post_trace, weights, out, mask, settings, scratch,
                           blocks, bounded, slots, slots_out, scalars)
    else:
        d_weights = EVOLVE_IN_PLACE(pre_spike, post_spike, pre_trace, post_trace, out, out, mask, settings,
                                    scratch, blocks, bounded, slots_out, slots_out, scalars)
    return out, d_weights


def _stdp_name(weighted, kind, function, rule):
    return f"_{'weighted_' if weighted else ''}stdp_{kind}_{function}_{rule}"


_STDP_EVOLVES = {(weighted, kind): compiled_evolves(
    _stdp_evolve, _stdp_step, partial(_stdp_name, weighted, kind), STDP[weighted], STDP_IN_PLACE[weighted],
    WEIGHTED=weighted, OUTER=outer) for weighted in (False, True) for kind, outer in OUTERS.items()}
STDP_EVOLVE, STDP_EVOLVE_IN_PLACE, STDP_STEP = ({key: evolves[index] for key, evolves in _STDP_EVOLVES.items()}
                                                for index in range(3))
"""(weight-dependent or not, cell_kernels.outer_kind) -> optimizer kernel name -> a TraceSTDPSynapse's whole
evolve (see _stdp_evolve), the same in place, and its step in a compiled circuit (counting the optimizer's
steps). Each kind compiles only the outer products it may call (a batch-1 synapse's, none of the summed ones,
which took 5-7 s of a spiking circuit's first compile)."""
