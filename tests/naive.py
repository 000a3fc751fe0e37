"""Slow, obviously correct NumPy references for every optimizer, written from the formulas.

Each function takes one parameter array ``p``, its update ``u``, its state slots
(a dict of arrays), the hyperparameters and the 1-based step ``t``, and returns
new arrays; nothing is changed in place. Hyperparameters are rounded to the
parameter's dtype first, so a float32 parameter is updated in float32, as the
optimizers promise; Adam's inverse bias corrections are computed in float64 and
then rounded. The operation order is the one in the optimizers' docstrings, which
makes the results comparable bit for bit.
"""

import numpy as np

SLOTS = {
    "sgd": (),
    "nag": ("phi",),
    "momentum": ("velocity",),
    "rmsprop": ("cache",),
    "adam": ("g1", "g2"),
    "adamw": ("g1", "g2"),
}

DEFAULTS = {
    "sgd": {"eta": 0.001},
    "nag": {"eta": 0.01, "mu": 0.9},
    "momentum": {"eta": 0.01, "mu": 0.9},
    "rmsprop": {"eta": 0.001, "decay": 0.9, "eps": 1e-8},
    "adam": {"eta": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "adamw": {"eta": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "decoupled_weight_decay": 0.01},
}


def penalised(u, p, regularization, weight_decay):
    """The update with the l1 or l2 penalty added."""
    lam = p.dtype.type(weight_decay)
    if regularization == "l1":
        return u + lam * np.sign(p)
    if regularization == "l2":
        return u + lam * p
    return u


def step(name, p, u, slots, t, **hyperparameters):
    """One step of optimizer ``name``; returns ``(new_p, new_slots)``."""
    h = {**DEFAULTS[name], **hyperparameters}
    d = p.dtype.type
    u = penalised(u, p, h.get("regularization"), h.get("weight_decay", 0.0))
    eta = d(h["eta"])
    if name == "sgd":
        return p - eta * u, {}
    if name == "nag":
        phi = p - eta * u
        new_p = phi + d(h["mu"]) * (phi - slots["phi"]) if t > 1 else phi
        return new_p, {"phi": phi}
    if name == "momentum":
        v = d(h["mu"]) * slots["velocity"] - eta * u
        return p + v, {"velocity": v}
    if name == "rmsprop":
        c = d(h["decay"]) * slots["cache"] + d(1.0 - h["decay"]) * (u * u)
        return p - eta * u / (np.sqrt(c) + d(h["eps"])), {"cache": c}
    beta1, beta2 = h["beta1"], h["beta2"]
    g1 = d(beta1) * slots["g1"] + d(1.0 - beta1) * u
    g2 = d(beta2) * slots["g2"] + d(1.0 - beta2) * (u * u)
    inverse_correction1 = d(1.0 / (1.0 - beta1 ** t))
    inverse_correction2 = d(1.0 / (1.0 - beta2 ** t))
    if name == "adamw":
        p = p - d(h["eta"] * h["decoupled_weight_decay"]) * p
    new_p = p - eta * (g1 * inverse_correction1) / (np.sqrt(g2 * inverse_correction2) + d(h["eps"]))
    return new_p, {"g1": g1, "g2": g2}


def run(name, p, updates, t0=0, slots=None, **hyperparameters):
    """Apply ``updates`` (a list) one step at a time from step ``t0``; returns ``(p, slots)``."""
    if slots is None:
        slots = {slot: np.zeros_like(p) for slot in SLOTS[name]}
    with np.errstate(all="ignore"):
        for k, u in enumerate(updates):
            p, slots = step(name, p, u, slots, t0 + k + 1, **hyperparameters)
    return p, slots


def hebbian_adjustment(m, w, w_bound, prior, lmbda, l1_ratio, sign_value):
    """ngc-learn's Hebbian dW from the product ``m``: soft bound, prior (None, "l1", "l2", "l1l2"), sign."""
    d = m * (w_bound - np.abs(w)) if w_bound > 0 else m
    if prior == "l2":
        d = d + (-w * lmbda)
    elif prior == "l1":
        d = d + (-np.sign(w) * lmbda)
    elif prior == "l1l2":
        d = d + (-np.sign(w) * l1_ratio - w * ((1 - l1_ratio) / 2)) * lmbda
    return d * sign_value


def hebbian_step(name, w, m, slots, t, mask, w_bound, low, prior, lmbda, l1_ratio, sign_value, **hyperparameters):
    """One Hebbian evolve of ``w``: adjustment, optimizer step, clip to [low, w_bound], mask (None: none).

    Returns ``(new_w, new_slots, d)``.
    """
    d = hebbian_adjustment(m, w, w_bound, prior, lmbda, l1_ratio, sign_value)
    w, slots = step(name, w, d, slots, t, **hyperparameters)
    if w_bound > 0:
        w = np.clip(w, low, w_bound)
    if mask is not None:
        w = w * mask
    return w, slots, d
