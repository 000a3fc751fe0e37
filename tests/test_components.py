"""Components: maths against NumPy formulas, wiring in a Context, JSON + HDF5 round trips, bad input."""

import itertools
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from ngc_optim.components import (
    BernoulliCell,
    BernoulliErrorCell,
    DenseSynapse,
    EventSTDPSynapse,
    ExpKernel,
    GaussianErrorCell,
    HebbianConvSynapse,
    HebbianDeconvSynapse,
    HebbianPatchedSynapse,
    HebbianSynapse,
    LIFCell,
    PoissonCell,
    RateCell,
    RetinalGanglionCell,
    SoftmaxErrorCell,
    StaticConvSynapse,
    StaticDeconvSynapse,
    StaticPatchedSynapse,
    StaticSynapse,
    TraceSTDPSynapse,
    WTASCell,
)
from ngcsimlib import MethodProcess
from ngcsimlib.context import Context

from ngc_optim.checkpoint import CheckpointError

_names = itertools.count()


def fresh(prefix):
    """Context names are global in ngcsimlib: one new name per test."""
    return f"{prefix}{next(_names)}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gaussian_error_cell_follows_the_formulas(dtype):
    rng = np.random.default_rng(0)
    mu, target, modulator, mask = (rng.standard_normal((3, 5)).astype(dtype) for _ in range(4))
    with Context(fresh("gauss")):
        cell = GaussianErrorCell("e", 5, batch_size=3, sigma=2.5, dtype=dtype)
        advance = MethodProcess("advance") >> cell.advance_state
    for name, value in (("mu", mu), ("target", target), ("modulator", modulator), ("mask", mask)):
        getattr(cell, name).set(value)
    advance.run(dt=1.0)
    sigma = np.asarray(2.5, dtype)
    np.testing.assert_allclose(cell.dmu.get(), (target - mu) / sigma * modulator * mask, rtol=1e-6)
    np.testing.assert_allclose(cell.dtarget.get(), -(target - mu) / sigma * modulator * mask, rtol=1e-6)
    np.testing.assert_allclose(cell.L.get(), -0.5 * np.sum((target - mu) ** 2) / sigma, rtol=1e-6)
    assert cell.L.get().shape == () and cell.L.get().dtype == dtype and cell.dmu.get().dtype == dtype
    np.testing.assert_array_equal(cell.mask.get(), np.ones((3, 5)))


def bernoulli_log_likelihood(p, target, input_logits):
    q = np.clip(1 / (1 + np.exp(-p)) if input_logits else p, 1e-4, 1 - 1e-4)
    return np.sum(target * np.log(q) + (1 - target) * np.log(1 - q))


@pytest.mark.parametrize("input_logits", [False, True])
def test_bernoulli_error_cell_gives_the_derivatives_of_its_log_likelihood(input_logits):
    rng = np.random.default_rng(2)
    p = rng.standard_normal((3, 5)) * 2 if input_logits else rng.uniform(0.05, 0.95, (3, 5))
    target = (rng.random((3, 5)) < 0.5).astype(np.float64)
    modulator = rng.uniform(0.5, 2.0, (3, 5))
    with Context(fresh("bern")):
        cell = BernoulliErrorCell("e", 5, batch_size=3, input_logits=input_logits, dtype="float64")
        advance = MethodProcess("advance") >> cell.advance_state
    cell.p.set(p)
    cell.target.set(target)
    cell.modulator.set(modulator)
    advance.run(dt=1.0)
    h = 1e-6
    numeric = np.empty_like(p)
    for index in np.ndindex(p.shape):
        step = np.zeros_like(p)
        step[index] = h
        numeric[index] = (bernoulli_log_likelihood(p + step, target, input_logits)
                          - bernoulli_log_likelihood(p - step, target, input_logits)) / (2 * h)
    np.testing.assert_allclose(cell.dp.get(), numeric * modulator, rtol=1e-6)
    np.testing.assert_allclose(cell.L.get(), bernoulli_log_likelihood(p, target, input_logits), rtol=1e-12)
    q = 1 / (1 + np.exp(-p)) if input_logits else p
    np.testing.assert_allclose(cell.dtarget.get(), np.log(q / (1 - q)) * modulator, rtol=1e-9)
    assert cell.L.get().shape == ()


