"""Convolution kernels: ngc-learn's 2-D convolution and deconvolution synapses, their back-transmission, their
filter adjustments, and the Hebbian evolve of both through every optimizer rule.

Arrays are NHWC as ngc-learn's (``ngclearn.components.synapses.convolution.ngcconv``): signals
(batch, height, width, channels), filters HWIO (k, k, in channels, out channels). Every operation ngc-learn's
convolution synapses perform (through ``jax.lax.conv_general_dilated`` / ``conv_transpose`` with its own
padding rules) is one of four sums, each with one padding ``pad`` and the stride ``s``; an index outside its
array reads 0:

* strided correlation (:func:`strided_correlation_into`), a convolution's forward pass:
  ``out[n, p, q, o] = sum_{a, b, c} x[n, p*s + a - pad, q*s + b - pad, c] * w[a, b, c, o]``
* dilated correlation (:func:`dilated_correlation_into`), a deconvolution's forward pass (lax's
  ``conv_transpose``), on x dilated by s (``D[i*s] = x[i]``, zeros between):
  ``out[n, p, q, o] = sum_{a, b, c} D[n, p + a - pad, q + b - pad, c] * w[a, b, c, o]``
* their filter adjustments (:func:`strided_filter_gradient_into`, :func:`dilated_filter_gradient_into`):
  ``dW[a, b, c, o] = sum_{n, i, j} x[n, a + i*s - pad, b + j*s - pad, c] * post[n, i, j, o]`` (rows and
  columns of x from ``limit`` on read 0: ngc-learn's trim of x), and
  ``dW[a, b, c, o] = sum_{n, p, q} D[n, a + p - pad, b + q - pad, c] * post[n, p, q, o]``.

The back-transmissions use ngc-learn's rotated filter ``rot180(w)[a, b, o, c] = w[k-1-a, k-1-b, c, o]``
(:func:`rotated`): a convolution's is the dilated correlation of post with it, a deconvolution's the strided
one. ``geometry`` = ``(transposed, stride, forward_pad, back_pad, gradient_pad, limit)`` (ints; transposed 1
for a deconvolution) carries what a synapse fixed at construction (see
``ngc_optim.components.conv_synapse``).

The loops are serial (the batch is the outer loop of each: a block of rows gives those rows' bits) and
accumulate every output element in order a, b, c (forward) or n, i, j (filter adjustment), in the arrays'
dtype.
"""

import numpy as np
from numba import njit

from . import config
from .cell_kernels import copy_into
from .hebbian_kernels import _hebbian_limited, compiled_evolves, specialised_loops

__all__ = ["CONV_EVOLVE", "CONV_EVOLVE_IN_PLACE", "CONV_HEBBIAN", "CONV_HEBBIAN_IN_PLACE", "CONV_STEP", "conv_adjustments", "conv_backtransmit", "conv_transmit",
           "dilated_correlation_into", "dilated_filter_gradient_into", "rotated", "strided_correlation_into",
           "strided_filter_gradient_into"]

_compile = njit(**config.jit_options(False))


@_compile
def strided_correlation_into(x, w, stride, pad, out):
    """out[n, p, q, o] = sum_{a, b, c} x[n, p*stride + a - pad, q*stride + b - pad, c] * w[a, b, c, o]."""
    batch, height, width, channels = x.shape
    k_rows, k_cols, _, n_out = w.shape
    _, out_rows, out_cols, _ = out.shape
    acc = np.empty(n_out, out.dtype)
    for n in range(batch):
        for p in range(out_rows):
            for q in range(out_cols):
                acc[:] = 0
                for a in range(k_rows):
                    y = p * stride + a - pad
                    if y < 0 or y >= height:
                        continue
                    for b in range(k_cols):
                        z = q * stride + b - pad
                        if z < 0 or z >= width:
                            continue
                        for c in range(channels):
                            value = x[n, y, z, c]
                            for o in range(n_out):
                                acc[o] += value * w[a, b, c, o]
                for o in range(n_out):
                    out[n, p, q, o] = acc[o]


@_compile
def dilated_correlation_into(x, w, stride, pad, out):
    """out[n, p, q, o] = sum_{a, b, c} D[n, p + a - pad, q + b - pad, c] * w[a, b, c, o], D = x dilated by
    stride (D[i*stride] = x[i], zeros between): only the taps a = (pad - p) mod stride, + stride, ... land on
    x, at rows (p + a - pad) / stride, one apart."""
    batch, height, width, channels = x.shape
    k_rows, k_cols, _, n_out = w.shape
    _, out_rows, out_cols, _ = out.shape
    acc = np.empty(n_out, out.dtype)
    for n in range(batch):
        for p in range(out_rows):
            first_a = (pad - p) % stride
            first_y = (p + first_a - pad) // stride
            for q in range(out_cols):
                first_b = (pad - q) % stride
                first_z = (q + first_b - pad) // stride
                acc[:] = 0
                y = first_y
                for a in range(first_a, k_rows, stride):
                    if 0 <= y < height:
                        z = first_z
                        for b in range(first_b, k_cols, stride):
                            if 0 <= z < width:
                                for c in range(channels):
                                    value = x[n, y, z, c]
                                    for o in range(n_out):
                                        acc[o] += value * w[a, b, c, o]
                            z += 1
                    y += 1
                for o in range(n_out):
                    out[n, p, q, o] = acc[o]


