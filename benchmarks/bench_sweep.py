"""Benchmark of a sweep on a 2-worker LocalCluster against the same points one after another in one process.

The sweep: 8 points (4 step sizes of Adam x 2 seeds) of the default PCN, ``--epochs`` epochs each. Every
round runs these candidates in turn (in reverse order every other round), each in a new Python process and
into a new directory:

* ``serial``: :func:`ngc_optim.sweep.run_point` for each point, with all the cores' Numba threads (what
  ``ngc-optim train`` does, one run after another);
* ``serial, 1 thread``: the same with one Numba thread (the work of one worker of the sweep);
* ``sweep``: :func:`ngc_optim.sweep.run_sweep` as ``ngc-optim sweep`` runs it: a LocalCluster of ``--workers``
  processes started, used and closed, then the summary and its plot;
* ``sweep, running cluster``: :func:`ngc_optim.sweep.run_sweep` on a LocalCluster (set up as ``ngc-optim
  sweep`` sets up its own) started beforehand, as ``ngc-optim sweep --scheduler`` uses a running cluster.

Two ratios, each the median of the per-round ratios serial / sweep:

* the whole commands: from starting the process to its end (the sweep pays its cluster's start and stop);
* the work: timed within each process once its imports are done (the serial run from its first point, the
  sweep on a running cluster from calling run_sweep to its return: scheduling, the points, the summary and
  the plot). Both include the Numba cache loads (once in the serial run, in each worker in the sweep).

One epoch of a point is trained first, in this process, so that the Numba cache is filled before any timing.
Also printed: the cost of distributing per point, ``(workers x sweep - serial 1 thread) / points`` for the
whole command (the cluster's start and stop, the workers' imports and Numba cache loads, scheduling, the
idle tail when the points do not divide evenly), the LocalCluster's start, and the round trip of an empty
task on a running LocalCluster (the scheduling of one task alone, median over ``--trips``).
"""

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

from ngc_optim.sweep import load_sweep, local_cluster, run_point, run_sweep
from ngc_optim.threads import set_threads

GRID = {"optimizer.eta": [0.001, 0.002, 0.003, 0.005], "seed": [0, 1]}
TARGET = 1.7


def serial(report, path, runs, threads):
    if threads is not None:
        set_threads(threads)
    start = time.perf_counter()
    for point in load_sweep(path)[1]:
        run_point(point.config, runs)
    report.send(time.perf_counter() - start)


def sweep(report, path, runs, workers):
    start = time.perf_counter()
    run_sweep(path, runs=runs, workers=workers, progress=False)
    report.send(time.perf_counter() - start)


def sweep_on_running_cluster(report, path, runs, workers):
    with local_cluster(workers) as cluster:
        start = time.perf_counter()
        run_sweep(path, runs=runs, scheduler=cluster.scheduler_address, progress=False)
        report.send(time.perf_counter() - start)


def in_new_process(target, *arguments):
    """(seconds from starting a new Python process that calls ``target`` to its end, seconds ``target`` timed
    within it)."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    start = time.perf_counter()
    process = context.Process(target=target, args=(sender, *arguments))
    process.start()
    process.join()
    elapsed = time.perf_counter() - start
    if process.exitcode != 0:
        raise RuntimeError(f"{target.__name__} failed (exit code {process.exitcode})")
    return elapsed, receiver.recv()


def nothing():
    return None


def round_trip(workers, trips):
    """(LocalCluster start seconds, median seconds of submitting an empty task and getting its result)."""
    from dask.distributed import Client

    start = time.perf_counter()
    with local_cluster(workers) as cluster, Client(cluster) as client:
        started = time.perf_counter() - start
        times = []
        for _ in range(trips):
            start = time.perf_counter()
            client.submit(nothing, pure=False).result()
            times.append(time.perf_counter() - start)
    return started, statistics.median(times)


def ratio(numerators, denominators):
    return statistics.median(n / d for n, d in zip(numerators, denominators))


def verdict(value):
    return f"{value:.2f}x ({'met' if value >= TARGET else 'not met'}: target >= {TARGET}x)"


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
            "serial": (serial, None),
            "serial, 1 thread": (serial, 1),
            "sweep": (sweep, args.workers),
            "sweep, running cluster": (sweep_on_running_cluster, args.workers),
        }
        whole = {name: [] for name in candidates}
        work = {name: [] for name in candidates}
        for index in range(args.rounds):
            for name in list(candidates)[::1 if index % 2 == 0 else -1]:
                target, argument = candidates[name]
                runs = scratch / f"{index}-{name.replace(', ', '-').replace(' ', '-')}"
                seconds, timed = in_new_process(target, path, runs, argument)
                whole[name].append(seconds)
                work[name].append(timed)
            times = (f"{name} {whole[name][-1]:.2f} s (work {work[name][-1]:.2f} s)" for name in candidates)
            print(f"round {index}: " + ", ".join(times))
        started, trip = round_trip(args.workers, args.trips)

    print("median seconds, whole process: " + ", ".join(f"{name} {statistics.median(times):.2f}"
                                                        for name, times in whole.items()))
    print("median seconds, work: " + ", ".join(f"{name} {statistics.median(times):.2f}"
                                               for name, times in work.items()))
    print(f"whole commands, sweep vs serial: {verdict(ratio(whole['serial'], whole['sweep']))}; "
          f"vs serial on 1 thread: {ratio(whole['serial, 1 thread'], whole['sweep']):.2f}x")
    print(f"work, sweep on a running cluster vs serial: "
          f"{verdict(ratio(work['serial'], work['sweep, running cluster']))}; vs serial on 1 thread: "
          f"{ratio(work['serial, 1 thread'], work['sweep, running cluster']):.2f}x")
    ceiling = ratio([args.workers * s for s in whole["serial"]], whole["serial, 1 thread"])
    print(f"ceiling (workers x serial / serial on 1 thread, no cost of distributing): {ceiling:.2f}x")
    overhead = statistics.median((args.workers * w - s) / len(points)
                                 for s, w in zip(whole["serial, 1 thread"], whole["sweep"]))
    print(f"cost of distributing: {overhead:.3f} s per point (workers x sweep - serial on 1 thread, whole "
          f"commands); LocalCluster start {started:.2f} s; empty task round trip {trip * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
