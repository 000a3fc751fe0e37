"""Bad hyperparameters and bad inputs: a specific error naming what is wrong, nothing modified."""

import inspect
import math

import numpy as np
import pytest

import ngc_optim

from cases import CASES, case_id


@pytest.mark.parametrize("name, hyperparameters, error, message", [
    ("sgd", {"eta": -0.1}, ValueError, r"sgd: eta=-0.1 is out of range; expected eta >= 0"),
    ("sgd", {"eta": math.nan}, ValueError, r"eta=nan is not finite"),
    ("sgd", {"eta": math.inf}, ValueError, r"eta=inf is not finite"),
    ("sgd", {"eta": "0.1"}, TypeError, r"eta must be a real number"),
    ("sgd", {"eta": True}, TypeError, r"eta must be a real number"),
    ("nag", {"mu": 1.0}, ValueError, r"expected 0 <= mu < 1"),
    ("momentum", {"mu": -0.5}, ValueError, r"expected 0 <= mu < 1"),
    ("rmsprop", {"decay": 1.0}, ValueError, r"expected 0 <= decay < 1"),
    ("rmsprop", {"eps": 0.0}, ValueError, r"expected eps > 0"),
    ("adam", {"beta1": 1.0}, ValueError, r"expected 0 <= beta1 < 1"),
    ("adam", {"beta2": -1e-3}, ValueError, r"expected 0 <= beta2 < 1"),
    ("adam", {"eps": -1e-8}, ValueError, r"expected eps > 0"),
    ("adam", {"lr": 0.1}, TypeError, r"unknown hyperparameter\(s\) \['lr'\]"),
    ("adamw", {"decoupled_weight_decay": -0.1}, ValueError, r"decoupled_weight_decay >= 0"),
    ("adam", {"regularization": "l3"}, ValueError, r"regularization='l3'; expected None, 'l1' or 'l2'"),
    ("adam", {"weight_decay": 0.1}, ValueError, r"weight_decay=0.1 has no effect without"),
    ("adam", {"regularization": "l2", "weight_decay": -0.1}, ValueError, r"weight_decay >= 0"),
])
def test_bad_hyperparameters_are_refused(name, hyperparameters, error, message):
    with pytest.raises(error, match=message):
        ngc_optim.get_optimizer(name, **hyperparameters)


@pytest.mark.parametrize("name", ["adagrad", "", None, ["adam"]])
def test_unknown_optimizer_names_are_refused(name):
    with pytest.raises(ValueError, match="unknown optimizer .* expected one of"):
        ngc_optim.get_optimizer(name)


def test_signatures_and_defaults_follow_ngclearn():
    assert ngc_optim.sgd().eta == 0.001
    assert (ngc_optim.nag().eta, ngc_optim.nag().mu) == (0.01, 0.9)
    adam = ngc_optim.adam()
    assert (adam.eta, adam.beta1, adam.beta2, adam.eps) == (0.001, 0.9, 0.999, 1e-8)
    assert list(inspect.signature(ngc_optim.adamw).parameters) == [
        "eta", "beta1", "beta2", "eps", "decoupled_weight_decay", "regularization", "weight_decay"]
    assert ngc_optim.adam(eta=0.01).get_hyperparameters() == {
        "eta": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "regularization": None, "weight_decay": 0.0}
    assert ngc_optim.adam(eta=0.01) == ngc_optim.get_optimizer("adam", eta=0.01) != ngc_optim.adam()


def make(name, hyperparameters):
    rng = np.random.default_rng(0)
    optimizer = ngc_optim.get_optimizer(name, **hyperparameters)
    params = {"W": rng.standard_normal((4, 3)).astype(np.float32), "b": rng.standard_normal((1, 3)).astype(np.float32)}
    state = optimizer.init(params)
    good = {key: np.ones_like(value) for key, value in params.items()}
    optimizer.step(params, good, state)
    return optimizer, params, state, good


def snapshot(params, state):
    slots = {slot: {k: v.copy() for k, v in state.slot(slot).items()} for slot in state.slot_names}
    return {k: v.copy() for k, v in params.items()}, slots, state.count


def assert_unchanged(before, params, state):
    old_params, old_slots, old_count = before
    assert state.count == old_count
    for key, value in old_params.items():
        np.testing.assert_array_equal(params[key], value)
    for slot, arrays in old_slots.items():
        for key, value in arrays.items():
            np.testing.assert_array_equal(state.slot(slot)[key], value)


