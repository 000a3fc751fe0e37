"""GenerativePCN: one batch against the formulas, learning digits, partial batches, resume bit for bit, bad input."""

import itertools

import numpy as np
import pytest
from ngc_optim.models import PCN, GenerativePCN

from ngc_optim.checkpoint import CheckpointError
from ngc_optim.datasets import load_digits

import naive

ACTIVATIONS = {
    "relu": (lambda v: np.maximum(v, 0), lambda v: (v >= 0).astype(v.dtype)),
    "tanh": (np.tanh, lambda v: 1 - np.tanh(v) ** 2),
}


def reference_settle(weights, x, T, dt, tau_m, act_fx, prior):
    """Latents z_1..z_L and errors e_0..e_{L-1} after T settling steps from z = 0, in float32 (see the module)."""
    fx, dfx = ACTIVATIONS[act_fx]
    name, gamma = prior
    leak = np.sign if name == "laplacian" else (lambda v: v)
    layers = len(weights)
    z = [None] + [np.zeros((len(x), w.shape[0]), np.float32) for w in weights]
    errors = [np.zeros((len(x), w.shape[1]), np.float32) for w in weights]
    gamma, rate, step = np.float32(gamma), np.float32(1 / tau_m), np.float32(dt)
    for _ in range(T):
        bottom_up = [None] + [errors[l - 1] @ weights[l - 1].T for l in range(1, layers + 1)]
        for l in range(layers, 0, -1):
            top_down = -errors[l] if l < layers else 0
            z[l] = z[l] + (-gamma * leak(z[l]) + (bottom_up[l] * dfx(z[l]) + top_down)) * rate * step
        targets = [x] + z[1:layers]
        errors = [targets[l] - fx(z[l + 1]) @ weights[l] for l in range(layers)]
    return z, errors


def reference_batch(weights, x, T, dt, tau_m, act_fx, prior, eta, optim_type, w_bound, normalize):
    """One training batch from the formulas: settling, energy, one step of each W, bound and normalisation."""
    fx, _ = ACTIVATIONS[act_fx]
    z, errors = reference_settle(weights, x, T, dt, tau_m, act_fx, prior)
    penalty = np.abs if prior[0] == "laplacian" else (lambda v: 0.5 * v * v)
    energy = sum(0.5 * np.sum(e.astype(np.float64) ** 2) for e in errors)
    energy += prior[1] * sum(np.sum(penalty(zl.astype(np.float64))) for zl in z[1:])
    new_weights = []
    for l, w in enumerate(weights):
        hebbian = fx(z[l + 1]).T @ errors[l]
        if w_bound > 0:
            hebbian = hebbian * (np.float32(w_bound) - np.abs(w))
        updated = naive.run(optim_type, w, [-hebbian], eta=eta)[0]
        if w_bound > 0:
            updated = np.clip(updated, -w_bound, w_bound)
        if normalize:
            updated = updated / np.maximum(np.linalg.norm(updated, axis=1, keepdims=True), 1e-8)
        new_weights.append(updated)
    return new_weights, energy / len(x), errors