@_compile
def strided_filter_gradient_into(x, post, stride, pad, limit, out):
    """out[a, b, c, o] = sum_{n, i, j} x[n, a + i*stride - pad, b + j*stride - pad, c] * post[n, i, j, o],
    rows and columns of x from ``limit`` on read as 0."""
    batch, height, width, channels = x.shape
    _, post_rows, post_cols, n_out = post.shape
    k_rows, k_cols = out.shape[0], out.shape[1]
    rows, cols = min(height, limit), min(width, limit)
    out[:] = 0
    for a in range(k_rows):
        for b in range(k_cols):
            for n in range(batch):
                for i in range(post_rows):
                    y = a + i * stride - pad
                    if y < 0 or y >= rows:
                        continue
                    for j in range(post_cols):
                        z = b + j * stride - pad
                        if z < 0 or z >= cols:
                            continue
                        for c in range(channels):
                            value = x[n, y, z, c]
                            for o in range(n_out):
                                out[a, b, c, o] += value * post[n, i, j, o]


@_compile
def dilated_filter_gradient_into(x, post, stride, pad, out):
    """out[a, b, c, o] = sum_{n, p, q} D[n, a + p - pad, b + q - pad, c] * post[n, p, q, o], D = x dilated by
    stride: only p = (pad - a) mod stride, + stride, ... land on x, at rows (a + p - pad) / stride, one apart."""
    batch, height, width, channels = x.shape
    _, post_rows, post_cols, n_out = post.shape
    k_rows, k_cols = out.shape[0], out.shape[1]
    out[:] = 0
    for a in range(k_rows):
        first_p = (pad - a) % stride
        first_y = (a + first_p - pad) // stride
        for b in range(k_cols):
            first_q = (pad - b) % stride
            first_z = (b + first_q - pad) // stride
            for n in range(batch):
                y = first_y
                for p in range(first_p, post_rows, stride):
                    if 0 <= y < height:
                        z = first_z
                        for q in range(first_q, post_cols, stride):
                            if 0 <= z < width:
                                for c in range(channels):
                                    value = x[n, y, z, c]
                                    for o in range(n_out):
                                        out[a, b, c, o] += value * post[n, p, q, o]
                            z += 1
                    y += 1


@_compile
def rotated(w):
    """ngc-learn's rot180 of a filter, contiguous: out[a, b, o, c] = w[k-1-a, k-1-b, c, o]."""
    k_rows, k_cols, n_in, n_out = w.shape
    out = np.empty((k_rows, k_cols, n_out, n_in), w.dtype)
    for a in range(k_rows):
        for b in range(k_cols):
            for c in range(n_in):
                for o in range(n_out):
                    out[a, b, o, c] = w[k_rows - 1 - a, k_cols - 1 - b, c, o]
    return out


@_compile
def conv_transmit(inputs, weights, biases, geometry, factor):
    """A convolution synapse's advance_state: outputs = (the forward pass of inputs through weights) * factor +
    biases (biases (1, rows, cols, out channels), broadcast over the batch)."""
    transposed, stride, forward_pad = geometry[0], geometry[1], geometry[2]
    out = np.empty((inputs.shape[0], biases.shape[1], biases.shape[2], biases.shape[3]), weights.dtype)
    if transposed:
        dilated_correlation_into(inputs, weights, stride, forward_pad, out)
    else:
        strided_correlation_into(inputs, weights, stride, forward_pad, out)
    gain = weights.dtype.type(factor)
    for n in range(out.shape[0]):
        for p in range(out.shape[1]):
            for q in range(out.shape[2]):
                for o in range(out.shape[3]):
                    out[n, p, q, o] = out[n, p, q, o] * gain + biases[0, p, q, o]
    return out


@_compile
def conv_backtransmit(post, weights, geometry, size, sign_value):
    """A convolution synapse's backtransmit: dInputs (post.shape[0], size, size, in channels) = the
    back-transmission of post through ngc-learn's rotated weights, times sign_value."""
    transposed, stride, back_pad = geometry[0], geometry[1], geometry[3]
    out = np.empty((post.shape[0], size, size, weights.shape[2]), weights.dtype)
    if transposed:
        strided_correlation_into(post, rotated(weights), stride, back_pad, out)
    else:
        dilated_correlation_into(post, rotated(weights), stride, back_pad, out)
    return out * weights.dtype.type(sign_value)


