"""Numba kernels of the spiking components: LIF cells, spike encoders, traces, and their random stream.

Each kernel does one component's whole step in one call and returns new arrays
(compartments stay functional: a spike raster recorded by keeping every step's
``s`` stays correct). A step's float outputs are rows of one new block, which
the component's compartments then hold as views: returning one array to Python
costs about 0.5 us, so eight separate arrays would cost more than a step of
1000 LIF neurons. A kept view keeps its whole block alive (copy it to keep
only it). Arrays of one call share one dtype; constants are rounded
to it first and the operations are ngc-learn's, in its order, so float32 cells
compute in float32 as ngc-learn's JAX cells do.

Randomness comes from xoshiro256** (Blackman and Vigna, 2018), whose whole
state is four 64-bit words: a ``(4,)`` uint64 array that a component keeps in a
compartment, so a checkpoint saves and restores it with the other state. A
kernel that draws copies the state, advances the copy and returns it. A uniform
number in [0, 1) is the top 53 bits of a draw times 2**-53.
"""

import math

import numpy as np
from numba import njit

from . import config

__all__ = [
    "DECAYS",
    "LIF_OUTPUTS",
    "STATE_WORDS",
    "bernoulli_advance",
    "bernoulli_step",
    "event_stdp_evolve",
    "exp_kernel_advance",
    "ganglion_advance",
    "lif_advance",
    "lif_step",
    "next_uint64",
    "poisson_advance",
    "poisson_scale",
    "seed_state",
    "trace_advance",
    "trace_step",
    "uniform",
    "wtas_advance",
]

STATE_WORDS = 4
"""Words of a random stream's state (uint64)."""

LIF_OUTPUTS = ("v", "s", "s_raw", "rfr", "thr_theta", "v_thr", "surrogate", "tols")
"""The rows of the block :func:`lif_step` returns, by compartment name."""
_V, _S, _S_RAW, _RFR, _THETA, _V_THR, _SURROGATE, _TOLS = range(len(LIF_OUTPUTS))

_jit = njit(**config.jit_options(False))
_inlined = njit(**config.inline_options())
_U64 = np.uint64
_INV_2_53 = 2.0**-53


def seed_state(seed):
    """The state of a random stream for an integer seed (NumPy's SeedSequence spreads it over four words)."""
    state = np.random.SeedSequence(seed).generate_state(STATE_WORDS, np.uint64)
    if not state.any():
        raise ValueError(f"seed={seed!r} gives the all-zero state, which xoshiro256** never leaves")
    return state


@njit(inline="always")
def _rotl(x, k):
    return (x << _U64(k)) | (x >> _U64(64 - k))


@njit(inline="always")
def _advanced(s0, s1, s2, s3):
    """One step of xoshiro256** on its four words: (draw, s0', s1', s2', s3')."""
    result = _rotl(s1 * _U64(5), 7) * _U64(9)
    t = s1 << _U64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    return result, s0, s1, s2, _rotl(s3, 45)


@njit(inline="always")
def _unit(draw):
    """The top 53 bits of a draw as a float64 in [0, 1) (through int64, which converts faster than uint64)."""
    return np.float64(np.int64(draw >> _U64(11))) * _INV_2_53


@njit(**config.jit_options(False), inline="always")
def next_uint64(state):
    """The next draw of xoshiro256** from ``state`` (a (4,) uint64 array, advanced in place)."""
    result, state[0], state[1], state[2], state[3] = _advanced(state[0], state[1], state[2], state[3])
    return result


@njit(**config.jit_options(False), inline="always")
def uniform(state):
    """A float64 uniform in [0, 1) from ``state`` (advanced in place): the top 53 bits times 2**-53."""
    return _unit(next_uint64(state))


