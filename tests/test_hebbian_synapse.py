"""HebbianSynapse: the update against the formulas and the NumPy optimizer reference, resume, bad input."""

import itertools

import numpy as np
import pytest
from ngc_optim.components import HebbianSynapse
from ngcsimlib import MethodProcess
from ngcsimlib.context import Context

import naive

_names = itertools.count()
STEPS = 6


def reference(W, b, pres, posts, eta, w_bound, nonnegative, prior, sign, pre_wght, post_wght, optim, kwargs):
    """The documented rule, step by step, with tests/naive.py for the optimizer."""
    slots = {"weights": None, "biases": None}
    name, lmbda = prior
    kind = {"gaussian": "l2", "ridge": "l2", "laplacian": "l1", "lasso": "l1", "elastic_net": "l1l2",
            "constant": None}.get(name, name)
    lmbda, l1_ratio = lmbda if kind == "l1l2" else (lmbda, 0.0)
    for t, (pre, post) in enumerate(zip(pres, posts), start=1):
        dW = naive.hebbian_adjustment((pre * pre_wght).T @ (post * post_wght), W, w_bound, kind, lmbda, l1_ratio,
                                      sign)
        db = np.sum(post * post_wght, axis=0, keepdims=True) * sign
        with np.errstate(all="ignore"):
            W, slots["weights"] = naive.run(optim, W, [dW], t0=t - 1, slots=slots["weights"], eta=eta, **kwargs)
            b, slots["biases"] = naive.run(optim, b, [db], t0=t - 1, slots=slots["biases"], eta=eta, **kwargs)
        if w_bound > 0:
            W = np.clip(W, 0.0 if nonnegative else -w_bound, w_bound)
    return W, b


CASES = [
    ("sgd", {}, 1.0, False, ("constant", 0.0), 1.0),
    ("sgd", {}, 0.0, False, ("l2", 0.1), -1.0),
    ("nag", {"mu": 0.8}, 1.0, True, ("l1", 0.05), -1.0),
    ("adam", {"beta1": 0.8}, 2.0, False, ("elastic_net", [0.1, 0.3]), -1.0),
    ("momentum", {}, 0.5, True, ("gaussian", 0.02), 1.0),
    ("rmsprop", {}, 0.0, False, ("laplacian", 0.01), -1.0),
    ("adamw", {"decoupled_weight_decay": 0.05}, 1.0, False, ("constant", 0.0), -1.0),
]


@pytest.mark.parametrize("optim, kwargs, w_bound, nonnegative, prior, sign", CASES,
                         ids=[f"{c[0]}-{c[4][0]}-wb{c[2]}" for c in CASES])
def test_evolve_follows_the_rule(optim, kwargs, w_bound, nonnegative, prior, sign):
    rng = np.random.default_rng(0)
    pres = [rng.standard_normal((3, 5)) for _ in range(STEPS)]
    posts = [rng.standard_normal((3, 4)) for _ in range(STEPS)]
    with Context(f"hebb{next(_names)}"):
        synapse = HebbianSynapse("W", (5, 4), eta=0.05, weight_init={"dist": "uniform", "amin": -0.5, "amax": 0.5},
                                 bias_init={"dist": "constant", "value": 0.1}, w_bound=w_bound,
                                 is_nonnegative=nonnegative, prior=prior, sign_value=sign, optim_type=optim,
                                 optim_kwargs=kwargs, pre_wght=0.9, post_wght=1.1, batch_size=3, dtype="float64")
        evolve = MethodProcess("evolve") >> synapse.evolve
    W0, b0 = synapse.weights.get().copy(), synapse.biases.get().copy()
    for pre, post in zip(pres, posts):
        synapse.pre.set(pre)
        synapse.post.set(post)
        evolve.run(dt=1.0)
    W, b = reference(W0, b0, pres, posts, 0.05, w_bound, nonnegative, prior, sign, 0.9, 1.1, optim, kwargs)
    np.testing.assert_allclose(synapse.weights.get(), W, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(synapse.biases.get(), b, rtol=1e-12, atol=1e-14)
    assert np.abs(synapse.weights.get() - W0).max() > 1e-3
    assert synapse.opt_state.count == STEPS


def test_save_and_load_resume_bit_for_bit(tmp_path):
    rng = np.random.default_rng(1)
    pres = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(8)]
    posts = [rng.standard_normal((2, 2)).astype(np.float32) for _ in range(8)]

    def build(name):
        with Context(name):
            synapse = HebbianSynapse("W", (3, 2), eta=0.01, bias_init={"dist": "constant", "value": 0.0},
                                     optim_type="adam", sign_value=-1.0, batch_size=2, seed=5)
            return synapse, MethodProcess("evolve") >> synapse.evolve

    def run(synapse, evolve, steps):
        for pre, post in steps:
            synapse.pre.set(pre)
            synapse.post.set(post)
            evolve.run(dt=1.0)

    straight, evolve = build(f"straight{next(_names)}")
    run(straight, evolve, zip(pres, posts))
    first, evolve = build(f"first{next(_names)}")
    run(first, evolve, zip(pres[:3], posts[:3]))
    first.save(str(tmp_path))
    second, evolve = build(f"second{next(_names)}")
    second.load(str(tmp_path))
    assert second.opt_state.count == 3
    run(second, evolve, zip(pres[3:], posts[3:]))
    np.testing.assert_array_equal(second.weights.get(), straight.weights.get())
    np.testing.assert_array_equal(second.opt_state.g2["weights"], straight.opt_state.g2["weights"])


