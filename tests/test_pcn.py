"""The PCN: one training batch against the formulas, determinism, resume bit for bit, bad input."""

import numpy as np
import pytest
from ngc_optim.models import PCN

from ngc_optim import config, threads
from ngc_optim.datasets import load_digits, one_hot

import naive

SMALL = {"sizes": (6, 5, 4, 3), "T": 4, "dt": 1.0, "tau_m": 5.0, "eta": 0.01, "batch_size": 7, "seed": 3}


def reference_batch(weights, biases, x, y, T, dt, tau_m, eta):
    """One batch from the formulas in float32: projection, T settling steps, energy, Adam step on W and b."""
    f = np.tanh
    layers = len(weights)
    z = [x]
    for l in range(layers):
        a = (f(z[-1]) if l > 0 else z[-1]) @ weights[l] + biases[l]
        z.append(a)
    z[-1] = np.clip(y, 0.001, 0.999).astype(np.float32)
    dmu = [np.zeros_like(zl) for zl in z[1:]]
    rate = np.float32(dt / tau_m)
    for _ in range(T):
        for l in range(1, layers):
            feedback = dmu[l] @ weights[l].T
            z[l] = z[l] + ((feedback * (1 - np.tanh(z[l]) ** 2)) + -dmu[l - 1]) * rate
        inputs = [z[0]] + [f(z[l]) for l in range(1, layers)]
        dmu = [z[l + 1] - (inputs[l] @ weights[l] + biases[l]) for l in range(layers)]
    energy = sum(0.5 * np.sum(d.astype(np.float64) ** 2) for d in dmu) / len(x)
    new_weights, new_biases = [], []
    for l in range(layers):
        dW = -(inputs[l].T @ dmu[l])
        db = -np.sum(dmu[l], axis=0, keepdims=True)
        new_weights.append(naive.run("adam", weights[l], [dW], eta=eta)[0])
        new_biases.append(naive.run("adam", biases[l], [db], eta=eta)[0])
    return new_weights, new_biases, energy


def test_a_training_batch_follows_the_formulas():
    model = PCN(**SMALL)
    rng = np.random.default_rng(0)
    for l in range(1, 4):
        model.W[l].biases.set(rng.normal(0, 0.1, (1, SMALL["sizes"][l])).astype(np.float32))
    x = rng.random((7, 6)).astype(np.float32)
    y = one_hot(rng.integers(0, 3, 7), 3)
    weights = [model.W[l].weights.get().copy() for l in range(1, 4)]
    biases = [model.W[l].biases.get().copy() for l in range(1, 4)]
    energy = model.train_batch(x, y)
    expected_weights, expected_biases, expected_energy = reference_batch(weights, biases, x, y, 4, 1.0, 5.0, 0.01)
    for l in range(1, 4):
        np.testing.assert_allclose(model.W[l].weights.get(), expected_weights[l - 1], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(model.W[l].biases.get(), expected_biases[l - 1], rtol=1e-5, atol=1e-6)
        if l > 1:
            np.testing.assert_array_equal(model.E[l].weights.get(), weights[l - 1].T)
        assert np.abs(model.W[l].weights.get() - weights[l - 1]).max() > 1e-3
    assert energy == pytest.approx(expected_energy, rel=1e-5)
    assert energy > 0.01


def digits_subset():
    data = load_digits()
    return data.x_train[:120], data.y_train[:120], data.x_test[:40], data.y_test[:40]


def settled_state(model):
    """Copies of every compartment the projection, the clamping and the settling steps write."""
    state = {f"{cell.name}.{key}": getattr(cell, key).get().copy() for cell in model.z + model.q
             for key in ("j", "z", "zF")}
    state.update({f"{cell.name}.{key}": getattr(cell, key).get().copy() for cell in model.e[1:]
                  for key in ("dmu", "dtarget", "L", "modulator", "mask")})
    state.update({f"{synapse.name}.outputs": synapse.outputs.get().copy()
                  for synapse in model.E[2:] + model.W[1:] + model.Q[1:]})
    state.update({f"{synapse.name}.weights": synapse.weights.get().copy() for synapse in model.E[2:]})
    state.update({f"{cell.name}.{name}": getattr(cell, name).get().copy() for cell in model.z
                  if cell.state_optimizer is not None for name in ("opt_count", *cell.state_slots)})
    return state


@pytest.mark.parametrize("parallel", [True, False])
@pytest.mark.parametrize(("sizes", "act_fx", "extra"), [
    ((6, 5, 4, 3), "tanh", {}), ((6, 9, 3), "relu", {}), ((6, 5, 7, 4, 3), "sigmoid", {}),
    ((6, 5, 4, 3), "tanh", {"state_optim": {"name": "adam", "eta": 0.05}, "output_error": "cross_entropy"})])
def test_the_compiled_circuits_equal_ngcsimlib_per_call(sizes, act_fx, extra, parallel, monkeypatch):
    monkeypatch.setattr(config, "PARALLEL", parallel)
    monkeypatch.setattr(threads.LEVELS["settling"], "minimum", 1)
    model = PCN(sizes, act_fx=act_fx, T=5, batch_size=53, seed=1, **extra)
    processes = (model.start_process, model.settle_process, model.evolve_process)
    for process in processes:
        process.compile_after = 0
    rng = np.random.default_rng(2)
    x = rng.random((53, 6)).astype(np.float32)
    y = one_hot(rng.integers(0, 3, 53), 3)
    energy = model.train_batch(x, y)
    model.settle(x, y)
    got = settled_state(model)
    for process in processes:
        process.compiled_circuit = False
    model.settle(x, y)
    expected = settled_state(model)
    assert all(process._circuit for process in processes)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)
    assert np.abs(expected[f"e{len(sizes) - 1}.dmu"]).max() > 1e-3
    weights = [synapse.weights.get().copy() for synapse in model.W[1:]]
    assert model.train_batch(x, y) == pytest.approx(np.mean(model._energies(53)), rel=1e-6)
    assert all(np.any(synapse.weights.get() != w) for synapse, w in zip(model.W[1:], weights))
    assert energy > 0
    assert model.settle_process._circuit.blocks(model.T) == (min(2, threads.get_threads()) if parallel else 1)