@pytest.mark.parametrize("p_conn, bias_init", [(1.0, None), (0.5, {"dist": "gaussian", "sigma": 0.5})])
def test_dense_synapse_follows_the_formula(p_conn, bias_init):
    with Context(fresh("dense")):
        synapse = DenseSynapse("W", (6, 4), weight_init={"dist": "uniform", "amin": -1, "amax": 1},
                               bias_init=bias_init, g_conduct_factor=1.5, p_conn=p_conn, batch_size=3, seed=7,
                               dtype="float64")
        advance = MethodProcess("advance") >> synapse.advance_state
    x = np.random.default_rng(1).standard_normal((3, 6))
    gate = np.random.default_rng(2).random((3, 4))
    synapse.inputs.set(x)
    synapse.gate.set(gate)
    advance.run()
    weights, mask, biases = synapse.weights.get(), synapse.mask.get(), synapse.biases.get()
    expected = (x @ (weights * mask)) * gate * 1.5 + biases
    np.testing.assert_allclose(synapse.outputs.get(), expected, rtol=1e-12)
    assert (biases != 0).all() == (bias_init is not None)
    if p_conn < 1:
        assert 0 < mask.sum() < mask.size and not weights[mask == 0].any()


def test_initialisers_are_seeded_and_validated():
    with Context(fresh("init")):
        a = DenseSynapse("a", (5, 5), seed=3)
        b = DenseSynapse("b", (5, 5), seed=3)
        c = DenseSynapse("c", (5, 5), seed=4)
    np.testing.assert_array_equal(a.weights.get(), b.weights.get())
    assert not np.array_equal(a.weights.get(), c.weights.get())
    assert 0.025 <= a.weights.get().min() and a.weights.get().max() <= 0.8


def test_reset_touches_only_the_compartments_it_owns():
    with Context(fresh("reset")):
        synapse = DenseSynapse("W", (3, 2), batch_size=2)
        cell = GaussianErrorCell("e", 2, batch_size=2)
        synapse.outputs >> cell.mu
        advance = MethodProcess("advance") >> synapse.advance_state >> cell.advance_state
        reset = MethodProcess("reset") >> synapse.reset >> cell.reset
    synapse.inputs.set(np.ones((2, 3), np.float32))
    cell.target.set(np.full((2, 2), 3.0, np.float32))
    advance.run(dt=1.0)
    outputs = synapse.outputs.get()
    np.testing.assert_array_equal(cell.mu.get(), outputs)
    synapse.gate.set(np.zeros((2, 2), np.float32))
    reset.run()
    for compartment in (synapse.inputs, synapse.outputs, cell.target, cell.dmu, cell.L):
        assert not np.asarray(compartment.get()).any()
    np.testing.assert_array_equal(synapse.gate.get(), np.ones((2, 2)))
    assert cell.L.get().shape == ()


ROUND_TRIP = textwrap.dedent("""
    import numpy as np
    from ngcsimlib.context import Context
    ctx = Context.load({directory!r}, {name!r})
    W, e = ctx.get_components("W", "e")
    print(W.shape, W.g_conduct_factor, W.p_conn, W.dtype, e.sigma)
    np.save({directory!r} + "/weights.npy", W.weights.get())
    np.save({directory!r} + "/mask.npy", W.mask.get())
""")