def bad_inputs(params, good):
    """(description, params, updates, error, message): the bad entry is always the last one, b."""
    W = params["W"]
    yield "updates shape", params, {**good, "b": np.ones((3, 1), np.float32)}, ValueError, \
        r"updates\['b'\] has shape \(3, 1\); params\['b'\] has \(1, 3\)"
    yield "updates dtype", params, {**good, "b": np.ones((1, 3))}, TypeError, \
        r"updates\['b'\] has dtype float64; params\['b'\] has float32"
    yield "integer updates", params, {**good, "b": np.ones((1, 3), np.int32)}, TypeError, \
        r"updates\['b'\] has dtype int32; expected float32 or float64"
    yield "list updates", params, {**good, "b": [[1.0, 1.0, 1.0]]}, TypeError, \
        r"updates\['b'\] must be a numpy array, got list"
    yield "missing update", params, {"W": good["W"]}, ValueError, r"updates do not match .* missing \['b'\]"
    yield "extra update", params, {**good, "c": good["b"]}, ValueError, r"unexpected \['c'\]"
    yield "missing param", {"W": W}, good, ValueError, r"params do not match .* missing \['b'\]"
    yield "renamed param", {"W": W, "bias": params["b"]}, good, ValueError, \
        r"missing \['b'\], unexpected \['bias'\]"
    yield "param shape", {"W": W, "b": np.ones((1, 4), np.float32)}, good, ValueError, \
        r"params\['b'\] has shape \(1, 4\); the optimizer state has \(1, 3\)"
    yield "integer param", {"W": W, "b": np.ones((1, 3), np.int64)}, good, TypeError, \
        r"params\['b'\] has dtype int64"
    read_only = np.ones((1, 3), np.float32)
    read_only.flags.writeable = False
    yield "read-only param", {"W": W, "b": read_only}, good, ValueError, r"params\['b'\] is read-only"
    strided = np.ones((1, 6), np.float32)[:, ::2]
    yield "non-contiguous param", {"W": W, "b": strided}, good, ValueError, r"params\['b'\] is not contiguous"
    yield "params not a dict", [W, params["b"]], good, TypeError, r"params must be a dict"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_bad_step_inputs_raise_and_change_nothing(case):
    optimizer, params, state, good = make(*case)
    for description, bad_params, bad_updates, error, message in bad_inputs(params, good):
        before = snapshot(params, state)
        with pytest.raises(error, match=message):
            optimizer.step(bad_params, bad_updates, state)
        assert_unchanged(before, params, state)
    optimizer.step(params, good, state)
    assert state.count == 2


def test_dtype_mismatch_between_state_and_param_is_refused():
    optimizer, params, state, good = make("adam", {})
    with pytest.raises(TypeError, match=r"params\['W'\] has dtype float64; state g1\['W'\] has float32"):
        optimizer.step({**params, "W": params["W"].astype(np.float64)}, good, state)
    sgd, params, state, good = make("sgd", {})
    params64 = {k: v.astype(np.float64) for k, v in params.items()}
    sgd.step(params64, {k: v.astype(np.float64) for k, v in good.items()}, state)
    assert params64["W"].dtype == np.float64


def test_state_of_another_optimizer_is_refused():
    _, params, state, good = make("adam", {})
    with pytest.raises(TypeError, match="state is a AdamState, expected NAGState from nag.init"):
        ngc_optim.nag().step(params, good, state)


def test_init_refuses_bad_parameters():
    with pytest.raises(TypeError, match=r"params\['W'\] has dtype int64"):
        ngc_optim.adam().init({"W": np.ones(3, np.int64)})
    with pytest.raises(ValueError, match=r"params\['W'\] is not contiguous"):
        ngc_optim.adam().init({"W": np.ones(6)[::2]})
    with pytest.raises(TypeError, match="params must be a dict"):
        ngc_optim.adam().init([np.ones(3)])


def test_state_slots_are_read_only_mappings():
    _, _, state, _ = make("adam", {})
    with pytest.raises(TypeError):
        state.g1["W"] = np.zeros((4, 3), np.float32)
    assert state.param_names == ("W", "b")
    assert repr(state) == "AdamState(count=1, params={W: (4, 3), b: (1, 3)})"
