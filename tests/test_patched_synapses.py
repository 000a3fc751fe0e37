"""StaticPatchedSynapse and HebbianPatchedSynapse: against ngc-learn 3.2.3's recorded outputs (from its own
initial weights), their patch layout, and a learning step from the formulas."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from ngc_optim.components import HebbianPatchedSynapse, StaticPatchedSynapse

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
        if hasattr(synapse, "evolve"):
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
