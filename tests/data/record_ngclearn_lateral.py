"""Record reference outputs of ngc-learn 3.2.3's RateCell with lateral pressure (use_lateral, a held
StaticPatchedSynapse or, adaptive, HebbianPatchedSynapse) into ngclearn_lateral_vectors.npz.

Provenance only: the test suite does NOT run this script, and ngc-learn / JAX are not
dependencies of ngc-optim. To re-run it (see record_ngclearn_components.py for the venv):

    JAX_PLATFORMS=cpu /work/ngclearn-venv/bin/python tests/data/record_ngclearn_lateral.py

Each case builds the cell in a fresh Context, resets it, then for each step sets j and j_td (drawn from
numpy.random.default_rng seeded by the case name, stored in the file), runs advance_state with dt = 1 and,
for an adaptive case, evolve; it records z, zF and zF_lat after each step and the lateral weights after
each evolve. The lateral weights start from exc_inh (no random draw).
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
from ngclearn.components import RateCell

OUT = Path(__file__).resolve().parent / "ngclearn_lateral_vectors.npz"
STEPS, ROWS, UNITS = 6, 3, 6
CASES = {
    "static": {"tau_m": 10.0, "act_fx": "tanh", "prior": ["gaussian", 0.1], "n_patch": 2, "exc_inh": [0.5, -0.3]},
    "static_fx_lat": {"tau_m": 8.0, "act_fx": "relu", "fx_lat": "sigmoid", "prior": ["laplacian", 0.05],
                      "integration_type": "midpoint", "resist_scale": 0.7, "output_scale": 1.5, "n_patch": 3,
                      "exc_inh": [0.8, -0.4]},
    "adaptive_sgd": {"tau_m": 10.0, "act_fx": "tanh", "n_patch": 2, "exc_inh": [0.5, -0.3],
                     "adaptive_lateral": True, "Wl_eta": 0.05},
    "adaptive_adam": {"tau_m": 5.0, "act_fx": "tanh", "n_patch": 1, "exc_inh": [0.3, -0.1],
                      "adaptive_lateral": True, "Wl_eta": 0.01, "Wl_opt_type": "adam",
                      "Wl_prior": ["gaussian", 0.01]},
}

arrays = {}
cases = {}


def put(key, value):
    arrays[key] = np.asarray(value, np.float32)


def lateral_case(name, kwargs):
    prefix = f"lateral/{name}"
    rng = np.random.default_rng(zlib.crc32(prefix.encode()))
    arguments = {key: tuple(value) if isinstance(value, list) else value for key, value in kwargs.items()}
    with Context(f"rec_lateral_{name}"):
        cell = RateCell("z", UNITS, batch_size=ROWS, use_lateral=True, **arguments)
        advance = MethodProcess("advance") >> cell.advance_state
        evolve = MethodProcess("evolve") >> cell.evolve
        reset = MethodProcess("reset") >> cell.reset
    reset.run()
    put(f"{prefix}/W0", cell.Wl.weights.get())
    drawn = {key: rng.standard_normal((STEPS, ROWS, UNITS)).astype(np.float32) for key in ("j", "j_td")}
    recorded = {key: [] for key in ("z", "zF", "zF_lat", "W")}
    for step in range(STEPS):
        cell.j.set(jnp.asarray(drawn["j"][step]))
        cell.j_td.set(jnp.asarray(drawn["j_td"][step]))
        advance.run(dt=1.0)
        for key in ("z", "zF", "zF_lat"):
            recorded[key].append(np.asarray(getattr(cell, key).get()))
        if kwargs.get("adaptive_lateral"):
            evolve.run()
            recorded["W"].append(np.asarray(cell.Wl.weights.get()))
    for key, values in drawn.items():
        put(f"{prefix}/{key}", values)
    for key, values in recorded.items():
        if values:
            put(f"{prefix}/{key}", np.stack(values))
    cases[prefix] = {"kwargs": kwargs, "steps": STEPS, "rows": ROWS, "units": UNITS}


def main():
    assert not jax.config.jax_enable_x64
    for name, kwargs in CASES.items():
        lateral_case(name, kwargs)
    meta = {
        "versions": {"ngclearn": version("ngclearn"), "ngcsimlib": version("ngcsimlib"), "jax": jax.__version__,
                     "jaxlib": version("jaxlib"), "numpy": np.__version__, "python": sys.version.split()[0]},
        "cases": cases,
    }
    np.savez_compressed(OUT, meta_json=np.asarray(json.dumps(meta, indent=1, sort_keys=True)), **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(arrays)} arrays, {len(cases)} cases)")


if __name__ == "__main__":
    main()
