"""The one place that decides how ngc_optim's Numba kernels are compiled and run.

Settings are read from the environment once, when :mod:`ngc_optim` is first
imported, because Numba applies them at decoration time:

``NGC_OPTIM_PARALLEL`` (default ``1``)
    ``0`` never runs the ``prange`` kernels.
``NGC_OPTIM_THREADS`` (default: the cores the process may use)
    How many threads the kernels may use (``THREADS``); :mod:`ngc_optim.threads`
    decides the threads of every call within it (Numba's, and one BLAS thread
    each) and documents the measurements behind the decision.
``NGC_OPTIM_PARALLEL_THRESHOLD`` (default: per rule, see ``PARALLEL_THRESHOLDS``)
    Arrays with at least this many elements take the ``prange`` optimizer kernel;
    when set, one threshold for every rule. The defaults are twice the crossover
    measured with ``benchmarks/bench_optim.py --crossover`` on a 2-core machine
    (the smallest size from which the parallel kernel was faster at every larger
    size: 2**16 for SGD, 2**15 for NAG, 2**14 for the others, whose division and
    square root make them compute-bound in cache). The margin is there because a
    parallel region stalls when another process holds the second core.
``NGC_OPTIM_CACHE`` (default ``1``)
    ``0`` disables Numba's on-disk cache.
``NGC_OPTIM_CIRCUITS`` (default ``1``)
    ``0`` runs every process through ngcsimlib per call instead of as one
    compiled circuit (:mod:`ngc_optim.circuit`).
``NGC_OPTIM_FASTMATH`` (default ``0``)
    ``1`` compiles with ``fastmath``: faster, but results no longer match the
    reference formulas bit for bit. Numba's cache does not key on compiler flags,
    so fastmath kernels are never cached (a cached exact kernel would otherwise be
    loaded for a fastmath build, or the reverse).
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
"""OpenMP threads (Numba's ``omp`` threading layer) sleep between parallel regions instead of spinning. A
spinning thread holds a core that the other thread of the next region, or another process, needs: with one
CPU-bound process per core beside it, the default PCN (batch 50, T 20) took 2.2x its quiet time with sleeping
threads and 3.4-4.4x with spinning ones (``benchmarks/bench_threads.py --layers``; workqueue, Numba's other
layer here, was slower when quiet). libgomp reads the variable when it is loaded, i.e. at the first parallel
call, after this import; a value set by the user is kept."""

__all__ = ["CACHE", "CIRCUITS", "FASTMATH", "PARALLEL", "PARALLEL_THRESHOLDS", "THREADS", "jit_options"]


def _flag(name, default):
    value = os.environ.get(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={value!r}: expected 0 or 1")


def _count(name, default, least=0):
    value = os.environ.get(name, str(default)).strip()
    expected = "a non-negative integer" if least == 0 else "a positive integer"
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected {expected}") from None
    if count < least:
        raise ValueError(f"{name}={value!r}: expected {expected}")
    return count


PARALLEL = _flag("NGC_OPTIM_PARALLEL", "1")
_MEASURED_CROSSOVER = {"sgd": 2**16, "nag": 2**15, "momentum": 2**14, "rmsprop": 2**14, "adam": 2**14}
if "NGC_OPTIM_PARALLEL_THRESHOLD" in os.environ:
    PARALLEL_THRESHOLDS = dict.fromkeys(_MEASURED_CROSSOVER, _count("NGC_OPTIM_PARALLEL_THRESHOLD", 0))
else:
    PARALLEL_THRESHOLDS = {rule: 2 * size for rule, size in _MEASURED_CROSSOVER.items()}
THREADS = _count("NGC_OPTIM_THREADS", 0, least=1) if os.environ.get("NGC_OPTIM_THREADS", "").strip() else None
"""The threads the user gave ngc_optim's kernels (None: the cores the process may use; see
:mod:`ngc_optim.threads`)."""
FASTMATH = _flag("NGC_OPTIM_FASTMATH", "0")
CIRCUITS = _flag("NGC_OPTIM_CIRCUITS", "1")
CACHE = _flag("NGC_OPTIM_CACHE", "1") and not FASTMATH


def inline_options():
    """``numba.njit``'s keyword arguments for a serial kernel that does little more than call another (a
    compiled circuit's form of a step), or that one kernel alone calls: inlined where it is called, so that
    what it calls is not linked and optimised by LLVM once more for it (each such level cost a circuit's first
    compile 0.2-1.3 s). Called from Python, it compiles on its own."""
    return {"inline": "always", **jit_options(False)}


def jit_options(parallel):
    """Keyword arguments for ``numba.njit`` for a serial or a parallel kernel.

    ``error_model='numpy'`` drops Python's zero-division check, which would stop
    the loops from vectorising, and gives NumPy's inf/nan results instead.
    """
    return {
        "parallel": parallel,
        "cache": CACHE,
        "fastmath": FASTMATH,
        "error_model": "numpy",
        "nogil": True,
    }
