"""Benchmark of the convolution kernels (ngc_optim.conv_kernels) against NumPy's im2col.

For each layer (NHWC batch, filter HWIO, stride, SAME padding), median milliseconds over ``--repeats``
interleaved rounds of:

* forward: ``conv_transmit`` against im2col (a strided view of the padded input, copied) then one matrix
  product with the filter reshaped to (k*k*C, O) (BLAS);
* filter adjustment: ``conv_products`` (dW and dBiases) against the same columns transposed times post;
* back-transmission: ``conv_backtransmit`` against post times the filter transposed (BLAS) then col2im
  (``np.add.at`` over the k*k offsets).

The ratio is the median of per-round ratios (NumPy / ngc_optim: above 1, the kernels are faster). Results are
checked equal to within float32 tolerance before timing.
"""

import argparse
import time

import numpy as np
from ngc_optim.components.conv_synapse import conv_geometry

from ngc_optim.conv_kernels import conv_backtransmit, conv_products, conv_transmit

LAYERS = {"mnist 28x28 1->8 k5 s1": (16, 28, 1, 8, 5, 1), "8->16 k3 s2 on 28x28": (16, 28, 8, 16, 3, 2),
          "16->32 k3 s1 on 14x14": (16, 14, 16, 32, 3, 1)}


def _columns(x, k, stride, pad, out):
    padded = np.pad(x, ((0, 0), (pad, pad + k), (pad, pad + k), (0, 0)))
    n, _, _, c = x.shape
    s0, s1, s2, s3 = padded.strides
    view = np.lib.stride_tricks.as_strided(padded, (n, out, out, k, k, c), (s0, s1 * stride, s2 * stride, s1, s2, s3))
    return view.reshape(n * out * out, k * k * c)


def numpy_forward(x, w, stride, pad, out):
    k, _, c, o = w.shape
    return (_columns(x, k, stride, pad, out) @ w.reshape(k * k * c, o)).reshape(x.shape[0], out, out, o)


def numpy_filter(x, post, stride, pad, k):
    n, out, _, o = post.shape
    return (_columns(x, k, stride, pad, out).T @ post.reshape(n * out * out, o)).reshape(k, k, x.shape[3], o)


def numpy_back(post, w, stride, pad, size):
    n, out, _, o = post.shape
    k, _, c, _ = w.shape
    patches = (post.reshape(n * out * out, o) @ w.reshape(k * k * c, o).T).reshape(n, out, out, k, k, c)
    padded = np.zeros((n, size + 2 * pad + k + stride, size + 2 * pad + k + stride, c), post.dtype)
    for a in range(k):
        for b in range(k):
            padded[:, a:a + out * stride:stride, b:b + out * stride:stride] += patches[:, :, :, a, b]
    return padded[:, pad:pad + size, pad:pad + size]


def _median_ms(calls, repeats):
    times = [[] for _ in calls]
    for _ in range(repeats):
        for index, call in enumerate(calls):
            start = time.perf_counter()
            call()
            times[index].append(time.perf_counter() - start)
    times = np.array(times)
    return np.median(times, axis=1) * 1e3, float(np.median(times[1] / times[0]))


def _passes(batch, size, n_in, n_out, k, stride):
    """{pass: (ours, NumPy's)} for one layer, SAME padding."""
    out, back_size, geometry = conv_geometry("bench", size, k, stride, "SAME", False)
    pad = geometry[2]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, size, size, n_in), dtype=np.float32)
    w = rng.standard_normal((k, k, n_in, n_out), dtype=np.float32)
    post = rng.standard_normal((batch, out, out, n_out), dtype=np.float32)
    biases = np.zeros((1, out, out, n_out), np.float32)
    return {"forward": (lambda: conv_transmit(x, w, biases, geometry, 1.0),
                        lambda: numpy_forward(x, w, stride, pad, out)),
            "dW": (lambda: conv_products(x, post, w, geometry, 1.0, True)[0],
                   lambda: numpy_filter(x, post, stride, pad, k)),
            "dInputs": (lambda: conv_backtransmit(post, w, geometry, back_size, 1.0),
                        lambda: numpy_back(post, w, stride, pad, back_size))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    repeats = parser.parse_args().repeats
    print(f"{'layer':28s} {'pass':10s} {'ngc_optim ms':>12s} {'numpy ms':>9s} {'ratio':>6s}")
    for name, layer in LAYERS.items():
        for label, (ours, reference) in _passes(*layer).items():
            np.testing.assert_allclose(ours(), reference(), rtol=1e-3, atol=1e-3)
            (ours_ms, numpy_ms), ratio = _median_ms((ours, reference), repeats)
            print(f"{name:28s} {label:10s} {ours_ms:12.3f} {numpy_ms:9.3f} {ratio:6.2f}")

if __name__ == "__main__":
    main()
