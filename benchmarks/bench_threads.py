"""Benchmark of ngc_optim's thread decision: PCN training batches at three sizes, quiet and under load,
against the other ways of sharing the cores and against ngc-learn.

Models (Adam, eta 0.001, tau_m 20, T 20, random inputs in [0, 1) and random labels; the time of a batch does
not depend on the data):

* ``default``: 64-128-128-10, batch 50 (``ngc-optim train``'s network);
* ``museum``: 64-512-512-10, batch 250 (ngc-museum's pc_discrim width);
* ``mnist``: 784-360-360-10, batch 500 (MNIST-sized).

Candidates, each a way of sharing the cores between Numba's threads and the BLAS that compiled code calls:

* ``ours``: ngc_optim's decision (:mod:`ngc_optim.threads`): Numba threads on blocks of rows, BLAS on one
  thread each;
* ``both threaded``: Numba's threads each calling a BLAS with one thread per core (what ngc_optim did before
  the decision: threads of the two levels multiply);
* ``threaded BLAS``: one Numba thread (serial kernels) and a BLAS with one thread per core;
* ``serial``: one Numba thread and one BLAS thread.

Each candidate trains in a process of its own: ``--warmup`` batches, then ``--batches`` batches (or more,
for at least MIN_SECONDS) timed one by one (median). Candidates alternate within each of ``--rounds``
rounds, and the figure of a candidate is the median of its rounds' medians. Then the same under load: one
CPU-bound competitor process per core (a Python loop) runs while ``ours`` and ``both threaded`` train; fair
share is 2x the quiet time. With ``--ngclearn-python`` (the Python of a venv with ngc-learn 3.2.3 and JAX),
ngc-learn's own PCN of each size (``benchmarks/ngclearn_pcn.py``, settling with ``MethodProcess.scan``) is
timed in the same rounds.

``--layers`` times ``ours`` instead under each of Numba's threading layers available here (omp with OpenMP's
passive and active wait policies and with short spins before sleeping, workqueue; tbb when installed), quiet
and under load.

Run: ``python benchmarks/bench_threads.py --ngclearn-python /work/ngclearn-venv/bin/python``.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

MODELS = {
    "default": ((64, 128, 128, 10), 50),
    "museum": ((64, 512, 512, 10), 250),
    "mnist": ((784, 360, 360, 10), 500),
}
T = 20
CANDIDATES = {
    "ours": None,
    "both threaded": ("all", "all"),
    "threaded BLAS": (1, "all"),
    "serial": (1, 1),
}
"""Candidate -> (Numba threads, BLAS threads), "all" for one per core; None: ngc_optim's decision."""
MIN_SECONDS = 1.0
"""A process times at least this long (more batches than --batches for a small model): under load, a few
milliseconds of batches can fall between the competitors' time slices."""
TARGET_OF_BEST = 1.15
TARGET_VS_NGCLEARN = 1.5
TARGET_LOADED = 2.5

CHILD = textwrap.dedent("""
    import json, statistics, sys, time
    import numpy as np
    from ngc_optim import threads
    from ngc_optim.datasets import one_hot
    from ngc_optim.models import PCN

    sizes, batch, T, numba_threads, blas_threads, warmup, batches, min_seconds = json.loads(sys.argv[1])
    if numba_threads is not None:
        cores = threads.cores_allowed()
        threads.set_threads(cores if numba_threads == "all" else numba_threads)
        blas = cores if blas_threads == "all" else blas_threads

        def limit_blas():
            for lib in threads._BLAS:
                lib.set_num_threads(blas)

        threads._limit_blas = limit_blas
        limit_blas()
    rng = np.random.default_rng(0)
    x = rng.random((batch, sizes[0]), dtype=np.float32)
    y = one_hot(rng.integers(0, sizes[-1], batch), sizes[-1])
    model = PCN(sizes, T=T, tau_m=20.0, eta=0.001, optim_type="adam", batch_size=batch, seed=0)
    for _ in range(warmup):
        model.train_batch(x, y)
    times = []
    while len(times) < batches or sum(times) < min_seconds:
        start = time.perf_counter()
        model.train_batch(x, y)
        times.append(time.perf_counter() - start)
    print(json.dumps({"median_ms": 1e3 * statistics.median(times)}))
""")


