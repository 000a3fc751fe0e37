"""Record reference outputs of ngc-learn 3.2.3's ExpKernel into ngclearn_kernel_vectors.npz.

Provenance only: the test suite does NOT run this script, and ngc-learn / JAX are not
dependencies of ngc-optim. To re-run it (see record_ngclearn_components.py for the venv):

    JAX_PLATFORMS=cpu /work/ngclearn-venv/bin/python tests/data/record_ngclearn_kernels.py

Each case builds the component in a fresh Context, resets it, then for each step sets its input
spikes (drawn from numpy.random.default_rng seeded by the case name, stored in the file) and runs
advance_state(t = step * dt) through MethodProcess, recording its compartments.
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
from ngclearn.components import ExpKernel

OUT = Path(__file__).resolve().parent / "ngclearn_kernel_vectors.npz"
STEPS, ROWS, UNITS = 14, 2, 5
EXP_KERNEL_CASES = {
    "default": {"dt": 1.0},
    "short_window": {"dt": 0.5, "tau_w": 20.0, "nu": 3.0},
    "two_slots": {"dt": 2.0, "tau_w": 5.0, "nu": 2.0},
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


def main():
    assert not jax.config.jax_enable_x64
    for name, kwargs in EXP_KERNEL_CASES.items():
        exp_kernel_case(name, kwargs)
    meta = {
        "versions": {"ngclearn": version("ngclearn"), "ngcsimlib": version("ngcsimlib"), "jax": jax.__version__,
                     "jaxlib": version("jaxlib"), "numpy": np.__version__, "python": sys.version.split()[0]},
        "cases": cases,
    }
    np.savez_compressed(OUT, meta_json=np.asarray(json.dumps(meta, indent=1, sort_keys=True)), **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(arrays)} arrays, {len(cases)} cases)")


if __name__ == "__main__":
    main()