@_jit
def bernoulli_step(inputs, scale, tols, t, key):
    """One step of a Bernoulli spike encoder (BernoulliCell; PoissonCell with ``scale = dt/1000 * target_freq``).

    p = inputs * scale (in the inputs' dtype; scale 1 leaves inputs unchanged)
    outputs = 1 where u < p, u ~ U[0, 1) drawn per element in row-major order, else 0
    tols = t where outputs == 1, else tols

    Returns (out, key'), new arrays: ``out[0]`` the outputs, ``out[1]`` the new tols.
    """
    dtype = inputs.dtype.type
    gain, now, one, zero = dtype(scale), dtype(t), dtype(1), dtype(0)
    out = np.empty((2, *inputs.shape), inputs.dtype)
    outputs, new_tols = out[0], out[1]
    s0, s1, s2, s3 = key[0], key[1], key[2], key[3]
    for r in range(inputs.shape[0]):
        for c in range(inputs.shape[1]):
            draw, s0, s1, s2, s3 = _advanced(s0, s1, s2, s3)
            spike = _unit(draw) < inputs[r, c] * gain
            outputs[r, c] = one if spike else zero
            new_tols[r, c] = now if spike else tols[r, c]
    state = np.empty_like(key)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return out, state


@_jit
def trace_step(inputs, trace, decay, gamma_tr, a_delta, P_scale, n_nearest_spikes):
    """One step of a variable trace (VarTrace), with ``decay`` = exp(-dt/tau_tr), 1 - dt/tau_tr or 0:

    x = gamma_tr * trace * decay
    n_nearest_spikes > 0:  trace' = x + inputs * (a_delta - trace / n_nearest_spikes)
    a_delta > 0:           trace' = x + inputs * a_delta
    otherwise:             trace' = x * (1 - inputs) + inputs * P_scale

    Returns trace', a new array.
    """
    dtype = trace.dtype.type
    gamma, factor, delta, peak, one = dtype(gamma_tr), dtype(decay), dtype(a_delta), dtype(P_scale), dtype(1)
    nearest = dtype(n_nearest_spikes)
    out = np.empty_like(trace)
    for r in range(trace.shape[0]):
        for c in range(trace.shape[1]):
            x = gamma * trace[r, c] * factor
            pulse = inputs[r, c]
            if n_nearest_spikes > 0:
                out[r, c] = x + pulse * (delta - trace[r, c] / nearest)
            elif a_delta > 0:
                out[r, c] = x + pulse * delta
            else:
                out[r, c] = x * (one - pulse) + pulse * peak
    return out


