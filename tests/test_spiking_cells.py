"""Spiking components: LIFCell, VarTrace, BernoulliCell and PoissonCell against the NumPy references of
tests/naive_spiking.py and against ngc-learn 3.2.3's own outputs (tests/data/README.md); spike statistics,
seeded reproducibility and resuming from a checkpoint."""

import itertools
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from ngc_optim.components import BernoulliCell, LIFCell, PoissonCell, StaticSynapse, VarTrace
from ngcsimlib import MethodProcess
from ngcsimlib.context import Context

from ngc_optim.spike_kernels import LIF_OUTPUTS, next_uint64, seed_state

import naive_spiking as naive

VECTORS = np.load(Path(__file__).parent / "data" / "ngclearn_spiking_vectors.npz")
CASES = json.loads(str(VECTORS["meta_json"]))["cases"]
_names = itertools.count()


def build(component, *args, **kwargs):
    """The component in a fresh Context, with its advance_state as a process."""
    with Context(f"spiking{next(_names)}"):
        cell = component("c", *args, **kwargs)
        advance = MethodProcess("advance") >> cell.advance_state
    return cell, advance


def test_the_random_stream_is_xoshiro256starstar():
    state = seed_state(12345)
    expected, after = naive.xoshiro_draws(state, 5)
    draws = [int(next_uint64(state)) for _ in range(5)]
    assert draws == expected
    np.testing.assert_array_equal(state, after)
    assert not np.array_equal(seed_state(0), seed_state(1))


LIF_SETTINGS = {
    "euler": {"tau_m": 20.0},
    "midpoint_adaptive_vmin": {"tau_m": 10.0, "integration_type": "midpoint", "tau_theta": 40.0,
                               "theta_plus": 1.5, "v_min": -63.0, "refract_time": 2.0},
    "integrate_and_fire_no_adaptation": {"tau_m": 8.0, "conduct_leak": 0.0, "tau_theta": 0.0, "resist_m": 0.5},
    "max_one_spike_dt_tenth": {"tau_m": 5.0, "max_one_spike": True, "refract_time": 1.0, "dt": 0.1},
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(LIF_SETTINGS))
def test_lif_cell_follows_its_equations(case, dtype):
    settings = dict(LIF_SETTINGS[case])
    dt = settings.pop("dt", 1.0)
    rows, units, steps = 3, 7, 200
    cell, advance = build(LIFCell, units, batch_size=rows, dtype=dtype, **settings)
    state = naive.lif_initial((rows, units), dtype, refract_time=settings.get("refract_time", 5.0))
    currents = np.random.default_rng(3).uniform(-5.0, 45.0, (steps, rows, units)).astype(dtype)
    ours, expected = [], []
    for step in range(steps):
        t = step * dt
        cell.j.set(currents[step])
        advance.run(t=t, dt=dt)
        state = naive.lif(state, currents[step], t, dt, **settings)
        ours.append([getattr(cell, name).get() for name in LIF_OUTPUTS])
        expected.append([state[name] for name in LIF_OUTPUTS])
    ours, expected = np.array(ours), np.array(expected)
    assert ours.dtype == dtype
    spikes = LIF_OUTPUTS.index("s")
    np.testing.assert_array_equal(ours[:, spikes], expected[:, spikes])
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6)
    assert expected[:, spikes].sum() > 50


def run_lif(cell, advance, current, steps, dt=1.0):
    train = []
    for step in range(steps):
        cell.j.set(np.full(cell.shape, current, cell.dtype))
        advance.run(t=step * dt, dt=dt)
        train.append(cell.s.get().copy())
    return np.array(train)[:, 0, 0]


def test_lif_refractory_period_ends_on_its_last_step():
    cell, advance = build(LIFCell, 1, tau_m=1.0, conduct_leak=0.0, refract_time=2.0)
    train = run_lif(cell, advance, 20.0, 10)
    np.testing.assert_array_equal(np.flatnonzero(train), [0, 3, 6, 9])
    assert cell.tols.get()[0, 0] == 9.0


def test_lif_does_not_spike_exactly_at_threshold():
    cell, advance = build(LIFCell, 1, tau_m=1.0, conduct_leak=0.0, refract_time=0.0, thr=-52.0, v_rest=-65.0)
    train = run_lif(cell, advance, 13.0, 2)
    np.testing.assert_array_equal(train, [0.0, 1.0])
    assert cell.v.get()[0, 0] == -60.0 and cell.rfr.get()[0, 0] == 0.0


