"""TraceSTDPSynapse: dW against the closed form, the fused kernel and several steps against tests/naive_stdp.py,
ngc-learn 3.2.3's recorded outputs, resume from a checkpoint, bad input."""

import ctypes
import ctypes.util
import itertools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from ngc_optim.components import DenseSynapse, TraceSTDPSynapse
from ngcsimlib import MethodProcess
from ngcsimlib.context import Context

from ngc_optim import hebbian_kernels
from ngc_optim.optim import get_optimizer

import naive
import naive_stdp
from cases import CASES, case_id

_names = itertools.count()
BATCH, SHAPE, STEPS = 4, (7, 5), 5
SETTINGS = {
    # A_plus, A_minus, mu, pretrace_target, w_bound, tau_w, masked
    "plain": (1.0, 0.5, 0.0, 0.0, 1.0, 0.0, False),
    "mu-target": (0.8, 0.6, 0.7, 0.3, 1.5, 0.0, False),
    "ltp-only-decay-mask": (1.2, 0.0, 1.0, 0.1, 0.9, 20.0, True),
}


def spikes_and_traces(rng, dtype, steps=STEPS, batch=BATCH, shape=SHAPE):
    """Per step: (preSpike, postSpike, preTrace, postTrace), spikes 0/1, traces in [0, 1)."""
    return [((rng.random((batch, shape[0])) < 0.4).astype(dtype), (rng.random((batch, shape[1])) < 0.4).astype(dtype),
             rng.random((batch, shape[0])).astype(dtype), rng.random((batch, shape[1])).astype(dtype))
            for _ in range(steps)]


def closed_form(W, pre_spike, post_spike, pre_trace, post_trace, A_plus, A_minus, mu, target, w_bound):
    """ngc-learn's documented dW, written out: A_plus (w_bound - W)^mu (z_pre - x_tar)^T s_post - A_minus W^mu s_pre^T z_post."""
    weight_plus = (w_bound - W) ** mu if mu > 0 else 1.0
    weight_minus = W ** mu if mu > 0 else 1.0
    return (A_plus * weight_plus * np.einsum("bi,bj->ij", pre_trace - target, post_spike)
            - A_minus * weight_minus * np.einsum("bi,bj->ij", pre_spike, post_trace))


def build(optim_type="sgd", eta=0.05, dtype="float64", settings="plain", name=None, batch_size=BATCH, **kwargs):
    A_plus, A_minus, mu, target, w_bound, tau_w, masked = SETTINGS[settings]
    with Context(name or f"stdp{next(_names)}"):
        synapse = TraceSTDPSynapse("W", SHAPE, A_plus=A_plus, A_minus=A_minus, eta=eta, mu=mu, pretrace_target=target,
                                   w_bound=w_bound, tau_w=tau_w, p_conn=0.6 if masked else 1.0, optim_type=optim_type,
                                   batch_size=batch_size, dtype=dtype, seed=3, **kwargs)
        evolve = MethodProcess("evolve") >> synapse.evolve
    return synapse, evolve


def run(synapse, evolve, steps):
    for pre_spike, post_spike, pre_trace, post_trace in steps:
        synapse.preSpike.set(pre_spike)
        synapse.postSpike.set(post_spike)
        synapse.preTrace.set(pre_trace)
        synapse.postTrace.set(post_trace)
        evolve.run(dt=1.0)