@_jit
def lif_step(j, v, rfr, thr_theta, tols, key, t, dt, membrane, threshold, options):
    """One step of a leaky integrate-and-fire population (LIFCell), ngc-learn's operations in its order.

    ``membrane`` = (tau_m, resist_m, v_rest, v_reset, conduct_leak, refract_time, v_min);
    ``threshold`` = (thr, tau_theta, theta_plus); ``options`` = (midpoint, tau_theta > 0, has v_min,
    one_spike, max_one_spike). theta_decay = exp(-dt/tau_theta) and resist_m * dt / tau_m are computed
    in float64 and then rounded, as ngc-learn's from Python floats. Per element:

    f(v) = ((v_rest - v) * conduct_leak + j * resist_m * [rfr >= refract_time]) * (1 / tau_m)
    v' = v + f(v) * dt  (Euler)  or  v + f(v + f(v) * dt/2) * dt  (midpoint)
    v_thr = thr_theta + thr;  s_raw = [v' > v_thr]
    rfr' = 0 where s_raw else rfr + dt
    surrogate = 1 / (1 + ((v' - v_thr) * pi * 0.1)**2) * (1/pi) * (resist_m * dt / tau_m)   (arctan, alpha 0.2)
    v' = v_reset where s_raw;  v' = max(v', v_min) if v_min is given
    thr_theta' = thr_theta * theta_decay + s_raw * theta_plus  and  v_thr' = thr + thr_theta'  if tau_theta > 0
    s = s_raw, except per row: max_one_spike keeps only the spike of the unit of highest v (before the
        step); one_spike (without max_one_spike) keeps one spike drawn uniformly from the row's spikes
    tols' = t where s else tols

    Returns (out, key'): ``out`` a new (8, rows, units) array of v', s, s_raw, rfr', thr_theta', v_thr',
    surrogate and tols' (in that order; :data:`LIF_OUTPUTS`); key' a new array if one_spike drew from
    it, else key itself.
    """
    dtype = v.dtype.type
    tau_m, resist_m, v_rest, v_reset, conduct_leak, refract_time, v_min = membrane
    thr, tau_theta, theta_plus = threshold
    midpoint, adaptive, clamp, one_spike, max_one_spike = options
    rate, resist, rest, reset, leak = (dtype(1.0 / tau_m), dtype(resist_m), dtype(v_rest), dtype(v_reset),
                                       dtype(conduct_leak))
    refractory, step, half = dtype(refract_time), dtype(dt), dtype(dt * 0.5)
    floor = dtype(v_min) if clamp else dtype(-np.inf)
    base = dtype(thr)
    decay, plus = (dtype(np.exp(-dt / tau_theta)), dtype(theta_plus)) if adaptive else (dtype(1), dtype(0))
    pi, width, inv_pi, scale = dtype(np.pi), dtype(0.1), dtype(1.0 / np.pi), dtype(resist_m * dt / tau_m)
    one, zero, now = dtype(1), dtype(0), dtype(t)
    rows, units = v.shape
    out = np.empty((len(LIF_OUTPUTS), rows, units), v.dtype)
    flat = out.reshape(len(LIF_OUTPUTS), rows * units)
    j_, v_, rfr_, theta_, tols_ = j.ravel(), v.ravel(), rfr.ravel(), thr_theta.ravel(), tols.ravel()
    for i in range(v_.size):  # writes through one array (not eight views of it), so that the loop vectorises
        vi = v_[i]
        current = j_[i] * resist if rfr_[i] >= refractory else zero
        velocity = ((rest - vi) * leak + current) * rate
        if midpoint:
            halfway = vi + velocity * half
            velocity = ((rest - halfway) * leak + current) * rate
        vn = vi + velocity * step
        limit = theta_[i] + base
        spike = vn > limit
        centred = (vn - limit) * pi * width
        flat[_SURROGATE, i] = one / (one + centred * centred) * inv_pi * scale
        flat[_RFR, i] = zero if spike else rfr_[i] + step
        vn = reset if spike else vn
        flat[_V, i] = floor if vn < floor else vn  # noqa: FURB136 (NaN stays NaN, as with jnp.maximum)
        flat[_S_RAW, i] = one if spike else zero
        flat[_S, i] = one if spike else zero
        theta = theta_[i] * decay + (plus if spike else zero)
        flat[_THETA, i] = theta
        flat[_V_THR, i] = base + theta
        flat[_TOLS, i] = now if spike else tols_[i]
    select = one_spike or max_one_spike
    if not select:
        return out, key
    state = key.copy() if one_spike and not max_one_spike else key
    for r in range(rows):
        keep = -1
        if max_one_spike:
            keep = np.argmax(v[r])
        else:
            count = 0
            for c in range(units):
                if out[_S_RAW, r, c] > zero:
                    count += 1
            if count > 0:
                chosen = min(int(uniform(state) * count), count - 1)
                for c in range(units):
                    if out[_S_RAW, r, c] > zero:
                        if chosen == 0:
                            keep = c
                            break
                        chosen -= 1
        for c in range(units):
            out[_S, r, c] = zero
            out[_TOLS, r, c] = tols[r, c]
        if keep >= 0 and out[_S_RAW, r, keep] > zero:
            out[_S, r, keep] = one
            out[_TOLS, r, keep] = now
    return out, state


DECAYS = ("exp", "lin", "step")
"""VarTrace's decay types, by their code in :func:`trace_advance`."""