@pytest.mark.parametrize("extra, updates", [
    ({}, 1),
    ({"state_optim": {"name": "nag", "eta": 0.05, "mu": 0.5}, "update_every": 2, "output_error": "cross_entropy"}, 2),
])
def test_training_is_deterministic_and_resumes_bit_for_bit(tmp_path, extra, updates):
    x, y, x_val, y_val = digits_subset()
    settings = {"sizes": (64, 12, 10), "T": 3, "batch_size": 25, "seed": 5, **extra}
    straight = PCN(**settings)
    straight.fit(x, y, epochs=5, validation=(x_val, y_val), progress=False)
    again = PCN(**settings)
    again.fit(x, y, epochs=5, validation=(x_val, y_val), progress=False)
    first = PCN(**settings)
    first.fit(x, y, epochs=2, validation=(x_val, y_val), checkpoint=tmp_path / "pcn.h5", progress=False)
    resumed = PCN.load(tmp_path / "pcn.h5")
    assert resumed.epoch == 2
    resumed.fit(x, y, epochs=5, validation=(x_val, y_val), progress=False)
    for model in (again, resumed):
        for l in (1, 2):
            np.testing.assert_array_equal(model.W[l].weights.get(), straight.W[l].weights.get())
            np.testing.assert_array_equal(model.W[l].opt_state.g2["weights"], straight.W[l].opt_state.g2["weights"])
        assert [dict(r, seconds=0) for r in model.history] == [dict(r, seconds=0) for r in straight.history]
    assert straight.W[1].opt_state.count == 5 * (120 // 25) * updates


def test_predict_handles_any_number_of_rows():
    x, y, _, _ = digits_subset()
    model = PCN(sizes=(64, 12, 10), T=2, batch_size=25)
    predictions = model.predict(x[:60])
    np.testing.assert_array_equal(model.predict(x[:7]), predictions[:7])
    np.testing.assert_array_equal(model.predict(x[50:60]), predictions[50:60])
    scores = model.predict_scores(x[:3])
    W1, b1 = model.W[1].weights.get(), model.W[1].biases.get()
    W2, b2 = model.W[2].weights.get(), model.W[2].biases.get()
    np.testing.assert_allclose(scores, np.tanh(x[:3] @ W1 + b1) @ W2 + b2, rtol=1e-5, atol=1e-6)
    result = model.evaluate(x[:30], y[:30])
    assert result["accuracy"] == np.mean(model.predict(x[:30]) == y[:30]) and result["energy"] > 0


def test_the_default_pcn_learns_digits():
    data = load_digits()
    model = PCN(eta=0.003)
    model.fit(data.x_train, data.y_train, epochs=5, progress=False)
    assert model.evaluate(data.x_test, data.y_test)["accuracy"] >= 0.9


@pytest.mark.parametrize("kwargs, message", [
    ({"sizes": (64,)}, r"sizes=\(64,\) must be at least two positive ints"),
    ({"T": 0}, r"T=0 must be a positive int"),
    ({"act_fx": "swish"}, r"act_fx='swish'"),
    ({"optim_type": "lbfgs"}, r"optimizer: unknown optimizer 'lbfgs'"),
    ({"optim_kwargs": {"beta1": 2.0}}, r"optimizer: adam: beta1=2.0 is out of range"),
    ({"tau_m": 0.0}, r"tau_m=0.0 must be a positive number"),
    ({"weight_init": {"dist": "cauchy"}}, r"PCN weight_init: unknown dist 'cauchy'"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=f"PCN: .*{message}|{message}"):
        PCN(**kwargs)


def test_bad_data_is_refused():
    x, y, _, _ = digits_subset()
    model = PCN(sizes=(64, 12, 10), T=2, batch_size=25)
    with pytest.raises(ValueError, match=r"inputs have shape \(120, 63\); expected \(samples, 64\)"):
        model.fit(x[:, :63], y, epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"labels must lie in 0 .. 9"):
        model.fit(x, y + 10, epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"built for batch_size=25, fit got batch_size=50"):
        model.fit(x, y, epochs=1, batch_size=50, progress=False)
    with pytest.raises(ValueError, match=r"10 training samples, fewer than one batch of 25"):
        model.fit(x[:10], y[:10], epochs=1, progress=False)
    assert model.epoch == 0 and model.W[1].opt_state.count == 0


def test_a_version_1_checkpoint_still_loads_and_trains_on():
    from pathlib import Path

    import h5py

    path = Path(__file__).parent / "data" / "v1_pcn.h5"
    model = PCN.load(path)
    assert model.epoch == 2 and len(model.history) == 2 and model.sizes == (8, 6, 3)
    with h5py.File(path, "r") as file:
        for layer in (1, 2):
            np.testing.assert_array_equal(model.W[layer].weights.get(), file[f"W{layer}/weights"][()])
            np.testing.assert_array_equal(model.W[layer].opt_state.g2["weights"],
                                          file[f"W{layer}/optimizer/g2/weights"][()])
    rng = np.random.default_rng(0)
    model.fit(rng.random((8, 8), dtype=np.float32), rng.integers(0, 3, 8), epochs=3, progress=False)
    assert model.epoch == 3 and np.isfinite(model.history[-1]["train_energy"])


def test_one_hot_labels_train_as_integer_labels_bit_for_bit():
    x, y, x_test, y_test = digits_subset()
    by_class, by_row = (PCN(sizes=(64, 12, 10), T=3, batch_size=20, seed=2) for _ in range(2))
    by_class.fit(x, y, epochs=2, validation=(x_test, y_test), progress=False)
    by_row.fit(x, one_hot(y, 10), epochs=2, validation=(x_test, one_hot(y_test, 10).astype(np.int64)),
               progress=False)
    for l in (1, 2):
        np.testing.assert_array_equal(by_row.W[l].weights.get(), by_class.W[l].weights.get())
    assert [dict(row, seconds=0) for row in by_row.history] == [dict(row, seconds=0) for row in by_class.history]
    assert by_row.evaluate(x_test, one_hot(y_test, 10) == 1) == by_class.evaluate(x_test, y_test)


@pytest.mark.parametrize("labels, message", [
    (lambda y: one_hot(y, 10)[:, :9], r"float32\[120, 9\]; expected 120 integer labels or 120 one-hot rows of 10"),
    (lambda y: one_hot(y, 10) * 0.9, r"one-hot labels must be 0 or 1: row 0 is \[0.0, "),
    (lambda y: np.vstack([np.ones((1, 10)), one_hot(y[1:], 10)]), r"exactly one 1 per row: row 0 has 10"),
    (lambda y: np.vstack([one_hot(y[:-1], 10), np.zeros((1, 10))]), r"exactly one 1 per row: row 119 has 0"),
    (lambda y: np.where(one_hot(y, 10) == 1, np.nan, 0.0), r"must be 0 or 1: row 0 is \[.*nan"),
    (lambda y: one_hot(y, 10).astype(str), r"one-hot labels have dtype <U"),
    (lambda y: y.astype(np.float64), r"labels are float64\[120\]; expected 120 integer labels"),
])
def test_bad_one_hot_labels_are_refused(labels, message):
    x, y, _, _ = digits_subset()
    model = PCN(sizes=(64, 12, 10), T=2, batch_size=25)
    with pytest.raises(ValueError, match=f"PCN: .*{message}"):
        model.fit(x, labels(y), epochs=1, progress=False)
    assert model.epoch == 0 and model.W[1].opt_state.count == 0


def test_the_class_defaults_are_those_of_ngc_optim_train():
    from ngc_optim.models import DiehlCookSNN, GenerativePCN

    from ngc_optim.training import KINDS, model_arguments

    for kind, cls in (("pcn", PCN), ("generative", GenerativePCN), ("snn", DiehlCookSNN)):
        defaults = cls.defaults()
        arguments = model_arguments(KINDS[kind])
        assert {key: defaults[key] if key != "optim_kwargs" else {} for key in arguments} == \
            {key: list(value) if isinstance(value, tuple) else value for key, value in arguments.items()}
        assert KINDS[kind]["epochs"] == cls.EPOCHS
    assert PCN().config == PCN(**model_arguments(KINDS["pcn"])).config
    assert (PCN().T, PCN().config["tau_m"], PCN().config["eta"], PCN.EPOCHS) == (10, 40.0, 0.003, 30)
