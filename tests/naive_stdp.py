"""Slow, obviously correct NumPy reference for trace STDP, written from the documented formulas.

Operation order as in ngc-learn's ``TraceSTDPSynapse._compute_update`` (mu > 0:
``((w_bound - W)**mu * p) * A_plus`` and ``-(W**mu * q) * A_minus``, the powers with
``np.power``); constants are rounded to the weights' dtype first. The optimizer step is
tests/naive.py's.
"""

import numpy as np

import naive


def products(pre_spike, post_spike, pre_trace, post_trace, pretrace_target):
    """(p, q): p = (pre_trace - pretrace_target).T @ post_spike, q = pre_spike.T @ post_trace (summed over the batch)."""
    return (pre_trace - pre_trace.dtype.type(pretrace_target)).T @ post_spike, pre_spike.T @ post_trace


def adjustment(w, p, q, A_plus, A_minus, mu, w_bound):
    """dW = A_plus * (w_bound - W)**mu * p - A_minus * W**mu * q (no powers if mu == 0, no q term if A_minus == 0)."""
    d = w.dtype.type
    if mu > 0:
        potentiation = (np.power(d(w_bound) - w, d(mu)) * p) * d(A_plus)
        depression = -(np.power(w, d(mu)) * q) * d(A_minus)
    else:
        potentiation = p * d(A_plus)
        depression = -q * d(A_minus)
    return potentiation + depression if A_minus > 0 else potentiation


def step(name, w, p, q, slots, t, mask, stdp, **hyperparameters):
    """One evolve: dW, the optimizer's step with -dW, decay w_old / tau_w, clip to [0, w_bound], mask (None: none).

    ``stdp`` is ``(A_plus, A_minus, mu, w_bound, tau_w)``; returns ``(new_w, new_slots, dW)``.
    """
    A_plus, A_minus, mu, w_bound, tau_w = stdp
    dW = adjustment(w, p, q, A_plus, A_minus, mu, w_bound)
    new, slots = naive.step(name, w, -dW, slots, t, **hyperparameters)
    if tau_w > 0:
        new = new - w / w.dtype.type(tau_w)
    new = np.clip(new, w.dtype.type(0), w.dtype.type(w_bound))
    if mask is not None:
        new = new * mask
    return new, slots, dW