@pytest.mark.parametrize("batch", [1, BATCH])
@pytest.mark.parametrize("settings", ["plain", "mu-target"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dw_and_one_sgd_step_follow_the_closed_form(dtype, settings, batch):
    A_plus, A_minus, mu, target, w_bound, _, _ = SETTINGS[settings]
    synapse, evolve = build(eta=0.05, dtype=dtype, settings=settings, batch_size=batch)
    W0 = synapse.weights.get().copy()
    steps = spikes_and_traces(np.random.default_rng(0), dtype, steps=1, batch=batch)
    run(synapse, evolve, steps)
    expected = closed_form(W0.astype(np.float64), *(a.astype(np.float64) for a in steps[0]), A_plus, A_minus, mu,
                           target, w_bound)
    tolerance = {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-12, "atol": 1e-14}
    assert synapse.dWeights.get().dtype == np.dtype(dtype)
    np.testing.assert_allclose(synapse.dWeights.get(), expected, **tolerance)
    np.testing.assert_allclose(synapse.weights.get(), np.clip(W0 + 0.05 * expected, 0.0, w_bound), **tolerance)
    assert np.abs(expected).max() > 0.1 and (expected > 0).any() and (expected < 0).any()


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[case_id(case) for case in CASES])
def test_kernel_matches_the_reference_bit_for_bit(case, dtype, settings):
    """The fused kernel, several steps of every optimizer of tests/cases.py, against tests/naive_stdp.py, bit for bit."""
    rule, hyperparameters = case
    A_plus, A_minus, mu, target, w_bound, tau_w, masked = SETTINGS[settings]
    stdp = (A_plus, A_minus, mu, w_bound, tau_w)
    rng = np.random.default_rng(1)
    w = rng.uniform(0.0, w_bound, (37, 23)).astype(dtype)
    mask = (rng.random(w.shape) < 0.6).astype(dtype)
    steps = spikes_and_traces(rng, dtype, shape=w.shape)
    optimizer = get_optimizer(rule, **hyperparameters)
    state = optimizer.init({"weights": w})
    kernel = hebbian_kernels.STDP[mu > 0][optimizer.kernel.name]
    expected, slots, w0 = w.copy(), {slot: np.zeros_like(w) for slot in naive.SLOTS[rule]}, w.copy()
    for t, spikes in enumerate(steps, start=1):
        p, q = naive_stdp.products(*spikes, target)
        factors = (np.power(w.dtype.type(w_bound) - w, w.dtype.type(mu)), np.power(w, w.dtype.type(mu))) if mu else ()
        scalars = optimizer.advance(state)
        d = p.copy()
        state_slots = state.arrays("weights")
        if t % 2:
            out, slots_out, before = w, state_slots, None
        else:
            out, slots_out = np.full_like(w, np.nan), tuple(np.full_like(array, np.nan) for array in state_slots)
            before = (w.copy(), *(array.copy() for array in state_slots))
        kernel(w.ravel(), out.ravel(), tuple(array.ravel() for array in (d, q, *factors)), mask.ravel(), masked, 0,
               (A_plus, A_minus, w_bound, tau_w), *(array.ravel() for array in state_slots),
               *(array.ravel() for array in slots_out), *scalars)
        if before is not None:
            for array, kept in zip((w, *state_slots), before):
                np.testing.assert_array_equal(array, kept)
            for array, new in zip(state_slots, slots_out):
                array[...] = new
        w = out
        expected, slots, dW = naive_stdp.step(rule, expected, p, q, slots, t, mask if masked else None, stdp,
                                              **hyperparameters)
        np.testing.assert_array_equal(d, dW)
        np.testing.assert_array_equal(w, expected)
    for slot, array in slots.items():
        np.testing.assert_array_equal(state.slot(slot)["weights"], array)
    assert state.count == STEPS and np.abs(w - w0).max() > 1e-4
    assert w.min() >= 0.0 and w.max() <= w_bound
    if masked:
        assert not w[mask == 0].any()


@pytest.mark.parametrize("optim_type, kwargs", [("sgd", {}), ("nag", {"mu": 0.8}), ("adam", {"beta1": 0.8})])
def test_evolve_steps_through_the_optimizer_and_clips(optim_type, kwargs):
    """Several evolves with large steps from weights partly outside [0, w_bound]: naive_stdp's rule, clipped."""
    with Context(f"stdpclip{next(_names)}"):
        synapse = TraceSTDPSynapse("W", SHAPE, A_plus=1.0, A_minus=0.8, eta=0.4, w_bound=0.7, optim_type=optim_type,
                                   optim_kwargs=kwargs, weight_init={"dist": "uniform", "amin": -0.3, "amax": 1.0},
                                   batch_size=BATCH, dtype="float64")
        evolve = MethodProcess("evolve") >> synapse.evolve
    W0 = synapse.weights.get().copy()
    assert W0.min() < 0 and W0.max() > 0.7
    steps = spikes_and_traces(np.random.default_rng(2), "float64")
    run(synapse, evolve, steps)
    expected, slots = W0, {slot: np.zeros_like(W0) for slot in naive.SLOTS[optim_type]}
    for t, spikes in enumerate(steps, start=1):
        p, q = naive_stdp.products(*spikes, 0.0)
        expected, slots, _ = naive_stdp.step(optim_type, expected, p, q, slots, t, None, (1.0, 0.8, 0.0, 0.7, 0.0),
                                             eta=0.4, **kwargs)
    np.testing.assert_array_equal(synapse.weights.get(), expected)
    W = synapse.weights.get()
    assert W.min() == 0.0 and W.max() == 0.7 and ((W > 0) & (W < 0.7)).any()
    assert synapse.opt_state.count == STEPS


VECTORS = np.load(Path(__file__).parent / "data" / "ngclearn_stdp_vectors.npz")
RECORDED = json.loads(str(VECTORS["meta_json"]))["cases"]


@pytest.mark.parametrize("case", sorted(RECORDED))
def test_matches_ngclearn_with_sgd(case):
    """ngc-learn 3.2.3 adds eta * dW; ours, through sgd with the same eta, gives its weights (float32 tolerance)."""
    spec = RECORDED[case]
    kwargs = {key: value for key, value in spec["kwargs"].items() if key != "shape"}
    with Context(f"stdpngcl{next(_names)}"):
        synapse = TraceSTDPSynapse("W", tuple(spec["kwargs"]["shape"]), optim_type="sgd", **kwargs)
        step = MethodProcess("step") >> synapse.advance_state >> synapse.evolve
    synapse.weights.set(VECTORS[f"{case}/W0"].copy())
    for t in range(spec["steps"]):
        synapse.inputs.set(VECTORS[f"{case}/x/{t}"].copy())
        for name in ("preSpike", "postSpike", "preTrace", "postTrace"):
            getattr(synapse, name).set(VECTORS[f"{case}/{name}/{t}"].copy())
        step.run(dt=spec["dt"])
        for compartment, key in (("outputs", "out"), ("dWeights", "dW"), ("weights", "W")):
            np.testing.assert_allclose(getattr(synapse, compartment).get(), VECTORS[f"{case}/{key}/{t}"], rtol=1e-5,
                                       atol=1e-6, err_msg=f"{compartment} at step {t}")
    assert synapse.opt_state.count == spec["steps"]
    assert np.abs(synapse.weights.get() - VECTORS[f"{case}/W0"]).max() > 0.05


def test_save_and_load_resume_bit_for_bit(tmp_path):
    steps = spikes_and_traces(np.random.default_rng(3), "float32", steps=8)
    straight, evolve = build("adam", eta=0.01, dtype="float32", settings="mu-target")
    run(straight, evolve, steps)
    first, evolve = build("adam", eta=0.01, dtype="float32", settings="mu-target")
    run(first, evolve, steps[:3])
    first.save(str(tmp_path))
    second, evolve = build("adam", eta=0.01, dtype="float32", settings="mu-target")
    second.load(str(tmp_path))
    assert second.opt_state.count == 3
    run(second, evolve, steps[3:])
    np.testing.assert_array_equal(second.weights.get(), straight.weights.get())
    for slot in ("g1", "g2"):
        np.testing.assert_array_equal(second.opt_state.slot(slot)["weights"], straight.opt_state.slot(slot)["weights"])
    assert not np.array_equal(first.weights.get(), straight.weights.get())


RESUME = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    import numpy as np
    from ngcsimlib.context import Context
    from test_trace_stdp_synapse import run, spikes_and_traces
    context = Context.load({directory!r}, {name!r})
    synapse = context.get_components("W")
    run(synapse, context.get_objects_by_type("process")["evolve"],
        spikes_and_traces(np.random.default_rng(4), "float32", steps=6)[2:])
    synapse.save({directory!r})
""")


def test_context_save_to_json_and_load_resume_bit_for_bit(tmp_path):
    """Context.save_to_json mid-training, Context.load in a fresh process, go on: the same as straight through."""
    steps = spikes_and_traces(np.random.default_rng(4), "float32", steps=6)
    kwargs = {"optim_type": "nag", "optim_kwargs": {"mu": 0.7}, "eta": 0.05, "dtype": "float32",
              "settings": "ltp-only-decay-mask"}
    straight, evolve = build(**kwargs)
    run(straight, evolve, steps)
    name = f"stdpjson{next(_names)}"
    first, evolve = build(name=name, **kwargs)
    run(first, evolve, steps[:2])
    Context(name).save_to_json(str(tmp_path), overwrite=True)
    script = RESUME.format(tests=str(Path(__file__).parent), directory=str(tmp_path), name=name)
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    resumed, _ = build(**kwargs)
    resumed.load(str(tmp_path))
    np.testing.assert_array_equal(resumed.weights.get(), straight.weights.get())
    np.testing.assert_array_equal(resumed.opt_state.phi["weights"], straight.opt_state.phi["weights"])
    assert resumed.opt_state.count == straight.opt_state.count == len(steps)


@pytest.mark.parametrize("kwargs, message", [
    ({"A_minus": -0.1}, r"A_minus=-0.1 must be >= 0"),
    ({"mu": -1.0}, r"mu=-1.0 must be >= 0"),
    ({"w_bound": 0.0}, r"w_bound=0.0 must be > 0"),
    ({"tau_w": -2.0}, r"tau_w=-2.0 must be >= 0"),
    ({"A_plus": float("nan")}, r"A_plus=nan must be a finite number"),
    ({"pretrace_target": "0.1"}, r"pretrace_target='0.1' must be a finite number"),
    ({"optim_type": "adagrad"}, r"optimizer: unknown optimizer 'adagrad'"),
    ({"optim_kwargs": {"eta": 0.1}}, r"give the step size as eta"),
    ({"eta": -0.1}, r"eta=-0.1 is out of range"),
])
def test_bad_settings_are_refused_naming_the_synapse(kwargs, message):
    arguments = {"A_plus": 0.1, "A_minus": 0.1, **kwargs}
    with Context(f"badstdp{next(_names)}"), pytest.raises(ValueError, match=f"TraceSTDPSynapse 'W': .*{message}"):
        TraceSTDPSynapse("W", (3, 2), **arguments)


@pytest.mark.parametrize("compartment, value, message", [
    ("preSpike", np.ones((3, 7), np.float32), r"preSpike is float32\[3, 7\]; expected float32\[4, 7\]"),
    ("postTrace", np.ones((4, 5), np.float64), r"postTrace is float64\[4, 5\]; expected float32\[4, 5\]"),
])
def test_bad_compartment_values_are_refused_naming_the_synapse(compartment, value, message):
    synapse, evolve = build(dtype="float32")
    W = synapse.weights.get().copy()
    getattr(synapse, compartment).set(value)
    with pytest.raises(ValueError, match=f"TraceSTDPSynapse 'W': {message}"):
        evolve.run(dt=1.0)
    np.testing.assert_array_equal(synapse.weights.get(), W)
    assert synapse.opt_state.count == 0


def test_reset_clears_what_it_owns_and_leaves_wired_inputs():
    with Context(f"stdpreset{next(_names)}"):
        source = DenseSynapse("source", (3, SHAPE[1]), batch_size=BATCH)
        synapse = TraceSTDPSynapse("W", SHAPE, A_plus=1.0, A_minus=0.5, batch_size=BATCH, dtype="float32")
        source.outputs >> synapse.postSpike
        evolve = MethodProcess("evolve") >> source.advance_state >> synapse.evolve
        reset = MethodProcess("reset") >> synapse.reset
    pre_spike, _, pre_trace, post_trace = spikes_and_traces(np.random.default_rng(5), "float32", steps=1)[0]
    source.inputs.set(np.ones((BATCH, 3), np.float32))
    for name, value in (("preSpike", pre_spike), ("preTrace", pre_trace), ("postTrace", post_trace)):
        getattr(synapse, name).set(value)
    synapse.gate.set(np.zeros((BATCH, SHAPE[1]), np.float32))
    evolve.run(dt=1.0)
    assert synapse.dWeights.get().any() and synapse.postSpike.get().all()
    reset.run()
    for name in ("preSpike", "preTrace", "postTrace", "dWeights", "outputs", "inputs"):
        assert not getattr(synapse, name).get().any(), name
    np.testing.assert_array_equal(synapse.postSpike.get(), source.outputs.get())
    assert synapse.postSpike.get().all() and synapse.gate.get().all()


def test_help_is_generated_from_the_spec():
    info = TraceSTDPSynapse.help()
    assert set(info["compartments"]["inputs"]) >= {"preSpike", "postSpike", "preTrace", "postTrace"}
    assert {"A_plus", "A_minus", "mu", "pretrace_target", "optim_type"} <= set(info["arguments"])
    assert "bias_init" not in info["arguments"]


@pytest.mark.parametrize("post_spikes", [1, 10])
@pytest.mark.parametrize("A_minus", [0.5, 0.0])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sparse_spikes_update_only_their_rows_and_columns_with_the_same_bits(dtype, A_minus, post_spikes):
    """Batch-1 SGD with few spikes updates only the rows and columns of the spiking units (once the weights are
    in [0, w_bound]); weights and dW equal the dense kernel's bit for bit, also after weights set from outside.
    With ``post_spikes`` 10 of 50 columns every third step, those steps update every row whole (see
    hebbian_kernels.COLUMN_FACTOR), and the next clear what they wrote."""
    shape, rng = (60, 50), np.random.default_rng(4)
    synapses = []
    for sparse in (True, False):
        with Context(f"stdpsparse{next(_names)}"):
            synapse = TraceSTDPSynapse("W", shape, A_plus=0.9, A_minus=A_minus, eta=0.3, pretrace_target=0.1,
                                       w_bound=0.8, weight_init={"dist": "uniform", "amin": -0.1, "amax": 0.9},
                                       dtype=dtype, seed=5)
            evolve = MethodProcess("evolve") >> synapse.evolve
        synapse.plan.step_settings = synapse.plan.step_settings[:-1] + (sparse,)
        synapses.append((synapse, evolve))
    assert synapses[0][0].plan.step_settings[-1] and synapses[0][0].weights.get().max() > 0.8
    touched = []
    for step in range(40):
        pre_spike = (rng.random((1, shape[0])) < 0.05).astype(dtype)
        post_spike = np.zeros((1, shape[1]), dtype)
        post_spike[0, rng.choice(shape[1], post_spikes, replace=False)] = step % 3 == 0
        pre_trace, post_trace = rng.random((1, shape[0])).astype(dtype), rng.random((1, shape[1])).astype(dtype)
        if step == 20:
            outside = rng.uniform(-0.2, 1.0, shape).astype(dtype)
            for synapse, _ in synapses:
                synapse.weights.set(outside.copy())
        before = synapses[0][0].weights.get().copy()
        for synapse, evolve in synapses:
            run(synapse, evolve, [(pre_spike, post_spike, pre_trace, post_trace)])
        (sparse, _), (dense, _) = synapses
        np.testing.assert_array_equal(sparse.weights.get(), dense.weights.get(), err_msg=f"step {step}")
        np.testing.assert_array_equal(sparse.dWeights.get(), dense.dWeights.get(), err_msg=f"step {step}")
        changed = sparse.weights.get() != before
        rows = pre_spike[0] != 0 if A_minus > 0 else np.zeros(shape[0], bool)
        touched.append(step not in (0, 20) and not changed[~rows][:, post_spike[0] == 0].any())
        assert sparse.plan.events[sparse.plan.last][3][0] == (-1 if step in (0, 20) else rows.sum())
    assert all(touched[1:20]) and all(touched[21:])
    assert sparse.opt_state.count == dense.opt_state.count == 40


def _c_power(x, mu):
    """x**mu elementwise by the C library's pow (powf for float32), NumPy's fast paths for 0.5, 1 and 2 first."""
    if mu in (0.5, 1.0, 2.0):
        return np.power(x, x.dtype.type(mu))
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    function, kind = (libm.powf, ctypes.c_float) if x.dtype == np.float32 else (libm.pow, ctypes.c_double)
    function.restype, function.argtypes = kind, (kind, kind)
    return np.array([function(value, mu) for value in x.ravel().tolist()], x.dtype).reshape(x.shape)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mu", [0.5, 1.0, 2.0, 0.7, 3.0])
def test_weight_factors_have_the_bits_of_the_c_library_power(mu, dtype):
    """The factors (w_bound - W)**mu and W**mu, computed in the evolve kernel, are the C library's pow bit for
    bit, with np.power's fast paths for 0.5, 1 and 2 (np.power's own loops for other exponents are the C
    library's on some CPUs; on AVX-512 ones they differ by up to an ulp)."""
    rng = np.random.default_rng(11)
    with Context(f"power{mu}{dtype}"):
        synapse = TraceSTDPSynapse("s", (40, 30), A_plus=0.1, A_minus=0.05, mu=mu, w_bound=1.2, dtype=dtype,
                                   weight_init={"dist": "uniform", "amin": 0.0, "amax": 1.2})
        evolve = MethodProcess("evolve") >> synapse.evolve
    weights = synapse.weights.get().copy()
    for name in ("preSpike", "postSpike", "preTrace", "postTrace"):
        compartment = getattr(synapse, name)
        compartment.set(rng.random(compartment.get().shape).astype(dtype))
    evolve.run()
    bound = weights.dtype.type(1.2)
    np.testing.assert_array_equal(synapse.plan.common[1], _c_power(bound - weights, mu))
    np.testing.assert_array_equal(synapse.plan.common[2], _c_power(weights, mu))
    np.testing.assert_array_max_ulp(synapse.plan.common[2], np.power(weights, weights.dtype.type(mu)), 1)


@pytest.mark.parametrize("exact", [1, 0])
@pytest.mark.parametrize("changed", [(3, 1), (0, 2), (40, 0), (5, 30), (-1, 0)])
def test_synced_brings_the_new_weights_array_up_to_date(changed, exact):
    """_synced leaves out equal to the weights when out differs from them only in the listed rows and columns
    (exact), copying those or, when the columns are many (or counts[0] < 0, or not exact), everything."""
    rng = np.random.default_rng(9)
    weights = rng.random((60, 50)).astype(np.float32)
    n_rows, n_cols = changed
    rows = np.zeros(60, np.int64)
    cols = np.zeros(50, np.int64)
    rows[:max(n_rows, 0)] = rng.choice(60, max(n_rows, 0), replace=False)
    cols[:n_cols] = rng.choice(50, n_cols, replace=False)
    out = weights.copy()
    if exact and n_rows >= 0:
        out[rows[:n_rows]] = -1.0
        out[:, cols[:n_cols]] = -1.0
    else:
        out[:] = -1.0
    hebbian_kernels._synced(out, weights, (rows, cols, np.array([n_rows, n_cols], np.int64),
                                           np.array([exact], np.int64)))
    np.testing.assert_array_equal(out, weights)
