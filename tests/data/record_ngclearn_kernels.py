"""Record reference outputs of ngc-learn 3.2.3's ExpKernel, WTASCell, EventSTDPSynapse,
StaticPatchedSynapse, HebbianPatchedSynapse and RetinalGanglionCell into ngclearn_kernel_vectors.npz.

Provenance only: the test suite does NOT run this script, and ngc-learn / JAX are not
dependencies of ngc-optim. To re-run it (see record_ngclearn_components.py for the venv):

    JAX_PLATFORMS=cpu /work/ngclearn-venv/bin/python tests/data/record_ngclearn_kernels.py

Each case builds the component in a fresh Context, resets it, then for each step sets its inputs
(drawn from numpy.random.default_rng seeded by the case name, stored in the file) and runs its
methods with t = step * dt through MethodProcess, recording its compartments. A WTASCell's
thresholds and an EventSTDPSynapse's weights are set from stored arrays after construction (ngc-learn
draws them from JAX keys).
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
    EventSTDPSynapse,
    ExpKernel,
    HebbianPatchedSynapse,
    RetinalGanglionCell,
    StaticPatchedSynapse,
    WTASCell,
)
from ngclearn.utils.distribution_generator import DistributionGenerator

OUT = Path(__file__).resolve().parent / "ngclearn_kernel_vectors.npz"
STEPS, ROWS, UNITS = 14, 2, 5
EXP_KERNEL_CASES = {
    "default": {"dt": 1.0},
    "short_window": {"dt": 0.5, "tau_w": 20.0, "nu": 3.0},
    "two_slots": {"dt": 2.0, "tau_w": 5.0, "nu": 2.0},
}

WTAS_CASES = {
    "default": {"tau_m": 10.0},
    "refractory": {"tau_m": 10.0, "resist_m": 2.0, "thr_base": 0.3, "thr_gain": 0.01, "refract_time": 2.0},
}
EVENT_STDP_CASES = {
    "default": {"eta": 0.05},
    "zero_window": {"eta": 0.1, "presyn_win_len": 0.0, "A_plus": 0.6, "A_minus": 0.3, "lmbda": 0.05},
    "bounded": {"eta": 0.5, "w_bound": 0.8, "A_plus": 1.0, "A_minus": 0.7},
}
EVENT_SHAPE = (6, 4)

PATCHED_CASES = {
    "static": {"component": "static", "shape": [4, 6], "n_sub_models": 2, "stride_shape": [0, 0]},
    "static_stride": {"component": "static", "shape": [4, 6], "n_sub_models": 2, "stride_shape": [1, 1],
                      "resist_scale": 0.5},
    "hebbian_sgd": {"component": "hebbian", "shape": [4, 4], "n_sub_models": 2, "stride_shape": [0, 0],
                    "eta": 0.1, "w_bound": 0.0, "sign_value": -1.0},
    "hebbian_adam_l2_bias": {"component": "hebbian", "shape": [6, 4], "n_sub_models": 2, "stride_shape": [0, 0],
                             "eta": 0.05, "optim_type": "adam", "prior": ["l2", 0.01], "bias": 0.1},
    "hebbian_block_mask_stride": {"component": "hebbian", "shape": [4, 4], "n_sub_models": 2,
                                  "stride_shape": [1, 1], "eta": 0.2, "is_nonnegative": True, "w_bound": 2.0,
                                  "block_mask": True, "pre_wght": 0.5, "post_wght": 2.0},
}
PATCHED_STEPS, PATCHED_ROWS = 6, 3
GANGLION_CASES = {
    "gaussian": {"filter_type": "gaussian", "area_shape": [8, 8], "n_cells": 9, "patch_shape": [4, 4],
                 "step_shape": [2, 2], "sigma": 1.0},
    "dog": {"filter_type": "DoG", "area_shape": [6, 6], "n_cells": 4, "patch_shape": [3, 3], "step_shape": [3, 3],
            "sigma": 1.2},
    "rog": {"filter_type": "RoG", "area_shape": [5, 5], "n_cells": 6, "patch_shape": [3, 3], "step_shape": [1, 2],
            "sigma": 0.8},
    "identity_step0": {"filter_type": "identity", "area_shape": [4, 4], "n_cells": 4, "patch_shape": [2, 2],
                       "step_shape": [0, 0]},
}

arrays, cases = {}, {}


def put(key, value):
    value = np.asarray(value)
    assert value.dtype != np.float64, key
    arrays[key] = value


def exp_kernel_case(name, kwargs):
    prefix = f"exp_kernel/{name}"
    rng = np.random.default_rng(zlib.crc32(prefix.encode()))
    spikes = (rng.uniform(size=(STEPS, ROWS, UNITS)) < 0.3).astype(np.float32)
    with Context(f"rec_{name}"):
        kernel = ExpKernel("k", UNITS, batch_size=ROWS, **kwargs)
        advance = MethodProcess("advance") >> kernel.advance_state
        reset = MethodProcess("reset") >> kernel.reset
    reset.run()
    epsp, windows = [], []
    for step in range(STEPS):
        kernel.inputs.set(jnp.asarray(spikes[step]))
        advance.run(t=step * kwargs["dt"])
        epsp.append(np.asarray(kernel.epsp.get()))
        windows.append(np.asarray(kernel.tf.get()))
    put(f"{prefix}/inputs", spikes)
    put(f"{prefix}/epsp", np.stack(epsp))
    put(f"{prefix}/tf", np.stack(windows))
    assert np.stack(epsp).max() > 0, name
    cases[prefix] = {"component": "ExpKernel", "kwargs": kwargs, "steps": STEPS, "rows": ROWS, "units": UNITS,
                     "t": "step * dt"}


def wtas_case(name, kwargs):
    prefix = f"wtas/{name}"
    rng = np.random.default_rng(zlib.crc32(prefix.encode()))
    currents = rng.uniform(0.0, 3.0, (STEPS, ROWS, UNITS)).astype(np.float32)
    thr0 = rng.uniform(0.25, 0.45, (1, UNITS)).astype(np.float32)
    with Context(f"rec_wtas_{name}"):
        cell = WTASCell("w", UNITS, batch_size=ROWS, **kwargs)
        advance = MethodProcess("advance") >> cell.advance_state
        reset = MethodProcess("reset") >> cell.reset
    reset.run()
    cell.thr.set(jnp.asarray(thr0))
    recorded = {key: [] for key in ("v", "s", "thr", "rfr", "tols")}
    for step in range(STEPS):
        cell.j.set(jnp.asarray(currents[step]))
        advance.run(t=step * 1.0, dt=1.0)
        for key, values in recorded.items():
            values.append(np.broadcast_to(np.asarray(getattr(cell, key).get()), (ROWS, UNITS)))
    put(f"{prefix}/j", currents)
    put(f"{prefix}/thr0", thr0)
    for key, values in recorded.items():
        put(f"{prefix}/{key}", np.stack(values))
    assert np.stack(recorded["s"]).sum() > 2, name
    cases[prefix] = {"component": "WTASCell", "kwargs": kwargs, "steps": STEPS, "rows": ROWS, "units": UNITS,
                     "dt": 1.0, "t": "step * dt"}


def event_stdp_case(name, kwargs):
    prefix = f"event_stdp/{name}"
    rng = np.random.default_rng(zlib.crc32(prefix.encode()))
    n_in, n_out = EVENT_SHAPE
    w0 = rng.uniform(0.05, 0.95, EVENT_SHAPE).astype(np.float32)
    x = rng.uniform(0.0, 1.0, (STEPS, 1, n_in)).astype(np.float32)
    post = (rng.uniform(size=(STEPS, 1, n_out)) < 0.5).astype(np.float32)
    lag = rng.integers(0, 4, (STEPS, 1, n_in))
    times = np.arange(STEPS, dtype=np.float32)[:, None, None]
    pre_tols = np.where(rng.uniform(size=(STEPS, 1, n_in)) < 0.2, 0.0, np.maximum(times - lag, 0.0)).astype(np.float32)
    with Context(f"rec_event_{name}"):
        synapse = EventSTDPSynapse("s", EVENT_SHAPE, batch_size=1, **kwargs)
        advance = MethodProcess("advance") >> synapse.advance_state
        evolve = MethodProcess("evolve") >> synapse.evolve
        reset = MethodProcess("reset") >> synapse.reset
    reset.run()
    synapse.weights.set(jnp.asarray(w0))
    outputs, weights, d_weights = [], [], []
    for step in range(STEPS):
        synapse.inputs.set(jnp.asarray(x[step]))
        synapse.pre_tols.set(jnp.asarray(pre_tols[step]))
        synapse.postSpike.set(jnp.asarray(post[step]))
        advance.run(t=float(step), dt=1.0)
        evolve.run(t=float(step), dt=1.0)
        outputs.append(np.asarray(synapse.outputs.get()))
        weights.append(np.asarray(synapse.weights.get()))
        d_weights.append(np.asarray(synapse.dWeights.get()))
    for key, value in (("W0", w0), ("x", x), ("pre_tols", pre_tols), ("postSpike", post),
                       ("outputs", np.stack(outputs)), ("W", np.stack(weights)), ("dW", np.stack(d_weights))):
        put(f"{prefix}/{key}", value)
    assert np.abs(np.stack(d_weights)).max() > 0, name
    cases[prefix] = {"component": "EventSTDPSynapse", "kwargs": kwargs, "steps": STEPS, "shape": list(EVENT_SHAPE),
                     "t": "step (dt 1)", "per_step": "inputs, pre_tols, postSpike set; advance_state; evolve"}


def patched_case(name, spec):
    prefix = f"patched/{name}"
    rng = np.random.default_rng(zlib.crc32(prefix.encode()))
    kwargs = {key: value for key, value in spec.items() if key not in ("component", "shape", "bias", "block_mask")}
    kwargs["stride_shape"] = tuple(kwargs["stride_shape"])
    full = (spec["shape"][0] + 2 * spec["stride_shape"][0], spec["shape"][1] + 2 * spec["stride_shape"][1])
    if "prior" in kwargs:
        kwargs["prior"] = tuple(kwargs["prior"])
    block_mask = (rng.uniform(size=full) < 0.8).astype(np.float32) if spec.get("block_mask") else None
    if spec["component"] == "hebbian":
        if "bias" in spec:
            kwargs["bias_init"] = DistributionGenerator.constant(spec["bias"])
        if block_mask is not None:
            kwargs["block_mask"] = jnp.asarray(block_mask)
    component = StaticPatchedSynapse if spec["component"] == "static" else HebbianPatchedSynapse
    with Context(f"rec_patched_{name}"):
        synapse = component("p", tuple(spec["shape"]), batch_size=PATCHED_ROWS, key=jax.random.PRNGKey(3),
                            **kwargs)
        advance = MethodProcess("advance") >> synapse.advance_state
        evolve = MethodProcess("evolve") >> synapse.evolve if spec["component"] == "hebbian" else None
        reset = MethodProcess("reset") >> synapse.reset
    reset.run()
    put(f"{prefix}/W0", np.asarray(synapse.weights.get()))
    put(f"{prefix}/b0", np.broadcast_to(np.asarray(synapse.biases.get(), np.float32), (1, full[1])))
    if block_mask is not None:
        put(f"{prefix}/block_mask", block_mask)
    names = ("inputs", "post_in", "pre", "post") if evolve is not None else ("inputs", "post_in")
    recorded = {key: [] for key in ("outputs", "pre_out", "W", "b", "dW", "db")}
    drawn = {key: rng.standard_normal((PATCHED_STEPS, PATCHED_ROWS, full[0] if key in ("inputs", "pre") else full[1]))
             .astype(np.float32) for key in names}
    for step in range(PATCHED_STEPS):
        for key in names:
            getattr(synapse, key).set(jnp.asarray(drawn[key][step]))
        advance.run()
        recorded["outputs"].append(np.asarray(synapse.outputs.get()))
        recorded["pre_out"].append(np.asarray(synapse.pre_out.get()))
        if evolve is not None:
            evolve.run()
            recorded["W"].append(np.asarray(synapse.weights.get()))
            recorded["b"].append(np.broadcast_to(np.asarray(synapse.biases.get(), np.float32), (1, full[1])))
            recorded["dW"].append(np.asarray(synapse.dWeights.get()))
            recorded["db"].append(np.asarray(synapse.dBiases.get()).reshape(1, full[1]))
    for key, values in drawn.items():
        put(f"{prefix}/{key}", values)
    for key, values in recorded.items():
        if values:
            put(f"{prefix}/{key}", np.stack(values))
    cases[prefix] = {"component": component.__name__, "spec": spec, "steps": PATCHED_STEPS, "rows": PATCHED_ROWS,
                     "full_shape": list(full)}


def ganglion_case(name, kwargs):
    prefix = f"ganglion/{name}"
    rng = np.random.default_rng(zlib.crc32(prefix.encode()))
    images = rng.uniform(0.0, 1.0, (3, 2, *kwargs["area_shape"])).astype(np.float32)
    arguments = {**kwargs, **{key: tuple(kwargs[key]) for key in ("area_shape", "patch_shape", "step_shape")}}
    with Context(f"rec_ganglion_{name}"):
        cells = RetinalGanglionCell("g", batch_size=2, **arguments)
        advance = MethodProcess("advance") >> cells.advance_state
        reset = MethodProcess("reset") >> cells.reset
    reset.run()
    outputs = []
    for step, image in enumerate(images):
        cells.inputs.set(jnp.asarray(image))
        advance.run(t=float(step))
        outputs.append(np.asarray(cells.outputs.get()))
    put(f"{prefix}/inputs", images)
    put(f"{prefix}/filter", np.asarray(cells.filter.get()))
    put(f"{prefix}/outputs", np.stack(outputs))
    cases[prefix] = {"component": "RetinalGanglionCell", "kwargs": kwargs, "steps": 3, "rows": 2}


def main():
    assert not jax.config.jax_enable_x64
    for name, kwargs in EXP_KERNEL_CASES.items():
        exp_kernel_case(name, kwargs)
    for name, kwargs in WTAS_CASES.items():
        wtas_case(name, kwargs)
    for name, kwargs in EVENT_STDP_CASES.items():
        event_stdp_case(name, kwargs)
    for name, spec in PATCHED_CASES.items():
        patched_case(name, spec)
    for name, kwargs in GANGLION_CASES.items():
        ganglion_case(name, kwargs)
    meta = {
        "versions": {"ngclearn": version("ngclearn"), "ngcsimlib": version("ngcsimlib"), "jax": jax.__version__,
                     "jaxlib": version("jaxlib"), "numpy": np.__version__, "python": sys.version.split()[0]},
        "cases": cases,
    }
    np.savez_compressed(OUT, meta_json=np.asarray(json.dumps(meta, indent=1, sort_keys=True)), **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(arrays)} arrays, {len(cases)} cases)")


if __name__ == "__main__":
    main()