@_compile
def conv_products(pre, post, weights, geometry, sign_value, has_bias):
    """(the filter adjustment of pre and post, shaped as weights; dBiases = the sum over the batch of post
    (row by row) times sign_value, or zeros without biases)."""
    transposed, stride, gradient_pad, limit = geometry[0], geometry[1], geometry[4], geometry[5]
    product = np.empty(weights.shape, weights.dtype)
    if transposed:
        dilated_filter_gradient_into(pre, post, stride, gradient_pad, product)
    else:
        strided_filter_gradient_into(pre, post, stride, gradient_pad, limit, product)
    d_biases = post[0:1].copy()
    if has_bias:
        for r in range(1, post.shape[0]):
            for p in range(post.shape[1]):
                for q in range(post.shape[2]):
                    for o in range(post.shape[3]):
                        d_biases[0, p, q, o] += post[r, p, q, o]
        d_biases *= weights.dtype.type(sign_value)
    else:
        d_biases[:] = 0
    return product, d_biases


@njit(inline="always")
def _conv_constants(dt, conv):
    """The element functions' constants, in _hebbian_limited's layout: (w_bound, w_decay, decays, 0,
    sign_value, low, bounded)."""
    w_bound, w_decay, sign_value, low = conv
    return dt(w_bound), dt(w_decay), w_decay > 0.0, dt(0.0), dt(sign_value), dt(low), w_bound > 0.0


@njit(inline="always")
def _conv_element(products, i, w, code, constants):
    """(dW, the optimizer's update dW) of ngc-learn's Hebbian convolution: dW = m * sign_value, minus
    w * w_decay when w_decay > 0."""
    _, w_decay, decays, _, sign_value, _, _ = constants
    d = products[0][i] * sign_value
    if decays:
        d = d - w * w_decay
    return d, d


CONV_HEBBIAN, CONV_HEBBIAN_IN_PLACE = specialised_loops("conv_hebbian", CONSTANTS=_conv_constants,
                                                        ADJUSTMENT=_conv_element, LIMITED=_hebbian_limited)
"""Optimizer kernel name -> the fused pass of a Hebbian convolution over W (dW written into the product); its
in-place copy."""

KERNEL = BIAS = EVOLVE = EVOLVE_IN_PLACE = SCALARS = None
"""Bound in each compiled copy of _conv_evolve and _conv_step."""


@_compile
def conv_adjustments(pre, post, weights, geometry, settings):
    """(dW, dBiases) of a Hebbian convolution synapse for the current values, changing nothing
    (``settings`` as _conv_evolve's)."""
    conv, has_bias = settings
    product, d_biases = conv_products(pre, post, weights, geometry, conv[2], has_bias)
    constants = _conv_constants(weights.dtype.type, conv)
    w, d = weights.ravel(), product.ravel()
    for i in range(w.size):
        d[i] = _conv_element((d,), i, w[i], 0, constants)[0]
    return product, d_biases


def _conv_evolve(pre, post, weights, out, biases, biases_out, geometry, settings, slots, slots_out, bias_slots,
                 scalars):
    """A Hebbian convolution synapse's evolve: the new weights into ``out``, the optimizer's new slots of the
    weights into ``slots_out`` and the new biases into ``biases_out`` (the arrays themselves to update in
    place; the biases' slots are updated in place), in one pass; returns (dW, dBiases). ``settings`` = ((w_bound, w_decay, sign_value, low), has_bias): dW is the filter adjustment
    of pre and post (conv_products) through KERNEL (CONV_HEBBIAN of the rule: sign, decay, the optimizer's
    step, the clip), the biases stepped by BIAS (the rule's serial kernel) with dBiases."""
    conv, has_bias = settings
    product, d_biases = conv_products(pre, post, weights, geometry, conv[2], has_bias)
    w = weights.ravel()
    KERNEL(w, out.ravel(), (product.ravel(),), w, False, 0, conv, *slots, *slots_out, *scalars)
    if has_bias:
        copy_into(biases_out, 0, biases)
        BIAS(biases_out.ravel(), d_biases.ravel(), *bias_slots, *scalars)
    return product, d_biases


def _conv_step(pre, post, weights, biases, geometry, settings, optimizer_constants, count, first, slots, bias_slots,
               out, biases_out, slots_out):
    """The compiled circuit's form of _conv_evolve, as hebbian_kernels._hebbian_step: returns (W, biases, dW,
    dBiases), the new values written into ``out``, ``biases_out`` and ``slots_out`` by the step's first run in
    a call (``first[0]``), updated in place there after it."""
    count[0] += 1
    scalars = SCALARS(optimizer_constants, count[0])
    if first[0]:
        first[0] = 0
        d_weights, d_biases = EVOLVE(pre, post, weights, out, biases, biases_out, geometry, settings, slots,
                                     slots_out, bias_slots, scalars)
    else:
        d_weights, d_biases = EVOLVE_IN_PLACE(pre, post, out, out, biases_out, biases_out, geometry, settings,
                                              slots_out, slots_out, bias_slots, scalars)
    return out, biases_out, d_weights, d_biases


CONV_EVOLVE, CONV_EVOLVE_IN_PLACE, CONV_STEP = compiled_evolves(
    _conv_evolve, _conv_step, lambda function, rule: f"_conv_{function}_{rule}", CONV_HEBBIAN, CONV_HEBBIAN_IN_PLACE)
"""Optimizer kernel name -> a Hebbian convolution synapse's whole evolve (see _conv_evolve), the same in place,
and its step in a compiled circuit (counting the optimizer's steps)."""
