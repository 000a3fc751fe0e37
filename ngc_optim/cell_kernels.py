"""Numba kernels of the graded cells: one pass per call, new output arrays (compartments stay functional).

A predictive-coding network calls its cells tens of times per batch on small
arrays (e.g. 50 x 128), where a chain of NumPy ufuncs costs a few microseconds
per operation; each kernel here does a cell's whole step in one loop that the
compiler vectorises. Inputs of one call share one shape and dtype (the cells
check this); constants are rounded to that dtype, so float32 cells compute in
float32.

Activations follow ngc-learn's definitions: identity; sigmoid; tanh; relu
(derivative 1 at x >= 0, else 0); lrelu (slope 0.01); softplus (log(1 + e^x),
derivative sigmoid). In float32, tanh is the rational approximation of Eigen,
which XLA (and so JAX, and ngc-learn) uses on CPUs: within 6 float32 ulp of the
exact value, and it vectorises where the C library's tanhf does not (2 against
76 us for 6,400 values); sigmoid(x) is 0.5 * tanh(0.5 * x) + 0.5 in float32
(absolute error below 3e-7). float64 uses NumPy's functions.

The rate-cell kernel is compiled once per activation, leak and integration
used (a copy of one loop with them bound as constants), so the loop holds no
branch on them.

Each cell's loop is written once, into given output arrays (``RATE_INTO``,
``gaussian_into``, ``transmit_into``); the components' kernels call it on
whole new arrays. Every loop runs from index 0 over its arrays: a loop from a
variable start index does not vectorise (Numba's negative-index wraparound
check stays in it).
"""

import functools

import numpy as np
from numba import njit, prange
from numba.core import types as numba_types
from numba.extending import overload

from . import config, threads
from .kernels import ELEMENTS, renamed
from .product_kernels import columns_product_into, own_product, rows_product_into

__all__ = ["ACTIVATIONS", "BERNOULLI_EPS", "LEAKS", "OUTERS", "RATE_CARRIED", "RATE_INTO", "RATE_INTO_STORED",
           "RATE_KINDS", "RATE_STEPS", "SPARSE_FRACTION", "SUMMED_OUTER", "THRESHOLDS", "affine", "bernoulli_loss",
           "bernoulli_rows", "block_start", "dense_transmit", "filled", "gaussian_error", "gaussian_error_loss",
           "gaussian_error_rows", "gaussian_error_step", "gaussian_into", "gaussian_loss", "gaussian_rows",
           "laplacian_error_loss", "laplacian_error_rows", "laplacian_error_step", "laplacian_loss", "laplacian_rows",
           "one_row_outer_into", "outer_blocks", "outer_into", "outer_kind", "product_into", "rate_lateral_step",
           "rate_optimized_step", "scaled", "serial_outer_into", "softmax_loss", "softmax_row_losses", "softmax_rows",
           "specialised", "sum_of_squares", "summed_outer", "tanh", "transmit", "transmit_into", "transposed_transmit",
           "zero_d"]

LEAKS = ("gaussian", "laplacian", "cauchy", "exp")
"""A rate cell's prior, by the leak it puts in its dynamics (see _rate_into)."""
THRESHOLDS = ("none", "soft_threshold", "cauchy_threshold")
"""A rate cell's thresholding of z after each step (see _rate_into)."""

_jit = njit(**config.jit_options(False))
_TANH_CLAMP = 7.90531110763549805
_TANH_P = (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
           1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03)
_TANH_Q = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03)


def tanh(x):
    """Hyperbolic tangent of a scalar in compiled code: the rational approximation for float32 (see the module)."""
    return np.tanh(x)


@overload(tanh, inline="always")
def _tanh_overload(x):
    if isinstance(x, numba_types.Float) and x.bitwidth == 32:
        f = np.float32
        clamp = f(_TANH_CLAMP)
        p13, p11, p9, p7, p5, p3, p1 = map(f, _TANH_P)
        q6, q4, q2, q0 = map(f, _TANH_Q)

        def rational(x):
            x = min(max(x, -clamp), clamp)
            x2 = x * x
            p = x2 * (x2 * (x2 * (x2 * (x2 * (x2 * p13 + p11) + p9) + p7) + p5) + p3) + p1
            return x * p / (x2 * (x2 * (x2 * q6 + q4) + q2) + q0)

        return rational
    return lambda x: np.tanh(x)


def sigmoid(x):
    """Logistic sigmoid of a scalar in compiled code: 0.5 * tanh(0.5 * x) + 0.5 in float32."""
    return 1 / (1 + np.exp(-x))


@overload(sigmoid, inline="always")
def _sigmoid_overload(x):
    if isinstance(x, numba_types.Float) and x.bitwidth == 32:
        half = np.float32(0.5)
        return lambda x: half * tanh(half * x) + half
    return lambda x: 1 / (1 + np.exp(-x))


@njit(inline="always")
def _identity(x, zero, one, slope):
    return x


@njit(inline="always")
def _identity_derivative(x, zero, one, slope):
    return one


@njit(inline="always")
def _sigmoid(x, zero, one, slope):
    return sigmoid(x)


@njit(inline="always")
def _sigmoid_derivative(x, zero, one, slope):
    s = sigmoid(x)
    return s * (one - s)


@njit(inline="always")
def _tanh(x, zero, one, slope):
    return tanh(x)


@njit(inline="always")
def _tanh_derivative(x, zero, one, slope):
    t = tanh(x)
    return one - t * t


@njit(inline="always")
def _relu(x, zero, one, slope):
    return zero if x < zero else x  # noqa: FURB136 (NaN passes through, as with np.maximum)


@njit(inline="always")
def _relu_derivative(x, zero, one, slope):
    return zero if x < zero else one


@njit(inline="always")
def _lrelu(x, zero, one, slope):
    return x * slope if x < zero else x


@njit(inline="always")
def _lrelu_derivative(x, zero, one, slope):
    return slope if x < zero else one


@njit(inline="always")
def _softplus(x, zero, one, slope):
    return max(x, zero) + np.log1p(np.exp(-abs(x)))


