"""The patch components of ngc-museum's pc_reconstruction: StaticPatchedSynapse and HebbianPatchedSynapse
(against ngc-learn 3.2.3's recorded outputs from its own initial weights, their patch layout, a learning step
from the formulas) and RetinalGanglionCell (recorded outputs and its formula)."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from ngc_optim.components import HebbianPatchedSynapse, RetinalGanglionCell, StaticPatchedSynapse

from ngc_optim import Context, MethodProcess

import naive

DATA = np.load(Path(__file__).parent / "data" / "ngclearn_kernel_vectors.npz")
CASES = {case: spec for case, spec in json.loads(str(DATA["meta_json"]))["cases"].items()
         if case.startswith("patched/")}
TOLERANCE = {"rtol": 2e-5, "atol": 2e-6}
LEARNING_TOLERANCE = {"rtol": 1e-4, "atol": 2e-5}
"""After learning steps, float32 products summed in another order (BLAS here, XLA there) drift apart."""
_names = itertools.count()


def build(component, *args, **kwargs):
    with Context(f"patched{next(_names)}"):
        synapse = component("p", *args, **kwargs)
        processes = [MethodProcess("advance") >> synapse.advance_state, MethodProcess("reset") >> synapse.reset]
        if hasattr(synapse, "evolve") and not isinstance(synapse, RetinalGanglionCell):
            processes.append(MethodProcess("evolve") >> synapse.evolve)
    return synapse, processes


def arguments(spec, case):
    """Our constructor arguments for a recorded case (ngc-learn's, with our names for the bias and mask)."""
    kwargs = {key: value for key, value in spec.items() if key not in ("component", "shape", "bias", "block_mask")}
    if "bias" in spec:
        kwargs["bias_init"] = {"dist": "constant", "value": spec["bias"]}
    if spec.get("block_mask"):
        kwargs["block_mask"] = DATA[f"{case}/block_mask"]
    return kwargs


@pytest.mark.parametrize("case", sorted(CASES))
def test_patched_synapses_match_ngclearn(case):
    meta = CASES[case]
    spec = meta["spec"]
    component = StaticPatchedSynapse if spec["component"] == "static" else HebbianPatchedSynapse
    synapse, processes = build(component, tuple(spec["shape"]), batch_size=meta["rows"], **arguments(spec, case))
    advance, reset = processes[:2]
    reset.run()
    assert synapse.weights.get().shape == tuple(meta["full_shape"])
    np.testing.assert_array_equal(synapse.weights.get() != 0, DATA[f"{case}/W0"] != 0)  # ngc-learn's patch layout
    synapse.weights.set(DATA[f"{case}/W0"].copy())
    synapse.biases.set(DATA[f"{case}/b0"].copy())
    learning = spec["component"] == "hebbian"
    tolerance = LEARNING_TOLERANCE if learning else TOLERANCE
    for step in range(meta["steps"]):
        for name in ("inputs", "post_in", "pre", "post") if learning else ("inputs", "post_in"):
            getattr(synapse, name).set(DATA[f"{case}/{name}"][step].copy())
        advance.run()
        np.testing.assert_allclose(synapse.outputs.get(), DATA[f"{case}/outputs"][step], **tolerance)
        np.testing.assert_allclose(synapse.pre_out.get(), DATA[f"{case}/pre_out"][step], **tolerance)
        if learning:
            processes[2].run(dt=1.0)
            for compartment, key in ((synapse.weights, "W"), (synapse.biases, "b"), (synapse.dWeights, "dW"),
                                     (synapse.dBiases, "db")):
                np.testing.assert_allclose(compartment.get(), DATA[f"{case}/{key}"][step], **tolerance,
                                           err_msg=f"{key}, step {step}")
    if learning:
        assert np.abs(DATA[f"{case}/W"][-1] - DATA[f"{case}/W0"]).max() > 1e-3


def test_a_learning_step_follows_the_formulas_in_float64():
    rng = np.random.default_rng(8)
    block_mask = (rng.random((6, 6)) < 0.8) * 1.0
    synapse, (_, reset, evolve) = build(HebbianPatchedSynapse, (4, 4), n_sub_models=2, stride_shape=(1, 1),
                                        eta=0.05, optim_type="adam", prior=("l1", 0.02), w_bound=1.5,
                                        sign_value=-1.0, block_mask=block_mask, batch_size=2, p_conn=0.9, seed=3,
                                        dtype="float64")
    reset.run()
    weights = synapse.weights.get().copy()
    assert not weights[~synapse.patches.astype(bool)].any()
    pre, post = rng.standard_normal((2, 6)), rng.standard_normal((2, 6))
    synapse.pre.set(pre)
    synapse.post.set(post)
    evolve.run(dt=1.0)
    adjustment = (pre.T @ post) * (1.5 - np.abs(weights)) - 0.02 * np.sign(weights)
    adjustment = adjustment * block_mask * -1.0 * (weights != 0)
    np.testing.assert_allclose(synapse.dWeights.get(), adjustment, rtol=1e-12, atol=1e-14)
    expected = naive.run("adam", weights, [adjustment], eta=0.05)[0]
    expected = np.clip(expected, -1.5, 1.5) * block_mask
    np.testing.assert_allclose(synapse.weights.get(), expected, rtol=1e-12, atol=1e-14)
    assert not synapse.weights.get()[weights == 0].any()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"shape": (5, 4), "n_sub_models": 2}, r"shape=\(5, 4\) must be two positive ints divisible by n_sub_models=2"),
    ({"shape": (4, 4), "stride_shape": (1,)}, r"stride_shape=\(1,\) must be two ints >= 0"),
    ({"shape": (4, 4), "n_sub_models": 0}, r"n_sub_models=0 must be a positive int"),
    ({"shape": (4, 4), "block_mask": np.ones((3, 3))}, r"block_mask has shape \(3, 3\); expected \(4, 4\)"),
])
def test_bad_settings_are_refused_naming_the_synapse(kwargs, message):
    with pytest.raises(ValueError, match=r"HebbianPatchedSynapse 'p': " + message):
        build(HebbianPatchedSynapse, **kwargs)