LAYERS = {
    "omp, passive": {"NUMBA_THREADING_LAYER": "omp"},
    "omp, active": {"NUMBA_THREADING_LAYER": "omp", "OMP_WAIT_POLICY": "ACTIVE"},
    "workqueue": {"NUMBA_THREADING_LAYER": "workqueue"},
    "omp, spin 1e4": {"NUMBA_THREADING_LAYER": "omp", "OMP_WAIT_POLICY": "", "GOMP_SPINCOUNT": "10000"},
    "omp, spin 1e5": {"NUMBA_THREADING_LAYER": "omp", "OMP_WAIT_POLICY": "", "GOMP_SPINCOUNT": "100000"},
}
"""``--layers``: Numba threading layer (and OpenMP wait policy) -> the environment of ``ours`` (ngc_optim
sets OMP_WAIT_POLICY=passive unless it is set; Numba picks omp when it can)."""


def ours(model, numba_threads, blas_threads, warmup, batches, environment=None):
    """Median ms per batch of ngc_optim's PCN in a new process (with ``environment`` added to its own)."""
    sizes, batch = MODELS[model]
    arguments = json.dumps([sizes, batch, T, numba_threads, blas_threads, warmup, batches, MIN_SECONDS])
    result = subprocess.run([sys.executable, "-c", CHILD, arguments], capture_output=True, text=True,
                            check=True, env={**os.environ, **(environment or {})})
    return json.loads(result.stdout.splitlines()[-1])["median_ms"]


def ngclearn(python, model, warmup, batches):
    """ngc-learn's PCN of ``model`` (benchmarks/ngclearn_pcn.py) timed in a new process of ``python``: its JSON
    report (``median_ms`` per batch, versions, ...)."""
    sizes, batch = MODELS[model]
    script = Path(__file__).with_name("ngclearn_pcn.py")
    command = [python, str(script), "--sizes", "-".join(map(str, sizes)), "--batch-size", str(batch),
               "--T", str(T), "--tau-m", "20", "--warmup", str(max(warmup, 2)), "--batches", str(batches)]
    result = subprocess.run(command, capture_output=True, text=True, check=True,
                            env={**os.environ, "JAX_PLATFORMS": "cpu"})
    return json.loads(result.stdout.splitlines()[-1])


class Load:
    """``processes`` CPU-bound competitor processes (one per core for a load) while in the ``with`` block."""

    def __init__(self, processes):
        self.processes = processes

    def __enter__(self):
        self.competitors = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                            for _ in range(self.processes)]
        if self.competitors:
            time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        for competitor in self.competitors:
            competitor.kill()
            competitor.wait()