ACTIVATIONS = {
    "identity": (_identity, _identity_derivative),
    "sigmoid": (_sigmoid, _sigmoid_derivative),
    "tanh": (_tanh, _tanh_derivative),
    "relu": (_relu, _relu_derivative),
    "lrelu": (_lrelu, _lrelu_derivative),
    "softplus": (_softplus, _sigmoid),
}
"""act_fx name -> (fx, fx') as compiled element functions ``f(x, zero, one, slope)``."""


FX, FX_DERIVATIVE = ACTIVATIONS["identity"]
FX_LATERAL, FX_LATERAL_DERIVATIVE = ACTIVATIONS["identity"]
LEAK, MIDPOINT, STORED_SLOPE, LATERAL = 0, False, False, False
INTO = None
"""The settings of the rate-cell loops below (and INTO, the loop a driver calls); each compiled copy binds its
own (see specialised)."""


@njit(inline="always")
def _leak(z, code, one, two):
    """The prior's leak at z (LEAKS[code]): z, sign(z), 2z/(1 + z**2), or 2z * exp(-z**2), as ngc-learn's."""
    if code == 1:
        return np.sign(z)
    if code == 2:
        return (z * two) / (one + z * z)
    if code == 3:
        return np.exp(-(z * z)) * z * two
    return z


@njit(inline="always")
def _thresholded(z, code, lmbda, zero, one, half):
    """z after THRESHOLDS[code] with strength lmbda: none; soft, max(z - lmbda, 0) - max(-z - lmbda, 0);
    Cauchy, (z + r)/2 * [z >= lmbda] + (z - r)/2 * [z <= -lmbda] with r = sqrt(max(z**2 - lmbda, 0))
    (ngc-learn's documented form: its 3.2.3 code calls jnp.maximum with one argument and fails)."""
    if code == 1:
        return np.maximum(z - lmbda, zero) - np.maximum(-z - lmbda, zero)
    if code == 2:
        root = np.sqrt(np.maximum(z * z - lmbda, zero))
        above, below = (one if z >= lmbda else zero), (one if z <= -lmbda else zero)
        return (z + root) * half * above + (z - root) * half * below
    return z


def _rate_into(z, j, j_td, j_lat, out_z, out_f, out_lat, fx_prime, dt, tau_m, gamma, output_scale, resist_scale,
               threshold, lmbda):
    """One rate-cell step on flat arrays of one size, into out_z and out_f (out_z may be z):

    tau_m > 0:  p = j * fx'(z) * resist_scale + j_td;  tau_m dz/dt = -gamma * leak(z) + p,
                Euler, or midpoint (the derivative at z + dz/dt * dt/2, with p kept);
                leak(z) = z (gaussian), sign(z) (laplacian), 2z/(1 + z**2) (cauchy) or 2z exp(-z**2) (exp),
                LEAKS[LEAK]; then z' = threshold(z') (THRESHOLDS[threshold], strength lmbda; see _thresholded).
    tau_m == 0: z' = j + j_td.
    zF = fx(z') * output_scale.

    With LATERAL bound true (ngc-learn's lateral pressure), p = (j * fx'(z) * resist_scale + j_lat *
    fx_lat'(z) * resist_scale) + j_td when stateful, and out_lat = fx_lat(z') * output_scale (FX_LATERAL);
    otherwise j_lat and out_lat are not touched.

    With STORED_SLOPE bound true (a loop stepping one cell repeatedly), fx'(z) is read from ``fx_prime``
    and fx'(z') written there, computed with fx(z') (one evaluation of, e.g., tanh instead of two);
    otherwise ``fx_prime`` is not touched.

    z' is written in one loop and zF (with fx'(z')) in a second: LLVM vectorises the two where it left the one
    loop scalar (a stateful tanh cell's step over 64,000 float32 values: 106 against 128 us, Numba 0.68).
    """
    dtype = z.dtype.type
    zero, one, slope = dtype(0), dtype(1), dtype(0.01)
    step, half, gamma_ = dtype(dt), dtype(dt * 0.5), dtype(gamma)
    scale, resist = dtype(output_scale), dtype(resist_scale)
    two, point_five, lmbda_ = dtype(2), dtype(0.5), dtype(lmbda)
    if tau_m > 0:
        rate = dtype(1.0 / tau_m)
        for i in range(z.size):
            zi = z[i]
            pressure = j[i] * (fx_prime[i] if STORED_SLOPE else FX_DERIVATIVE(zi, zero, one, slope)) * resist
            if LATERAL:
                pressure = pressure + j_lat[i] * FX_LATERAL_DERIVATIVE(zi, zero, one, slope) * resist
            pressure = pressure + j_td[i]
            velocity = (-_leak(zi, LEAK, one, two) * gamma_ + pressure) * rate
            if MIDPOINT:
                halfway = zi + velocity * half
                velocity = (-_leak(halfway, LEAK, one, two) * gamma_ + pressure) * rate
            out_z[i] = _thresholded(zi + velocity * step, threshold, lmbda_, zero, one, point_five)
        for i in range(z.size):
            zi = out_z[i]
            out_f[i] = FX(zi, zero, one, slope) * scale
            if STORED_SLOPE:
                fx_prime[i] = FX_DERIVATIVE(zi, zero, one, slope)
            if LATERAL:
                out_lat[i] = FX_LATERAL(zi, zero, one, slope) * scale
    else:
        for i in range(z.size):
            zi = j[i] + j_td[i]
            out_z[i] = zi
            out_f[i] = FX(zi, zero, one, slope) * scale
            if LATERAL:
                out_lat[i] = FX_LATERAL(zi, zero, one, slope) * scale


def _rate_step(z, j, j_td, dt, tau_m, gamma, output_scale, resist_scale, threshold, lmbda):
    """One step of a rate cell (see _rate_into): (z', fx(z') * output_scale), new arrays."""
    new_z, new_f = np.empty_like(z), np.empty_like(z)
    INTO(z.ravel(), j.ravel(), j_td.ravel(), z.ravel(), new_z.ravel(), new_f.ravel(), new_f.ravel(), z.ravel(), dt,
         tau_m, gamma, output_scale, resist_scale, threshold, lmbda)
    return new_z, new_f


