"""Slow, obviously correct NumPy references of the spiking components, written from their formulas.

Each function takes whole (rows, units) arrays and returns new ones, in the
arrays' dtype with the constants rounded to it first and the operations in the
order the components document (ngc-learn's), so results are comparable exactly.
The random stream is xoshiro256** written with Python integers.
"""

import numpy as np

MASK64 = 2**64 - 1


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK64


def xoshiro_draws(state, count):
    """``count`` draws of xoshiro256** (Blackman and Vigna) from four words; returns (draws, new state)."""
    s0, s1, s2, s3 = (int(word) for word in state)
    draws = []
    for _ in range(count):
        draws.append(_rotl((s1 * 5) & MASK64, 7) * 9 & MASK64)
        t = (s1 << 17) & MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 45)
    return draws, np.array([s0, s1, s2, s3], np.uint64)


def uniforms(state, count):
    """``count`` uniforms in [0, 1): the top 53 bits of each draw times 2**-53; returns (values, new state)."""
    draws, state = xoshiro_draws(state, count)
    return np.array([(draw >> 11) * 2.0**-53 for draw in draws]), state


def bernoulli(inputs, scale, tols, t, state):
    """Spikes where u < inputs * scale (u drawn in row-major order); tols = t at spikes. -> (s, tols, state)."""
    d = inputs.dtype.type
    u, state = uniforms(state, inputs.size)
    spikes = u.reshape(inputs.shape) < inputs * d(scale)
    return spikes.astype(inputs.dtype), np.where(spikes, d(t), tols), state


def trace(inputs, trace_, dt, tau_tr, a_delta, P_scale=1.0, gamma_tr=1.0, decay_type="exp", n_nearest_spikes=0):
    """One VarTrace step."""
    d = trace_.dtype.type
    decay = {"exp": np.exp(-dt / tau_tr), "lin": 1.0 - dt / tau_tr, "step": 0.0}[decay_type]
    x = d(gamma_tr) * trace_ * d(decay)
    if n_nearest_spikes > 0:
        return x + inputs * (d(a_delta) - trace_ / d(n_nearest_spikes))
    if a_delta > 0:
        return x + inputs * d(a_delta)
    return x * (d(1) - inputs) + inputs * d(P_scale)


def lif(state, j, t, dt, tau_m, resist_m=1.0, thr=-52.0, v_rest=-65.0, v_reset=-60.0, conduct_leak=1.0,
        tau_theta=1e7, theta_plus=0.05, refract_time=5.0, integration_type="euler", v_min=None,
        max_one_spike=False):
    """One LIFCell step (without one_spike). ``state``: dict of v, rfr, thr_theta, tols; returns the new dict
    with also s, s_raw, v_thr and surrogate."""
    d = state["v"].dtype.type
    v, rfr, thr_theta = state["v"], state["rfr"], state["thr_theta"]
    current = np.where(rfr >= d(refract_time), j * d(resist_m), d(0))

    def dv_dt(voltage):
        return ((d(v_rest) - voltage) * d(conduct_leak) + current) * d(1.0 / tau_m)

    if integration_type == "euler":
        v_new = v + dv_dt(v) * d(dt)
    else:
        v_new = v + dv_dt(v + dv_dt(v) * d(dt * 0.5)) * d(dt)
    v_thr = thr_theta + d(thr)
    s_raw = v_new > v_thr
    centred = (v_new - v_thr) * d(np.pi) * d(0.1)
    surrogate = d(1) / (d(1) + centred * centred) * d(1 / np.pi) * d(resist_m * dt / tau_m)
    rfr_new = np.where(s_raw, d(0), rfr + d(dt))
    v_new = np.where(s_raw, d(v_reset), v_new)
    if v_min is not None:
        v_new = np.maximum(v_new, d(v_min))
    if tau_theta > 0:
        thr_theta = thr_theta * d(np.exp(-dt / tau_theta)) + np.where(s_raw, d(theta_plus), d(0))
        v_thr = d(thr) + thr_theta
    s = s_raw.copy()
    if max_one_spike:
        highest = np.zeros_like(s)
        highest[np.arange(len(v)), np.argmax(v, axis=1)] = True
        s &= highest
    return {"v": v_new, "rfr": rfr_new, "thr_theta": thr_theta, "tols": np.where(s, d(t), state["tols"]),
            "s": s.astype(v.dtype), "s_raw": s_raw.astype(v.dtype), "v_thr": v_thr, "surrogate": surrogate}


def lif_initial(shape, dtype, v_rest=-65.0, refract_time=5.0):
    """A LIFCell's state after construction."""
    return {"v": np.full(shape, v_rest, dtype), "rfr": np.full(shape, refract_time, dtype),
            "thr_theta": np.zeros(shape, dtype), "tols": np.zeros(shape, dtype)}