@_inlined
def trace_advance(inputs, trace, dt, decay_code, tau_tr, gamma_tr, a_delta, P_scale, n_nearest_spikes):
    """A VarTrace's step: trace_step with decay exp(-dt/tau_tr), 1 - dt/tau_tr or 0 (``decay_code`` 0, 1, 2
    in :data:`DECAYS`), computed in float64. Returns the new trace twice (trace and outputs)."""
    if decay_code == 0:
        decay = math.exp(-dt / tau_tr)
    elif decay_code == 1:
        decay = 1.0 - dt / tau_tr
    else:
        decay = 0.0
    out = trace_step(inputs, trace, decay, gamma_tr, a_delta, P_scale, n_nearest_spikes)
    return out, out


@_inlined
def bernoulli_advance(inputs, tols, key, t, scale):
    """A BernoulliCell's (scale 1) step in a compiled circuit: bernoulli_step's (outputs, tols', key')."""
    out, state = bernoulli_step(inputs, scale, tols, t, key)
    return out[0], out[1], state


@_inlined
def poisson_advance(inputs, tols, key, t, dt, target_freq):
    """A PoissonCell's step in a compiled circuit: bernoulli_advance with its scale (poisson_scale)."""
    return bernoulli_advance(inputs, tols, key, t, poisson_scale(dt, target_freq))


@_jit
def poisson_scale(dt, target_freq):
    """A PoissonCell's firing probability per unit of input: dt / 1000 * target_freq (dt in ms), in float64."""
    return dt / 1000.0 * target_freq


@_inlined
def lif_advance(j, v, rfr, thr_theta, tols, key, t, dt, membrane, threshold, options):
    """A LIFCell's step in a compiled circuit: lif_step's block split into its eight compartments (LIF_OUTPUTS
    order), then key' (the per-call method splits the block itself: returning one array costs less)."""
    out, state = lif_step(j, v, rfr, thr_theta, tols, key, t, dt, membrane, threshold, options)
    return out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7], state


@_jit
def exp_kernel_advance(inputs, tf, t, tau_w):
    """An ExpKernel's step, as ngc-learn's: the window ``tf`` of spike times (win_len, batch, units) takes
    ``inputs * t`` as its newest entry and rolls (the oldest moves to the last slot, which the next step
    overwrites); epsp = sum over the other slots, oldest first, of exp(-(t - tf) / tau_w) where tf > 0.
    t and tau_w in the window's dtype. Returns (the new window, epsp), new arrays."""
    dtype = tf.dtype.type
    now, tau, zero = dtype(t), dtype(tau_w), dtype(0)
    length = tf.shape[0]
    window = np.empty_like(tf)
    for slot in range(length - 2):
        window[slot] = tf[slot + 1]
    newest = inputs * now
    if length > 1:
        window[length - 2] = newest
        window[length - 1] = tf[0]
    else:
        window[0] = newest
    epsp = np.zeros_like(inputs)
    for slot in range(length - 1):
        times = window[slot]
        for row in range(times.shape[0]):
            for unit in range(times.shape[1]):
                spike_time = times[row, unit]
                if spike_time > zero:
                    epsp[row, unit] += np.exp(-(now - spike_time) / tau)
    return window, epsp