def _rate_step_lateral(z, j, j_td, j_lat, dt, tau_m, gamma, output_scale, resist_scale, threshold, lmbda):
    """One step of a rate cell with lateral pressure j_lat (see _rate_into, LATERAL): (z', fx(z') *
    output_scale, fx_lat(z') * output_scale), new arrays."""
    new_z, new_f, new_lat = np.empty_like(z), np.empty_like(z), np.empty_like(z)
    INTO(z.ravel(), j.ravel(), j_td.ravel(), j_lat.ravel(), new_z.ravel(), new_f.ravel(), new_lat.ravel(),
         z.ravel(), dt, tau_m, gamma, output_scale, resist_scale, threshold, lmbda)
    return new_z, new_f, new_lat


def _rate_slope(z, tau_m, gamma, output_scale, resist_scale, threshold, lmbda):
    """fx'(z), a new array: the slope a carried rate step starts from (see RATE_CARRIED)."""
    dtype = z.dtype.type
    zero, one, slope = dtype(0), dtype(1), dtype(0.01)
    fx_prime = np.empty_like(z)
    flat, out = z.ravel(), fx_prime.ravel()
    for i in range(flat.size):
        out[i] = FX_DERIVATIVE(flat[i], zero, one, slope)
    return fx_prime


def _rate_step_carried(z, j, j_td, fx_prime, dt, tau_m, gamma, output_scale, resist_scale, threshold, lmbda):
    """_rate_step reading fx'(z) from ``fx_prime`` and leaving fx'(z') there (INTO bound to a STORED_SLOPE
    copy of _rate_into)."""
    new_z, new_f = np.empty_like(z), np.empty_like(z)
    INTO(z.ravel(), j.ravel(), j_td.ravel(), z.ravel(), new_z.ravel(), new_f.ravel(), new_f.ravel(), fx_prime.ravel(),
         dt, tau_m, gamma, output_scale, resist_scale, threshold, lmbda)
    return new_z, new_f


def specialised(func, act_fx, leak, integration, parallel=False, inline="never", suffix="", **bindings):
    """A compiled copy of ``func`` with the activation (FX, FX_DERIVATIVE), leak (LAPLACIAN), integration
    (MIDPOINT) and any other global names in ``bindings`` bound as constants (so its loops have no branch on
    them), under its own name (so its own cache entry: bindings set to True, ``parallel`` and ``suffix``
    are part of the name); ``parallel`` compiles its ``prange`` loops."""
    fx, derivative = ACTIVATIONS[act_fx]
    namespace = {**func.__globals__, "FX": fx, "FX_DERIVATIVE": derivative, "LEAK": LEAKS.index(leak),
                 "MIDPOINT": integration == "midpoint", **bindings}
    flags = "".join(f"_{key.lower()}" for key, value in bindings.items() if value is True)
    flags += "_parallel" if parallel else ""
    name = f"{func.__name__}_{act_fx}_{leak}_{integration}{flags}{suffix}"
    return njit(**config.jit_options(parallel), inline=inline)(renamed(func, name, namespace))


RATE_KINDS = tuple((act_fx, leak, integration) for act_fx in ACTIVATIONS for leak in LEAKS
                   for integration in ("euler", "midpoint"))
"""Every (act_fx, leak, integration) of a rate cell."""
RATE_INTO = {kind: specialised(_rate_into, *kind, inline="always") for kind in RATE_KINDS}
"""(act_fx, leak, integration) -> ``_rate_into`` compiled for it."""
RATE_INTO_STORED = {kind: specialised(_rate_into, *kind, inline="always", STORED_SLOPE=True) for kind in RATE_KINDS}
"""(act_fx, leak, integration) -> ``_rate_into`` compiled for it, reading and writing fx' in ``fx_prime``."""
RATE_STEPS = {kind: specialised(_rate_step, *kind, INTO=RATE_INTO[kind]) for kind in RATE_KINDS}
"""(act_fx, leak, integration) -> the rate-cell kernel ``(z, j, j_td, dt, tau_m, gamma, output_scale,
resist_scale) -> (z', zF)``; each compiles on its first call."""
RATE_CARRIED = {kind: (specialised(_rate_slope, *kind), specialised(_rate_step_carried, *kind,
                                                                   INTO=RATE_INTO_STORED[kind]))
                for kind in RATE_KINDS}
"""(act_fx, leak, integration) -> (start, step) of a rate cell stepped repeatedly (a circuit's carry, see
:class:`ngc_optim.circuit.Step`): ``start(z, tau_m, gamma, output_scale, resist_scale) -> fx'(z)`` and
``step(z, j, j_td, fx_prime, dt, ...) -> (z', zF)``, which reads fx'(z) from fx_prime and writes fx'(z')
there, computed with fx(z') (one tanh per value instead of two); the bits of RATE_STEPS."""


@functools.cache
def rate_lateral_step(kind, fx_lat):
    """The kernel ``(z, j, j_td, j_lat, dt, tau_m, gamma, output_scale, resist_scale, threshold, lmbda) ->
    (z', zF, zF_lat)`` of a rate cell of ``kind`` (act_fx, leak, integration) with lateral pressure through
    the activation ``fx_lat`` (see _rate_into); compiled the first time it is asked for."""
    lateral, lateral_derivative = ACTIVATIONS[fx_lat]
    into = specialised(_rate_into, *kind, inline="always", suffix=f"_{fx_lat}", LATERAL=True, FX_LATERAL=lateral,
                       FX_LATERAL_DERIVATIVE=lateral_derivative)
    return specialised(_rate_step_lateral, *kind, suffix=f"_{fx_lat}", INTO=into)


SLOTS = 0
CAST = ELEMENT = SCALARS = SLOPE = None
"""The state optimizer of the loops below: its state slots (0, 1 or 2), and its rule's scalars, cast and element
(see :data:`ngc_optim.kernels.ELEMENTS`); each compiled copy binds its own (see rate_optimized_step)."""


