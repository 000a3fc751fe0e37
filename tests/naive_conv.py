"""Slow, obviously correct NumPy references of ngc-learn's convolution operations, written the way
``ngclearn.components.synapses.convolution.ngcconv`` composes them from ``jax.lax``: one general convolution
(:func:`conv_general`: dilate the input, pad it (negative pads crop), dilate the filter, then a loop over the
output positions), and ngc-learn's functions and padding rules on top of it, transposes and all."""

import numpy as np


def _dilate(x, factor, axes):
    """x with factor - 1 zeros inserted between neighbours along ``axes``."""
    if factor == 1:
        return x
    shape = list(x.shape)
    for axis in axes:
        shape[axis] = (shape[axis] - 1) * factor + 1
    out = np.zeros(shape, x.dtype)
    index = [slice(None)] * x.ndim
    for axis in axes:
        index[axis] = slice(None, None, factor)
    out[tuple(index)] = x
    return out


def _pad(x, pads):
    """x (NHWC) padded by (low, high) on both spatial axes; a negative pad crops."""
    for axis in (1, 2):
        low, high = pads[axis - 1]
        widths = [(0, 0)] * 4
        widths[axis] = (max(low, 0), max(high, 0))
        x = np.pad(x, widths)
        stop = x.shape[axis] - max(-high, 0)
        x = np.take(x, np.arange(max(-low, 0), stop), axis=axis)
    return x


def conv_general(lhs, rhs, stride, pads, lhs_dilation=1, rhs_dilation=1):
    """lax.conv_general_dilated with ('NHWC', 'HWIO', 'NHWC'): out[n, p, q, :] = sum_{a, b} L[n, p*stride + a,
    q*stride + b, :] @ R[a, b], L = lhs dilated then padded, R = rhs dilated."""
    lhs = _pad(_dilate(lhs, lhs_dilation, (1, 2)), pads)
    rhs = _dilate(rhs, rhs_dilation, (0, 1))
    rows = (lhs.shape[1] - rhs.shape[0]) // stride + 1
    cols = (lhs.shape[2] - rhs.shape[1]) // stride + 1
    out = np.zeros((lhs.shape[0], rows, cols, rhs.shape[3]), lhs.dtype)
    for n in range(lhs.shape[0]):
        for p in range(rows):
            for q in range(cols):
                for a in range(rhs.shape[0]):
                    for b in range(rhs.shape[1]):
                        out[n, p, q] += lhs[n, p * stride + a, q * stride + b] @ rhs[a, b]
    return out


def lax_pads(size, k, stride, padding):
    """lax's (low, high) pads of a strided convolution for "SAME" or "VALID", both spatial axes."""
    if padding == "VALID":
        return ((0, 0), (0, 0))
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return ((total // 2, total - total // 2),) * 2


def conv_transpose_pads(k, stride, padding):
    """lax._conv_transpose_padding for "SAME" or "VALID", both spatial axes."""
    if padding == "SAME":
        length = k + stride - 2
        low = k - 1 if stride > k - 1 else int(np.ceil(length / 2))
    else:
        length = k + stride - 2 + max(k - stride, 0)
        low = k - 1
    return ((low, length - low),) * 2


def conv2d(x, w, stride, padding):
    """ngcconv.conv2d with "SAME"/"VALID" or explicit pads."""
    pads = lax_pads(x.shape[1], w.shape[0], stride, padding) if isinstance(padding, str) else padding
    return conv_general(x, w, stride, pads)


def deconv2d(x, w, stride, padding):
    """ngcconv.deconv2d (lax.conv_transpose without kernel flip) with "SAME"/"VALID" or explicit pads."""
    pads = conv_transpose_pads(w.shape[0], stride, padding) if isinstance(padding, str) else padding
    return conv_general(x, w, 1, pads, lhs_dilation=stride)


def rot180(w):
    return np.transpose(np.flip(w, axis=(0, 1)), (0, 1, 3, 2))


def conv_same_transpose_padding(inputs, output, kernel, stride):
    pad_len = output - ((stride - 1) * (inputs - 1) + inputs - (kernel - 1))
    pad_a = kernel - 1 if stride > kernel else int(np.ceil(pad_len / 2))
    return ((pad_a, pad_len - pad_a),) * 2


def conv_valid_transpose_padding(inputs, output, kernel, stride):
    pad_len = output - ((stride - 1) * (inputs - 1) + inputs - (kernel - 1))
    return ((kernel - 1, pad_len - kernel + 1),) * 2


def deconv_same_transpose_padding(inputs, output, kernel, stride):
    pad_len = output - ((stride - 1) * (inputs - 1) + inputs - (kernel - 1))
    pad_a = output - 1 if stride >= output - 1 else int(np.ceil(pad_len / 2))
    return ((pad_a, pad_len - pad_a),) * 2


def deconv_valid_transpose_padding(inputs, output, kernel, stride):
    pad_len = output - ((stride - 1) * (inputs - 1) + inputs - (kernel - 1))
    return ((output - 1, pad_len - output + 1),) * 2


def conv_pad_args(x_size, k, stride, padding):
    """ConvSynapse's pad_args (for its dK)."""
    if padding == "VALID":
        return ((0, 0), (0, 0))
    along = max(k - stride, 0) if x_size % stride == 0 else max(k - x_size % stride, 0)
    return ((along // 2, along - along // 2),) * 2


def calc_dK_conv(x, post, stride, pad_args, k):
    """ngcconv.calc_dK_conv, with HebbianConvSynapse's delta_shape (the trim that gives a k x k result)."""
    def dk(x):
        out = conv_general(np.transpose(x, (3, 1, 2, 0)), np.transpose(post, (1, 2, 0, 3)), 1, pad_args,
                           rhs_dilation=stride)
        return np.transpose(out, (1, 2, 0, 3))
    delta = max(dk(x).shape[0] - k, 0)
    return dk(x[:, :x.shape[1] - delta, :x.shape[2] - delta, :])


def calc_dX_conv(w, post, stride, x_size, padding):
    """HebbianConvSynapse's backtransmit (before sign_value)."""
    rule = conv_same_transpose_padding if padding == "SAME" else conv_valid_transpose_padding
    return deconv2d(post, rot180(w), stride, rule(post.shape[1], x_size, w.shape[0], stride))


def calc_dK_deconv(x, post, stride, k, padding):
    """ngcconv.calc_dK_deconv (HebbianDeconvSynapse's delta_shape is always 0)."""
    rule = deconv_same_transpose_padding if padding == "SAME" else deconv_valid_transpose_padding
    xT, postT = np.transpose(x, (3, 1, 2, 0)), np.transpose(post, (1, 2, 0, 3))
    out = deconv2d(xT, postT, stride, rule(xT.shape[1], k, postT.shape[1], stride))
    return np.transpose(out, (1, 2, 0, 3))


def calc_dX_deconv(w, post, stride, padding):
    """HebbianDeconvSynapse's backtransmit (before sign_value)."""
    return conv2d(post, rot180(w), stride, padding)


def forward(transposed, x, w, stride, padding):
    return deconv2d(x, w, stride, padding) if transposed else conv2d(x, w, stride, padding)


def filter_adjustment(transposed, x, post, stride, padding, k):
    if transposed:
        return calc_dK_deconv(x, post, stride, k, padding)
    return calc_dK_conv(x, post, stride, conv_pad_args(x.shape[1], k, stride, padding), k)


def back(transposed, w, post, stride, padding, x_size):
    if transposed:
        return calc_dX_deconv(w, post, stride, padding)
    return calc_dX_conv(w, post, stride, x_size, padding)