@_jit
def wtas_advance(j, thr, rfr, tols, t, dt, resist_m, refract_time, thr_gain):
    """A WTASCell's step, as ngc-learn's: units out of their refractory period (rfr >= refract_time) take
    v = j * resist_m (others 0); each row's softmax of v (max subtracted; exp; divided by the row's sum)
    spikes where it exceeds thr; thr = max(thr + (spikes in the row - 1) * thr_gain, 0.025); rfr = rfr + dt,
    or dt where a unit spiked; tols = t where a unit spiked. All in the arrays' dtype. Returns
    (v, s, thr, rfr, tols), new arrays."""
    dtype = j.dtype.type
    now, step, resist, period, gain = dtype(t), dtype(dt), dtype(resist_m), dtype(refract_time), dtype(thr_gain)
    zero, one, floor = dtype(0), dtype(1), dtype(0.025)
    rows, units = j.shape
    new_v, s, new_thr = np.empty_like(j), np.empty_like(j), np.empty_like(j)
    new_rfr, new_tols = np.empty_like(j), np.empty_like(j)
    for row in range(rows):
        largest = dtype(-np.inf)
        for unit in range(units):
            value = (j[row, unit] * resist) * (one if rfr[row, unit] >= period else zero)
            new_v[row, unit] = value
            largest = np.maximum(largest, value)
        total = zero
        for unit in range(units):
            s[row, unit] = np.exp(new_v[row, unit] - largest)
            total += s[row, unit]
        count = zero
        for unit in range(units):
            spike = one if s[row, unit] / total > thr[row, unit] else zero
            s[row, unit] = spike
            count += spike
        for unit in range(units):
            spike = s[row, unit]
            new_thr[row, unit] = np.maximum(thr[row, unit] + (count - one) * gain, floor)
            new_rfr[row, unit] = (rfr[row, unit] + step) * (one - spike) + spike * step
            new_tols[row, unit] = (one - spike) * tols[row, unit] + spike * now
    return new_v, s, new_thr, new_rfr, new_tols


@_jit
def event_stdp_evolve(pre_tols, post_spike, weights, eta, t, presyn_win_len, lmbda, A_plus, A_minus, w_bound):
    """An EventSTDPSynapse's evolve (batch 1), as ngc-learn's: a presynaptic unit counts as having spiked
    when its time of last spike is positive and after t - presyn_win_len (equal to t when the window is 0);
    dW = A_plus * (w_bound - W * (1 + lmbda)) on its rows, -A_minus * W * (1 + lmbda) on the others, times
    the postsynaptic spikes; W' = clip(W + dW * eta, 0.01, w_bound). Returns (W', dW), new arrays."""
    dtype = weights.dtype.type
    now, since = dtype(t), dtype(t - presyn_win_len)
    grow, bound = dtype(1.0 + lmbda), dtype(w_bound)
    plus, minus, rate, low, zero = dtype(A_plus), dtype(A_minus), eta.ravel()[0], dtype(0.01), dtype(0)
    d_weights, new_weights = np.empty_like(weights), np.empty_like(weights)
    for i in range(weights.shape[0]):
        tols = pre_tols[0, i]
        spiked = tols > zero and (since < tols if presyn_win_len > 0.0 else tols == now)
        for k in range(weights.shape[1]):
            w = weights[i, k]
            change = (bound - w * grow) * plus if spiked else (-w * grow) * minus
            change = change * post_spike[0, k]
            d_weights[i, k] = change
            new_weights[i, k] = np.minimum(np.maximum(w + change * rate, low), bound)
    return new_weights, d_weights


@_jit
def ganglion_advance(inputs, filter_, step_shape, n_cells):
    """A RetinalGanglionCell's step, as ngc-learn's: the n_cells patches of each image (batch, ix, iy), at
    rows i * sx and columns j * sy (i over ix // px positions, or (ix - px) // sx + 1 when sx > 0; j
    likewise; i outer), each times the filter (px, py), flattened in that order into a row, minus the row's
    mean (summed in the inputs' dtype). Returns the outputs (batch, n_cells * px * py), a new array."""
    batch, ix, iy = inputs.shape
    px, py = filter_.shape
    sx, sy = step_shape
    n_x = ix // px if sx == 0 else (ix - px) // sx + 1
    n_y = iy // py if sy == 0 else (iy - py) // sy + 1
    size = n_cells * px * py
    outputs = np.empty((batch, size), inputs.dtype)
    for b in range(batch):
        column = 0
        for i in range(n_x):
            for j in range(n_y):
                for a in range(px):
                    for c in range(py):
                        outputs[b, column] = inputs[b, i * sx + a, j * sy + c] * filter_[a, c]
                        column += 1
        total = outputs.dtype.type(0)
        for column in range(size):
            total += outputs[b, column]
        mean = total / outputs.dtype.type(size)
        for column in range(size):
            outputs[b, column] = outputs[b, column] - mean
    return outputs