@pytest.mark.parametrize("settings", [
    {"act_fx": "relu", "prior": ("laplacian", 0.3), "optim_type": "sgd", "eta": 0.05, "w_bound": 1.0,
     "normalize": True},
    {"act_fx": "tanh", "prior": ("gaussian", 0.2), "optim_type": "adam", "eta": 0.01, "w_bound": 0.0,
     "normalize": False},
])
def test_a_training_batch_follows_the_formulas(settings):
    shape = {"sizes": (6, 5, 4), "T": 4, "dt": 1.0, "tau_m": 5.0, "batch_size": 7, "seed": 3}
    model = GenerativePCN(**shape, **settings)
    x = np.random.default_rng(0).random((7, 6)).astype(np.float32)
    weights = [model.W[l].weights.get().copy() for l in (1, 2)]
    _, errors = reference_settle(weights, x, 4, 1.0, 5.0, settings["act_fx"], settings["prior"])
    np.testing.assert_allclose(model.reconstruct(x), x - errors[0], rtol=1e-5, atol=1e-6)
    energy = model.train_batch(x)
    expected_weights, expected_energy, _ = reference_batch(weights, x, 4, 1.0, 5.0, **settings)
    for l in (1, 2):
        np.testing.assert_allclose(model.W[l].weights.get(), expected_weights[l - 1], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(model.E[l].weights.get(), weights[l - 1].T)
        assert np.abs(model.W[l].weights.get() - weights[l - 1]).max() > 1e-3
    if settings["normalize"]:
        np.testing.assert_allclose(np.linalg.norm(model.W[1].weights.get(), axis=1), 1.0, rtol=1e-6)
    assert energy == pytest.approx(expected_energy, rel=1e-5)
    assert energy > 0.1


def test_training_lowers_the_reconstruction_error_below_the_mean_image():
    data = load_digits()
    baseline = float(np.mean((data.x_test - data.x_train.mean(axis=0)) ** 2))
    model = GenerativePCN(seed=1)
    untrained = model.evaluate(data.x_test)["mse"]
    history = model.fit(data.x_train, epochs=4, validation=data.x_test, progress=False)
    errors = [row["val_mse"] for row in history]
    assert untrained > errors[0] and all(a > b for a, b in itertools.pairwise(errors))
    assert errors[-1] < 0.5 * baseline
    assert history[-1]["train_energy"] < history[0]["train_energy"]
    assert model.evaluate(data.x_test)["mse"] == errors[-1]


def digits_subset():
    data = load_digits()
    return data.x_train[:120], data.x_test[:40]


def test_any_number_of_rows_is_settled_alone():
    x, _ = digits_subset()
    model = GenerativePCN(sizes=(64, 20, 8), T=5, batch_size=25)
    reconstructions = model.reconstruct(x[:60])
    np.testing.assert_array_equal(model.reconstruct(x[:7]), reconstructions[:7])
    np.testing.assert_array_equal(model.reconstruct(x[50:60]), reconstructions[50:60])
    codes = model.encode(x[:30])
    assert codes.shape == (30, 8) and codes.min() >= 0
    np.testing.assert_array_equal(model.encode(x[:3]), codes[:3])
    result = model.evaluate(x[:30])
    assert result["mse"] == pytest.approx(np.mean((x[:30].astype(np.float64) - reconstructions[:30]) ** 2),
                                          rel=1e-12)
    assert result["energy"] > 0
    assert model.reconstruct(x[:0]).shape == (0, 64) and model.encode(x[:0]).shape == (0, 8)


@pytest.mark.parametrize("optim_type", ["sgd", "adam"])
def test_training_is_deterministic_and_resumes_bit_for_bit(tmp_path, optim_type):
    x, x_val = digits_subset()
    settings = {"sizes": (64, 12, 6), "T": 3, "batch_size": 25, "seed": 5, "optim_type": optim_type}
    straight = GenerativePCN(**settings)
    straight.fit(x, epochs=4, validation=x_val, progress=False)
    again = GenerativePCN(**settings)
    again.fit(x, epochs=4, validation=x_val, progress=False)
    first = GenerativePCN(**settings)
    first.fit(x, epochs=2, validation=x_val, checkpoint=tmp_path / "recon.h5", progress=False)
    resumed = GenerativePCN.load(tmp_path / "recon.h5")
    assert resumed.epoch == 2 and resumed.config == straight.config
    resumed.fit(x, epochs=4, validation=x_val, progress=False)
    for model in (again, resumed):
        for l in (1, 2):
            np.testing.assert_array_equal(model.W[l].weights.get(), straight.W[l].weights.get())
            assert model.W[l].opt_state.count == straight.W[l].opt_state.count == 4 * (120 // 25)
            if optim_type == "adam":
                np.testing.assert_array_equal(model.W[l].opt_state.g2["weights"],
                                              straight.W[l].opt_state.g2["weights"])
        assert [dict(r, seconds=0) for r in model.history] == [dict(r, seconds=0) for r in straight.history]
    assert not straight.W[1].has_bias


def test_a_pcn_checkpoint_is_not_loaded_as_a_generative_model(tmp_path):
    PCN(sizes=(64, 8, 10), T=2).save(tmp_path / "pcn.h5")
    with pytest.raises(CheckpointError, match=r"not a GenerativePCN checkpoint \(model='PCN'\)"):
        GenerativePCN.load(tmp_path / "pcn.h5")


@pytest.mark.parametrize("kwargs, message", [
    ({"sizes": (64,)}, r"sizes=\(64,\) must be at least two positive ints"),
    ({"T": 0}, r"T=0 must be a positive int"),
    ({"act_fx": "swish"}, r"act_fx='swish'"),
    ({"prior": ("cauchy", 0.1)}, r"prior=\('cauchy', 0.1\); expected \(name, gamma\) with name in"),
    ({"prior": ("laplacian", -1.0)}, r"prior=\('laplacian', -1.0\).*gamma >= 0"),
    ({"optim_type": "lbfgs"}, r"optimizer: unknown optimizer 'lbfgs'"),
    ({"w_bound": -1.0}, r"w_bound=-1.0 must be a number >= 0"),
    ({"normalize": 1}, r"normalize=1 must be True or False"),
    ({"weight_init": {"dist": "cauchy"}}, r"GenerativePCN weight_init: unknown dist 'cauchy'"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GenerativePCN(**kwargs)


def test_bad_data_is_refused():
    x, _ = digits_subset()
    model = GenerativePCN(sizes=(64, 12), T=2, batch_size=25)
    with pytest.raises(ValueError, match=r"inputs have shape \(120, 63\); expected \(samples, 64\)"):
        model.fit(x[:, :63], epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"inputs contain NaN or infinite values"):
        model.fit(np.where(x > 0.5, np.nan, x), epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"built for batch_size=25, fit got batch_size=50"):
        model.fit(x, epochs=1, batch_size=50, progress=False)
    with pytest.raises(ValueError, match=r"10 training samples, fewer than one batch of 25"):
        model.fit(x[:10], epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"the validation data are empty"):
        model.fit(x, epochs=1, validation=x[:0], progress=False)
    with pytest.raises(ValueError, match=r"epochs=1.5 must be a non-negative int"):
        model.fit(x, epochs=1.5, progress=False)
    with pytest.raises(ValueError, match=r"evaluate needs at least one sample"):
        model.evaluate(x[:0])
    assert model.epoch == 0 and model.W[1].opt_state.count == 0