def _rate_optimized_into(z, j, j_td, count, first, second, out_z, out_f, out_count, out_first, out_second, fx_prime,
                         dt, tau_m, gamma, output_scale, resist_scale, threshold, lmbda, optimizer):
    """One step of a rate cell whose z an optimizer steps, on (rows, n) arrays, into the out_ arrays:

    g = gamma * leak(z) - (j * fx'(z) * resist_scale + j_td)     the energy's gradient, -tau_m dz/dt of _rate_into
    z', first', second' = the optimizer's rule on (z, g, first, second) at step t = count + 1 (each row its own)
    z' = threshold(z');  zF = fx(z') * output_scale;  count' = count + 1

    ``optimizer`` holds the optimizer's constants (``Optimizer.step_constants``); SCALARS gives a step's scalars
    from them and t. dt and tau_m are not used: the optimizer's step size replaces dt / tau_m. Only the first
    SLOTS of first and second are read or written (SGD has none, NAG, momentum and RMSprop one, Adam two).
    With STORED_SLOPE bound true, fx'(z) is read from ``fx_prime`` and fx'(z') written there, as _rate_into's.
    """
    dtype = z.dtype.type
    zero, one, slope = dtype(0), dtype(1), dtype(0.01)
    gamma_, scale, resist = dtype(gamma), dtype(output_scale), dtype(resist_scale)
    two, point_five, lmbda_ = dtype(2), dtype(0.5), dtype(lmbda)
    for r in range(z.shape[0]):
        t = count[r, 0] + 1
        out_count[r, 0] = t
        cast = CAST(dtype, SCALARS(optimizer, t))
        zr, jr, tdr, new_z, new_f = z[r], j[r], j_td[r], out_z[r], out_f[r]
        first_r, second_r, new_first, new_second = first[r], second[r], out_first[r], out_second[r]
        slopes = fx_prime[r]
        for i in range(zr.size):
            zi = zr[i]
            pressure = jr[i] * (slopes[i] if STORED_SLOPE else FX_DERIVATIVE(zi, zero, one, slope)) * resist
            pressure = pressure + tdr[i]
            gradient = _leak(zi, LEAK, one, two) * gamma_ - pressure
            p, a, b = ELEMENT(zi, gradient, first_r[i] if SLOTS > 0 else zero, second_r[i] if SLOTS > 1 else zero,
                              cast)
            new_z[i] = _thresholded(p, threshold, lmbda_, zero, one, point_five)
            if SLOTS > 0:
                new_first[i] = a
            if SLOTS > 1:
                new_second[i] = b
        for i in range(zr.size):
            zi = new_z[i]
            new_f[i] = FX(zi, zero, one, slope) * scale
            if STORED_SLOPE:
                slopes[i] = FX_DERIVATIVE(zi, zero, one, slope)


def _rate_optimized_step0(z, j, j_td, count, dt, tau_m, gamma, output_scale, resist_scale, threshold, lmbda,
                          optimizer):
    """(z', zF, count') of _rate_optimized_into for an optimizer without state slots, new arrays."""
    new_z, new_f, new_count = np.empty_like(z), np.empty_like(z), np.empty_like(count)
    INTO(z, j, j_td, count, z, z, new_z, new_f, new_count, new_z, new_z, z, dt, tau_m, gamma, output_scale,
         resist_scale, threshold, lmbda, optimizer)
    return new_z, new_f, new_count


def _rate_optimized_step1(z, j, j_td, count, first, dt, tau_m, gamma, output_scale, resist_scale, threshold, lmbda,
                          optimizer):
    """(z', zF, count', first') of _rate_optimized_into for an optimizer with one state slot, new arrays."""
    new_z, new_f, new_count, new_first = np.empty_like(z), np.empty_like(z), np.empty_like(count), np.empty_like(z)
    INTO(z, j, j_td, count, first, first, new_z, new_f, new_count, new_first, new_first, z, dt, tau_m, gamma,
         output_scale, resist_scale, threshold, lmbda, optimizer)
    return new_z, new_f, new_count, new_first


def _rate_optimized_step2(z, j, j_td, count, first, second, dt, tau_m, gamma, output_scale, resist_scale, threshold,
                          lmbda, optimizer):
    """(z', zF, count', first', second') of _rate_optimized_into for an optimizer with two state slots, new
    arrays."""
    new_z, new_f, new_count = np.empty_like(z), np.empty_like(z), np.empty_like(count)
    new_first, new_second = np.empty_like(z), np.empty_like(z)
    INTO(z, j, j_td, count, first, second, new_z, new_f, new_count, new_first, new_second, z, dt, tau_m, gamma,
         output_scale, resist_scale, threshold, lmbda, optimizer)
    return new_z, new_f, new_count, new_first, new_second


def _rate_optimized_carried0(z, j, j_td, count, fx_prime, dt, tau_m, gamma, output_scale, resist_scale, threshold,
                             lmbda, optimizer):
    """_rate_optimized_step0 reading fx'(z) from ``fx_prime`` and leaving fx'(z') there (INTO bound to a
    STORED_SLOPE copy of _rate_optimized_into); the same bits."""
    new_z, new_f, new_count = np.empty_like(z), np.empty_like(z), np.empty_like(count)
    INTO(z, j, j_td, count, z, z, new_z, new_f, new_count, new_z, new_z, fx_prime, dt, tau_m, gamma, output_scale,
         resist_scale, threshold, lmbda, optimizer)
    return new_z, new_f, new_count


def _rate_optimized_carried1(z, j, j_td, count, first, fx_prime, dt, tau_m, gamma, output_scale, resist_scale,
                             threshold, lmbda, optimizer):
    """_rate_optimized_step1 with fx' carried in ``fx_prime`` (see _rate_optimized_carried0)."""
    new_z, new_f, new_count, new_first = np.empty_like(z), np.empty_like(z), np.empty_like(count), np.empty_like(z)
    INTO(z, j, j_td, count, first, first, new_z, new_f, new_count, new_first, new_first, fx_prime, dt, tau_m, gamma,
         output_scale, resist_scale, threshold, lmbda, optimizer)
    return new_z, new_f, new_count, new_first


def _rate_optimized_carried2(z, j, j_td, count, first, second, fx_prime, dt, tau_m, gamma, output_scale,
                             resist_scale, threshold, lmbda, optimizer):
    """_rate_optimized_step2 with fx' carried in ``fx_prime`` (see _rate_optimized_carried0)."""
    new_z, new_f, new_count = np.empty_like(z), np.empty_like(z), np.empty_like(count)
    new_first, new_second = np.empty_like(z), np.empty_like(z)
    INTO(z, j, j_td, count, first, second, new_z, new_f, new_count, new_first, new_second, fx_prime, dt, tau_m, gamma,
         output_scale, resist_scale, threshold, lmbda, optimizer)
    return new_z, new_f, new_count, new_first, new_second