GANGLION = {case: spec for case, spec in json.loads(str(DATA["meta_json"]))["cases"].items()
            if case.startswith("ganglion/")}


@pytest.mark.parametrize("case", sorted(GANGLION))
def test_retinal_ganglion_cells_match_ngclearn(case):
    spec = GANGLION[case]
    kwargs = {key: tuple(value) if isinstance(value, list) else value for key, value in spec["kwargs"].items()}
    cells, (advance, reset) = build(RetinalGanglionCell, batch_size=spec["rows"], **kwargs)
    reset.run()
    np.testing.assert_allclose(cells.filter.get(), DATA[f"{case}/filter"], rtol=1e-5, atol=1e-7)
    for step in range(spec["steps"]):
        cells.inputs.set(DATA[f"{case}/inputs"][step].copy())
        advance.run(t=float(step))
        np.testing.assert_allclose(cells.outputs.get(), DATA[f"{case}/outputs"][step], rtol=1e-5, atol=1e-6)


def test_retinal_ganglion_cells_follow_their_formula_in_float64():
    images = np.random.default_rng(9).random((2, 7, 6))
    cells, (advance, _) = build(RetinalGanglionCell, "gaussian", (7, 6), 9, (3, 2), (2, 2), batch_size=2,
                                sigma=0.7, dtype="float64")
    a, b = np.arange(3)[:, None] - 1, np.arange(2)[None, :] - 1
    kernel = np.exp(-(a**2 + b**2) / (2 * 0.7**2))
    kernel /= kernel.sum()
    np.testing.assert_allclose(cells.filter.get(), kernel, rtol=1e-14)
    cells.inputs.set(images)
    advance.run(t=0.0)
    patches = np.stack([images[:, 2 * i:2 * i + 3, 2 * j:2 * j + 2] * kernel for i in range(3) for j in range(3)],
                       axis=1).reshape(2, -1)
    np.testing.assert_allclose(cells.outputs.get(), patches - patches.mean(axis=1, keepdims=True), rtol=1e-12,
                               atol=1e-15)


@pytest.mark.parametrize(("args", "message"), [
    (("sobel", (4, 4), 4, (2, 2), (2, 2)), r"filter_type='sobel'; expected one of"),
    (("identity", (4, 4), 3, (2, 2), (2, 2)), r"n_cells=3: area \(4, 4\), patches \(2, 2\) and steps \(2, 2\) give 4"),
    (("identity", (4, 4), 1, (5, 2), (1, 1)), r"patch_shape=\(5, 2\) is larger than area_shape=\(4, 4\)"),
    (("identity", (4, 4), 4, (2, 2), (-1, 2)), r"step_shape=\(-1, 2\) must be two ints >= 0"),
])
def test_bad_ganglion_settings_are_refused(args, message):
    with pytest.raises(ValueError, match=r"RetinalGanglionCell 'p': " + message):
        build(RetinalGanglionCell, *args)
