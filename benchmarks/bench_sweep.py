"""Benchmark of a sweep on a 2-worker LocalCluster against the same points one after another in one process.

The sweep: 8 points (4 step sizes of Adam x 2 seeds) of the default PCN, ``--epochs`` epochs each. Every
round runs these in turn (in reverse order every other round), each in a new Python process (so each pays
its imports and Numba cache loads, as a user's command would) and into a new directory:

* ``serial``: :func:`ngc_optim.sweep.run_point` for each point, with all the cores' Numba threads (what
  ``ngc-optim train`` does, one run after another);
* ``serial, 1 thread``: the same with one Numba thread (the work of one worker of the sweep);
* ``sweep``: :func:`ngc_optim.sweep.run_sweep` as ``ngc-optim sweep`` runs it: a LocalCluster of ``--workers``
  processes (cores // workers Numba threads each) started, used and closed.

One epoch of a point is trained first, in this process, so that the Numba cache is filled before any timing.

The ratio is the median of the per-round ratios serial / sweep. The cost of distributing, printed per point:
``(workers x sweep - serial 1 thread) / points`` (the cluster's start and stop, the workers' imports and Numba
cache loads, scheduling, and the idle tail when the points do not divide evenly), and the round trip of an
empty task on a running LocalCluster (the scheduling alone, median over ``--trips``).
"""

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

import numba

from ngc_optim.sweep import load_sweep, run_point, run_sweep

GRID = {"optimizer.eta": [0.001, 0.002, 0.003, 0.005], "seed": [0, 1]}


def serial(path, runs, threads):
    if threads is not None:
        numba.set_num_threads(threads)
    for point in load_sweep(path)[1]:
        run_point(point.config, runs)


def in_new_process(target, *arguments, **keywords):
    """Seconds from starting a new Python process that calls ``target`` to its end."""
    start = time.perf_counter()
    process = multiprocessing.get_context("spawn").Process(target=target, args=arguments, kwargs=keywords)
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"{target.__name__} failed (exit code {process.exitcode})")
    return time.perf_counter() - start


def nothing():
    return None


def round_trip(workers, trips):
    """(LocalCluster start seconds, median seconds of submitting an empty task and getting its result)."""
    from dask.distributed import Client, LocalCluster

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=None)
    with cluster, Client(cluster) as client:
        started = time.perf_counter() - start
        times = []
        for _ in range(trips):
            start = time.perf_counter()
            client.submit(nothing, pure=False).result()
            times.append(time.perf_counter() - start)
    return started, statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=100, help="epochs of each point (100)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    parser.add_argument("--trips", type=int, default=200, help="empty tasks timed one after another (200)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        path = scratch / "bench.json"
        path.write_text(json.dumps({"base": {"epochs": args.epochs}, "grid": GRID}))
        _, points = load_sweep(path)
        cores = os.cpu_count()
        print(f"{len(points)} points of the default PCN, {args.epochs} epochs each; {cores} cores, "
              f"{args.workers} workers of {max(1, cores // args.workers)} Numba thread(s)")
        run_point({**points[0].config, "epochs": 1}, scratch / "warm-up")
        candidates = {
            "serial": lambda runs: in_new_process(serial, path, runs, None),
            "serial, 1 thread": lambda runs: in_new_process(serial, path, runs, 1),
            "sweep": lambda runs: in_new_process(run_sweep, path, runs=runs, workers=args.workers, progress=False),
        }
        rounds = {name: [] for name in candidates}
        for index in range(args.rounds):
            for name in list(candidates)[::1 if index % 2 == 0 else -1]:
                rounds[name].append(candidates[name](scratch / f"{index}-{name.replace(', ', '-')}"))
            print(f"round {index}: " + ", ".join(f"{name} {times[-1]:.2f} s" for name, times in rounds.items()))
        started, trip = round_trip(args.workers, args.trips)

    median = {name: statistics.median(times) for name, times in rounds.items()}
    ratio = statistics.median(s / w for s, w in zip(rounds["serial"], rounds["sweep"]))
    ideal = statistics.median(s / w for s, w in zip(rounds["serial, 1 thread"], rounds["sweep"]))
    overhead = statistics.median((args.workers * w - s) / len(points)
                                 for s, w in zip(rounds["serial, 1 thread"], rounds["sweep"]))
    print("median seconds: " + ", ".join(f"{name} {seconds:.2f}" for name, seconds in median.items()))
    ceiling = statistics.median(args.workers * s / one for s, one in zip(rounds["serial"], rounds["serial, 1 thread"]))
    print(f"sweep vs serial: {ratio:.2f}x ({'met' if ratio >= 1.7 else 'not met'}: target >= 1.7x); "
          f"vs serial on 1 thread: {ideal:.2f}x; ceiling (workers x serial / serial on 1 thread, no cost of "
          f"distributing): {ceiling:.2f}x")
    print(f"cost of distributing: {overhead:.3f} s per point (workers x sweep - serial on 1 thread); "
          f"LocalCluster start {started:.2f} s; empty task round trip {trip * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
