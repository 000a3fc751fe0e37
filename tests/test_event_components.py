"""The components of ngc-museum's evstdp_patches: ExpKernel, WTASCell and EventSTDPSynapse, against
ngc-learn 3.2.3's recorded outputs and against their formulas written out."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from ngc_optim.components import EventSTDPSynapse, ExpKernel, WTASCell

from ngc_optim import Context, MethodProcess

DATA = np.load(Path(__file__).parent / "data" / "ngclearn_kernel_vectors.npz")
CASES = json.loads(str(DATA["meta_json"]))["cases"]
_names = itertools.count()


def build(component=ExpKernel, name="k", **kwargs):
    with Context(f"events{next(_names)}"):
        built = component(name, **kwargs)
        advance = MethodProcess("advance") >> built.advance_state
        reset = MethodProcess("reset") >> built.reset
        evolve = MethodProcess("evolve") >> built.evolve if hasattr(built, "evolve") else None
    return (built, advance, reset) if evolve is None else (built, advance, reset, evolve)


def recorded(prefix):
    return sorted(case for case in CASES if case.startswith(prefix))


def reference(spikes, times, tau_w, win_len):
    """The window and epsp of each step from the formula: the window keeps the last win_len - 1 spike times
    (oldest first) and epsp sums exp(-(t - tf)/tau_w) over the positive ones."""
    history, epsp = [], []
    for s, t in zip(spikes, times):
        history.append(s * t)
        window = history[-(win_len - 1):] if win_len > 1 else []
        total = np.zeros_like(s)
        for tf in window:
            total = total + np.where(tf > 0, np.exp(-(t - tf) / tau_w), 0.0)
        epsp.append(total)
    return epsp


@pytest.mark.parametrize("case", recorded("exp_kernel/"))
def test_exp_kernel_matches_ngclearn(case):
    spec = CASES[case]
    kwargs = spec["kwargs"]
    kernel, advance, reset = build(n_units=spec["units"], batch_size=spec["rows"], **kwargs)
    reset.run()
    for step in range(spec["steps"]):
        kernel.inputs.set(DATA[f"{case}/inputs"][step].copy())
        advance.run(t=step * kwargs["dt"])
        np.testing.assert_allclose(kernel.epsp.get(), DATA[f"{case}/epsp"][step], rtol=1e-5, atol=1e-6,
                                   err_msg=f"epsp, step {step}")
        np.testing.assert_array_equal(kernel.tf.get(), DATA[f"{case}/tf"][step], err_msg=f"tf, step {step}")
    assert DATA[f"{case}/epsp"].max() > 0


@pytest.mark.parametrize(("dt", "tau_w", "nu"), [(1.0, 7.0, 4.0), (0.25, 3.0, 1.0), (1.0, 2.0, 0.5)])
def test_exp_kernel_follows_its_formula_in_float64(dt, tau_w, nu):
    rng = np.random.default_rng(4)
    spikes = (rng.random((12, 3, 4)) < 0.4).astype(np.float64)
    kernel, advance, _ = build(n_units=4, dt=dt, tau_w=tau_w, nu=nu, batch_size=3, dtype="float64")
    expected = reference(spikes, [step * dt for step in range(12)], tau_w, int(nu / dt) + 1)
    for step in range(12):
        kernel.inputs.set(spikes[step])
        advance.run(t=step * dt)
        np.testing.assert_allclose(kernel.epsp.get(), expected[step], rtol=1e-13, atol=1e-15)
    assert kernel.tf.get().shape == (int(nu / dt) + 1, 3, 4)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"dt": 0.0}, r"dt=0.0 must be > 0"), ({"tau_w": -1.0}, r"tau_w=-1.0 must be > 0"),
    ({"nu": float("nan")}, r"nu=nan must be a finite number"),
])
def test_bad_settings_are_refused_naming_the_kernel(kwargs, message):
    with pytest.raises(ValueError, match=r"ExpKernel 'k': " + message):
        build(n_units=3, **{"dt": 1.0, **kwargs})


@pytest.mark.parametrize("case", recorded("wtas/"))
def test_wtas_cell_matches_ngclearn(case):
    spec = CASES[case]
    cell, advance, reset = build(WTASCell, "w", n_units=spec["units"], batch_size=spec["rows"], **spec["kwargs"])
    reset.run()
    cell.thr.set(np.repeat(DATA[f"{case}/thr0"], spec["rows"], axis=0))
    for step in range(spec["steps"]):
        cell.j.set(DATA[f"{case}/j"][step].copy())
        advance.run(t=step * spec["dt"], dt=spec["dt"])
        for key in ("v", "thr", "rfr", "tols"):
            np.testing.assert_allclose(getattr(cell, key).get(), DATA[f"{case}/{key}"][step], rtol=1e-5, atol=1e-6,
                                       err_msg=f"{key}, step {step}")
        np.testing.assert_array_equal(cell.s.get(), DATA[f"{case}/s"][step], err_msg=f"s, step {step}")
    assert DATA[f"{case}/s"].sum() > 2


def reference_wtas(currents, thr, resist, period, gain, dt):
    """WTASCell's equations written out (float64): each row's softmax over the units out of refraction."""
    rfr, tols, history = np.full(currents[0].shape, period), np.zeros(currents[0].shape), []
    for step, j in enumerate(currents):
        v = j * resist * (rfr >= period)
        p = np.exp(v - v.max(axis=1, keepdims=True))
        s = (p / p.sum(axis=1, keepdims=True) > thr) * 1.0
        thr = np.maximum(thr + (s.sum(axis=1, keepdims=True) - 1) * gain, 0.025)
        rfr = (rfr + dt) * (1 - s) + s * dt
        tols = (1 - s) * tols + s * step * dt
        history.append((v, s, thr, rfr, tols))
    return history


def test_wtas_cell_follows_its_equations_in_float64():
    rng = np.random.default_rng(5)
    currents = rng.uniform(0.0, 4.0, (15, 3, 6))
    cell, advance, reset = build(WTASCell, "w", n_units=6, tau_m=10.0, resist_m=1.5, thr_gain=0.01,
                                 refract_time=2.0, batch_size=3, seed=4, dtype="float64")
    reset.run()
    expected = reference_wtas(currents, cell.thr.get().copy(), 1.5, 2.0, 0.01, 0.5)
    for step, values in enumerate(expected):
        cell.j.set(currents[step])
        advance.run(t=step * 0.5, dt=0.5)
        for key, value in zip(("v", "s", "thr", "rfr", "tols"), values):
            np.testing.assert_allclose(getattr(cell, key).get(), value, rtol=1e-12, atol=1e-14, err_msg=key)
    assert sum(values[1].sum() for values in expected) > 3


@pytest.mark.parametrize("case", recorded("event_stdp/"))
def test_event_stdp_synapse_matches_ngclearn(case):
    spec = CASES[case]
    synapse, advance, reset, evolve = build(EventSTDPSynapse, "s", shape=tuple(spec["shape"]), **spec["kwargs"])
    reset.run()
    synapse.weights.set(DATA[f"{case}/W0"].copy())
    for step in range(spec["steps"]):
        for compartment, key in ((synapse.inputs, "x"), (synapse.pre_tols, "pre_tols"),
                                 (synapse.postSpike, "postSpike")):
            compartment.set(DATA[f"{case}/{key}"][step].copy())
        advance.run(t=float(step), dt=1.0)
        evolve.run(t=float(step), dt=1.0)
        for compartment, key in ((synapse.outputs, "outputs"), (synapse.weights, "W"), (synapse.dWeights, "dW")):
            np.testing.assert_allclose(compartment.get(), DATA[f"{case}/{key}"][step], rtol=1e-5, atol=1e-6,
                                       err_msg=f"{key}, step {step}")
    assert np.abs(DATA[f"{case}/dW"]).max() > 0


def test_event_stdp_synapse_follows_its_rule_in_float64():
    rng = np.random.default_rng(6)
    synapse, _, reset, evolve = build(EventSTDPSynapse, "s", shape=(5, 3), eta=0.2, lmbda=0.1, A_plus=0.7,
                                      A_minus=0.4, presyn_win_len=1.5, w_bound=0.9, dtype="float64")
    reset.run()
    weights = synapse.weights.get().copy()
    for step in range(10):
        t = float(step)
        pre_tols = np.where(rng.random((1, 5)) < 0.3, 0.0, np.maximum(t - rng.integers(0, 3, (1, 5)), 0.0))
        post = (rng.random((1, 3)) < 0.5) * 1.0
        synapse.pre_tols.set(pre_tols)
        synapse.postSpike.set(post)
        evolve.run(t=t)
        spiked = (pre_tols > 0) & (t - 1.5 < pre_tols)
        change = np.where(spiked.T, 0.7 * (0.9 - weights * 1.1), -0.4 * weights * 1.1) * post
        weights = np.clip(weights + change * 0.2, 0.01, 0.9)
        np.testing.assert_allclose(synapse.dWeights.get(), change, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(synapse.weights.get(), weights, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("component", "kwargs", "message"), [
    (WTASCell, {"n_units": 3, "tau_m": 0.0}, r"WTASCell 'x': tau_m=0.0 must be > 0"),
    (WTASCell, {"n_units": 3, "tau_m": 1.0, "refract_time": -1.0}, r"refract_time=-1.0 must be >= 0"),
    (EventSTDPSynapse, {"shape": (3, 2), "eta": 0.1, "batch_size": 2}, r"batch_size=2: the rule takes one sample"),
    (EventSTDPSynapse, {"shape": (3, 2), "eta": 0.1, "w_bound": 0.01}, r"w_bound=0.01 must be > 0.01"),
])
def test_bad_settings_are_refused_naming_the_component(component, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build(component, "x", **kwargs)
