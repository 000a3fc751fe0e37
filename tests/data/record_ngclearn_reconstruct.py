"""Record reference outputs of ngc-learn 3.2.3's ``ganglionCell._reconstruct`` (images from patches, the
overlaps averaged) into ngclearn_reconstruct_vectors.npz.

Provenance only: the test suite does NOT run this script, and ngc-learn / JAX are not
dependencies of ngc-optim. To re-run it (see record_ngclearn_components.py for the venv):

    JAX_PLATFORMS=cpu /work/ngclearn-venv/bin/python tests/data/record_ngclearn_reconstruct.py

Each case draws patches (batch, nx * ny, px, py) from numpy.random.default_rng seeded by the case name,
stores them and the result of ``_reconstruct(patches, (nx, ny), area_shape, patch_shape, step_shape)``.
"""

import json
import os
import zlib
from importlib.metadata import version
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax.numpy as jnp
import numpy as np
from ngclearn.components.input_encoders.ganglionCell import _reconstruct

OUT = Path(__file__).resolve().parent / "ngclearn_reconstruct_vectors.npz"
CASES = {
    "overlapping": {"batch": 3, "nx_ny": [3, 2], "area_shape": [6, 8], "patch_shape": [4, 4], "step_shape": [2, 2]},
    "tiled": {"batch": 2, "nx_ny": [2, 3], "area_shape": [9, 6], "patch_shape": [3, 3], "step_shape": [3, 3]},
    "uncovered": {"batch": 2, "nx_ny": [2, 2], "area_shape": [7, 7], "patch_shape": [2, 3], "step_shape": [3, 4]},
}

arrays = {}
for name, case in CASES.items():
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    nx, ny = case["nx_ny"]
    patches = rng.standard_normal((case["batch"], nx * ny, *case["patch_shape"])).astype(np.float32)
    images = _reconstruct(jnp.asarray(patches), tuple(case["nx_ny"]), tuple(case["area_shape"]),
                          tuple(case["patch_shape"]), tuple(case["step_shape"]))
    arrays[f"reconstruct/{name}/patches"] = patches
    arrays[f"reconstruct/{name}/images"] = np.asarray(images, np.float32)

meta = {"ngclearn_version": version("ngclearn"), "jax_version": version("jax"), "cases": CASES}
np.savez_compressed(OUT, meta_json=np.array(json.dumps(meta)), **arrays)
print(f"wrote {OUT} ({len(arrays)} arrays)")
