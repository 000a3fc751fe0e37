"""The cells' compiled tanh and sigmoid (float32 approximations within their stated error, float64 exact), the
Gaussian loss, and the synapses' product of a spiking row."""

import numpy as np
import pytest
from numba import njit

from ngc_optim.cell_kernels import SPARSE_FRACTION, gaussian_error, product_into, sigmoid, tanh


@njit
def apply_tanh(x, out):
    for i in range(x.size):
        out[i] = tanh(x[i])


@njit
def apply_sigmoid(x, out):
    for i in range(x.size):
        out[i] = sigmoid(x[i])


X = np.concatenate([np.linspace(-20, 20, 400_001), [0.0, -0.0, 1e-30, -1e-8, np.inf, -np.inf]])


def test_float32_tanh_is_within_6_ulp():
    x = X.astype(np.float32)
    out = np.empty_like(x)
    apply_tanh(x, out)
    exact = np.tanh(x.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(out - exact) / ulp) <= 6
    assert out.dtype == np.float32 and np.all(np.abs(out) <= 1)


def test_float32_sigmoid_is_within_3e_7():
    x = X.astype(np.float32)
    out = np.empty_like(x)
    apply_sigmoid(x, out)
    exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    assert np.max(np.abs(out - exact)) < 3e-7


@pytest.mark.parametrize("apply, exact", [(apply_tanh, np.tanh), (apply_sigmoid, lambda v: 1 / (1 + np.exp(-v)))])
def test_float64_functions_are_numpys(apply, exact):
    x = X[np.isfinite(X)]
    out = np.empty_like(x)
    apply(x, out)
    np.testing.assert_allclose(out, exact(x), rtol=1e-15, atol=1e-300)


def test_gaussian_loss_is_summed_in_float64():
    mu = np.zeros((40, 500), np.float32)
    target = np.full((40, 500), 1e-3, np.float32) + np.arange(500, dtype=np.float32) * 1e-4
    ones = np.ones_like(mu)
    _, _, loss = gaussian_error(mu, target, 2.0, ones, ones)
    expected = -0.5 * np.sum(target.astype(np.float64) ** 2) / 2.0
    assert loss == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_sparse_row_sums_the_weight_rows_of_its_nonzero_inputs_in_order(dtype):
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(400, 30)).astype(dtype)
    row = np.zeros((1, 400), dtype)
    active = np.sort(rng.choice(400, 400 // SPARSE_FRACTION, replace=False))
    row[0, active] = rng.choice([1.0, 0.5, -2.0], active.size)
    expected = np.zeros(30, dtype)
    for i in active:
        expected = expected + row[0, i] * weights[i]
    out = np.full((1, 30), np.nan, dtype)
    product_into(row, weights, out)
    np.testing.assert_array_equal(out[0], expected)
    np.testing.assert_allclose(out, row @ weights, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rows", [1, 3])
def test_dense_inputs_and_several_rows_are_a_matrix_product(rows):
    rng = np.random.default_rng(1)
    weights = rng.normal(size=(40, 7)).astype(np.float32)
    inputs = rng.normal(size=(rows, 40)).astype(np.float32)
    if rows > 1:
        inputs[:, 2:] = 0  # several rows go to the dense product however sparse they are
    out = np.empty((rows, 7), np.float32)
    product_into(inputs, weights, out)
    np.testing.assert_allclose(out, inputs @ weights, rtol=1e-6, atol=1e-6)