@pytest.mark.parametrize("v_min", [None, -70.0])
def test_lif_voltage_nan_stays_nan(v_min):
    cell, advance = build(LIFCell, 2, tau_m=10.0, v_min=v_min)
    cell.j.set(np.array([[np.nan, 1.0]], np.float32))
    advance.run(t=0.0, dt=1.0)
    assert np.isnan(cell.v.get()[0, 0]) and np.isfinite(cell.v.get()[0, 1])


def test_lif_one_spike_keeps_one_uniformly_chosen_spike_per_row():
    units, steps = 4, 2000
    settings = {"tau_m": 1.0, "refract_time": 0.0, "one_spike": True, "tau_theta": 0.0, "batch_size": 2, "seed": 5}
    cell, advance = build(LIFCell, units, **settings)
    chosen = np.zeros((2, units))
    for step in range(steps):
        cell.j.set(np.full((2, units), 100.0, np.float32))
        advance.run(t=float(step), dt=1.0)
        np.testing.assert_array_equal(cell.s_raw.get(), np.ones((2, units)))
        np.testing.assert_array_equal(cell.s.get().sum(axis=1), [1.0, 1.0])
        chosen += cell.s.get()
    np.testing.assert_array_equal(cell.tols.get() == steps - 1, cell.s.get() == 1)
    sigma = np.sqrt(steps * 0.25 * 0.75)
    assert np.all(np.abs(chosen - steps / units) < 4 * sigma), chosen
    again, advance_again = build(LIFCell, units, **settings)
    cell.reset()
    first = []
    for cells, process in ((cell, advance), (again, advance_again)):
        cells.key.set(seed_state(9))
        cells.j.set(np.full((2, units), 100.0, np.float32))
        process.run(t=0.0, dt=1.0)
        first.append(cells.s.get().copy())
    np.testing.assert_array_equal(first[0], first[1])


TRACE_SETTINGS = {
    "exp_additive": {"tau_tr": 20.0, "a_delta": 0.5},
    "exp_gated": {"tau_tr": 20.0, "a_delta": 0.0, "P_scale": 1.5, "gamma_tr": 0.9},
    "lin": {"tau_tr": 30.0, "a_delta": 0.25, "decay_type": "lin"},
    "step": {"tau_tr": 20.0, "a_delta": 0.0, "decay_type": "step"},
    "nearest": {"tau_tr": 15.0, "a_delta": 1.0, "n_nearest_spikes": 2},
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(TRACE_SETTINGS))
def test_var_trace_follows_its_equations(case, dtype):
    settings = TRACE_SETTINGS[case]
    trace, advance = build(VarTrace, 6, batch_size=3, dtype=dtype, **settings)
    expected = [np.zeros((3, 6), dtype)]
    ours = []
    spikes = (np.random.default_rng(4).random((200, 3, 6)) < 0.2).astype(dtype)
    for step in range(200):
        trace.inputs.set(spikes[step])
        advance.run(dt=0.5)
        expected.append(naive.trace(spikes[step], expected[-1], 0.5, **settings))
        ours.append(trace.trace.get())
        np.testing.assert_array_equal(trace.outputs.get(), ours[-1])
    np.testing.assert_allclose(ours, expected[1:], rtol=1e-6, atol=1e-7)
    assert ours[-1].dtype == dtype and np.max(expected) > 0.1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bernoulli_cell_draws_from_its_stream(dtype):
    cell, advance = build(BernoulliCell, 5, batch_size=3, seed=7, dtype=dtype)
    key, tols = seed_state(7), np.zeros((3, 5), dtype)
    probabilities = np.random.default_rng(1).random((3, 5)).astype(dtype)
    for step in range(20):
        cell.inputs.set(probabilities)
        advance.run(t=float(step))
        spikes, tols, key = naive.bernoulli(probabilities, 1.0, tols, float(step), key)
        np.testing.assert_array_equal(cell.outputs.get(), spikes)
        np.testing.assert_array_equal(cell.tols.get(), tols)
        np.testing.assert_array_equal(cell.key.get(), key)


def spike_counts(component, inputs, steps, dt=None, **kwargs):
    cell, advance = build(component, inputs.shape[1], batch_size=inputs.shape[0], **kwargs)
    cell.inputs.set(inputs)
    counts = np.zeros(inputs.shape)
    for step in range(steps):
        if dt is None:
            advance.run(t=float(step))
        else:
            advance.run(t=step * dt, dt=dt)
        counts += cell.outputs.get()
    return counts


