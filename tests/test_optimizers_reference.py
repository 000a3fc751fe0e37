"""Every optimizer, through the object API, against the NumPy reference in naive.py, bit for bit."""

import numpy as np
import pytest

import ngc_optim
from ngc_optim import config

import naive
from cases import CASES, case_id

DTYPES = [np.float32, np.float64]
PARALLEL_SIZE = max(config.PARALLEL_THRESHOLDS.values()) + 3


def random_problem(shape, dtype, steps, seed):
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(shape).astype(dtype)
    updates = [rng.standard_normal(shape).astype(dtype) for _ in range(steps)]
    return p, updates


def run_object_api(name, hyperparameters, p, updates):
    optimizer = ngc_optim.get_optimizer(name, **hyperparameters)
    param = p.copy(order="K")
    state = optimizer.init({"w": param})
    for u in updates:
        optimizer.step({"w": param}, {"w": u}, state)
    return param, state


def assert_matches_reference(name, hyperparameters, p, updates):
    param, state = run_object_api(name, hyperparameters, p, updates)
    expected, slots = naive.run(name, p, updates, **hyperparameters)
    assert param.dtype == p.dtype
    np.testing.assert_array_equal(param, expected)
    for slot, array in slots.items():
        np.testing.assert_array_equal(state.slot(slot)["w"], array, err_msg=slot)
    assert state.count == len(updates)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (33, 31), ()], ids=str)
def test_many_steps_match_reference(case, dtype, shape):
    name, hyperparameters = case
    p, updates = random_problem(shape, dtype, steps=40, seed=1)
    assert_matches_reference(name, hyperparameters, p, updates)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_parallel_path_matches_reference(case, dtype):
    name, hyperparameters = case
    p, updates = random_problem((PARALLEL_SIZE,), dtype, steps=3, seed=2)
    assert_matches_reference(name, hyperparameters, p, updates)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_updates_are_not_trivial(case):
    name, hyperparameters = case
    p, updates = random_problem((50,), np.float32, steps=5, seed=3)
    param, _ = run_object_api(name, hyperparameters, p, updates)
    assert np.all(param != p)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_fortran_ordered_parameter_is_updated_in_place(case):
    name, hyperparameters = case
    p, updates = random_problem((9, 6), np.float64, steps=6, seed=4)
    p = np.asfortranarray(p)
    param, _ = run_object_api(name, hyperparameters, p, updates)
    assert param.flags.f_contiguous
    expected, _ = naive.run(name, p, updates, **hyperparameters)
    np.testing.assert_array_equal(param, expected)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_non_contiguous_updates_give_the_same_result(case):
    name, hyperparameters = case
    p, updates = random_problem((8, 10), np.float32, steps=5, seed=5)
    strided = [np.repeat(u, 2, axis=1)[:, ::2] for u in updates]
    transposed = [np.ascontiguousarray(u.T).T for u in updates]
    assert not strided[0].flags.c_contiguous and not transposed[0].flags.c_contiguous
    expected, _ = run_object_api(name, hyperparameters, p, updates)
    for variant in (strided, transposed):
        param, _ = run_object_api(name, hyperparameters, p, variant)
        np.testing.assert_array_equal(param, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_nan_and_inf_in_updates_follow_the_formulas(case, dtype):
    name, hyperparameters = case
    p, updates = random_problem((16,), dtype, steps=4, seed=6)
    updates[1][[0, 3]] = np.nan
    updates[2][[5, 6]] = [np.inf, -np.inf]
    assert_matches_reference(name, hyperparameters, p, updates)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_several_parameters_step_together(case):
    name, hyperparameters = case
    rng = np.random.default_rng(7)
    params = {"W": rng.standard_normal((5, 4)), "b": rng.standard_normal((1, 4)).astype(np.float32)}
    originals = {key: value.copy() for key, value in params.items()}
    updates = [{key: rng.standard_normal(value.shape).astype(value.dtype) for key, value in params.items()}
               for _ in range(10)]
    optimizer = ngc_optim.get_optimizer(name, **hyperparameters)
    state = optimizer.init(params)
    for update in updates:
        optimizer.step(params, update, state)
    for key, param in params.items():
        expected, _ = naive.run(name, originals[key], [u[key] for u in updates], **hyperparameters)
        np.testing.assert_array_equal(param, expected, err_msg=key)


def test_replacing_a_parameter_array_between_steps_is_followed():
    p, updates = random_problem((12,), np.float32, steps=6, seed=9)
    optimizer = ngc_optim.adam(eta=0.01)
    param = p.copy()
    state = optimizer.init({"w": param})
    for k, u in enumerate(updates):
        if k == 3:
            param = param.copy()
        optimizer.step({"w": param}, {"w": u}, state)
    expected, _ = naive.run("adam", p, updates, eta=0.01)
    np.testing.assert_array_equal(param, expected)
