"""A PCN's batch up to its evolve (projection, clamping, T settling steps) in one compiled call, serial or
over blocks of rows on every core.

A PCN's batch (see :class:`ngc_optim.models.PCN`) chains tens of component
steps on small arrays; through ngcsimlib each is a Python call, and the matrix
products alone (single-threaded BLAS is as fast as it gets for a 50 x 128 x 128
product) already take most of the time. Here they run in one call: the
components' own element loops (:mod:`ngc_optim.cell_kernels`: ``RATE_INTO``,
``RATE_INTO_STORED``, ``gaussian_into``, ``transmit_into``) and a BLAS product
per synapse, in the order of the model's ``project``, ``prime`` and ``settle``
processes. Every row of the batch is independent of the others, so the
parallel twin splits the batch into one block of rows per thread and runs the
whole batch of each block without synchronising; the blocks' boundaries lie at
multiples of :data:`ngc_optim.threads.ROW_TILE` rows, so the result does not
depend on the split.

With L layers (forward synapses W_1 .. W_L, error cells 1 .. L) and H = L - 1
hidden state cells, for the rows of a block:

* projection: ``q_0 = x``; for l = 1 .. L, ``q_j[l-1] = (q_f[l-1] @ weights[l-1]) * q_gate[l-1] * q_factors[l-1]
  + w_bias[l-1]`` (the projection synapse Q_l shares W_l's weights and biases) and one stateless rate
  step of q_l (the hidden activation, identity for q_L);
* clamping: z_0 = x and z_L = label (stateless identity cells, ``clamped`` = (z_0.z, z_0.zF, z_L.z,
  z_L.zF)), ``w_out[0] = (z_0.zF @ weights[0]) * w_gate[0] * w_factors[0] + w_bias[0]``;
* the hidden cells start at their projections (``z[h] = q_z[h+1]``) and the error cells at their reset
  (dmu and dtarget zero);
* T settling steps, each:

  * ``E_{h+2}``: ``e_out[h] = (dmu[h+1] @ weights_t[h]) * e_gate[h] * e_factors[h] + e_bias[h]`` (feedback);
  * hidden cell h: one rate step with ``j = e_out[h]``, ``j_td = dtarget[h]``;
  * ``W_{h+2}``: ``w_out[h+1] = (zF[h] @ weights[h+1]) * w_gate[h+1] * w_factors[h+1] + w_bias[h+1]``;
  * error cell l: ``mu = w_out[l]``, ``target = z[l]`` (hidden) or z_L.z (l = L - 1); dmu, dtarget.

Each stateless cell's ``j_td`` and ``output_scale`` are its own (``q_td``, ``clamp_td``; ``scales`` holds
q_0 .. q_L's, then z_0's and z_L's). A hidden cell's fx'(z) is computed once per step, with fx(z) (see
``RATE_INTO_STORED``), and kept in a scratch array ``fx_prime`` for the next step. All outputs are
overwritten; the kernel returns each error cell's L (``-0.5 * sum((target - mu)**2) / sigma``) after the
last step. Gates, modulators and masks are arrays like the components' (ones in a PCN); the masks apply on
every step, where an error cell applies its mask for one step and then resets it to ones, so the two agree
when the masks are ones.
"""

import numpy as np
from numba import njit, prange

from . import config, threads
from .cell_kernels import (
    RATE_INTO,
    RATE_INTO_STORED,
    RATE_KINDS,
    block_start,
    gaussian_into,
    product_into,
    specialised,
    sum_of_squares,
    transmit_into,
)

__all__ = ["SETTLE", "settle"]

BODY = None
INTO = None
STATELESS = None
IDENTITY = None
FX_DERIVATIVE = None
"""Bound in each compiled copy (see cell_kernels.specialised): the block loop, the rate cells' loops (hidden,
stateless with the hidden activation, stateless identity) and fx'."""


