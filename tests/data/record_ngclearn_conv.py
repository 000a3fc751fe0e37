"""Record reference outputs of ngc-learn 3.2.3's StaticConvSynapse, HebbianConvSynapse, StaticDeconvSynapse and
HebbianDeconvSynapse into ngclearn_conv_vectors.npz.

Provenance only: the test suite does NOT run this script, and ngc-learn / JAX are not
dependencies of ngc-optim. To re-run it (see record_ngclearn_components.py for the venv):

    JAX_PLATFORMS=cpu /work/ngclearn-venv/bin/python tests/data/record_ngclearn_conv.py

Each case builds the synapse in a fresh Context (ngc-learn's Hebbian convolution synapses' reset fails in
3.2.3, so no reset is run: every compartment starts at ngc-learn's zeros), sets its filter (and biases) from
stored arrays, then for each step sets inputs (and pre, post) drawn from numpy.random.default_rng seeded by
the case name (stored in the file) and runs advance_state (and backtransmit, then evolve) through
MethodProcess, recording the compartments. Without biases, ngc-learn's Hebbian evolve sets ``biases`` to
None, on which its next advance_state fails; the recorder sets it back to ngc-learn's initial 0.0 after each
evolve (what our synapses keep: zeros, never stepped).
"""

import json
import os
import sys
import zlib
from importlib.metadata import version
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp
import numpy as np
from ngclearn import Context, MethodProcess
from ngclearn.components import (
    HebbianConvSynapse,
    HebbianDeconvSynapse,
    StaticConvSynapse,
    StaticDeconvSynapse,
)
from ngclearn.utils.distribution_generator import DistributionGenerator

OUT = Path(__file__).resolve().parent / "ngclearn_conv_vectors.npz"
STEPS, ROWS = 3, 2
COMPONENTS = {"StaticConvSynapse": StaticConvSynapse, "HebbianConvSynapse": HebbianConvSynapse,
              "StaticDeconvSynapse": StaticDeconvSynapse, "HebbianDeconvSynapse": HebbianDeconvSynapse}
CASES = {
    "static_conv/same_s1_bias": {"component": "StaticConvSynapse", "shape": [3, 3, 2, 3], "x": 6, "stride": 1,
                                 "padding": "SAME", "bias": True, "g_conduct_factor": 0.7},
    "static_conv/valid_s2": {"component": "StaticConvSynapse", "shape": [3, 3, 2, 3], "x": 7, "stride": 2,
                             "padding": "VALID"},
    "static_conv/same_s2_k1": {"component": "StaticConvSynapse", "shape": [1, 1, 2, 3], "x": 6, "stride": 2,
                               "padding": "SAME"},
    "static_deconv/same_s1_bias": {"component": "StaticDeconvSynapse", "shape": [3, 3, 2, 3], "x": 5, "stride": 1,
                                   "padding": "SAME", "bias": True},
    "static_deconv/valid_s2": {"component": "StaticDeconvSynapse", "shape": [3, 3, 2, 3], "x": 4, "stride": 2,
                               "padding": "VALID", "g_conduct_factor": 1.5},
    "hebbian_conv/sgd_same_s1_bias": {"component": "HebbianConvSynapse", "shape": [3, 3, 2, 3], "x": 6,
                                      "stride": 1, "padding": "SAME", "bias": True, "eta": 0.05,
                                      "sign_value": -1.0},
    "hebbian_conv/adam_valid_s2_decay": {"component": "HebbianConvSynapse", "shape": [3, 3, 2, 3], "x": 7,
                                         "stride": 2, "padding": "VALID", "eta": 0.02, "optim_type": "adam",
                                         "w_decay": 0.01},
    "hebbian_conv/sgd_same_s2_bound": {"component": "HebbianConvSynapse", "shape": [3, 3, 2, 3], "x": 6,
                                       "stride": 2, "padding": "SAME", "eta": 0.1, "w_bound": 0.4,
                                       "is_nonnegative": True},
    "hebbian_conv/sgd_same_s2_k1_trim": {"component": "HebbianConvSynapse", "shape": [1, 1, 2, 3], "x": 6,
                                         "stride": 2, "padding": "SAME", "eta": 0.05},
    "hebbian_conv/adam_valid_s1_k2_bias": {"component": "HebbianConvSynapse", "shape": [2, 2, 3, 2], "x": 5,
                                           "stride": 1, "padding": "VALID", "eta": 0.02, "optim_type": "adam",
                                           "bias": True, "sign_value": -1.0},
    "hebbian_conv/adam_same_s2_x7_bias": {"component": "HebbianConvSynapse", "shape": [3, 3, 2, 3], "x": 7,
                                          "stride": 2, "padding": "SAME", "eta": 0.02, "optim_type": "adam",
                                          "bias": True, "w_bound": 0.5},
    "hebbian_deconv/sgd_same_s1_bias": {"component": "HebbianDeconvSynapse", "shape": [3, 3, 2, 3], "x": 5,
                                        "stride": 1, "padding": "SAME", "bias": True, "eta": 0.05,
                                        "sign_value": -1.0},
    "hebbian_deconv/adam_valid_s2_decay": {"component": "HebbianDeconvSynapse", "shape": [3, 3, 2, 3], "x": 4,
                                           "stride": 2, "padding": "VALID", "eta": 0.02, "optim_type": "adam",
                                           "w_decay": 0.01},
    "hebbian_deconv/sgd_same_s2_bound": {"component": "HebbianDeconvSynapse", "shape": [3, 3, 2, 3], "x": 4,
                                         "stride": 2, "padding": "SAME", "eta": 0.1, "w_bound": 0.4},
    "hebbian_deconv/adam_valid_s1_k2": {"component": "HebbianDeconvSynapse", "shape": [2, 2, 2, 3], "x": 5,
                                        "stride": 1, "padding": "VALID", "eta": 0.02, "optim_type": "adam"},
    "hebbian_deconv/sgd_same_s3_k2": {"component": "HebbianDeconvSynapse", "shape": [2, 2, 3, 2], "x": 3,
                                      "stride": 3, "padding": "SAME", "eta": 0.05},
}

