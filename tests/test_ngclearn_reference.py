"""ngc-learn's functional API, ported: checked against outputs recorded from ngc-learn 3.2.3.

tests/data/ngclearn_optim_vectors.npz holds, for each case, the initial W (7x5) and
b (1x5), the updates of 25 steps, the parameters after each step and the final
optimizer state, as ngc-learn's JAX code (float32) produced them.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import ngc_optim
import ngc_optim.optim

import naive

VECTORS = np.load(Path(__file__).parent / "data" / "ngclearn_optim_vectors.npz")
META = json.loads(str(VECTORS["meta_json"]))
STEPS = META["steps"]
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}
SLOT_KEYS = {"sgd": [], "nag": ["phi"], "adam": ["g1", "g2"]}


def case_arrays(case, key, t):
    return VECTORS[f"{case}/{key}/{t}"]


@pytest.mark.parametrize("module", [ngc_optim, ngc_optim.optim], ids=["ngc_optim", "ngc_optim.optim"])
@pytest.mark.parametrize("case", sorted(META["cases"]))
def test_every_step_matches_ngclearn(case, module):
    spec = META["cases"][case]
    optimizer, hyperparameters = spec["optimizer"], spec["hyperparameters"]
    theta = [VECTORS[f"{case}/W0"], VECTORS[f"{case}/b0"]]
    opt_params = module.get_opt_init_fn(optimizer)(theta)
    step = module.get_opt_step_fn(optimizer, **hyperparameters)
    for t in range(STEPS):
        updates = [case_arrays(case, "dW", t), case_arrays(case, "db", t)]
        opt_params, theta = step(opt_params, theta, updates)
        np.testing.assert_allclose(theta[0], case_arrays(case, "W", t), **TOLERANCE, err_msg=f"W, step {t}")
        np.testing.assert_allclose(theta[1], case_arrays(case, "b", t), **TOLERANCE, err_msg=f"b, step {t}")
        assert theta[0].dtype == np.float32
    time_step = opt_params if optimizer == "sgd" else opt_params[-1]
    assert time_step == VECTORS[f"{case}/state/time_step"] == STEPS
    for k, slot in enumerate(SLOT_KEYS[optimizer]):
        for i, param in enumerate("Wb"):
            np.testing.assert_allclose(opt_params[k][i], VECTORS[f"{case}/state/{slot}_{param}"], **TOLERANCE)


@pytest.mark.parametrize("case", sorted(META["cases"]))
def test_named_step_functions_equal_get_opt_step_fn_and_the_reference(case):
    spec = META["cases"][case]
    optimizer, hyperparameters = spec["optimizer"], spec["hyperparameters"]
    init = getattr(ngc_optim, f"{optimizer}_init")
    step = getattr(ngc_optim, f"{optimizer}_step")
    W0, b0 = VECTORS[f"{case}/W0"], VECTORS[f"{case}/b0"]
    opt_params, theta = init([W0, b0]), [W0, b0]
    updates_W = [case_arrays(case, "dW", t) for t in range(STEPS)]
    for t in range(STEPS):
        opt_params, theta = step(opt_params, theta, [updates_W[t], case_arrays(case, "db", t)],
                                 **hyperparameters)
    expected, _ = naive.run(optimizer, W0, updates_W, **hyperparameters)
    np.testing.assert_array_equal(theta[0], expected)


def flatten(tree):
    if isinstance(tree, (list, tuple)):
        return [leaf for branch in tree for leaf in flatten(branch)]
    return [np.asarray(tree)]


@pytest.mark.parametrize("optimizer", ["sgd", "nag", "adam"])
def test_functional_steps_leave_their_arguments_untouched(optimizer):
    rng = np.random.default_rng(0)
    theta = [rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal((1, 2)).astype(np.float32)]
    updates = [rng.standard_normal(a.shape).astype(np.float32) for a in theta]
    step = ngc_optim.get_opt_step_fn(optimizer, eta=0.1)
    opt_params, theta = step(ngc_optim.get_opt_init_fn(optimizer)(theta), theta, updates)
    arguments = flatten([opt_params, theta, updates])
    copies = [a.copy() for a in arguments]
    _, new_theta = step(opt_params, theta, updates)
    for argument, copy in zip(arguments, copies):
        np.testing.assert_array_equal(argument, copy)
    assert not np.array_equal(new_theta[0], theta[0])


def test_float_time_step_from_ngclearn_is_accepted():
    theta = [np.ones(3, np.float32)]
    (_, _, t), _ = ngc_optim.adam_step((ngc_optim.adam_init(theta)[0], ngc_optim.adam_init(theta)[1],
                                          np.float32(4.0)), theta, [np.ones(3, np.float32)])
    assert t == 5 and isinstance(t, int)


@pytest.mark.parametrize("optimizer", ["momentum", "rmsprop", "adamw"])
def test_other_optimizers_work_through_the_functional_api(optimizer):
    rng = np.random.default_rng(1)
    W0 = rng.standard_normal((4, 3))
    updates = [rng.standard_normal((4, 3)) for _ in range(6)]
    opt_params, theta = ngc_optim.get_opt_init_fn(optimizer)([W0]), [W0]
    step = ngc_optim.get_opt_step_fn(optimizer, eta=0.02)
    for u in updates:
        opt_params, theta = step(opt_params, theta, [u])
    expected, _ = naive.run(optimizer, W0, updates, eta=0.02)
    np.testing.assert_array_equal(theta[0], expected)
    assert opt_params[-1] == len(updates)


@pytest.mark.parametrize("bad, error, message", [
    (lambda: ngc_optim.get_opt_init_fn("adagrad"), ValueError, "unknown optimizer 'adagrad'"),
    (lambda: ngc_optim.get_opt_step_fn("adam", lr=0.1), TypeError, "unknown hyperparameter"),
    (lambda: ngc_optim.sgd_step(0, [np.ones(2)], [np.ones(2), np.ones(2)]), ValueError, "2 updates for 1"),
    (lambda: ngc_optim.sgd_step(1.5, [np.ones(2)], [np.ones(2)]), ValueError, "not a whole number"),
    (lambda: ngc_optim.sgd_step(-1, [np.ones(2)], [np.ones(2)]), ValueError, "non-negative"),
    (lambda: ngc_optim.nag_step(0, [np.ones(2)], [np.ones(2)]), ValueError, r"\(phi, time_step\)"),
    (lambda: ngc_optim.nag_step(([np.ones(3)], 0), [np.ones(2)], [np.ones(2)]), ValueError, "phi"),
    (lambda: ngc_optim.sgd_step(0, np.ones(2), [np.ones(2)]), TypeError, "list of arrays"),
    (lambda: ngc_optim.sgd_step(0, [np.ones(2, np.float32)], [np.ones(2)]), TypeError, "dtype"),
    (lambda: ngc_optim.sgd_step(0, [np.ones(2, np.int64)], [np.ones(2, np.int64)]), TypeError, "int64"),
])
def test_functional_api_rejects_bad_input(bad, error, message):
    with pytest.raises(error, match=message):
        bad()