def _rate_optimized_slope(z, tau_m, gamma, output_scale, resist_scale, threshold, lmbda, optimizer):
    """fx'(z), a new array: the slope a carried optimized step starts from."""
    return SLOPE(z, tau_m, gamma, output_scale, resist_scale, threshold, lmbda)


_RATE_OPTIMIZED_STEPS = (_rate_optimized_step0, _rate_optimized_step1, _rate_optimized_step2)
_RATE_OPTIMIZED_CARRIED = (_rate_optimized_carried0, _rate_optimized_carried1, _rate_optimized_carried2)


@functools.cache
def rate_optimized_step(act_fx, leak, optimizer_kernel, slots):
    """(kernel, (start, carried)) of a rate cell (act_fx, leak) whose z the optimizer of ``optimizer_kernel`` (a
    :class:`ngc_optim.kernels.Kernel`, with ``slots`` state slots) steps (see _rate_optimized_into), compiled
    the first time they are asked for: the kernel ``(z, j, j_td, count, *slots, dt, tau_m, gamma, output_scale,
    resist_scale, threshold, lmbda, optimizer) -> (z', zF, count', *slots')``, and the start and step of a
    circuit's carry (see :class:`ngc_optim.circuit.Step` and RATE_CARRIED): ``start(z, *constants) -> fx'(z)``
    and ``carried(z, j, j_td, count, *slots, fx_prime, dt, *constants)``, the kernel's bits."""
    cast, element = ELEMENTS[optimizer_kernel.name]
    suffix = f"_{optimizer_kernel.name}"
    bindings = {"SLOTS": slots, "CAST": cast, "ELEMENT": element, "SCALARS": optimizer_kernel.jit_scalars}
    into = specialised(_rate_optimized_into, act_fx, leak, "euler", inline="always", suffix=suffix, **bindings)
    stored = specialised(_rate_optimized_into, act_fx, leak, "euler", inline="always", suffix=suffix,
                         STORED_SLOPE=True, **bindings)
    kind = (act_fx, leak, "euler")
    start = specialised(_rate_optimized_slope, *kind, suffix=suffix, SLOPE=RATE_CARRIED[kind][0])
    return (specialised(_RATE_OPTIMIZED_STEPS[slots], *kind, suffix=suffix, INTO=into),
            (start, specialised(_RATE_OPTIMIZED_CARRIED[slots], *kind, suffix=suffix, INTO=stored)))


@njit(**config.jit_options(False), inline="always")
def gaussian_into(mu, target, sigma, modulator, mask, dmu, dtarget):
    """dmu = (target - mu)/sigma * modulator * mask, dtarget = -(target - mu)/sigma * modulator * mask, on flat
    arrays of one size, into dmu and dtarget."""
    sigma_ = mu.dtype.type(sigma)
    for i in range(mu.size):
        d = (target[i] - mu[i]) / sigma_
        gate = modulator[i] * mask[i]
        dmu[i] = d * gate
        dtarget[i] = -d * gate


@_jit
def gaussian_rows(mu, target, sigma, modulator, mask):
    """(dmu, dtarget): dmu = (target - mu)/sigma * modulator * mask, dtarget = -(target - mu)/sigma *
    modulator * mask (each row on its own)."""
    dmu, dtarget = np.empty_like(mu), np.empty_like(mu)
    gaussian_into(mu.ravel(), target.ravel(), sigma, modulator.ravel(), mask.ravel(), dmu.ravel(), dtarget.ravel())
    return dmu, dtarget


@_jit
def gaussian_loss(mu, target, sigma):
    """L = -0.5 * sum((target - mu)**2) / sigma (a float, summed in float64)."""
    return -0.5 * sum_of_squares(target.ravel(), mu.ravel()) / sigma


@_jit
def gaussian_error(mu, target, sigma, modulator, mask):
    """(dmu, dtarget, L) of gaussian_rows and gaussian_loss."""
    dmu, dtarget = gaussian_rows(mu, target, sigma, modulator, mask)
    return dmu, dtarget, gaussian_loss(mu, target, sigma)


@_jit
def laplacian_rows(shift, target, scale, modulator, mask):
    """(dshift, dtarget): dshift = sign(target - shift)/scale * modulator * mask, dtarget = -dshift (before
    the gate's sign), each row on its own."""
    dtype = shift.dtype.type
    scale_ = dtype(scale)
    dshift, dtarget = np.empty_like(shift), np.empty_like(shift)
    s, t, g1, g2, out_shift, out_target = (shift.ravel(), target.ravel(), modulator.ravel(), mask.ravel(),
                                           dshift.ravel(), dtarget.ravel())
    for i in range(s.size):
        d = np.sign(t[i] - s[i]) / scale_
        gate = g1[i] * g2[i]
        out_shift[i] = d * gate
        out_target[i] = -d * gate
    return dshift, dtarget


@_jit
def laplacian_loss(shift, target, scale):
    """L = -sum(|target - shift|) / scale (a float, summed in float64 in order)."""
    s, t = shift.ravel(), target.ravel()
    total = 0.0
    for i in range(s.size):
        total += abs(np.float64(t[i] - s[i]))
    return -total / scale


@njit(**{**config.jit_options(False), "fastmath": {"reassoc"}})
def sum_of_squares(a, b):
    """sum((a - b)**2) in float64. Only this sum may be reassociated (so that it vectorises): the outputs of
    the error kernels are computed without fastmath."""
    total = 0.0
    for i in range(a.size):
        difference = np.float64(a[i] - b[i])
        total += difference * difference
    return total


@njit(**config.jit_options(False), inline="always")
def transmit_into(product, gate, factor, biases):
    """product * gate * factor + biases, in place on ``product`` (biases (1, n))."""
    factor_ = product.dtype.type(factor)
    for r in range(product.shape[0]):
        for c in range(product.shape[1]):
            product[r, c] = product[r, c] * gate[r, c] * factor_ + biases[0, c]


