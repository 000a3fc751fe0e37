"""Record reference outputs of ngc-learn 3.2.3's LIFCell and VarTrace into ngclearn_spiking_vectors.npz.

Provenance only: the test suite does NOT run this script, and ngc-learn / JAX are not
dependencies of ngc-optim. To re-run it, use the scratch virtual environment described in
tests/data/README.md:

    JAX_PLATFORMS=cpu /work/ngclearn-venv/bin/python tests/data/record_ngclearn_spiking.py

Only deterministic behaviour is recorded (no one_spike, no encoders: their draws come from
JAX's PRNG, which ngc-optim does not reproduce). Each case builds the component in a fresh
Context, runs `reset`, then for every step sets the input compartment and runs
`advance_state` through a MethodProcess, reading the compartments after the step. Inputs come
from numpy.random.default_rng(crc32(case name)) and are stored. ngc-learn's LIFCell has one
batch row; cases with more rows set a (rows, n) current after reset, and JAX broadcasting
carries every compartment to (rows, n) from the first step. Arrays are stacked over steps:
`<prefix>/<compartment>` has shape (steps, rows, n).
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
from ngclearn.components import LIFCell, VarTrace

OUT = Path(__file__).resolve().parent / "ngclearn_spiking_vectors.npz"
LIF_OUTPUTS = ("v", "s", "s_raw", "rfr", "thr_theta", "tols", "surrogate", "v_thr")
LIF_CASES = {
    "euler": {"kwargs": {"tau_m": 20.0}, "j": (5.0, 35.0)},
    "midpoint": {"kwargs": {"tau_m": 20.0, "integration_type": "midpoint"}, "j": (5.0, 35.0)},
    "adaptive": {"kwargs": {"tau_m": 10.0, "tau_theta": 50.0, "theta_plus": 2.0, "refract_time": 2.0},
                 "j": (10.0, 40.0)},
    "no_adaptation": {"kwargs": {"tau_m": 10.0, "tau_theta": 0.0, "refract_time": 0.0}, "j": (0.0, 30.0)},
    "resist_leak_vmin": {"kwargs": {"tau_m": 15.0, "resist_m": 2.0, "conduct_leak": 0.5, "v_reset": -75.0,
                                    "v_min": -70.0, "thr": -55.0}, "j": (-8.0, 14.0)},
    "integrate_and_fire": {"kwargs": {"tau_m": 30.0, "conduct_leak": 0.0}, "j": (-2.0, 20.0)},
    "dt_tenth_refractory": {"kwargs": {"tau_m": 5.0, "refract_time": 1.0}, "j": (10.0, 60.0), "dt": 0.1},
    "max_one_spike": {"kwargs": {"tau_m": 10.0, "max_one_spike": True, "refract_time": 1.0}, "j": (10.0, 40.0)},
}
TRACE_CASES = {
    "exp_additive": {"tau_tr": 20.0, "a_delta": 0.5},
    "exp_gated": {"tau_tr": 20.0, "a_delta": 0.0, "P_scale": 1.5},
    "lin_additive": {"tau_tr": 30.0, "a_delta": 0.25, "decay_type": "lin"},
    "step_gated": {"tau_tr": 20.0, "a_delta": 0.0, "decay_type": "step"},
    "gamma": {"tau_tr": 10.0, "a_delta": 1.0, "gamma_tr": 0.9},
    "nearest": {"tau_tr": 15.0, "a_delta": 1.0, "n_nearest_spikes": 1},
    "graded_inputs": {"tau_tr": 8.0, "a_delta": 0.3, "graded": True},
}
STEPS, UNITS, ROWS = 200, 8, 2

arrays = {}
cases = {}
_contexts = [0]


def fresh_context(tag):
    _contexts[0] += 1
    return Context(f"spk{_contexts[0]}_{tag.replace('/', '_')}")


def put(key, value):
    value = np.asarray(value)
    assert value.dtype == np.float32 and key not in arrays, (key, value.dtype)
    arrays[key] = value


def lif_case(name, spec):
    prefix = f"lif/{name}"
    rng = np.random.default_rng(zlib.crc32(prefix.encode()))
    dt = spec.get("dt", 1.0)
    low, high = spec["j"]
    currents = rng.uniform(low, high, (STEPS, ROWS, UNITS)).astype(np.float32)
    with fresh_context(prefix):
        cell = LIFCell("z", UNITS, key=jax.random.PRNGKey(0), **spec["kwargs"])
        advance = MethodProcess("advance") >> cell.advance_state
        reset = MethodProcess("reset") >> cell.reset
    reset.run()
    recorded = {key: [] for key in LIF_OUTPUTS}
    for step in range(STEPS):
        cell.j.set(jnp.asarray(currents[step]))
        advance.run(t=np.float32(step * dt), dt=dt)
        for key in LIF_OUTPUTS:
            recorded[key].append(np.broadcast_to(np.asarray(getattr(cell, key).get()), (ROWS, UNITS)))
    put(f"{prefix}/j", currents)
    for key, values in recorded.items():
        put(f"{prefix}/{key}", np.stack(values))
    spikes = int(np.sum(recorded["s"]))
    assert spikes > 10, (name, spikes)
    cases[prefix] = {"component": "LIFCell", "kwargs": spec["kwargs"], "steps": STEPS, "dt": dt,
                     "t": "step * dt (float32)", "spikes": spikes}


def trace_case(name, spec):
    prefix = f"trace/{name}"
    rng = np.random.default_rng(zlib.crc32(prefix.encode()))
    kwargs = {key: value for key, value in spec.items() if key != "graded"}
    if spec.get("graded"):
        inputs = rng.uniform(0.0, 1.0, (STEPS, ROWS, UNITS)).astype(np.float32)
    else:
        inputs = (rng.uniform(size=(STEPS, ROWS, UNITS)) < 0.2).astype(np.float32)
    with fresh_context(prefix):
        trace = VarTrace("tr", UNITS, batch_size=ROWS, **kwargs)
        advance = MethodProcess("advance") >> trace.advance_state
        reset = MethodProcess("reset") >> trace.reset
    reset.run()
    values = []
    for step in range(STEPS):
        trace.inputs.set(jnp.asarray(inputs[step]))
        advance.run(t=float(step), dt=1.0)
        values.append(np.asarray(trace.trace.get()))
        assert np.array_equal(np.asarray(trace.outputs.get()), values[-1])
    put(f"{prefix}/inputs", inputs)
    put(f"{prefix}/trace", np.stack(values))
    cases[prefix] = {"component": "VarTrace", "kwargs": kwargs, "steps": STEPS, "dt": 1.0}


def main():
    assert not jax.config.jax_enable_x64
    for name, spec in LIF_CASES.items():
        lif_case(name, spec)
    for name, spec in TRACE_CASES.items():
        trace_case(name, spec)
    meta = {
        "versions": {"ngclearn": version("ngclearn"), "ngcsimlib": version("ngcsimlib"), "jax": jax.__version__,
                     "jaxlib": version("jaxlib"), "numpy": np.__version__, "python": sys.version.split()[0]},
        "cases": cases,
    }
    np.savez_compressed(OUT, meta_json=np.asarray(json.dumps(meta, indent=1, sort_keys=True)), **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(arrays)} arrays, {len(cases)} cases)")


if __name__ == "__main__":
    main()
