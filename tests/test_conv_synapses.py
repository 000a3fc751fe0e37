"""ngc-learn's convolution synapses (StaticConvSynapse, HebbianConvSynapse, StaticDeconvSynapse,
HebbianDeconvSynapse): against ngc-learn 3.2.3's recorded outputs from the same filters and inputs, against
ngc-learn's operations written out in NumPy (tests/naive_conv.py) in float64 through several optimizers, and
their refusals of bad arguments."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from ngc_optim.components import (
    HebbianConvSynapse,
    HebbianDeconvSynapse,
    StaticConvSynapse,
    StaticDeconvSynapse,
)
from ngcsimlib.global_state import stateManager
from test_circuit import _snapshot

from ngc_optim import Context, MethodProcess

DATA = np.load(Path(__file__).parent / "data" / "ngclearn_conv_vectors.npz")
CASES = json.loads(str(DATA["meta_json"]))["cases"]
COMPONENTS = {cls.__name__: cls for cls in (StaticConvSynapse, HebbianConvSynapse, StaticDeconvSynapse,
                                            HebbianDeconvSynapse)}
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}
LEARNING_TOLERANCE = {"rtol": 1e-4, "atol": 2e-5}
"""After learning steps, float32 sums taken in another order (here and in XLA) drift apart (adam most)."""
_names = itertools.count()


def build(cls, *args, **kwargs):
    with Context(f"conv{next(_names)}"):
        synapse = cls("s", *args, **kwargs)
        processes = {"advance": MethodProcess("advance") >> synapse.advance_state,
                     "reset": MethodProcess("reset") >> synapse.reset}
        if hasattr(synapse, "evolve"):
            processes["back"] = MethodProcess("back") >> synapse.backtransmit
            processes["evolve"] = MethodProcess("evolve") >> synapse.evolve
    return synapse, processes


def arguments(spec):
    kwargs = {key: value for key, value in spec.items() if key not in ("component", "shape", "x", "bias")}
    if spec.get("bias"):
        kwargs["bias_init"] = {"dist": "constant", "value": 0.1}
    return kwargs


def close(got, expected, what, learned):
    np.testing.assert_allclose(got, expected, **(LEARNING_TOLERANCE if learned else TOLERANCE), err_msg=what)


@pytest.mark.parametrize("case", sorted(CASES))
def test_conv_synapses_match_ngclearn(case):
    meta = CASES[case]
    spec = meta["spec"]
    synapse, processes = build(COMPONENTS[spec["component"]], tuple(spec["shape"]), (spec["x"], spec["x"]),
                               batch_size=meta["rows"], **arguments(spec))
    processes["reset"].run()
    assert synapse.inputs.get().shape == tuple(meta["in_shape"])
    assert synapse.outputs.get().shape == tuple(meta["out_shape"])
    synapse.weights.set(DATA[f"{case}/W0"].copy())
    if spec.get("bias"):
        synapse.biases.set(np.broadcast_to(DATA[f"{case}/b0"], synapse.biases.get().shape).copy())
    hebbian = "evolve" in processes
    for step in range(meta["steps"]):
        learned = hebbian and step > 0
        for name in ("inputs", "pre", "post") if hebbian else ("inputs",):
            getattr(synapse, name).set(DATA[f"{case}/{name}"][step].copy())
        processes["advance"].run()
        close(synapse.outputs.get(), DATA[f"{case}/outputs"][step], f"{case} outputs {step}", learned)
        if hebbian:
            processes["back"].run()
            close(synapse.dInputs.get(), DATA[f"{case}/dInputs"][step], f"{case} dInputs {step}", learned)
            processes["evolve"].run()
            close(synapse.dWeights.get(), DATA[f"{case}/dW"][step], f"{case} dW {step}", learned)
            close(synapse.weights.get(), DATA[f"{case}/W"][step], f"{case} W {step}", True)
            if spec.get("bias"):
                close(synapse.dBiases.get(), DATA[f"{case}/db"][step], f"{case} db {step}", False)
                close(synapse.biases.get(), DATA[f"{case}/b"][step], f"{case} b {step}", True)
    if hebbian:
        assert np.abs(synapse.weights.get() - DATA[f"{case}/W0"]).max() > 1e-3


@pytest.mark.parametrize("cls", [HebbianConvSynapse, HebbianDeconvSynapse], ids=["conv", "deconv"])
def test_n_steps_equal_k_steps_save_load_and_the_rest(cls, tmp_path):
    """Five adam steps straight through == two steps, save (HDF5, the optimizer's state too), load into a
    fresh synapse, three steps: every compartment bit for bit."""
    kwargs = {"eta": 0.05, "optim_type": "adam", "stride": 2, "padding": "SAME", "batch_size": 2, "seed": 3,
              "bias_init": {"dist": "constant", "value": 0.1}, "w_bound": 0.7}
    rng = np.random.default_rng(0)
    probe, _ = build(cls, (3, 3, 2, 2), (4, 4), **kwargs)
    feeds = [(rng.standard_normal(probe.pre.get().shape).astype(np.float32),
              rng.standard_normal(probe.post.get().shape).astype(np.float32)) for _ in range(5)]

    def run(synapse, processes, steps):
        for pre, post in steps:
            synapse.inputs.set(pre)
            synapse.pre.set(pre)
            synapse.post.set(post)
            for name in ("advance", "back", "evolve"):
                processes[name].run()

    straight, processes = build(cls, (3, 3, 2, 2), (4, 4), **kwargs)
    run(straight, processes, feeds)
    first, processes = build(cls, (3, 3, 2, 2), (4, 4), **kwargs)
    run(first, processes, feeds[:2])
    first.save(str(tmp_path))
    resumed, processes = build(cls, (3, 3, 2, 2), (4, 4), **kwargs)
    resumed.load(str(tmp_path))
    assert resumed.opt_state.count == 2
    run(resumed, processes, feeds[2:])
    assert resumed.opt_state.count == straight.opt_state.count == 5
    for name, compartment in straight.compartments:
        if name != "opt_params":
            np.testing.assert_array_equal(getattr(resumed, name).get(), compartment.get(), err_msg=name)
    assert np.abs(straight.weights.get() - probe.weights.get()).max() > 1e-2


def test_reset_zeros_signals_and_keeps_what_was_learned():
    synapse, processes = build(HebbianConvSynapse, (3, 3, 1, 2), (4, 4), eta=0.1, padding="SAME", batch_size=1)
    rng = np.random.default_rng(2)
    for name in ("inputs", "pre", "post"):
        getattr(synapse, name).set(rng.standard_normal(getattr(synapse, name).get().shape).astype(np.float32))
    for name in ("advance", "back", "evolve"):
        processes[name].run()
    weights, d_weights = synapse.weights.get().copy(), synapse.dWeights.get().copy()
    processes["reset"].run()
    for name in ("inputs", "pre", "post", "outputs", "dInputs"):
        assert not getattr(synapse, name).get().any(), name
    np.testing.assert_array_equal(synapse.weights.get(), weights)
    np.testing.assert_array_equal(synapse.dWeights.get(), d_weights)


def _make(cls, **kwargs):
    def make():
        return cls("s", **{"shape": (3, 3, 2, 2), "x_shape": (6, 6), "padding": "SAME", **kwargs})
    return make


@pytest.mark.parametrize("build_synapse, message", [
    (_make(StaticConvSynapse, padding=None), r"StaticConvSynapse 's': padding=None must be one of \('SAME', "),
    (_make(HebbianConvSynapse, padding="same"), r"HebbianConvSynapse 's': padding='same' must be one of"),
    (_make(StaticDeconvSynapse, stride=0), r"StaticDeconvSynapse 's': stride=0 must be a positive int"),
    (_make(HebbianDeconvSynapse, stride=1.5), r"HebbianDeconvSynapse 's': stride=1.5 must be"),
    (_make(StaticConvSynapse, shape=(3, 2, 2, 2)), r"StaticConvSynapse 's': shape=\(3, 2, 2, 2\) must be four "),
    (_make(StaticConvSynapse, shape=(3, 3, 2)), r"shape=\(3, 3, 2\) must be four positive ints"),
    (_make(StaticConvSynapse, x_shape=(6, 5)), r"StaticConvSynapse 's': x_shape=\(6, 5\) must be two equal"),
    (_make(StaticConvSynapse, shape=(7, 7, 2, 2), padding="VALID"),
     r"StaticConvSynapse 's': VALID padding needs x_shape >= the filter \(6 < 7\)"),
    (_make(HebbianConvSynapse, w_bound=-1.0), r"HebbianConvSynapse 's': w_bound=-1.0 must be >= 0"),
    (_make(HebbianConvSynapse, optim_type="lbfgs"), r"HebbianConvSynapse 's': optimizer: "),
    (_make(HebbianDeconvSynapse, is_nonnegative="yes"), r"'s': is_nonnegative='yes' must be True or False"),
    (_make(StaticConvSynapse, batch_size=0), r"StaticConvSynapse 's': batch_size=0 must be a positive int"),
    (_make(StaticConvSynapse, filter_init={"dist": "cauchy"}), r"'s' filter_init: unknown dist 'cauchy'"),
])
def test_bad_construction_is_refused_naming_the_synapse(build_synapse, message):
    with Context(f"conv{next(_names)}"), pytest.raises(ValueError, match=message):
        build_synapse()


def test_wrong_shapes_at_the_call_are_refused_naming_the_synapse():
    synapse, processes = build(HebbianDeconvSynapse, (3, 3, 2, 2), (4, 4), padding="SAME", stride=2, batch_size=2)
    synapse.inputs.set(np.zeros((2, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r"HebbianDeconvSynapse 's': inputs have shape \(2, 5, 5, 2\); expected "
                                         r"\(2, 4, 4, 2\)"):
        processes["advance"].run()
    synapse.post.set(np.zeros((2, 4, 4, 2), np.float32))
    with pytest.raises(ValueError, match=r"HebbianDeconvSynapse 's': post is float32\[2, 4, 4, 2\]; expected "
                                         r"float32\[2, 8, 8, 2\]"):
        processes["back"].run()
    with pytest.raises(ValueError, match=r"'s': post is float32\[2, 4, 4, 2\]"):
        processes["evolve"].run()


def test_ngclearn_import_paths_answer():
    from ngc_optim.components.synapses.convolution import HebbianConvSynapse as imported
    from ngc_optim.components.synapses.convolution.staticDeconvSynapse import StaticDeconvSynapse as leaf

    assert imported is HebbianConvSynapse and leaf is StaticDeconvSynapse


def _conv_layer(compiled, batch, data):
    """A static convolution into a Hebbian deconvolution (its inputs and pre), beside a Hebbian convolution of
    the same maps (post: the static one's outputs), built for ``batch`` samples, ``data`` random rows
    clamped; one process steps them all (advance_state, backtransmit, evolve)."""
    bias = {"dist": "constant", "value": 0.1}
    with Context(f"convbatch{next(_names)}"):
        c = StaticConvSynapse("c", (3, 3, 2, 3), (6, 6), padding="SAME", stride=2, bias_init=bias, batch_size=batch,
                              seed=1)
        g = HebbianConvSynapse("g", (3, 3, 2, 3), (6, 6), eta=0.05, padding="SAME", stride=2, optim_type="adam",
                               bias_init=bias, w_bound=0.6, batch_size=batch, seed=2)
        h = HebbianDeconvSynapse("h", (3, 3, 3, 2), (3, 3), eta=0.05, padding="SAME", stride=2, sign_value=-1.0,
                                 optim_type="rmsprop", batch_size=batch, seed=3)
        c.outputs >> g.post
        c.outputs >> h.inputs
        c.outputs >> h.pre
        step = MethodProcess("step") >> c.advance_state
        for synapse in (g, h):
            step >> synapse.advance_state >> synapse.backtransmit >> synapse.evolve
    rng = np.random.default_rng(7)
    x = rng.standard_normal((data, 6, 6, 2)).astype(np.float32)
    for compartment in (c.inputs, g.inputs, g.pre):
        compartment.set(x)
    h.post.set(rng.standard_normal((data, 6, 6, 2)).astype(np.float32))
    step.compiled_circuit, step.compile_after = compiled, 0
    return step, [c, g, h]


@pytest.mark.parametrize("by_scan", [False, True])
@pytest.mark.parametrize("compiled", [False, True])
def test_a_conv_layer_built_for_one_sample_takes_a_batch_of_any_size(compiled, by_scan):
    """Built at batch 1 with 4 rows clamped, the layer computes what it computes built for 4, bit for bit (every
    compartment and the optimizers' state); the per-sample shapes follow the batch."""
    def steps(step):
        if by_scan:
            final, _ = step.scan([[]] * 4)
            stateManager.set_state(final)
        else:
            for _ in range(4):
                step.run()

    step, expected_components = _conv_layer(compiled, 4, 4)
    steps(step)
    step, components = _conv_layer(compiled, 1, 4)
    steps(step)
    assert _snapshot(components) == _snapshot(expected_components)
    c, g, h = components
    assert all(synapse.batch_size == 4 for synapse in components)
    assert (c.in_shape, g.out_shape, h.dinputs_shape) == ((4, 6, 6, 2), (4, 3, 3, 3), (4, 3, 3, 3))
    assert h.dInputs.get().shape == (4, 3, 3, 3) and g.dBiases.get().shape == (1, 3, 3, 3)


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("cls", [HebbianConvSynapse, HebbianDeconvSynapse], ids=["conv", "deconv"])
def test_the_ngclearn_idiom_measures_the_filter_change(cls, compiled):
    """W_old = W.weights.get(); evolve; W.weights.get() - W_old is the step's change (and the biases' too), the
    old arrays and the old optimizer state unchanged; with in_place=True the synapse updates the arrays and the
    optimizer state the state holds."""
    for in_place in (False, True):
        synapse, processes = build(cls, (3, 3, 2, 2), (4, 4), eta=0.1, optim_type="adam", padding="SAME",
                                   stride=2, batch_size=2, bias_init={"dist": "constant", "value": 0.1},
                                   in_place=in_place)
        evolve = processes["evolve"]
        evolve.compiled_circuit, evolve.compile_after = compiled, 0
        rng = np.random.default_rng(1)
        for name in ("pre", "post"):
            compartment = getattr(synapse, name)
            compartment.set(rng.standard_normal(compartment.get().shape).astype(np.float32))
        evolve.run()
        weights, biases, state = synapse.weights.get(), synapse.biases.get(), synapse.opt_params.get()
        moments = {(slot, name): array.copy() for slot, arrays in state.state_dict().items() if slot != "count"
                   for name, array in arrays.items()}
        kept = weights.copy(), biases.copy()
        evolve.run()
        if in_place:
            assert synapse.weights.get() is weights and synapse.biases.get() is biases
            assert synapse.opt_params.get() is state and state.count == 2
        else:
            np.testing.assert_array_equal(weights, kept[0])
            np.testing.assert_array_equal(biases, kept[1])
            assert state.count == 1 and synapse.opt_params.get().count == 2
            assert len(moments) == 4  # adam's two moments of the weights and of the biases
            for (slot, name), array in moments.items():
                np.testing.assert_array_equal(state.slot(slot)[name], array, err_msg=f"{slot} {name}")
            assert np.abs(synapse.weights.get() - weights).max() > 1e-3
            assert np.abs(synapse.biases.get() - biases).max() > 1e-3


def test_in_place_must_be_a_bool():
    with Context(f"conv{next(_names)}"), pytest.raises(ValueError, match=r"HebbianConvSynapse 's': in_place=1"):
        HebbianConvSynapse("s", (3, 3, 1, 1), (4, 4), padding="SAME", in_place=1)
