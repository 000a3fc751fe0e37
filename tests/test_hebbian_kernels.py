"""The fused Hebbian kernels against tests/naive.py, bit for bit, over several steps."""

import numpy as np
import pytest

from ngc_optim import hebbian_kernels
from ngc_optim.optim import get_optimizer

import naive

STEPS = 5
RULES = {
    "sgd": {"eta": 0.05},
    "nag": {"eta": 0.05, "mu": 0.8},
    "momentum": {"eta": 0.05, "mu": 0.7},
    "rmsprop": {"eta": 0.01, "decay": 0.8},
    "adam": {"eta": 0.01, "beta1": 0.8},
    "adamw": {"eta": 0.01, "decoupled_weight_decay": 0.1},
}
SETTINGS = {
    # w_bound, nonnegative, (prior, lmbda, l1_ratio), sign, masked, regularization
    "plain": (0.0, False, (None, 0.0, 0.0), 1.0, False, {}),
    "bound-l2": (1.5, False, ("l2", 0.1, 0.0), -1.0, False, {}),
    "nonnegative-l1-mask": (0.8, True, ("l1", 0.05, 0.0), -1.0, True, {"regularization": "l1", "weight_decay": 0.01}),
    "elastic-mask": (2.0, False, ("l1l2", 0.2, 0.3), 1.0, True, {"regularization": "l2", "weight_decay": 0.02}),
}


def run_kernel(rule, hyperparameters, w, products, mask, settings):
    w_bound, nonnegative, (prior, lmbda, l1_ratio), sign, masked, _ = settings
    optimizer = get_optimizer(rule, **hyperparameters)
    state = optimizer.init({"weights": w})
    kernel = hebbian_kernels.HEBBIAN[optimizer.kernel.name]
    hebbian = (w_bound, lmbda, l1_ratio, sign, 0.0 if nonnegative else -w_bound)
    adjustments = []
    for step, product in enumerate(products):
        m = product.copy()
        scalars = optimizer.advance(state)
        out, before = (w, None) if step % 2 else (np.full_like(w, np.nan), w.copy())
        kernel(w.ravel(), out.ravel(), (m.ravel(),), mask.ravel(), masked, hebbian_kernels.PRIOR_CODES[prior],
               hebbian, *(array.ravel() for array in state.arrays("weights")), *scalars)
        if before is not None:
            np.testing.assert_array_equal(w, before)
        w = out
        adjustments.append(m)
    return w, state, adjustments


def data(dtype, shape=(37, 23), seed=0):
    rng = np.random.default_rng(seed)
    w = rng.uniform(-1.0, 1.0, shape).astype(dtype)
    mask = (rng.random(shape) < 0.6).astype(dtype)
    products = [rng.standard_normal(shape).astype(dtype) for _ in range(STEPS)]
    return w, mask, products


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rule", RULES)
def test_kernel_matches_the_reference_bit_for_bit(rule, dtype, setting):
    settings = SETTINGS[setting]
    w_bound, nonnegative, (prior, lmbda, l1_ratio), sign, masked, regularization = settings
    hyperparameters = {**RULES[rule], **regularization}
    w, mask, products = data(dtype)
    w0 = w.copy()
    w, state, adjustments = run_kernel(rule, hyperparameters, w, products, mask, settings)

    expected, slots = w0, None
    for t, product in enumerate(products, start=1):
        slots = slots or {slot: np.zeros_like(w0) for slot in naive.SLOTS[rule]}
        expected, slots, d = naive.hebbian_step(
            rule, expected, product, slots, t, mask if masked else None, w_bound, 0.0 if nonnegative else -w_bound,
            prior, lmbda, l1_ratio, sign, **hyperparameters)
        np.testing.assert_array_equal(adjustments[t - 1], d)
    np.testing.assert_array_equal(w, expected)
    for slot, array in slots.items():
        np.testing.assert_array_equal(state.slot(slot)["weights"], array)
    assert state.count == STEPS
    assert np.abs(w - w0).max() > 1e-3
    if w_bound > 0:
        assert w.max() <= w_bound and w.min() >= (0.0 if nonnegative else -w_bound)
    if masked:
        assert not w[mask == 0].any()


@pytest.mark.parametrize("prior", [None, "l1", "l2", "l1l2"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adjust_alone_matches_the_reference(prior, dtype):
    w, _, products = data(dtype, seed=4)
    m = products[0].copy()
    hebbian_kernels.ADJUST(w.ravel(), m.ravel(), hebbian_kernels.PRIOR_CODES[prior], (1.5, 0.1, 0.3, -1.0, -1.5))
    np.testing.assert_array_equal(m, naive.hebbian_adjustment(products[0], w, 1.5, prior, 0.1, 0.3, -1.0))


def test_advance_counts_a_step_and_checks_the_state():
    adam = get_optimizer("adam")
    state = adam.init({"w": np.zeros(3, np.float32)})
    assert adam.advance(state)[4] == pytest.approx(1 / (1 - 0.9))
    assert state.count == 1
    with pytest.raises(TypeError, match="adam.advance: state is a SGDState"):
        adam.advance(get_optimizer("sgd").init({"w": np.zeros(3, np.float32)}))