def test_save_to_json_and_load_in_a_fresh_process_restore_arguments_and_state(tmp_path):
    name = fresh("saved")
    with Context(name) as context:
        synapse = DenseSynapse("W", (4, 3), weight_init={"dist": "gaussian", "mu": 0.1, "sigma": 0.2},
                               bias_init={"dist": "constant", "value": 0.5}, g_conduct_factor=2.0, p_conn=0.7,
                               batch_size=2, seed=11, dtype="float64")
        cell = GaussianErrorCell("e", 3, batch_size=2, sigma=0.5, dtype="float64")
        synapse.outputs >> cell.mu
    trained = synapse.weights.get() + 1.0
    synapse.weights.set(trained)
    context.save_to_json(str(tmp_path), overwrite=True)
    completed = subprocess.run([sys.executable, "-c", ROUND_TRIP.format(directory=str(tmp_path), name=name)],
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.split("\n")[0] == "(4, 3) 2.0 0.7 float64 0.5"
    np.testing.assert_array_equal(np.load(tmp_path / "weights.npy"), trained)
    np.testing.assert_array_equal(np.load(tmp_path / "mask.npy"), synapse.mask.get())
    roots = json.loads(next(tmp_path.rglob("roots.json")).read_text())
    assert all(data["args"] == [] and not set(data["kwargs"]) - {"name", "shape", "n_units", "weight_init",
                                                                  "bias_init", "g_conduct_factor", "p_conn",
                                                                  "batch_size", "seed", "dtype", "sigma"}
               for data in roots.values())


RANDOM_COMPONENTS = {
    "DenseSynapse": lambda name, **seeding: DenseSynapse(name, (4, 3), p_conn=0.5, **seeding),
    "HebbianSynapse": lambda name, **seeding: HebbianSynapse(name, (4, 3), **seeding),
    "TraceSTDPSynapse": lambda name, **seeding: TraceSTDPSynapse(name, (4, 3), A_plus=0.1, A_minus=0.1, **seeding),
    "LIFCell": lambda name, **seeding: LIFCell(name, 3, 10.0, **seeding),
    "BernoulliCell": lambda name, **seeding: BernoulliCell(name, 3, **seeding),
    "PoissonCell": lambda name, **seeding: PoissonCell(name, 3, **seeding),
}


def _drawn(component):
    """What a component's seed decides: its initial weights and mask, or its random stream's state."""
    return [component.weights.get(), component.mask.get()] if hasattr(component, "weights") else [component.key.get()]


@pytest.mark.parametrize("kind", sorted(RANDOM_COMPONENTS))
def test_key_and_seed_follow_one_rule_and_survive_save_to_json(kind):
    names = (f"s{number}" for number in itertools.count())

    def build(**seeding):
        return RANDOM_COMPONENTS[kind](next(names), **seeding)

    jax_key = np.array([0, 5], np.uint32)  # what jax.random.PRNGKey(5) holds
    with Context(fresh("keys")):
        by_seed, by_numpy_seed, by_key, by_numpy_key = (build(seed=5), build(seed=np.int64(5)), build(key=5),
                                                        build(key=np.uint32(5)))
        by_jax_key, by_list, other = build(key=jax_key), build(key=[0, 5]), build(seed=6)
    for same in (by_numpy_seed, by_key, by_numpy_key):
        assert same.seed == 5
        for got, expected in zip(_drawn(same), _drawn(by_seed)):
            np.testing.assert_array_equal(got, expected)
    assert by_jax_key.seed == by_list.seed == 5 << 32
    for got, expected in zip(_drawn(by_list), _drawn(by_jax_key)):
        np.testing.assert_array_equal(got, expected)
    assert any(np.any(a != b) for a, b in zip(_drawn(other), _drawn(by_seed)))
    for component in (by_numpy_seed, by_jax_key):
        arguments = component.to_json()
        json.dumps(arguments)
        assert arguments["args"] == [] and "key" not in arguments["kwargs"]
        with Context(fresh("rebuilt")):
            rebuilt = type(component)(**arguments["kwargs"])
        for got, expected in zip(_drawn(rebuilt), _drawn(component)):
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(("seeding", "message"), [
    ({"seed": 3, "key": 4}, r"give seed=3 or key=4, not both"),
    ({"key": True}, r"key=True is a bool"),
    ({"seed": -1}, r"seed=-1 must be a non-negative integer"),
    ({"key": 2.5}, r"key=2.5 must be a non-negative integer or a key of 32-bit words"),
    ({"key": np.array([[1, 2]], np.uint32)}, r"key=uint32\[1, 2\] array must be"),
    ({"key": [1, -2]}, r"key=\[1, -2\] must be"),
])
def test_bad_seeds_and_keys_are_refused_naming_the_component(seeding, message):
    with Context(fresh("bad_keys")), pytest.raises(ValueError, match=r"LIFCell 's': " + message):
        LIFCell("s", 3, 10.0, **seeding)


def test_load_refuses_a_component_file_that_does_not_match(tmp_path):
    with Context(fresh("mismatch")):
        small = DenseSynapse("W", (2, 2))
        large = DenseSynapse("V", (3, 2))
    small.save(str(tmp_path))
    (tmp_path / "W.h5").rename(tmp_path / "V.h5")
    before = large.weights.get().copy()
    with pytest.raises(CheckpointError, match=r"V.h5: parameters do not match|has shape"):
        large.load(str(tmp_path))
    np.testing.assert_array_equal(large.weights.get(), before)


@pytest.mark.parametrize("build, message", [
    (lambda: DenseSynapse("s", (3,)), r"DenseSynapse 's': shape=\(3,\) must be two positive ints"),
    (lambda: DenseSynapse("s", (3, 2), p_conn=0.0), r"'s': p_conn=0.0 must be in \(0, 1\]"),
    (lambda: DenseSynapse("s", (3, 2), weight_init={"dist": "cauchy"}), r"'s' weight_init: unknown dist 'cauchy'"),
    (lambda: DenseSynapse("s", (3, 2), weight_init={"dist": "uniform", "amin": 1}), r"uniform needs \['amax'\]"),
    (lambda: DenseSynapse("s", (3, 2), dtype="float16"), r"dtype='float16'"),
    (lambda: GaussianErrorCell("c", 0), r"GaussianErrorCell 'c': n_units=0"),
    (lambda: GaussianErrorCell("c", 3, sigma=-1.0), r"'c': sigma=-1.0 must be a positive"),
    (lambda: BernoulliErrorCell("c", 3, input_logits="yes"), r"BernoulliErrorCell 'c': input_logits='yes' must be"),
])
def test_bad_construction_is_refused_naming_the_component(build, message):
    with Context(fresh("bad")), pytest.raises(ValueError, match=message):
        build()


def test_wrong_input_shapes_are_refused_at_the_call_naming_the_component():
    with Context(fresh("shapes")):
        synapse = DenseSynapse("W", (3, 2), batch_size=2)
        advance = MethodProcess("advance") >> synapse.advance_state
    synapse.inputs.set(np.ones((5, 3), np.float32))
    with pytest.raises(ValueError, match=r"'W': inputs have shape \(5, 3\); expected \(2, 3\)"):
        advance.run()


def test_help_comes_from_the_spec():
    info = DenseSynapse.help()
    assert set(info["compartments"]) == {"inputs", "state", "outputs"}
    assert "weights" in info["compartments"]["state"] and "seed" in info["arguments"]
    static = StaticSynapse.help()
    assert static["StaticSynapse"].startswith("StaticSynapse") and static["arguments"] == info["arguments"]


NUMPY_ACTIVATIONS = {
    "identity": (lambda x: x, lambda x: np.ones_like(x)),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    "tanh": (np.tanh, lambda x: 1 / np.cosh(x) ** 2),
    "relu": (lambda x: np.maximum(x, 0), lambda x: (x >= 0) * 1.0),
    "lrelu": (lambda x: np.where(x >= 0, x, 0.01 * x), lambda x: np.where(x >= 0, 1.0, 0.01)),
    "softplus": (lambda x: np.log1p(np.exp(x)), lambda x: 1 / (1 + np.exp(-x))),
}


LEAKS = {"gaussian": lambda z: z, "laplacian": np.sign, "cauchy": lambda z: 2 * z / (1 + z**2),
         "exp": lambda z: 2 * z * np.exp(-(z**2))}


def soft_threshold(z, lmbda):
    return np.maximum(z - lmbda, 0) - np.maximum(-z - lmbda, 0)


def cauchy_threshold(z, lmbda):
    root = np.sqrt(np.maximum(z**2 - lmbda, 0))
    return (z + root) / 2 * (z >= lmbda) + (z - root) / 2 * (z <= -lmbda)


THRESHOLDS = {"none": lambda z, lmbda: z, "soft_threshold": soft_threshold, "cauchy_threshold": cauchy_threshold}


def reference_rate_cell(z, inputs, dt, tau_m, prior, gamma, act_fx, midpoint, resist, scale,
                        threshold=("none", 0.0)):
    """The RateCell ODE written out: tau_m dz/dt = -gamma*leak(z) + j*dfx(z)*resist + j_td, then the
    threshold."""
    fx, dfx = NUMPY_ACTIVATIONS[act_fx]
    leak = LEAKS[prior]
    cut, lmbda = THRESHOLDS[threshold[0]], threshold[1]
    history = []
    for j, j_td in inputs:
        if tau_m == 0:
            z = j + j_td
        else:
            drive = j * dfx(z) * resist + j_td

            def f(state, drive=drive):
                return (drive - gamma * leak(state)) / tau_m

            z = cut(z + dt * f(z + 0.5 * dt * f(z)) if midpoint else z + dt * f(z), lmbda)
        history.append((z, fx(z) * scale))
    return history


@pytest.mark.parametrize("act_fx", sorted(NUMPY_ACTIVATIONS))
@pytest.mark.parametrize("tau_m, prior, integration, threshold", [
    (10.0, "gaussian", "euler", ("none", 0.0)), (5.0, "laplacian", "midpoint", ("none", 0.0)),
    (0.0, "gaussian", "euler", ("soft_threshold", 0.2)), (4.0, "cauchy", "euler", ("soft_threshold", 0.05)),
    (3.0, "exp", "midpoint", ("cauchy_threshold", 0.02)), (6.0, "cauchy", "midpoint", ("none", 0.0))])
def test_rate_cell_follows_its_ode(act_fx, tau_m, prior, integration, threshold):
    rng = np.random.default_rng(2)
    inputs = [(rng.standard_normal((2, 4)), rng.standard_normal((2, 4))) for _ in range(8)]
    with Context(fresh("rate")):
        cell = RateCell("z", 4, tau_m, prior=(prior, 0.3), act_fx=act_fx, output_scale=1.5, threshold=threshold,
                        integration_type=integration, batch_size=2, resist_scale=0.8, dtype="float64")
        advance = MethodProcess("advance") >> cell.advance_state
    stateful_threshold = threshold if tau_m > 0 else ("none", 0.0)  # a stateless cell is not thresholded
    expected = reference_rate_cell(np.zeros((2, 4)), inputs, 0.7, tau_m, prior, 0.3, act_fx,
                                   integration == "midpoint", 0.8, 1.5, stateful_threshold)
    for (j, j_td), (z, z_f) in zip(inputs, expected):
        cell.j.set(j)
        cell.j_td.set(j_td)
        advance.run(dt=0.7)
        np.testing.assert_allclose(cell.z.get(), z, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(cell.zF.get(), z_f, rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(cell.j.get(), j)
    assert np.abs(cell.z.get()).max() > 0.1


def test_rate_cell_keeps_float32():
    with Context(fresh("rate32")):
        cell = RateCell("z", 3, 10.0, act_fx="tanh")
        advance = MethodProcess("advance") >> cell.advance_state
    cell.j.set(np.ones((1, 3), np.float32))
    advance.run(dt=1.0)
    assert cell.z.get().dtype == cell.zF.get().dtype == np.float32


@pytest.mark.parametrize("kwargs, message", [
    ({"tau_m": -1.0}, r"tau_m=-1.0 must be >= 0"),
    ({"prior": ("student", 0.1)}, r"prior=\('student', 0.1\)"),
    ({"threshold": ("hard", 0.1)}, r"threshold=\('hard', 0.1\); expected \(name, lmbda\)"),
    ({"threshold": ("soft_threshold", float("inf"))}, r"threshold=\('soft_threshold', inf\)"),
    ({"act_fx": "gelu"}, r"act_fx='gelu'; expected one of"),
    ({"integration_type": "rk4"}, r"integration_type='rk4'"),
])
def test_rate_cell_refuses_bad_settings(kwargs, message):
    with Context(fresh("badrate")), pytest.raises(ValueError, match=f"RateCell 'z': {message}"):
        RateCell("z", 3, **{"tau_m": 1.0, **kwargs})


EVERY_COMPONENT = {
    "RateCell": lambda: RateCell("c", 3, 5.0, prior=("cauchy", 0.1), threshold=("soft_threshold", 0.01)),
    "LateralRateCell": lambda: RateCell("c", 4, 5.0, use_lateral=True, adaptive_lateral=True, n_patch=2,
                                        exc_inh=(0.4, -0.2), Wl_eta=0.1, Wl_prior=("l2", 0.01)),
    "OptimizedRateCell": lambda: RateCell("c", 3, 5.0, state_optim={"name": "adam", "eta": 0.1}),
    "GaussianErrorCell": lambda: GaussianErrorCell("c", 3, sigma=2.0),
    "SoftmaxErrorCell": lambda: SoftmaxErrorCell("c", 3, batch_size=2),
    "BernoulliErrorCell": lambda: BernoulliErrorCell("c", 3, input_logits=True),
    "DenseSynapse": lambda: DenseSynapse("c", (3, 2), p_conn=0.5, seed=np.int64(4)),
    "HebbianSynapse": lambda: HebbianSynapse("c", (3, 2), eta=0.1, optim_type="adam", key=np.array([0, 3], np.uint32)),
    "TraceSTDPSynapse": lambda: TraceSTDPSynapse("c", (3, 2), A_plus=0.1, A_minus=0.05, mu=0.5),
    "LIFCell": lambda: LIFCell("c", 3, 10.0, key=7),
    "PoissonCell": lambda: PoissonCell("c", 3, target_freq=50.0, seed=2),
    "ExpKernel": lambda: ExpKernel("c", 3, 0.5, tau_w=3.0),
    "WTASCell": lambda: WTASCell("c", 3, 10.0, key=9),
    "EventSTDPSynapse": lambda: EventSTDPSynapse("c", (3, 2), eta=0.1),
    "StaticPatchedSynapse": lambda: StaticPatchedSynapse("c", (4, 4), n_sub_models=2, stride_shape=(1, 0)),
    "HebbianPatchedSynapse": lambda: HebbianPatchedSynapse("c", (4, 2), n_sub_models=2, eta=0.1,
                                                           block_mask=np.ones((4, 2)), seed=5),
    "RetinalGanglionCell": lambda: RetinalGanglionCell("c", "DoG", (4, 4), 4, (2, 2), (2, 2)),
    "StaticConvSynapse": lambda: StaticConvSynapse("c", (3, 3, 1, 2), (5, 5), padding="SAME", batch_size=2,
                                                   bias_init={"dist": "uniform", "amin": -1.0, "amax": 1.0},
                                                   key=np.array([0, 3], np.uint32)),
    "HebbianConvSynapse": lambda: HebbianConvSynapse("c", (2, 2, 1, 2), (4, 4), eta=0.1, stride=2, padding="VALID",
                                                     optim_type="adam", w_bound=0.5, seed=5,
                                                     bias_init={"dist": "constant", "value": 0.1}),
    "StaticDeconvSynapse": lambda: StaticDeconvSynapse("c", (2, 2, 1, 2), (3, 3), stride=2, padding="SAME",
                                                       filter_init={"dist": "gaussian", "sigma": 0.1}, seed=6),
    "HebbianDeconvSynapse": lambda: HebbianDeconvSynapse("c", (3, 3, 2, 1), (3, 3), eta=0.1, padding="VALID",
                                                         optim_type="rmsprop", w_decay=0.01, key=8),
}


@pytest.mark.parametrize("kind", sorted(EVERY_COMPONENT))
def test_to_json_rebuilds_every_component_with_the_same_state(kind):
    with Context(fresh("json")):
        component = EVERY_COMPONENT[kind]()
    arguments = json.loads(json.dumps(component.to_json()))
    with Context(fresh("json")):
        rebuilt = type(component)(**arguments["kwargs"])
    for name, compartment in component.compartments:
        value, again = compartment.get(), getattr(rebuilt, name).get()
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(again, value, err_msg=name)
