"""Inference through the optimizers: a RateCell whose z an optimizer steps, the softmax error cell, and the PCN's
state_optim, update_every and output_error, against NumPy references written from the formulas."""

import itertools

import numpy as np
import pytest
from ngc_optim.components import RateCell, SoftmaxErrorCell
from ngc_optim.models import PCN, GenerativePCN
from ngcsimlib import MethodProcess
from ngcsimlib.context import Context

from ngc_optim.datasets import one_hot

import naive
from cases import CASES, case_id

_names = itertools.count()
STEPS = 6
LEAKS = {"gaussian": lambda z: z, "laplacian": np.sign}
ACTIVATIONS = {"identity": (lambda x: x, np.ones_like), "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2)}


def fresh(prefix):
    return f"{prefix}{next(_names)}"


def reference_optimized_cell(name, hyperparameters, z, inputs, gamma, prior, act_fx, resist, scale):
    """The cell stepped by optimizer ``name``: g = gamma * leak(z) - (j * fx'(z) * resist + j_td), then the
    optimizer's step (tests/naive.py) at t = 1, 2, ...; returns (z, zF, slots) after each step."""
    fx, dfx = ACTIVATIONS[act_fx]
    d = z.dtype.type
    slots = {slot: np.zeros_like(z) for slot in naive.SLOTS[name]}
    history = []
    for t, (j, j_td) in enumerate(inputs, 1):
        pressure = j * dfx(z) * d(resist)
        pressure = pressure + j_td
        gradient = LEAKS[prior](z) * d(gamma) - pressure
        with np.errstate(all="ignore"):
            z, slots = naive.step(name, z, gradient, slots, t, **hyperparameters)
        history.append((z, fx(z) * d(scale), slots))
    return history


def optimized_cell(state_optim, dtype, prior="gaussian", act_fx="identity", **kwargs):
    with Context(fresh("optimized")):
        cell = RateCell("z", 4, 10.0, prior=(prior, 0.3), act_fx=act_fx, resist_scale=0.8, output_scale=1.5,
                        batch_size=3, state_optim=state_optim, dtype=dtype, **kwargs)
        advance = MethodProcess("advance") >> cell.advance_state
        reset = MethodProcess("reset") >> cell.reset
    return cell, advance, reset


def inputs(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((3, 4)).astype(dtype))
            for _ in range(STEPS)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_optimized_step_is_the_optimizers_rule_on_the_energys_gradient(case, dtype):
    name, hyperparameters = case
    hyperparameters = {**hyperparameters, "eta": 0.3}
    cell, advance, _ = optimized_cell({"name": name, **hyperparameters}, dtype, prior="laplacian")
    steps = inputs(dtype)
    expected = reference_optimized_cell(name, hyperparameters, np.zeros((3, 4), dtype), steps, 0.3, "laplacian",
                                        "identity", 0.8, 1.5)
    for (j, j_td), (z, z_f, slots) in zip(steps, expected):
        cell.j.set(j)
        cell.j_td.set(j_td)
        advance.run(dt=1.0)
        np.testing.assert_array_equal(cell.z.get(), z)
        np.testing.assert_array_equal(cell.zF.get(), z_f)
        for slot, value in slots.items():
            np.testing.assert_array_equal(getattr(cell, f"opt_{slot}").get(), value, err_msg=slot)
    assert cell.z.get().dtype == dtype and np.abs(cell.z.get()).max() > 0.1
    np.testing.assert_array_equal(cell.opt_count.get(), np.full((3, 1), STEPS))


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-6), ("float64", 1e-13)])
@pytest.mark.parametrize("name, hyperparameters", [("nag", {"eta": 0.2, "mu": 0.5}), ("adam", {"eta": 0.05})])
def test_a_tanh_cell_with_a_gaussian_prior_follows_the_reference(name, hyperparameters, dtype, rtol):
    cell, advance, _ = optimized_cell({"name": name, **hyperparameters}, dtype, act_fx="tanh")
    steps = inputs(dtype, seed=1)
    expected = reference_optimized_cell(name, hyperparameters, np.zeros((3, 4), dtype), steps, 0.3, "gaussian",
                                        "tanh", 0.8, 1.5)
    for (j, j_td), (z, z_f, _) in zip(steps, expected):
        cell.j.set(j)
        cell.j_td.set(j_td)
        advance.run(dt=1.0)
        np.testing.assert_allclose(cell.z.get(), z, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(cell.zF.get(), z_f, rtol=rtol, atol=rtol)


def euler_and_sgd(dtype, tau_m, dt, **kwargs):
    """z after STEPS steps of a tanh cell with a laplacian prior and a threshold, by Euler and by SGD with
    eta = dt / tau_m."""
    results = []
    for state_optim in (None, {"name": "sgd", "eta": dt / tau_m}):
        with Context(fresh("euler")):
            cell = RateCell("z", 4, tau_m, prior=("laplacian", 0.2), act_fx="tanh", threshold=("soft_threshold", 0.01),
                            batch_size=3, state_optim=state_optim, dtype=dtype, **kwargs)
            advance = MethodProcess("advance") >> cell.advance_state
        for j, j_td in inputs(dtype, seed=2):
            cell.j.set(j)
            cell.j_td.set(j_td)
            advance.run(dt=dt)
        results.append((cell.z.get(), cell.zF.get()))
    return results


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sgd_with_eta_dt_over_tau_m_is_the_euler_step(dtype):
    (euler_z, euler_f), (sgd_z, sgd_f) = euler_and_sgd(dtype, 1.0, 0.5)
    np.testing.assert_array_equal(sgd_z, euler_z)
    np.testing.assert_array_equal(sgd_f, euler_f)
    assert np.abs(euler_z).max() > 0.1
    (euler_z, _), (sgd_z, _) = euler_and_sgd(dtype, 10.0, 1.0)
    np.testing.assert_allclose(sgd_z, euler_z, rtol=1e-5 if dtype == "float32" else 1e-13, atol=1e-7)


def test_reset_zeroes_the_optimizers_state_and_save_load_round_trips_it(tmp_path):
    cell, advance, reset = optimized_cell({"name": "adam", "eta": 0.1}, "float64")
    for j, j_td in inputs("float64")[:3]:
        cell.j.set(j)
        cell.j_td.set(j_td)
        advance.run(dt=1.0)
    saved = {name: getattr(cell, name).get().copy() for name in ("z", "opt_count", "opt_g1", "opt_g2")}
    cell.save(str(tmp_path))
    reset.run()
    for name in saved:
        assert not getattr(cell, name).get().any(), name
    assert cell.opt_count.get().dtype == np.int64
    cell.load(str(tmp_path))
    for name, value in saved.items():
        np.testing.assert_array_equal(getattr(cell, name).get(), value, err_msg=name)


@pytest.mark.parametrize("kwargs, message", [
    ({"state_optim": "lbfgs"}, r"state_optim: unknown optimizer 'lbfgs'"),
    ({"state_optim": {"name": "nag", "mu": 1.5}}, r"state_optim: nag: mu=1.5 is out of range"),
    ({"state_optim": {"eta": 0.1}}, r"state_optim=\{'eta': 0.1\}; expected an optimizer's name"),
    ({"state_optim": "sgd", "tau_m": 0.0}, r"state_optim steps a stateful cell"),
    ({"state_optim": "sgd", "integration_type": "midpoint"}, r"state_optim steps a stateful cell"),
    ({"state_optim": "sgd", "use_lateral": True}, r"state_optim steps a stateful cell"),
])
def test_bad_state_optimizers_are_refused_naming_the_cell(kwargs, message):
    with Context(fresh("bad")), pytest.raises(ValueError, match=f"RateCell 'z': {message}"):
        RateCell("z", 3, **{"tau_m": 1.0, **kwargs})


def log_softmax(mu):
    top = mu.max(axis=1, keepdims=True)
    return mu - top - np.log(np.sum(np.exp(mu - top), axis=1, keepdims=True))


def softmax_cell(dtype):
    with Context(fresh("softmax")):
        cell = SoftmaxErrorCell("e", 5, batch_size=3, dtype=dtype)
        advance = MethodProcess("advance") >> cell.advance_state
    return cell, advance


@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-5), ("float64", 1e-12)])
def test_softmax_error_cell_follows_the_formulas(dtype, rtol):
    rng = np.random.default_rng(3)
    mu = (rng.standard_normal((3, 5)) * 4).astype(dtype)
    target = rng.random((3, 5)).astype(dtype)
    modulator, mask = (rng.random((3, 5)).astype(dtype) for _ in range(2))
    cell, advance = softmax_cell(dtype)
    for name, value in (("mu", mu), ("target", target), ("modulator", modulator), ("mask", mask)):
        getattr(cell, name).set(value)
    advance.run(dt=1.0)
    log_s = log_softmax(mu.astype(np.float64))
    gate = modulator * mask
    total = target.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(cell.dmu.get(), (target - np.exp(log_s) * total) * gate, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(cell.dtarget.get(), log_s * gate, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(cell.L.get(), np.sum(target * log_s), rtol=rtol)
    np.testing.assert_allclose(cell.sample_losses(), np.sum(target * log_s, axis=1), rtol=rtol)
    assert cell.L.get().shape == () and cell.L.get().dtype == dtype and cell.dmu.get().dtype == dtype
    np.testing.assert_array_equal(cell.mask.get(), np.ones((3, 5)))


def test_softmax_error_cells_derivatives_are_those_of_its_loss():
    """dmu and dtarget against central differences of L (float64, modulator and mask ones)."""
    rng = np.random.default_rng(4)
    mu, target = rng.standard_normal((3, 5)) * 3, rng.random((3, 5))
    target[0] = np.eye(5)[2]
    cell, advance = softmax_cell("float64")

    def loss(mu, target):
        cell.mu.set(mu)
        cell.target.set(target)
        advance.run(dt=1.0)
        return float(cell.L.get()), cell.dmu.get().copy(), cell.dtarget.get().copy()

    _, dmu, dtarget = loss(mu, target)
    h = 1e-6
    for derivative, which in ((dmu, 0), (dtarget, 1)):
        numeric = np.zeros_like(mu)
        for index in np.ndindex(mu.shape):
            plus, minus = [mu.copy(), target.copy()], [mu.copy(), target.copy()]
            plus[which][index] += h
            minus[which][index] -= h
            numeric[index] = (loss(*plus)[0] - loss(*minus)[0]) / (2 * h)
        np.testing.assert_allclose(derivative, numeric, rtol=1e-6, atol=1e-8)
    assert np.abs(dmu).max() > 0.1


def test_softmax_error_cell_is_stable_for_large_logits():
    cell, advance = softmax_cell("float32")
    cell.mu.set(np.array([[1000.0, 0.0, -1000.0, 0.0, 0.0]] * 3, np.float32))
    cell.target.set(np.eye(5, dtype=np.float32)[[0, 1, 2]])
    advance.run(dt=1.0)
    assert np.all(np.isfinite(cell.dmu.get())) and np.isfinite(cell.L.get())
    np.testing.assert_allclose(cell.sample_losses(), [0.0, -1000.0, -2000.0])


TINY = {"sizes": (6, 5, 4, 3), "T": 4, "dt": 0.25, "tau_m": 1.0, "eta": 0.01, "batch_size": 7, "seed": 3}


def batches(count=3):
    rng = np.random.default_rng(5)
    return [(rng.random((7, 6)).astype(np.float32), one_hot(rng.integers(0, 3, 7), 3)) for _ in range(count)]


def trained(**settings):
    model = PCN(**{**TINY, **settings})
    energies = [model.train_batch(x, y) for x, y in batches()]
    return model, energies


def test_a_pcn_with_sgd_of_eta_dt_over_tau_m_is_the_euler_pcn():
    euler, euler_energies = trained()
    sgd, sgd_energies = trained(state_optim={"name": "sgd", "eta": 0.25})
    assert sgd_energies == euler_energies
    for l in (1, 2, 3):
        np.testing.assert_array_equal(sgd.W[l].weights.get(), euler.W[l].weights.get())
    assert sgd.z[1].opt_count.get()[0, 0] == TINY["T"]


def test_a_pcn_resets_its_state_optimizer_each_batch():
    model = PCN(**TINY, state_optim={"name": "nag", "eta": 0.1, "mu": 0.5})
    (x, y), (x2, y2) = batches(2)
    model.train_batch(x, y)
    model.settle(x2, y2)
    after = model.z[1].z.get().copy()
    other = PCN(**TINY, state_optim={"name": "nag", "eta": 0.1, "mu": 0.5})
    for l in (1, 2, 3):
        other.W[l].weights.set(model.W[l].weights.get().copy())
        other.W[l].biases.set(model.W[l].biases.get().copy())
    other.settle(x2, y2)
    np.testing.assert_array_equal(other.z[1].z.get(), after)
    np.testing.assert_array_equal(model.z[1].opt_count.get(), np.full((7, 1), TINY["T"]))


def test_update_every_steps_the_weights_inside_the_settling_loop():
    once, _ = trained()
    every_step, energies = trained(update_every=1)
    every_two, _ = trained(update_every=3)
    assert every_step.W[1].opt_state.count == 3 * TINY["T"]
    assert every_two.W[1].opt_state.count == 3 * 2
    assert once.W[1].opt_state.count == 3
    assert not np.array_equal(every_step.W[1].weights.get(), once.W[1].weights.get())
    every_t, _ = trained(update_every=TINY["T"])
    np.testing.assert_array_equal(every_t.W[2].weights.get(), once.W[2].weights.get())
    assert all(np.isfinite(energies))


def test_a_cross_entropy_pcn_settles_on_the_softmax_error():
    model, energies = trained(output_error="cross_entropy", state_optim={"name": "adam", "eta": 0.05})
    x, y = batches(1)[0]
    model.settle(x, y)
    assert isinstance(model.e[3], SoftmaxErrorCell)
    np.testing.assert_array_equal(model.z[3].z.get(), y)
    squared = sum(0.5 * np.sum(model.e[l].dmu.get().astype(np.float64) ** 2, axis=1) for l in (1, 2))
    cross_entropy = -np.sum(y * log_softmax(model.e[3].mu.get().astype(np.float64)), axis=1)
    np.testing.assert_allclose(model._energies(7), squared + cross_entropy, rtol=1e-5)
    assert all(np.isfinite(energies)) and cross_entropy.min() > 0


@pytest.mark.parametrize("kwargs, message", [
    ({"state_optim": "lbfgs"}, r"PCN: state_optim: unknown optimizer 'lbfgs'"),
    ({"state_optim": 3}, r"PCN: state_optim=3; expected None, an optimizer's name"),
    ({"update_every": 0}, r"PCN: update_every=0 must be None or a positive int"),
    ({"output_error": "hinge"}, r"PCN: output_error='hinge'; expected one of"),
])
def test_bad_inference_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PCN(**{**TINY, **kwargs})


def test_a_generative_pcn_settles_through_its_state_optimizer_and_updates_incrementally():
    rng = np.random.default_rng(6)
    x = rng.random((7, 6)).astype(np.float32)
    settings = {"sizes": (6, 5), "T": 4, "dt": 0.5, "tau_m": 1.0, "act_fx": "tanh", "batch_size": 7, "seed": 2}
    euler, sgd = GenerativePCN(**settings), GenerativePCN(**settings, state_optim={"name": "sgd", "eta": 0.5})
    assert [euler.train_batch(x) for _ in range(2)] == [sgd.train_batch(x) for _ in range(2)]
    np.testing.assert_array_equal(sgd.W[1].weights.get(), euler.W[1].weights.get())
    incremental = GenerativePCN(**settings, state_optim={"name": "sgd", "eta": 0.2}, update_every=2)
    energies = [incremental.train_batch(x) for _ in range(3)]
    assert incremental.W[1].opt_state.count == 3 * 2 and all(np.isfinite(energies))
    np.testing.assert_allclose(np.linalg.norm(incremental.W[1].weights.get(), axis=1), 1.0, rtol=1e-5)
