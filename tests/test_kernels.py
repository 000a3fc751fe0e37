"""The serial and prange variants of every kernel give bit-identical results."""

import os
import subprocess
import sys

import numpy as np
import pytest

from ngc_optim import kernels

DTYPES = [np.float32, np.float64]
SIZES = [0, 1, 7, 1023, 2**17 + 5]

KERNEL_CALLS = {
    "sgd": (kernels.sgd, 0, lambda t: (0.01,)),
    "nag": (kernels.nag, 1, lambda t: (0.01, 0.9, t)),
    "momentum": (kernels.momentum, 1, lambda t: (0.01, 0.9)),
    "rmsprop": (kernels.rmsprop, 1, lambda t: (0.01, 0.9, 1e-8)),
    "adam": (kernels.adam, 2, lambda t: (0.01, 0.9, 0.999, 1e-8, 1 / (1 - 0.9**t), 1 / (1 - 0.999**t), 0.0)),
    "adamw": (kernels.adam, 2, lambda t: (0.01, 0.9, 0.999, 1e-8, 1 / (1 - 0.9**t), 1 / (1 - 0.999**t), 0.05)),
}
PENALTIES = [(kernels.NO_PENALTY, 0.0), (kernels.L1, 0.01), (kernels.L2, 0.02)]


@pytest.mark.parametrize("penalty", PENALTIES, ids=["none", "l1", "l2"])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rule", sorted(KERNEL_CALLS))
def test_serial_and_parallel_are_bit_identical(rule, dtype, size, penalty):
    kernel, n_slots, scalars = KERNEL_CALLS[rule]
    rng = np.random.default_rng(size)
    start = [rng.standard_normal(size).astype(dtype) for _ in range(1 + n_slots)]
    updates = [rng.standard_normal(size).astype(dtype) for _ in range(5)]
    results = []
    for variant in (kernel.serial, kernel.parallel):
        arrays = [a.copy() for a in start]
        for t, u in enumerate(updates, start=1):
            variant(arrays[0], u, *arrays[1:], *scalars(t), *penalty)
        results.append(arrays)
    for serial, parallel in zip(*results):
        np.testing.assert_array_equal(serial, parallel)
    if size:
        assert not np.array_equal(results[0][0], start[0])


def test_pick_chooses_by_size(monkeypatch):
    monkeypatch.setattr(kernels.config, "PARALLEL", True)
    monkeypatch.setitem(kernels.config.PARALLEL_THRESHOLDS, "sgd", 100)
    assert kernels.pick(kernels.sgd, 99) is kernels.sgd.serial
    assert kernels.pick(kernels.sgd, 100) is kernels.sgd.parallel
    assert {kernel.name for kernel in (kernels.sgd, kernels.nag, kernels.momentum, kernels.rmsprop,
                                       kernels.adam)} == set(kernels.config.PARALLEL_THRESHOLDS)
    monkeypatch.setattr(kernels.config, "PARALLEL", False)
    assert kernels.pick(kernels.sgd, 10**9) is kernels.sgd.serial


def test_variants_have_their_own_cache_names():
    names = {variant.py_func.__qualname__ for kernel in (kernels.sgd, kernels.nag, kernels.momentum,
                                                          kernels.rmsprop, kernels.adam)
             for variant in (kernel.serial, kernel.parallel)}
    assert len(names) == 10
    assert kernels.adam.parallel.targetoptions["parallel"] is True
    assert kernels.adam.serial.targetoptions["parallel"] is False


CACHE_PROBE = """
import numpy as np
from ngc_optim import kernels
rng = np.random.default_rng(0)
start = rng.standard_normal(1000).astype(np.float32)
u = rng.standard_normal(1000).astype(np.float32)
results = []
for variant in (kernels.adam.serial, kernels.adam.parallel):
    p, g1, g2 = start.copy(), np.zeros_like(start), np.zeros_like(start)
    variant(p, u, g1, g2, 0.01, 0.9, 0.999, 1e-8, 10.0, 1000.0, 0.0, 0, 0.0)
    results.append(p)
assert np.array_equal(*results) and not np.array_equal(results[0], start)
print(*(sum(v.stats.cache_hits.values()) for v in (kernels.adam.serial, kernels.adam.parallel)))
"""


def test_cached_serial_and_parallel_kernels_load_separately_in_a_fresh_process(tmp_path):
    environment = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NGC_OPTIM_CACHE": "1"}
    runs = [subprocess.run([sys.executable, "-c", CACHE_PROBE], env=environment, capture_output=True,
                           text=True, check=False) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
    cold, warm = (run.stdout.split() for run in runs)
    assert cold == ["0", "0"]
    assert warm == ["1", "1"]
    index_files = sorted(path.name.split("-")[0] for path in tmp_path.rglob("*.nbi"))
    assert "kernels._adam_parallel" in index_files and "kernels._adam_serial" in index_files