arrays, cases = {}, {}


def put(key, value):
    value = np.asarray(value)
    assert value.dtype != np.float64, key
    arrays[key] = value


def conv_case(prefix, spec):
    rng = np.random.default_rng(zlib.crc32(prefix.encode()))
    kwargs = {key: value for key, value in spec.items() if key not in ("component", "shape", "x", "bias")}
    if spec.get("bias"):
        kwargs["bias_init"] = DistributionGenerator.constant(0.1)
    hebbian = spec["component"].startswith("Hebbian")
    shape = tuple(spec["shape"])
    with Context(f"rec_{prefix.replace('/', '_')}"):
        synapse = COMPONENTS[spec["component"]]("s", shape, (spec["x"], spec["x"]), batch_size=ROWS,
                                                key=jax.random.PRNGKey(1), **kwargs)
        advance = MethodProcess("advance") >> synapse.advance_state
        if hebbian:
            back = MethodProcess("back") >> synapse.backtransmit
            evolve = MethodProcess("evolve") >> synapse.evolve
    w0 = (rng.standard_normal(shape) * 0.3).astype(np.float32)
    synapse.weights.set(jnp.asarray(w0))
    put(f"{prefix}/W0", w0)
    if spec.get("bias"):
        b0 = rng.uniform(-0.5, 0.5, (1, shape[3])).astype(np.float32)
        synapse.biases.set(jnp.asarray(b0))
        put(f"{prefix}/b0", b0)
    in_shape, out_shape = tuple(synapse.in_shape), tuple(synapse.out_shape)
    names = ("inputs", "pre", "post") if hebbian else ("inputs",)
    drawn = {key: rng.standard_normal((STEPS, *(out_shape if key == "post" else in_shape))).astype(np.float32)
             for key in names}
    recorded = {key: [] for key in (("outputs", "dInputs", "W", "b", "dW", "db") if hebbian else ("outputs",))}
    for step in range(STEPS):
        for key in names:
            getattr(synapse, key).set(jnp.asarray(drawn[key][step]))
        advance.run()
        recorded["outputs"].append(np.asarray(synapse.outputs.get()))
        if hebbian:
            back.run()
            recorded["dInputs"].append(np.asarray(synapse.dInputs.get()))
            evolve.run()
            recorded["W"].append(np.asarray(synapse.weights.get()))
            recorded["dW"].append(np.asarray(synapse.dWeights.get()))
            if not spec.get("bias"):
                synapse.biases.set(0.0)  # ngc-learn's evolve sets None, which its next advance_state cannot add
            if spec.get("bias"):
                recorded["b"].append(np.broadcast_to(np.asarray(synapse.biases.get()), (1, *out_shape[1:])))
                recorded["db"].append(np.asarray(synapse.dBiases.get()))
    for key, values in drawn.items():
        put(f"{prefix}/{key}", values)
    for key, values in recorded.items():
        if values:
            put(f"{prefix}/{key}", np.stack(values))
    if hebbian:
        assert np.abs(np.stack(recorded["W"])[-1] - w0).max() > 1e-3, prefix
    cases[prefix] = {"spec": spec, "steps": STEPS, "rows": ROWS, "in_shape": list(in_shape),
                     "out_shape": list(out_shape),
                     "per_step": "inputs (pre, post) set; advance_state; (backtransmit; evolve)"}


def main():
    assert not jax.config.jax_enable_x64
    for prefix, spec in CASES.items():
        conv_case(prefix, spec)
    meta = {
        "versions": {"ngclearn": version("ngclearn"), "ngcsimlib": version("ngcsimlib"), "jax": jax.__version__,
                     "jaxlib": version("jaxlib"), "numpy": np.__version__, "python": sys.version.split()[0]},
        "cases": cases,
    }
    np.savez_compressed(OUT, meta_json=np.asarray(json.dumps(meta, indent=1, sort_keys=True)), **arrays)
    print(f"wrote {OUT}: {len(cases)} cases, {len(arrays)} arrays")


if __name__ == "__main__":
    main()