SPARSE_FRACTION = 8
"""A one-row input with at most 1/SPARSE_FRACTION of its entries nonzero (spikes, say) is multiplied by
summing the weight rows of its nonzero entries (see product_into)."""


@njit(inline="always")
def count_nonzero(values, n):
    """How many of values[:n] are nonzero, in a loop that vectorises (a sum of booleans, ``n += x != 0``,
    does not: 0.48 against 0.06 us for 1000)."""
    count = 0
    for i in range(n):
        if values[i] != 0:
            count += 1
    return count


@njit(inline="always")
def list_nonzero(values, n, listing):
    """The indices of the nonzero values[:n] into ``listing``, in order."""
    k = 0
    for i in range(n):
        if values[i] != 0:
            listing[k] = i
            k += 1


@njit(**config.inline_options())
def product_into(inputs, weights, out):
    """out = inputs @ weights. A single row with at most 1/SPARSE_FRACTION of it nonzero (e.g. spikes) is the
    sum, in input order, of input * weight row over its nonzero inputs: the same sum without its zero terms
    (which differ only where a weight is infinite or NaN); otherwise product_kernels.rows_product_into (each
    element summed in input order) for weights of at most OWN_PRODUCT_ELEMENTS, BLAS for larger ones. The
    choice depends on the values and the weights' size alone, so every caller of this function gets the same
    bits for the same arguments, and a block of rows the bits of the whole batch's product."""
    if inputs.shape[0] == 1:
        row = inputs[0]
        nonzero = count_nonzero(row, row.size)
        if nonzero * SPARSE_FRACTION <= row.size:
            _sparse_row_product(row, nonzero, weights, out[0])
            return
    if own_product(weights):
        rows_product_into(np.ascontiguousarray(inputs), np.ascontiguousarray(weights), out)
    else:
        np.dot(inputs, weights, out)


@njit(inline="always")
def _sparse_row_product(row, nonzero, weights, total):
    """total = the sum over the ``nonzero`` nonzero entries of ``row``, in order, of entry * weight row: four
    rows a pass over ``total`` (each element still adds them one at a time, in order: the same bits as one row
    a pass, with a quarter of the loads and stores of ``total``)."""
    for c in range(total.size):
        total[c] = 0
    if nonzero == 0:
        return
    index = np.empty(nonzero, np.int64)
    list_nonzero(row, row.size, index)
    k = 0
    while k + 4 <= nonzero:
        i0, i1, i2, i3 = index[k], index[k + 1], index[k + 2], index[k + 3]
        x0, x1, x2, x3 = row[i0], row[i1], row[i2], row[i3]
        for c in range(total.size):
            total[c] = (((total[c] + x0 * weights[i0, c]) + x1 * weights[i1, c]) + x2 * weights[i2, c]) \
                + x3 * weights[i3, c]
        k += 4
    for rest in range(k, nonzero):
        i0 = index[rest]
        x0 = row[i0]
        for c in range(total.size):
            total[c] += x0 * weights[i0, c]


_ROW_TILE = threads.ROW_TILE


@njit(inline="always")
def block_start(block, blocks, rows):
    """The first of ``rows`` rows in block ``block`` of ``blocks`` (``rows`` for block ``blocks``): an even
    split, each boundary moved down to a multiple of ROW_TILE rows, so a block's products give the bits of the
    whole batch's (see :data:`ngc_optim.threads.ROW_TILE`)."""
    if block == blocks:
        return rows
    return block * rows // blocks // _ROW_TILE * _ROW_TILE


@njit(inline="always")
def copy_into(out, start, values):
    """The elements of ``values`` (in C order) into C-ordered ``out`` from flat index ``start`` on, in a loop:
    an array assignment (``out[a:b] = values``) costs a cold process seconds of compiling Numba's message for
    mismatched shapes. ``out`` is sliced first, so that the loop's index is the range's own: Numba checks an
    index such as ``start + i`` for a negative value at each element, which keeps LLVM from vectorising the
    loop (5x slower for 1000 float32)."""
    source = np.ascontiguousarray(values).reshape(values.size)
    flat = out.reshape(out.size)[start:start + source.size]
    for i in range(source.size):
        flat[i] = source[i]


