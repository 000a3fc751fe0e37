"""The settling loop of a PCN in one compiled call, serial or over blocks of rows on every core.

A PCN's settling step (see :class:`ngc_optim.models.PCN`) chains about ten
component steps on small arrays; through ngcsimlib each is a Python call, and
the matrix products alone (single-threaded BLAS is as fast as it gets for a
50 x 128 x 128 product) already take most of the time. Here the T steps run in
one call: the components' own element loops (:mod:`ngc_optim.cell_kernels`:
``RATE_INTO_STORED``, ``gaussian_into``, ``transmit_into``) and a BLAS product per
synapse, in the order of the model's ``settle`` process. Every row of the batch
settles independently of the others, so the parallel twin splits the batch into
one block of rows per thread and runs the T steps of each block without
synchronising; the result does not depend on the split.

With L error cells (layers 1 .. L) and H = L - 1 hidden state cells, one step is,
for the rows of a block:

* ``E_{h+1}``: ``e_out[h] = (dmu[h+1] @ weights_t[h]) * e_gate[h] * e_factors[h] + e_bias[h]`` (feedback);
* hidden cell h: one rate step with ``j = e_out[h]``, ``j_td = dtarget[h]``;
* ``W_{h+1}``: ``w_out[h] = (zF[h] @ weights[h]) * w_gate[h] * w_factors[h] + w_bias[h]``;
* error cell l: ``mu = mu_first`` (l = 0, fixed) or ``w_out[l-1]``; ``target = z[l]``
  (hidden) or ``target_last`` (l = L - 1, fixed); dmu, dtarget.

A hidden cell's fx'(z) is computed once per step, with fx(z) (see ``RATE_INTO_STORED``), and kept in a
scratch array ``fx_prime`` for the next step. The arrays are updated in place; the kernel returns each error cell's L
(``-0.5 * sum((target - mu)**2) / sigma``) after the last step. Gates,
modulators and masks are arrays like the components' (ones in a PCN); the masks
apply on every step, where an error cell applies its mask for one step and then
resets it to ones, so the two agree when the masks are ones.
"""

import numpy as np
from numba import get_num_threads, njit, prange

from . import config
from .cell_kernels import (
    RATE_INTO_STORED,
    RATE_KINDS,
    gaussian_into,
    specialised,
    sum_of_squares,
    transmit_into,
)

__all__ = ["SETTLE", "settle"]

BODY = None
INTO = None
FX_DERIVATIVE = None
"""Bound in each compiled copy (see cell_kernels.specialised): the block loop, the rate cells' loop and fx'."""


def _settle_block(first, last, T, dt, tau_m, gamma, output_scale, resist_scale, sigmas, mu_first, target_last,
                  weights, weights_t, w_bias, e_bias, w_gate, e_gate, w_factors, e_factors, modulators, masks, z, zF,
                  e_out, w_out, dmu, dtarget, fx_prime):
    """T settling steps of rows first .. last-1 (see the module)."""
    hidden = len(z)
    dtype = mu_first.dtype.type
    zero, one, slope = dtype(0), dtype(1), dtype(0.01)
    for h in range(hidden):
        state, derivative = z[h][first:last].ravel(), fx_prime[h][first:last].ravel()
        for i in range(state.size):
            derivative[i] = FX_DERIVATIVE(state[i], zero, one, slope)
    for _ in range(T):
        for h in range(hidden):
            feedback = e_out[h][first:last]
            np.dot(dmu[h + 1][first:last], weights_t[h], feedback)
            transmit_into(feedback, e_gate[h][first:last], e_factors[h], e_bias[h])
        for h in range(hidden):
            state = z[h][first:last].ravel()  # one view for z and z': the loop vectorises only if it sees one
            INTO(state, e_out[h][first:last].ravel(), dtarget[h][first:last].ravel(), state,
                 zF[h][first:last].ravel(), fx_prime[h][first:last].ravel(), dt, tau_m, gamma, output_scale,
                 resist_scale)
        for h in range(hidden):
            prediction = w_out[h][first:last]
            np.dot(zF[h][first:last], weights[h], prediction)
            transmit_into(prediction, w_gate[h][first:last], w_factors[h], w_bias[h])
        for cell in range(hidden + 1):
            mu = mu_first if cell == 0 else w_out[cell - 1]
            target = target_last if cell == hidden else z[cell]
            gaussian_into(mu[first:last].ravel(), target[first:last].ravel(), sigmas[cell],
                          modulators[cell][first:last].ravel(), masks[cell][first:last].ravel(),
                          dmu[cell][first:last].ravel(), dtarget[cell][first:last].ravel())