@pytest.mark.parametrize("component, dt, kwargs", [(PoissonCell, 1.0, {"target_freq": 63.75}),
                                                   (PoissonCell, 0.5, {"target_freq": 400.0}),
                                                   (BernoulliCell, None, {})])
def test_encoders_fire_at_their_rates(component, dt, kwargs):
    steps = 400
    intensities = np.tile(np.linspace(0.0, 1.0, 98, dtype=np.float32), (2, 8))
    probability = intensities * (1.0 if dt is None else dt / 1000.0 * kwargs["target_freq"])
    counts = spike_counts(component, intensities, steps, dt, seed=3, **kwargs)
    expected = probability * steps
    sigma = np.sqrt(np.sum(probability * (1 - probability)) * steps)
    assert abs(counts.sum() - expected.sum()) < 4 * sigma
    for mask in (intensities < 0.3, intensities > 0.7):
        group_sigma = np.sqrt(np.sum((probability * (1 - probability))[mask]) * steps)
        assert abs(counts[mask].sum() - expected[mask].sum()) < 4 * group_sigma
    assert counts[intensities == 0].sum() == 0


def test_encoders_are_reproducible_from_their_seed():
    inputs = np.full((2, 50), 0.5, np.float32)
    same = [spike_counts(PoissonCell, inputs, 30, 1.0, target_freq=500.0, seed=11) for _ in range(2)]
    other = spike_counts(PoissonCell, inputs, 30, 1.0, target_freq=500.0, seed=12)
    np.testing.assert_array_equal(same[0], same[1])
    assert not np.array_equal(same[0], other)


def spiking_network(name, seed):
    """PoissonCell -> StaticSynapse -> LIFCell (one_spike: it draws too) -> VarTrace."""
    with Context(name) as context:
        encoder = PoissonCell("x", 20, target_freq=300.0, batch_size=2, seed=seed)
        synapse = StaticSynapse("W", (20, 10), weight_init={"dist": "uniform", "amin": 0.0, "amax": 30.0},
                                batch_size=2, seed=1)
        cell = LIFCell("z", 10, tau_m=5.0, tau_theta=30.0, theta_plus=0.5, refract_time=1.0, one_spike=True,
                       batch_size=2, seed=seed + 1)
        trace = VarTrace("tr", 10, tau_tr=10.0, a_delta=0.5, batch_size=2)
        encoder.outputs >> synapse.inputs
        synapse.outputs >> cell.j
        cell.s >> trace.inputs
        step = (MethodProcess("step") >> encoder.advance_state >> synapse.advance_state >> cell.advance_state
                >> trace.advance_state)
    encoder.inputs.set(np.random.default_rng(0).random((2, 20)).astype(np.float32))
    return context, step


def simulate(context, step, steps):
    cell, trace = context.get_components("z", "tr")
    record = []
    for t in steps:
        step.run(t=float(t), dt=1.0)
        record.append((cell.s.get().copy(), cell.v.get().copy(), trace.trace.get().copy()))
    return record


def test_a_spiking_network_resumes_from_saved_components_with_identical_spikes(tmp_path):
    straight = simulate(*spiking_network(f"straight{next(_names)}", seed=20), range(60))
    first, first_step = spiking_network(f"first{next(_names)}", seed=20)
    simulate(first, first_step, range(30))
    names = ("x", "W", "z", "tr")
    for component in first.get_components(*names):
        component.save(str(tmp_path))
    resumed, resumed_step = spiking_network(f"resumed{next(_names)}", seed=99)
    for component in resumed.get_components(*names):
        component.load(str(tmp_path))
    rest = simulate(resumed, resumed_step, range(30, 60))
    spikes = np.array([s for s, _, _ in straight])
    assert spikes[:30].sum() > 20 and spikes[30:].sum() > 20
    for (s, v, trace), (s_resumed, v_resumed, trace_resumed) in zip(straight[30:], rest, strict=True):
        np.testing.assert_array_equal(s_resumed, s)
        np.testing.assert_array_equal(v_resumed, v)
        np.testing.assert_array_equal(trace_resumed, trace)
    with h5py.File(tmp_path / "x.h5") as saved:
        assert saved["x/key"].dtype == np.uint64 and saved["x/key"].shape == (4,)