def layers(args, cores):
    """The --layers table: ``ours`` under each threading layer, quiet and under load (medians of rounds)."""
    names = dict(LAYERS)
    try:
        import tbb  # noqa: F401

        names["tbb"] = {"NUMBA_THREADING_LAYER": "tbb"}
    except ImportError:
        print("tbb is not installed: its layer is left out")
    times = {(model, name, load): [] for model in args.models for name in names for load in (False, True)}
    for round_ in range(args.rounds):
        for model in args.models:
            for name, environment in names.items():
                for load in (False, True):
                    with Load(cores if load else 0):
                        times[model, name, load].append(ours(model, None, None, args.warmup, args.batches,
                                                             environment))
        print(f"round {round_} done", flush=True)
    print(f"\nms per batch by threading layer (median of {args.rounds} rounds): quiet, loaded, "
          "loaded / quiet")
    for model in args.models:
        for name in names:
            quiet, loaded = (statistics.median(times[model, name, load]) for load in (False, True))
            print(f"{model:<9}{name:<15}{quiet:10.2f}{loaded:10.2f}{loaded / quiet:8.2f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every candidate (3)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches per process (3)")
    parser.add_argument("--batches", type=int, default=15, help="timed batches per process (15)")
    parser.add_argument("--ngclearn-python", help="Python of a venv with ngc-learn 3.2.3 and JAX")
    parser.add_argument("--no-load", action="store_true", help="skip the runs under load")
    parser.add_argument("--layers", action="store_true", help="compare Numba's threading layers instead")
    args = parser.parse_args(argv)

    from ngc_optim import __version__, threads

    cores = threads.cores_allowed()
    print(f"ngc_optim {__version__}, {cores} cores allowed, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; T {T}, {args.rounds} rounds of {args.batches} "
          f"batches (medians)")
    if args.layers:
        layers(args, cores)
        return
    quiet = {model: {name: [] for name in CANDIDATES} for model in args.models}
    loaded = {model: {name: [] for name in ("ours", "both threaded")} for model in args.models}
    anchor = {model: [] for model in args.models}
    for round_ in range(args.rounds):
        order = list(CANDIDATES) if round_ % 2 == 0 else list(reversed(CANDIDATES))
        for model in args.models:
            for name in order:
                numba_threads, blas_threads = CANDIDATES[name] or (None, None)
                quiet[model][name].append(ours(model, numba_threads, blas_threads, args.warmup, args.batches))
            if args.ngclearn_python:
                anchor[model].append(ngclearn(args.ngclearn_python, model, args.warmup, args.batches))
            if not args.no_load:
                with Load(cores):
                    for name in loaded[model]:
                        numba_threads, blas_threads = CANDIDATES[name] or (None, None)
                        loaded[model][name].append(ours(model, numba_threads, blas_threads, args.warmup,
                                                        args.batches))
            figures = ", ".join(f"{name} {times[-1]:.2f}" for name, times in quiet[model].items())
            print(f"round {round_} {model}: {figures}"
                  + (f", ngc-learn {anchor[model][-1]['median_ms']:.2f}" if anchor[model] else "")
                  + "".join(f", loaded {name} {times[-1]:.2f}"
                            for name, times in loaded[model].items() if times),
                  flush=True)
    if anchor[args.models[0]]:
        first = anchor[args.models[0]][0]
        print(f"ngc-learn {first['ngclearn_version']} (JAX {first['jax_version']}), "
              f"settling with {first['form']}")

    print(f"\nms per batch (median of {args.rounds} rounds)")
    header = f"{'model':<9}" + "".join(f"{name:>15}" for name in CANDIDATES) + f"{'ngc-learn':>11}"
    header += "" if args.no_load else f"{'ours loaded':>13}{'both loaded':>13}"
    print(header)
    met = []
    for model in args.models:
        median = {name: statistics.median(times) for name, times in quiet[model].items()}
        row = f"{model:<9}" + "".join(f"{median[name]:15.2f}" for name in CANDIDATES)
        reference = statistics.median(run["median_ms"] for run in anchor[model]) if anchor[model] else None
        row += f"{reference:11.2f}" if reference else f"{'-':>11}"
        load = {name: statistics.median(times) for name, times in loaded[model].items() if times}
        row += "".join(f"{load[name]:13.2f}" for name in load)
        print(row)
        best = min(median, key=median.get)
        ratio = median["ours"] / median[best]
        met.append((f"{model}: ours within {TARGET_OF_BEST}x of the best ({best}): {ratio:.2f}x",
                    ratio <= TARGET_OF_BEST))
        if reference:
            speedup = reference / median["ours"]
            target = model == "museum"
            met.append((f"{model}: ngc-learn / ours" + (f" >= {TARGET_VS_NGCLEARN}x" if target else "")
                        + f": {speedup:.2f}x", speedup >= TARGET_VS_NGCLEARN if target else None))
        if load:
            slowdown = load["ours"] / median["ours"]
            both = load["both threaded"] / median["both threaded"]
            text = (f"{model}: loaded / quiet <= {TARGET_LOADED}x (fair share 2x): {slowdown:.2f}x "
                    f"(both threaded {both:.2f}x)")
            met.append((text, slowdown <= TARGET_LOADED))
    print("\nTargets")
    for text, ok in met:
        print(f"{text:<86} {'' if ok is None else 'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