@njit(**config.jit_options(False))
def _transmit(inputs, weights, out, gate, factor, biases):
    """out = (inputs @ weights) * gate * factor + biases, as the components' (one compiled copy for every synapse
    of the loop)."""
    product_into(inputs, weights, out)
    transmit_into(out, gate, factor, biases)


def _settle_block(first, last, T, dt, cell, scales, sigmas, x, label, q_td, clamp_td, weights, weights_t, w_bias,
                  e_bias, w_gate, e_gate, q_gate, w_factors, e_factors, q_factors, modulators, masks, q_j, q_z, q_f,
                  clamped, z, zF, e_out, w_out, dmu, dtarget, fx_prime):
    """The batch of rows first .. last-1 (see the module)."""
    tau_m, gamma, output_scale, resist_scale = cell
    layers, hidden = len(weights), len(z)
    dtype = x.dtype.type
    zero, one, slope = dtype(0), dtype(1), dtype(0.01)
    rows = x[first:last].ravel()
    IDENTITY(rows, rows, q_td[0][first:last].ravel(), q_z[0][first:last].ravel(), q_f[0][first:last].ravel(), rows,
             dt, 0.0, 0.0, scales[0], 1.0)
    for l in range(layers):
        j = q_j[l][first:last]
        _transmit(q_f[l][first:last], weights[l], j, q_gate[l][first:last], q_factors[l], w_bias[l])
        flat, td, out_z, out_f = j.ravel(), q_td[l + 1][first:last].ravel(), q_z[l + 1][first:last].ravel(), \
            q_f[l + 1][first:last].ravel()
        if l < hidden:
            STATELESS(flat, flat, td, out_z, out_f, flat, dt, 0.0, 0.0, scales[l + 1], 1.0)
        else:
            IDENTITY(flat, flat, td, out_z, out_f, flat, dt, 0.0, 0.0, scales[l + 1], 1.0)
    for c in range(2):
        j = (x if c == 0 else label)[first:last].ravel()
        IDENTITY(j, j, clamp_td[c][first:last].ravel(), clamped[2 * c][first:last].ravel(),
                 clamped[2 * c + 1][first:last].ravel(), j, dt, 0.0, 0.0, scales[layers + 1 + c], 1.0)
    prediction = w_out[0][first:last]
    _transmit(clamped[1][first:last], weights[0], prediction, w_gate[0][first:last], w_factors[0], w_bias[0])
    for h in range(hidden):
        state, start, derivative = z[h][first:last].ravel(), q_z[h + 1][first:last].ravel(), \
            fx_prime[h][first:last].ravel()
        for i in range(state.size):
            state[i] = start[i]
            derivative[i] = FX_DERIVATIVE(state[i], zero, one, slope)
    for l in range(layers):
        dmu[l][first:last] = zero
        dtarget[l][first:last] = zero
    for _ in range(T):
        for h in range(hidden):
            _transmit(dmu[h + 1][first:last], weights_t[h], e_out[h][first:last], e_gate[h][first:last], e_factors[h],
                      e_bias[h])
        for h in range(hidden):
            state = z[h][first:last].ravel()  # one view for z and z': the loop vectorises only if it sees one
            INTO(state, e_out[h][first:last].ravel(), dtarget[h][first:last].ravel(), state,
                 zF[h][first:last].ravel(), fx_prime[h][first:last].ravel(), dt, tau_m, gamma, output_scale,
                 resist_scale)
        for h in range(hidden):
            _transmit(zF[h][first:last], weights[h + 1], w_out[h + 1][first:last], w_gate[h + 1][first:last],
                      w_factors[h + 1], w_bias[h + 1])
        for l in range(layers):
            target = clamped[2] if l == hidden else z[l]
            gaussian_into(w_out[l][first:last].ravel(), target[first:last].ravel(), sigmas[l],
                          modulators[l][first:last].ravel(), masks[l][first:last].ravel(),
                          dmu[l][first:last].ravel(), dtarget[l][first:last].ravel())


