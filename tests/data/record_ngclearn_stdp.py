"""Record reference outputs of ngc-learn 3.2.3's TraceSTDPSynapse into ngclearn_stdp_vectors.npz.

Provenance only: the test suite does NOT run this script, and ngc-learn / JAX are not
dependencies of ngc-optim. Run it in the scratch environment of
record_ngclearn_components.py (whose helpers it uses):

    JAX_PLATFORMS=cpu /work/ngclearn-venv/bin/python tests/data/record_ngclearn_stdp.py

It writes tests/data/ngclearn_stdp_vectors.npz next to itself (float32, JAX defaults, x64
disabled); tests/data/README.md describes the keys. Every input (initial weights, inputs,
spikes and traces) is drawn from numpy.random.default_rng(crc32(case name)) and stored.
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax
import jax.numpy as jnp
import numpy as np
import record_ngclearn_components as recorder
from ngclearn import MethodProcess
from ngclearn.components import TraceSTDPSynapse
from ngclearn.utils.distribution_generator import DistributionGenerator

OUT = Path(__file__).resolve().parent / "ngclearn_stdp_vectors.npz"
SHAPE, BATCH, STEPS, DT = (6, 4), 3, 6, 1.0
SPIKE_RATE = 0.4

# name -> (constructor kwargs besides name/shape/batch_size/weight_init/key, W0 range, notes)
STDP_CASES = {
    "plain": {"kw": {"A_plus": 0.8, "A_minus": 0.4, "eta": 0.05}},
    "mu_target": {"kw": {"A_plus": 0.8, "A_minus": 0.4, "eta": 0.05, "mu": 0.5, "pretrace_target": 0.3},
                  "notes": "weight-dependent (mu > 0) with a presynaptic trace target"},
    "mu1_no_ltd": {"kw": {"A_plus": 0.6, "A_minus": 0.0, "eta": 0.1, "mu": 1.0, "pretrace_target": 0.1},
                   "notes": "A_minus = 0: no depression term"},
    "clip": {"kw": {"A_plus": 1.0, "A_minus": 0.7, "eta": 0.5, "w_bound": 0.9}, "w0": (-0.3, 1.2),
             "notes": "W0 partly outside [0, w_bound]; large eta: clipped to [0, w_bound] at both ends"},
    "decay": {"kw": {"A_plus": 0.8, "A_minus": 0.4, "eta": 0.05, "tau_w": 10.0},
              "notes": "tau_w > 0: W - W/tau_w after the step"},
    "defaults": {"kw": {"A_plus": 0.01, "A_minus": 0.005},
                 "notes": "only the strengths: eta 1, mu 0, pretrace_target 0, w_bound 1, tau_w 0"},
    "g_conduct": {"kw": {"A_plus": 0.8, "A_minus": 0.4, "eta": 0.05, "g_conduct_factor": 0.7}},
}


def stdp_case(name, spec):
    prefix = f"stdp/{name}"
    rng = recorder.rng_for(prefix)
    lo, hi = spec.get("w0", (0.05, 0.95))
    W0 = rng.uniform(lo, hi, size=SHAPE).astype(np.float32)
    inputs = {
        "x": rng.standard_normal((STEPS, BATCH, SHAPE[0])),
        "preSpike": rng.random((STEPS, BATCH, SHAPE[0])) < SPIKE_RATE,
        "postSpike": rng.random((STEPS, BATCH, SHAPE[1])) < SPIKE_RATE,
        "preTrace": rng.random((STEPS, BATCH, SHAPE[0])),
        "postTrace": rng.random((STEPS, BATCH, SHAPE[1])),
    }
    inputs = {key: value.astype(np.float32) for key, value in inputs.items()}
    with recorder.fresh_context(prefix):
        syn = TraceSTDPSynapse(name="syn", shape=SHAPE, batch_size=BATCH,
                               weight_init=DistributionGenerator.uniform(0.0, 1.0), key=jax.random.PRNGKey(0),
                               **spec["kw"])
        advance = MethodProcess("advance") >> syn.advance_state
        evolve = MethodProcess("evolve") >> syn.evolve
        reset = MethodProcess("reset") >> syn.reset
    reset.run()
    syn.weights.set(jnp.asarray(W0))
    recorder.put(f"{prefix}/W0", W0)
    for t in range(STEPS):
        for key, values in inputs.items():
            compartment = syn.inputs if key == "x" else getattr(syn, key)
            compartment.set(jnp.asarray(values[t]))
            recorder.put(f"{prefix}/{key}/{t}", values[t])
        advance.run(t=float(t), dt=DT)
        recorder.put(f"{prefix}/out/{t}", recorder.get(syn.outputs))
        evolve.run(t=float(t), dt=DT)
        recorder.put(f"{prefix}/W/{t}", recorder.get(syn.weights))
        recorder.put(f"{prefix}/dW/{t}", recorder.get(syn.dWeights))
    w_bound = spec["kw"].get("w_bound", 1.0)
    final = recorder.get(syn.weights)
    recorder.cases[prefix] = {
        "component": "TraceSTDPSynapse",
        "kwargs": recorder.to_json(dict(shape=list(SHAPE), batch_size=BATCH, **spec["kw"])),
        "steps": STEPS,
        "dt": DT,
        "per_step": "inputs<-x/t, preSpike/postSpike/preTrace/postTrace <- their /t; advance_state -> out/t; "
                    "evolve -> W/t, dW/t",
        "notes": spec.get("notes", ""),
        "entries_on_clip_boundary_at_the_end": int(np.sum(final == 0.0) + np.sum(final == np.float32(w_bound))),
    }


def main():
    assert not jax.config.jax_enable_x64
    for name, spec in STDP_CASES.items():
        stdp_case(name, spec)
    meta = {"versions": recorder.versions(), "cases": recorder.cases}
    np.savez_compressed(OUT, meta_json=np.asarray(json.dumps(meta, indent=1, sort_keys=True)), **recorder.arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(recorder.arrays)} arrays, {len(recorder.cases)} cases)")


if __name__ == "__main__":
    main()