@njit(**config.jit_options(False))
def _losses(sigmas, mu_first, target_last, z, w_out):
    """Each error cell's L = -0.5 * sum((target - mu)**2) / sigma."""
    hidden = len(z)
    losses = np.empty(hidden + 1)
    for cell in range(hidden + 1):
        mu = mu_first if cell == 0 else w_out[cell - 1]
        target = target_last if cell == hidden else z[cell]
        losses[cell] = -0.5 * sum_of_squares(target.ravel(), mu.ravel()) / sigmas[cell]
    return losses


def _settle_serial(blocks, T, dt, cell, sigmas, mu_first, target_last, weights, weights_t, w_bias, e_bias, w_gate, e_gate,
                   w_factors, e_factors, modulators, masks, z, zF, e_out, w_out, dmu, dtarget, fx_prime):
    tau_m, gamma, output_scale, resist_scale = cell
    BODY(0, target_last.shape[0], T, dt, tau_m, gamma, output_scale, resist_scale, sigmas, mu_first, target_last,
         weights, weights_t, w_bias, e_bias, w_gate, e_gate, w_factors, e_factors, modulators, masks, z, zF, e_out,
         w_out, dmu, dtarget, fx_prime)
    return _losses(sigmas, mu_first, target_last, z, w_out)


def _settle_parallel(blocks, T, dt, cell, sigmas, mu_first, target_last, weights, weights_t, w_bias, e_bias, w_gate, e_gate,
                     w_factors, e_factors, modulators, masks, z, zF, e_out, w_out, dmu, dtarget, fx_prime):
    tau_m, gamma, output_scale, resist_scale = cell
    rows = target_last.shape[0]
    for block in prange(blocks):
        BODY(block * rows // blocks, (block + 1) * rows // blocks, T, dt, tau_m, gamma, output_scale, resist_scale,
             sigmas, mu_first, target_last, weights, weights_t, w_bias, e_bias, w_gate, e_gate, w_factors, e_factors,
             modulators, masks, z, zF, e_out, w_out, dmu, dtarget, fx_prime)
    return _losses(sigmas, mu_first, target_last, z, w_out)


def _compiled(kind):
    body = specialised(_settle_block, *kind, INTO=RATE_INTO_STORED[kind])
    return (specialised(_settle_serial, *kind, BODY=body),
            specialised(_settle_parallel, *kind, parallel=True, BODY=body))


SETTLE = {kind: _compiled(kind) for kind in RATE_KINDS}
"""(act_fx, leak, integration) of the hidden cells -> (serial, parallel) settling kernels with the arguments
``(blocks, T, dt, (tau_m, gamma, output_scale, resist_scale), sigmas, mu_first, target_last, weights, weights_t, w_bias,
e_bias, w_gate, e_gate, w_factors, e_factors, modulators, masks, z, zF, e_out, w_out, dmu, dtarget, fx_prime)``
(tuples of arrays as in the module; ``fx_prime`` scratch arrays like ``z``; sigmas and factors float64
arrays); each compiles on its first call and returns the losses."""

BLOCK_MIN_ROWS = 8
"""The fewest rows a parallel block gets (a matrix product of fewer rows wastes most of BLAS's speed)."""


def settle(kind, *arguments):
    """Run the settling kernel of ``SETTLE[kind]`` on ``arguments`` (all but ``blocks``): in parallel, one
    block of at least BLOCK_MIN_ROWS rows per Numba thread, when config.PARALLEL allows it and there are two
    such blocks or more; else serially (the serial kernel ignores ``blocks``)."""
    serial, parallel = SETTLE[kind]
    blocks = min(get_num_threads(), arguments[4].shape[0] // BLOCK_MIN_ROWS)
    if config.PARALLEL and blocks > 1:
        return parallel(blocks, *arguments)
    return serial(1, *arguments)