@pytest.mark.parametrize("kwargs, message", [
    ({"prior": ("cauchy", 0.1)}, r"unknown prior 'cauchy'"),
    ({"prior": ("elastic_net", 0.1)}, r"takes \[scale, l1_ratio\]"),
    ({"optim_type": "adagrad"}, r"optimizer: unknown optimizer 'adagrad'"),
    ({"optim_kwargs": {"beta1": 1.5}, "optim_type": "adam"}, r"optimizer: adam: beta1=1.5 is out of range"),
    ({"optim_kwargs": {"eta": 0.1}}, r"give the step size as eta"),
    ({"w_bound": -1.0}, r"w_bound=-1.0 must be >= 0"),
    ({"eta": -0.1}, r"eta=-0.1 is out of range"),
])
def test_bad_settings_are_refused_naming_the_synapse(kwargs, message):
    with Context(f"badhebb{next(_names)}"), pytest.raises(ValueError, match=f"HebbianSynapse 'W': .*{message}"):
        HebbianSynapse("W", (3, 2), **kwargs)


def build_synapse(**kwargs):
    with Context(f"hebbx{next(_names)}"):
        synapse = HebbianSynapse("W", (4, 3), eta=0.1, batch_size=2, **kwargs)
        processes = (MethodProcess("evolve") >> synapse.evolve, MethodProcess("calc") >> synapse.calc_update)
    return synapse, *processes


def test_optimizer_state_lives_in_the_opt_params_compartment():
    synapse, evolve, _ = build_synapse(optim_type="adam", bias_init={"dist": "constant", "value": 0.0})
    synapse.pre.set(np.ones((2, 4), np.float32))
    synapse.post.set(np.ones((2, 3), np.float32))
    evolve.run(dt=1.0)
    evolve.run(dt=1.0)
    state = synapse.opt_params.get()
    assert state is synapse.opt_state and state.count == 2
    assert state.g1["weights"].any() and state.g1["biases"].any()


def test_calc_update_gives_the_adjustment_without_learning():
    synapse, _, calc = build_synapse(prior=("l2", 0.1), sign_value=-1.0)
    pre = np.arange(8, dtype=np.float32).reshape(2, 4) / 8
    post = np.ones((2, 3), np.float32)
    synapse.pre.set(pre)
    synapse.post.set(post)
    W = synapse.weights.get().copy()
    calc.run()
    expected = naive.hebbian_adjustment(pre.T @ post, W, 1.0, "l2", 0.1, 0.0, -1.0)
    np.testing.assert_array_equal(synapse.dWeights.get(), expected)
    np.testing.assert_array_equal(synapse.dBiases.get(), -np.full((1, 3), 2.0, np.float32))
    np.testing.assert_array_equal(synapse.weights.get(), W)
    assert synapse.opt_state.count == 0


def test_connections_removed_by_p_conn_stay_removed():
    synapse, evolve, _ = build_synapse(p_conn=0.5, weight_init={"dist": "uniform", "amin": -0.5, "amax": 0.5})
    removed = synapse.mask.get() == 0
    assert removed.any() and not removed.all()
    synapse.pre.set(np.ones((2, 4), np.float32))
    synapse.post.set(np.ones((2, 3), np.float32))
    evolve.run(dt=1.0)
    assert not synapse.weights.get()[removed].any() and synapse.weights.get()[~removed].all()


@pytest.mark.parametrize("compartment, value, message", [
    ("pre", np.ones((3, 4), np.float32), r"pre is float32\[3, 4\]; expected float32\[2, 4\]"),
    ("post", np.ones((2, 3), np.float64), r"post is float64\[2, 3\]; expected float32\[2, 3\]"),
    ("post", [[1.0, 2.0, 3.0]] * 2, r"post is list; expected float32\[2, 3\]"),
])
def test_bad_compartment_values_are_refused_naming_the_synapse(compartment, value, message):
    synapse, evolve, calc = build_synapse()
    W = synapse.weights.get().copy()
    getattr(synapse, compartment).set(value)
    for process in (evolve, calc):
        with pytest.raises(ValueError, match=f"HebbianSynapse 'W': {message}"):
            process.run(dt=1.0)
    np.testing.assert_array_equal(synapse.weights.get(), W)
    assert synapse.opt_state.count == 0
