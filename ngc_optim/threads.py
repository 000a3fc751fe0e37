"""How many threads ngc_optim runs, at every level: the one place that decides it.

Two kinds of thread can run a kernel: Numba's (a ``prange`` loop, each thread a
block of rows or elements) and BLAS's (the matrix products that compiled code
calls, through SciPy's BLAS). Left alone, each level starts one thread per core,
and a parallel Numba loop whose threads each call a threaded BLAS runs 4 threads
on 2 cores; OpenBLAS's threads then spin while they wait for each other. A PCN
at ngc-museum's width (64-512-512-10, batch 250, T 20) took 82 ms per batch so,
and 2.7 s with one CPU-bound process per core beside it; with the rule below,
54 and 109 ms (``benchmarks/bench_threads.py``, 2 cores).

The rule, measured there: parallelism lives at the Numba level only, and BLAS
runs one thread per caller. A batch's rows are independent, so a kernel over a
batch splits the rows into one block per thread, each block's products on one
BLAS thread, with no synchronisation until the batch is done. A serial loop over
a threaded BLAS synchronises within every product: slower at every size but the
smallest when quiet (64.6 against 53.7 ms per batch at ngc-museum's width; 1.96
against 2.19 ms for the default PCN), and it falls apart when a core is taken.
Numba's OpenMP threads sleep rather than spin between parallel regions
(``OMP_WAIT_POLICY=passive``, set by :mod:`ngc_optim.config`), so under
contention a kernel slows to its fair share of the cores, not below.

How many threads: the cores the process may use (:func:`cores_allowed`: its CPU
affinity, a cgroup CPU quota, Numba's pool), or the user's choice
(:func:`set_threads`, or the environment variable ``NGC_OPTIM_THREADS`` read at
import). Each call site asks :func:`decide` how many Numba threads its work is
worth, a pure function of (threads available, size, level), and the work is
split accordingly. At import, ngc_optim sets the BLAS library that Numba's
compiled code calls (SciPy's; NumPy's is left alone unless it is the same
library, as with MKL builds) to one thread, and every parallel call re-checks it,
so that ``threadpoolctl`` limits raised by other code cannot make the two levels
multiply.
"""

import concurrent.futures
import math
import numbers
import os
from pathlib import Path
from typing import NamedTuple

import numba
import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS that Numba's np.dot calls, before it is limited)
from threadpoolctl import ThreadpoolController

from . import config

__all__ = ["LEVELS", "ROW_TILE", "Decision", "Level", "cores_allowed", "decide", "get_threads",
           "numba_threads", "prepare", "set_threads"]


class Level:
    """A kind of parallel work: ``unit`` names what its size counts, ``minimum`` is the least of them a thread
    must get for a split to pay (measured: see each level)."""

    __slots__ = ("minimum", "name", "unit")

    def __init__(self, name, unit, minimum):
        self.name, self.unit, self.minimum = name, unit, minimum

    def __repr__(self):
        return f"Level({self.name!r}, {self.unit!r}, {self.minimum})"


ROW_TILE = 24
"""Where a product is split by rows, every block but the last has a multiple of ROW_TILE rows. BLAS computes
the rows of a product in tiles (SciPy's OpenBLAS, float32, on this machine: 12 rows), and a row in a tile of
another size is summed in another order. Measured: of the splits of 50x128x128 to 250x512x512 float32
products at every row, those at multiples of 12 rows gave the bits of the whole product and nearly all
others did not; splits at multiples of 24 gave them in all 3,744 float32 and float64 products tried (K 1 to
784, N 1 to 360). 24 covers tiles of 2, 3, 4, 6, 8, 12 and 24 rows. So a split gives the same bits as the
whole product, and the thread count does not change a result (tested)."""

LEVELS = {
    "rows": Level("rows", "rows of a batch", ROW_TILE),
    "product": Level("product", "multiply-adds", 2**22),
    "settling": Level("settling", "multiply-adds", 2**25),
}
"""``rows``: a kernel that runs a batch, each block of rows on its own (the PCN's settling loop), in blocks of
at least ROW_TILE rows. ``product``: one matrix product split by the rows of its result (the summed outer
product of a Hebbian update, K x M x N), 2**22 multiply-adds a thread at least: a parallel region costs tens
of microseconds (Numba's threads sleep between regions), and the split pays from 2**23 on (measured, serial
against two blocks: 250 x 128 x 128, 2**22: 156 against 181 us; 250 x 256 x 256, 2**24: 489 against 328 us;
250 x 512 x 512: 1.58 against 0.95 ms). ``settling``: a batch's settling loop (every product of its T steps),
2**25 multiply-adds a thread at least: each block multiplies its rows by every weight matrix, so every thread
packs each matrix for BLAS again, which small blocks do not earn back (ms per batch, one block against two,
batch 50, 2026-12-02: GenerativePCN 64-128, T 20, 2**25.0 multiply-adds: 0.64 against 0.80; the default PCN,
T 10, 2**25.1: two blocks 0.86-0.94x as fast as one, T 20, 2**26.1: 0.91-1.10x; GenerativePCN 64-256-128,
2**27.6: 3.34 against 2.90; ngc-museum's width, 64-512-512-10 at batch 250: 89 against 54). The optimizer
kernels' element thresholds live in :data:`ngc_optim.config.PARALLEL_THRESHOLDS` (an element-wise level per
rule)."""


class Decision(NamedTuple):
    """Threads for one call: ``numba`` threads (1: the serial kernel), each giving its products ``blas``
    threads."""

    numba: int
    blas: int


