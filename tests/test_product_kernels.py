"""The dense products of product_kernels, bit for bit against NumPy's in-order sum, and where they are used."""

import os
import subprocess
import sys

import numpy as np
import pytest

from ngc_optim import cell_kernels
from ngc_optim.product_kernels import OWN_PRODUCT_ELEMENTS, columns_product_into, rows_product_into


def in_order(a, w):
    """a @ w in a's dtype: the k = 0 products, then each next product added, row by row of w (the module's
    definition, written with NumPy's element-wise operations)."""
    if a.shape[1] == 0:
        return np.zeros((a.shape[0], w.shape[1]), a.dtype)
    out = a[:, :1] * w[:1]
    for k in range(1, a.shape[1]):
        out += a[:, k:k + 1] * w[k:k + 1]
    return out


ROWS = (0, 1, 3, 4, 5, 9, 50)
DEPTHS = (0, 1, 2, 7, 129)
COLUMNS = (1, 7, 8, 15, 16, 17, 63, 64, 65, 100, 130)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", ROWS)
def test_rows_and_columns_products_are_the_in_order_sums(dtype, rows):
    rng = np.random.default_rng(rows)
    for depth in DEPTHS:
        for columns in COLUMNS:
            a = rng.standard_normal((rows, depth)).astype(dtype)
            w = rng.standard_normal((depth, columns)).astype(dtype)
            expected = in_order(a, w)
            out = np.full((rows, columns), np.nan, dtype)
            rows_product_into(a, w, out)
            np.testing.assert_array_equal(out, expected, err_msg=f"rows {rows} x {depth} x {columns}")
            out = np.full((rows, columns), np.nan, dtype)
            columns_product_into(np.ascontiguousarray(a.T), w, out, 0)
            np.testing.assert_array_equal(out, expected, err_msg=f"columns {rows} x {depth} x {columns}")
            if rows and depth:
                np.testing.assert_allclose(out, a.astype(np.float64) @ w.astype(np.float64),
                                           rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-4)


def test_a_columns_product_of_a_block_is_that_block_of_the_whole():
    rng = np.random.default_rng(0)
    a, w = rng.standard_normal((30, 77)).astype(np.float32), rng.standard_normal((30, 40)).astype(np.float32)
    whole = np.empty((77, 40), np.float32)
    columns_product_into(a, w, whole, 0)
    for first, last in ((0, 5), (5, 48), (48, 77), (76, 77), (10, 10)):
        block = np.full((last - first, 40), np.nan, np.float32)
        columns_product_into(a, w, block, first)
        np.testing.assert_array_equal(block, whole[first:last])


def test_signs_of_zero_infinities_and_nan_follow_the_in_order_sum():
    a = np.array([[-0.0, 1.0, -0.0], [np.inf, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, np.nan, 2.0]], np.float32)
    w = np.array([[1.0] * 20, [-0.0] * 20, [3.0] * 20], np.float32)
    out = np.empty((4, 20), np.float32)
    rows_product_into(a, w, out)
    np.testing.assert_array_equal(out, in_order(a, w))
    assert np.all(np.signbit(out[0])) and np.all(out[1] == np.inf) and np.all(np.isnan(out[3]))


def test_product_into_uses_the_in_order_sum_up_to_its_weight_size_and_blas_beyond():
    rng = np.random.default_rng(1)
    small = rng.standard_normal((40, 33)).astype(np.float32)
    inputs = rng.standard_normal((6, 40)).astype(np.float32)
    out = np.empty((6, 33), np.float32)
    cell_kernels.product_into(inputs, small, out)
    np.testing.assert_array_equal(out, in_order(inputs, small))
    large = rng.standard_normal((2, OWN_PRODUCT_ELEMENTS // 2 + 1)).astype(np.float32)
    inputs = rng.standard_normal((3, 2)).astype(np.float32)
    out = np.empty((3, large.shape[1]), np.float32)
    cell_kernels.product_into(inputs, large, out)
    np.testing.assert_allclose(out, inputs @ large, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_summed_outer_product_is_the_in_order_sum_over_the_batch(dtype):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((50, 70)).astype(dtype), rng.standard_normal((50, 90)).astype(dtype)
    np.testing.assert_array_equal(cell_kernels.summed_outer(x, y), in_order(np.ascontiguousarray(x.T), y))


def test_narrower_registers_give_the_same_bits(tmp_path):
    """Compiled for AVX2 alone (NUMBA_CPU_NAME=haswell: 32-byte registers), the products are the same in-order
    sums."""
    script = (
        "import sys\n"
        "import numpy as np\n"
        "from ngc_optim.product_kernels import VECTOR_BYTES, rows_product_into\n"
        "rng = np.random.default_rng(3)\n"
        "a, w = rng.standard_normal((9, 33)).astype(np.float32), rng.standard_normal((33, 70)).astype(np.float32)\n"
        "out = np.empty((9, 70), np.float32)\n"
        "rows_product_into(a, w, out)\n"
        "np.save(sys.argv[1], np.concatenate([a.ravel(), w.ravel(), out.ravel()]))\n"
        "print(VECTOR_BYTES)\n"
    )
    env = {**os.environ, "NUMBA_CPU_NAME": "haswell", "NGC_OPTIM_CACHE": "0"}
    path = tmp_path / "values.npy"
    result = subprocess.run([sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == ["32"]
    values = np.load(path)
    a, w, out = values[:9 * 33].reshape(9, 33), values[9 * 33:9 * 33 + 33 * 70].reshape(33, 70), values[-9 * 70:]
    np.testing.assert_array_equal(out.reshape(9, 70), in_order(a, w))