@njit(**config.jit_options(False))
def put_rows(out, first, values):
    """out[first:first + len(values)] = values (``out`` C-ordered, ``values`` of its other dimensions). Called,
    not inlined: Numba types and lowers an inlined function again at each call site (a function of 20 of
    these calls compiled in 3.4 s inlined, 1.1 s called)."""
    if values.size:
        start = first * (out.size // out.shape[0])
        if start + values.size > out.size:
            raise ValueError("a block's rows do not fit in the batch's array")
        copy_into(out, start, values)


@njit(**config.jit_options(False))
def put_step(out, step, first, values):
    """out[step, first:first + len(values)] = values (``out`` C-ordered, ``values`` of its dimensions after
    the first two)."""
    if values.size:
        per_step = out.size // out.shape[0]
        start = step * per_step + first * (per_step // out.shape[1])
        if start + values.size > (step + 1) * per_step:
            raise ValueError("a watched value does not fit in its step's row of the buffer")
        copy_into(out, start, values)


def _summed_outer(blocks, x, y, out):
    """out = x.T @ y (the outer products of the rows of x and y, summed over the rows) in ``blocks`` blocks of
    out's rows (see block_start; a parallel loop in the parallel copy); the split does not change a bit. For y
    of at most OWN_PRODUCT_ELEMENTS, product_kernels.columns_product_into (each element summed over the rows in
    order); for larger ones BLAS's product of x.T's rows, copied into a contiguous array, by y. The copy is made
    for one block too (BLAS's product of a transposed x rounds differently), by a loop that reads x's rows in
    order (0.08 ms for 250 x 512 float32, where np.ascontiguousarray(x.T) took 0.29 ms)."""
    rows, batch = out.shape[0], x.shape[0]
    own = own_product(y)
    packed_x, packed_y = np.ascontiguousarray(x), np.ascontiguousarray(y)
    for block in prange(blocks):
        first, last = block_start(block, blocks, rows), block_start(block + 1, blocks, rows)
        if own:
            columns_product_into(packed_x, packed_y, out[first:last], first)
            continue
        transposed = np.empty((last - first, batch), x.dtype)
        for i in range(batch):
            for r in range(last - first):
                transposed[r, i] = x[i, first + r]
        np.dot(transposed, y, out[first:last])


SUMMED_OUTER = (njit(**config.jit_options(False))(renamed(_summed_outer, "_summed_outer_serial")),
                njit(**config.jit_options(True))(renamed(_summed_outer, "_summed_outer_parallel")))
"""The serial and parallel copies of ``(blocks, x, y, out)``: out = x.T @ y in ``blocks`` blocks of out's
rows (see :func:`summed_outer`)."""


_SUMMED_OUTER_SERIAL, _SUMMED_OUTER_PARALLEL = SUMMED_OUTER


def outer_blocks(rows, columns, batch):
    """The blocks of rows of x.T @ y (x: (batch, rows), y: (batch, columns)) that ngc_optim's thread decision
    gives the product (:mod:`ngc_optim.threads`, level ``product``); BLAS set to one thread when over one."""
    blocks = max(1, min(threads.numba_threads(rows * batch * columns, "product"),
                        rows // threads.ROW_TILE)) if config.PARALLEL and batch > 1 else 1
    if blocks > 1:
        threads.prepare()
    return blocks


@njit(inline="always")
def _outer_row(x, y, out):
    """out = the outer product of x's and y's one row: one multiplication per element, NumPy's values."""
    for i in range(x.shape[1]):
        xi = x[0, i]
        for j in range(y.shape[1]):
            out[i, j] = xi * y[0, j]


@njit(**config.inline_options())
def serial_outer_into(blocks, x, y, out):
    """outer_into in one block (``blocks`` is not used): for products that outer_blocks never splits, without
    the parallel copy of the summed product (about 2 s of a first compile, and Numba's parallel machinery)."""
    if x.shape[0] == 1:
        _outer_row(x, y, out)
    else:
        _SUMMED_OUTER_SERIAL(1, x, y, out)


@njit(**config.inline_options())
def outer_into(blocks, x, y, out):
    """out = x.T @ y: for one row the outer product (_outer_row, four times faster than BLAS's K = 1 product:
    0.2 against 0.9 ms at 784x1000); otherwise SUMMED_OUTER in ``blocks`` blocks (see outer_blocks), the
    parallel copy for more than one."""
    if x.shape[0] > 1 and blocks > 1:
        _SUMMED_OUTER_PARALLEL(blocks, x, y, out)
    else:
        serial_outer_into(blocks, x, y, out)


@njit(**config.inline_options())
def one_row_outer_into(blocks, x, y, out):
    """outer_into for x and y of one row (``blocks`` is not used), without the summed products of more rows;
    ValueError for more rows."""
    if x.shape[0] != 1 or y.shape[0] != 1:
        raise ValueError("one_row_outer_into takes one row of x and of y")
    _outer_row(x, y, out)


OUTERS = {"one_row": one_row_outer_into, "serial": serial_outer_into, "split": outer_into}
"""The outer products x.T @ y of a synapse's update, by :func:`outer_kind`; each compiles only the products it
may call (the summed ones take 3-7 s to compile the first time, the parallel copy about 2 s of it)."""


def outer_kind(rows, columns, batch):
    """The key in OUTERS of the outer products of x: (batch, rows) and y: (batch, columns), decided when a
    synapse is built for its batch: "one_row" for a batch of 1; "serial" when outer_blocks never splits them
    (ngc_optim's parallel kernels off, or less work or fewer rows than two threads take, with any number of
    threads: see :mod:`ngc_optim.threads`); else "split". Every kind gives the same bits."""
    if batch == 1:
        return "one_row"
    if not config.PARALLEL or rows * batch * columns < 2 * threads.LEVELS["product"].minimum \
            or rows < 2 * threads.ROW_TILE:
        return "serial"
    return "split"


def summed_outer(x, y, out=None):
    """x.T @ y into ``out`` (a new array if None), split over the Numba threads that ngc_optim's thread
    decision gives the product (see outer_blocks and outer_into)."""
    if out is None:
        out = np.empty((x.shape[1], y.shape[1]), np.result_type(x, y))
    outer_into(outer_blocks(x.shape[1], y.shape[1], x.shape[0]), x, y, out)
    return out


@_jit
def transmit(inputs, weights, gate, factor, biases):
    """(inputs @ weights) * gate * factor + biases, a new array (the product by product_into; biases (1, n))."""
    out = np.empty((inputs.shape[0], weights.shape[1]), weights.dtype)
    product_into(inputs, weights, out)
    transmit_into(out, gate, factor, biases)
    return out


@_jit
def scaled(a, scale):
    """a * scale, a new array of a's dtype (scale rounded to it first, as NumPy does with a Python number):
    what a component's ``reset`` sets with ``x * 0``."""
    return a * a.dtype.type(scale)


@_jit
def affine(a, scale, offset):
    """a * scale + offset, a new array of a's dtype (scale and offset rounded to it first, as NumPy does with
    Python numbers): what a component's ``reset`` sets, e.g. ``v * 0 + v_rest``."""
    dtype = a.dtype.type
    return a * dtype(scale) + dtype(offset)


@_jit
def zero_d(value, like):
    """``value`` as a 0-d array of ``like``'s dtype (an error cell's L)."""
    out = np.empty((), like.dtype)
    out[()] = value
    return out


@_jit
def transposed_transmit(signal, weights):
    """signal @ weights.T, a new array (a patched synapse's pre_out): BLAS reads the transposed view, with no
    copy of the weights."""
    return np.dot(signal, weights.T)


@njit(**config.inline_options())
def dense_transmit(inputs, weights, mask, gate, biases, masked, factor):
    """A DenseSynapse's step: transmit through ``weights * mask`` when ``masked``, else through ``weights``."""
    return transmit(inputs, weights * mask if masked else weights, gate, factor, biases)


ROWS = LOSS = None
"""Bound in each error cell's copies of the three functions below (see _error_cell_kernels)."""


def _error_rows(prediction, target, parameter, modulator, mask):
    """An error cell's step, the part each row does on its own: (derivative, dtarget), with the cell's fixed
    parameter's one value (Sigma, Scale)."""
    return ROWS(prediction, target, np.float64(parameter.ravel()[0]), modulator, mask)


def _error_loss(prediction, target, parameter):
    """An error cell's L (a 0-d array of the prediction's dtype), with the fixed parameter's one value."""
    return zero_d(LOSS(prediction, target, np.float64(parameter.ravel()[0])), prediction)


def _error_step(prediction, target, parameter, modulator, mask):
    """An error cell's step: (derivative, dtarget, L as a 0-d array)."""
    derivative, dtarget = ROWS(prediction, target, np.float64(parameter.ravel()[0]), modulator, mask)
    return derivative, dtarget, zero_d(LOSS(prediction, target, np.float64(parameter.ravel()[0])), prediction)


def _error_cell_kernels(name, rows, loss):
    """The compiled copies of _error_rows, _error_loss and _error_step for the cell ``name`` (its kernels
    ``rows`` and ``loss`` bound), each under its own name."""
    namespace = {**_error_rows.__globals__, "ROWS": rows, "LOSS": loss}
    return tuple(_jit(renamed(function, f"{name}{function.__name__}", namespace))
                 for function in (_error_rows, _error_loss, _error_step))


gaussian_error_rows, gaussian_error_loss, gaussian_error_step = _error_cell_kernels("gaussian", gaussian_rows,
                                                                                   gaussian_loss)
"""A GaussianErrorCell's step in parts (dmu, dtarget; L) and whole (the per-call method's)."""
laplacian_error_rows, laplacian_error_loss, laplacian_error_step = _error_cell_kernels("laplacian", laplacian_rows,
                                                                                      laplacian_loss)
"""A LaplacianErrorCell's step in parts (dshift, dtarget; L) and whole (the per-call method's)."""


BERNOULLI_EPS = 1e-4
"""A Bernoulli error cell clips probabilities to [BERNOULLI_EPS, 1 - BERNOULLI_EPS], as ngc-learn's."""


@njit(**config.jit_options(False), inline="always")
def _bernoulli_terms(p, logits, one, eps, top):
    """(q, log q, log(1 - q)) of one prediction p: q = clip(p, or sigmoid(p) when ``logits``, to [eps, top])."""
    q = one / (one + np.exp(-p)) if logits else p
    q = min(max(q, eps), top)
    return q, np.log(q), np.log(one - q)


@_jit
def bernoulli_rows(p, target, modulator, mask, logits):
    """(dp, dtarget) of a Bernoulli error cell, each row on its own: dp = dL/dq = target/q - (1 - target)/(1 - q)
    (dL/dlogit = target - q when ``logits``), dtarget = log q - log(1 - q), both times modulator * mask."""
    dtype = p.dtype.type
    one, eps, top = dtype(1), dtype(BERNOULLI_EPS), dtype(1.0 - BERNOULLI_EPS)
    dp, dtarget = np.empty_like(p), np.empty_like(p)
    ps, ts, g1, g2, out_p, out_target = p.ravel(), target.ravel(), modulator.ravel(), mask.ravel(), dp.ravel(), \
        dtarget.ravel()
    for i in range(ps.size):
        q, log_q, log_not_q = _bernoulli_terms(ps[i], logits, one, eps, top)
        t = ts[i]
        d = t - q if logits else t / q - (one - t) / (one - q)
        gate = g1[i] * g2[i]
        out_p[i] = d * gate
        out_target[i] = (log_q - log_not_q) * gate
    return dp, dtarget


@_jit
def bernoulli_loss(p, target, logits):
    """L = sum(target * log q + (1 - target) * log(1 - q)) (a 0-d array of p's dtype, summed in float64 in
    order)."""
    dtype = p.dtype.type
    one, eps, top = dtype(1), dtype(BERNOULLI_EPS), dtype(1.0 - BERNOULLI_EPS)
    ps, ts = p.ravel(), target.ravel()
    total = 0.0
    for i in range(ps.size):
        _, log_q, log_not_q = _bernoulli_terms(ps[i], logits, one, eps, top)
        t = ts[i]
        total += np.float64(log_q * t + log_not_q * (one - t))
    return zero_d(total, p)


@_jit
def filled(a, value):
    """An array like ``a`` filled with ``value`` (rounded to a's dtype): a reset's zeros and ones."""
    return np.full_like(a, value)


@njit(**config.jit_options(False), inline="always")
def _log_normaliser(row):
    """max(row) + log(sum(exp(row - max(row)))): log sum exp of a row, without overflow."""
    top = row[0]
    for value in row:
        top = max(top, value)
    total = row.dtype.type(0)
    for value in row:
        total += np.exp(value - top)
    return top + np.log(total)


@_jit
def softmax_rows(mu, target, modulator, mask):
    """(dmu, dtarget) of a softmax (cross-entropy) error cell, each row on its own: with s = softmax(mu) and
    log s = mu - logsumexp(mu), dmu = (target - s * sum(target)) * modulator * mask (dL/dmu),
    dtarget = log s * modulator * mask (dL/dtarget)."""
    dmu, dtarget = np.empty_like(mu), np.empty_like(mu)
    for r in range(mu.shape[0]):
        row, goal, gate, other = mu[r], target[r], modulator[r], mask[r]
        normaliser = _log_normaliser(row)
        total = goal.dtype.type(0)
        for value in goal:
            total += value
        out_mu, out_target = dmu[r], dtarget[r]
        for i in range(row.size):
            log_s = row[i] - normaliser
            weight = gate[i] * other[i]
            out_mu[i] = (goal[i] - np.exp(log_s) * total) * weight
            out_target[i] = log_s * weight
    return dmu, dtarget


@_jit
def softmax_row_losses(mu, target):
    """Each row's sum(target * log softmax(mu)) (float64)."""
    losses = np.zeros(mu.shape[0], np.float64)
    for r in range(mu.shape[0]):
        row, goal = mu[r], target[r]
        normaliser = _log_normaliser(row)
        for i in range(row.size):
            losses[r] += np.float64(goal[i] * (row[i] - normaliser))
    return losses


@_jit
def softmax_loss(mu, target):
    """L = sum(target * log softmax(mu)) over the rows (a 0-d array of mu's dtype, summed in float64 in order)."""
    return zero_d(np.sum(softmax_row_losses(mu, target)), mu)
