"""The cells' compiled tanh and sigmoid: float32 approximations within their stated error, float64 exact."""

import numpy as np
import pytest
from numba import njit

from ngc_optim.cell_kernels import gaussian_error, sigmoid, tanh


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