@pytest.mark.parametrize("case", sorted(case for case in CASES if case.startswith("lif/")))
def test_lif_cell_matches_ngclearn(case):
    spec = CASES[case]
    currents = VECTORS[f"{case}/j"]
    cell, advance = build(LIFCell, currents.shape[2], batch_size=currents.shape[1], **spec["kwargs"])
    dt = spec["dt"]
    ours = {name: [] for name in LIF_OUTPUTS}
    for step in range(spec["steps"]):
        cell.j.set(currents[step].copy())
        advance.run(t=float(np.float32(step * dt)), dt=dt)
        for name, values in ours.items():
            values.append(getattr(cell, name).get())
    for name in ("s", "s_raw"):
        np.testing.assert_array_equal(ours[name], VECTORS[f"{case}/{name}"], err_msg=name)
    for name in ("v", "rfr", "thr_theta", "tols", "v_thr", "surrogate"):
        np.testing.assert_allclose(ours[name], VECTORS[f"{case}/{name}"], rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("case", sorted(case for case in CASES if case.startswith("trace/")))
def test_var_trace_matches_ngclearn(case):
    spec = CASES[case]
    inputs = VECTORS[f"{case}/inputs"]
    trace, advance = build(VarTrace, inputs.shape[2], batch_size=inputs.shape[1], **spec["kwargs"])
    values = []
    for step in range(spec["steps"]):
        trace.inputs.set(inputs[step].copy())
        advance.run(dt=spec["dt"])
        values.append(trace.trace.get())
    np.testing.assert_allclose(values, VECTORS[f"{case}/trace"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: LIFCell("z", 3, tau_m=0.0), r"LIFCell 'z': tau_m=0.0 must be > 0"),
    (lambda: LIFCell("z", 3, 10.0, resist_m=-1.0), r"LIFCell 'z': resist_m=-1.0 must be > 0"),
    (lambda: LIFCell("z", 3, 10.0, integration_type="rk4"), r"LIFCell 'z': integration_type='rk4'"),
    (lambda: LIFCell("z", 3, 10.0, one_spike=1), r"LIFCell 'z': one_spike=1 must be True or False"),
    (lambda: LIFCell("z", 3, 10.0, v_min="low"), r"LIFCell 'z': v_min='low' must be a finite number"),
    (lambda: LIFCell("z", 3, 10.0, seed=-1), r"LIFCell 'z': seed=-1 must be a non-negative int"),
    (lambda: PoissonCell("p", 3, target_freq=0.0), r"PoissonCell 'p': target_freq=0.0 must be > 0"),
    (lambda: BernoulliCell("b", 0), r"BernoulliCell 'b': n_units=0"),
    (lambda: VarTrace("tr", 3, tau_tr=10.0, a_delta=1.0, decay_type="cubic"), r"VarTrace 'tr': decay_type='cubic'"),
    (lambda: VarTrace("tr", 3, tau_tr=-1.0, a_delta=1.0), r"VarTrace 'tr': tau_tr=-1.0 must be > 0"),
])
def test_bad_arguments_are_refused_naming_the_component(make, message):
    with Context(f"bad{next(_names)}"), pytest.raises(ValueError, match=message):
        make()


def test_wrong_input_shape_is_refused_naming_the_component():
    cell, advance = build(LIFCell, 3, tau_m=10.0, batch_size=2)
    cell.j.set(np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match=r"LIFCell 'c': j \(1, 3\)"):
        advance.run(t=0.0, dt=1.0)


def test_reset_restores_rest_values_and_keeps_adaptation():
    cell, advance = build(LIFCell, 2, tau_m=1.0, tau_theta=100.0, theta_plus=1.0)
    with Context(f"reset{next(_names)}"):
        reset = MethodProcess("reset") >> cell.reset
    cell.j.set(np.full((1, 2), 50.0, np.float32))
    advance.run(t=3.0, dt=1.0)
    theta = cell.thr_theta.get().copy()
    reset.run()
    assert theta.min() > 0.9
    np.testing.assert_array_equal(cell.thr_theta.get(), theta)
    np.testing.assert_array_equal(cell.v_thr.get(), theta + np.float32(-52.0))
    for name, value in (("v", -65.0), ("rfr", 5.0), ("s", 0.0), ("tols", 0.0), ("j", 0.0), ("surrogate", 1.0)):
        np.testing.assert_array_equal(getattr(cell, name).get(), np.full((1, 2), value, np.float32), err_msg=name)


def test_help_comes_from_the_spec():
    for component in (LIFCell, PoissonCell, BernoulliCell, VarTrace):
        info = component.help()
        assert set(info["compartments"]) == {"inputs", "state", "outputs"}
        assert info[component.__name__].startswith(component.__name__)
    assert "target_freq" in PoissonCell.help()["arguments"] and "key" in LIFCell.help()["compartments"]["state"]