@njit(**config.jit_options(False))
def _losses(sigmas, target_last, z, w_out):
    """Each error cell's L = -0.5 * sum((target - mu)**2) / sigma."""
    hidden = len(z)
    losses = np.empty(hidden + 1)
    for cell in range(hidden + 1):
        target = target_last if cell == hidden else z[cell]
        losses[cell] = -0.5 * sum_of_squares(target.ravel(), w_out[cell].ravel()) / sigmas[cell]
    return losses


def _settle(blocks, T, dt, cell, scales, sigmas, x, label, q_td, clamp_td, weights, weights_t, w_bias, e_bias, w_gate,
            e_gate, q_gate, w_factors, e_factors, q_factors, modulators, masks, q_j, q_z, q_f, clamped, z, zF, e_out,
            w_out, dmu, dtarget, fx_prime):
    """The batch in ``blocks`` blocks of rows (a parallel loop in the copy compiled parallel)."""
    rows = x.shape[0]
    for block in prange(blocks):
        BODY(block_start(block, blocks, rows), block_start(block + 1, blocks, rows), T, dt, cell, scales, sigmas, x,
             label, q_td, clamp_td, weights, weights_t, w_bias, e_bias, w_gate, e_gate, q_gate, w_factors, e_factors,
             q_factors, modulators, masks, q_j, q_z, q_f, clamped, z, zF, e_out, w_out, dmu, dtarget, fx_prime)
    return _losses(sigmas, clamped[2], z, w_out)


IDENTITY_KIND = ("identity", "gaussian", "euler")
"""The stateless identity cells' kind (q_0, q_L, z_0, z_L)."""


def _compiled(kind):
    body = specialised(_settle_block, *kind, INTO=RATE_INTO_STORED[kind], STATELESS=RATE_INTO[kind],
                       IDENTITY=RATE_INTO[IDENTITY_KIND])
    return (specialised(_settle, *kind, BODY=body),
            specialised(_settle, *kind, parallel=True, BODY=body))


SETTLE = {kind: _compiled(kind) for kind in RATE_KINDS}
"""(act_fx, leak, integration) of the hidden cells -> (serial, parallel) kernels with the arguments
``(blocks, T, dt, (tau_m, gamma, output_scale, resist_scale), scales, sigmas, x, label, q_td, clamp_td,
weights, weights_t, w_bias, e_bias, w_gate, e_gate, q_gate, w_factors, e_factors, q_factors, modulators, masks,
q_j, q_z, q_f, clamped, z, zF, e_out, w_out, dmu, dtarget, fx_prime)`` (tuples of arrays as in the module;
``fx_prime`` scratch arrays like ``z``; scales, sigmas and factors float64 arrays); each compiles on its
first call and returns the losses."""

def settle(kind, *arguments):
    """Run the settling kernel of ``SETTLE[kind]`` on ``arguments`` (all but ``blocks``): in parallel, one
    block of rows per Numba thread that ngc_optim's thread decision gives the batch (:mod:`ngc_optim.threads`:
    levels ``rows``, and ``settling`` for its multiply-adds), when config.PARALLEL allows it; else serially,
    in one block. BLAS runs one thread in either case."""
    serial, parallel = SETTLE[kind]
    T, rows, weights, weights_t = arguments[0], arguments[5].shape[0], arguments[9], arguments[10]
    once = sum(w.shape[0] * w.shape[1] for w in weights) + weights[0].shape[0] * weights[0].shape[1]
    every_step = sum(w.shape[0] * w.shape[1] for w in weights[1:] + weights_t)
    work = rows * (once + T * every_step)
    blocks = min(threads.numba_threads(rows, "rows"), threads.numba_threads(work, "settling"))
    threads.prepare()
    if config.PARALLEL and blocks > 1:
        return parallel(blocks, *arguments)
    return serial(1, *arguments)