def decide(threads, size, level):
    """The threads worth using for ``size`` units of ``level`` work when ``threads`` are available.

    Each Numba thread gets at least ``level.minimum`` units; BLAS runs one thread per Numba thread (see the
    module: a threaded BLAS synchronises within every product and spins while it waits), so the threads of
    the two levels never outnumber ``threads``.

    Args:
        threads: the threads the process may use (at least 1).
        size: the work, in ``level.unit``.
        level: a :class:`Level` or the name of one in :data:`LEVELS`.

    Returns:
        A :class:`Decision`.
    """
    level = LEVELS[level] if isinstance(level, str) else level
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    return Decision(max(1, min(threads, size // level.minimum)), 1)


def _quota_cores(cpu_max):
    """Cores allowed by a cgroup v2 ``cpu.max`` ("QUOTA PERIOD" or "max PERIOD"): ceil(quota / period),
    or None when unlimited."""
    quota, _, period = cpu_max.strip().partition(" ")
    if quota == "max":
        return None
    return max(1, math.ceil(int(quota) / int(period or 100000)))


def _cgroup_cores(proc_cgroup=Path("/proc/self/cgroup"), root=Path("/sys/fs/cgroup")):
    """The fewest cores any cgroup of this process (v2, or v1's cpu controller) allows, or None."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    limits = []
    for line in lines:
        if line.count(":") < 2:
            continue
        _, controllers, path = line.split(":", 2)
        relative = Path(path.lstrip("/"))
        if controllers == "":
            directories = [root / relative, *(root / parent for parent in relative.parents)]
            for directory in directories:
                try:
                    limits.append(_quota_cores((directory / "cpu.max").read_text()))
                except (OSError, ValueError):
                    continue
        elif "cpu" in controllers.split(","):
            for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
                directory = root / name / relative
                try:
                    quota = int((directory / "cpu.cfs_quota_us").read_text())
                    period = int((directory / "cpu.cfs_period_us").read_text())
                except (OSError, ValueError):
                    continue
                limits.append(None if quota <= 0 else max(1, math.ceil(quota / period)))
    limits = [limit for limit in limits if limit is not None]
    return min(limits) if limits else None


def cores_allowed():
    """The cores this process may use: its CPU affinity, capped by a cgroup CPU quota and Numba's pool of
    threads (``NUMBA_NUM_THREADS``)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    quota = _cgroup_cores()
    if quota is not None:
        cores = min(cores, quota)
    return max(1, min(cores, numba.config.NUMBA_NUM_THREADS))


def _numba_blas():
    """threadpoolctl's controllers of the BLAS libraries that Numba's compiled code calls: SciPy's (found by
    its path), or every BLAS loaded when none lies in SciPy's folders (one shared library, e.g. MKL)."""
    import scipy

    blas = ThreadpoolController().select(user_api="blas").lib_controllers
    folder = Path(scipy.__file__).resolve().parent
    own = [lib for lib in blas
           if Path(lib.filepath).resolve().parent in (folder.parent / "scipy.libs", folder)
           or folder in Path(lib.filepath).resolve().parents]
    return own or blas


_BLAS = _numba_blas()
_threads = None


def get_threads():
    """The threads ngc_optim's kernels may use: :func:`set_threads`' value, else ``NGC_OPTIM_THREADS``
    (:data:`ngc_optim.config.THREADS`), else :func:`cores_allowed`; at most Numba's pool
    (``NUMBA_NUM_THREADS``)."""
    return _threads


def _limit_blas():
    for lib in _BLAS:
        if lib.get_num_threads() != 1:
            lib.set_num_threads(1)


def set_threads(threads=None):
    """Set the threads ngc_optim's kernels may use (None: as ``NGC_OPTIM_THREADS`` says, else the cores the
    process may use), Numba's threads in the calling thread to match, and the BLAS that Numba calls to one
    thread. Values above Numba's pool (``NUMBA_NUM_THREADS``, fixed when Numba starts) are capped to it.

    Returns:
        The threads set.

    Raises:
        ValueError: ``threads`` is not a positive integer.
    """
    global _threads
    if threads is None:
        threads = config.THREADS or cores_allowed()
    elif isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    _threads = min(int(threads), numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(_threads)
    _limit_blas()
    return _threads


def numba_threads(size, level):
    """The Numba threads of :func:`decide` for the threads available now."""
    return decide(_threads, size, level).numba


_pool = None


def run_blocks(function, blocks):
    """Call ``function(block)`` for block in range(blocks), on ngc_optim's threads (a pool of get_threads()
    threads, made on first use; the last block on the calling thread), and wait for all: for compiled
    functions that release the GIL (``nogil``), e.g. a compiled circuit's blocks of rows. The first error is
    raised after every block has ended."""
    global _pool
    if _pool is None or _pool._max_workers < _threads:
        _pool = concurrent.futures.ThreadPoolExecutor(max_workers=_threads, thread_name_prefix="ngc_optim")
    futures = [_pool.submit(function, block) for block in range(blocks - 1)]
    error = None
    try:
        function(blocks - 1)
    except Exception as raised:  # noqa: BLE001 (re-raised below, once the other blocks are done)
        error = raised
    for future in futures:
        try:
            future.result()
        except Exception as raised:  # noqa: BLE001
            error = error or raised
    if error is not None:
        raise error


def prepare():
    """Before a parallel call: BLAS on one thread (code outside ngc_optim may have raised it, e.g. with
    threadpoolctl), and the calling thread's Numba threads no more than ngc_optim's (Numba's count is per
    thread: a new thread starts with the whole pool)."""
    _limit_blas()
    if numba.get_num_threads() > _threads:
        numba.set_num_threads(_threads)


set_threads()
