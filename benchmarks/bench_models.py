"""Benchmark of the models' training batches with their processes as compiled circuits and through ngcsimlib.

Each model trains on batches of the bundled digits with its processes run two ways, alternating from the
same start (two models built alike, the same batches):

* ``per call``: every process through ngcsimlib, one Python call per component method and step
  (``compiled_circuit = False``);
* ``circuit``: every process as one compiled Numba function (:mod:`ngc_optim.circuit`), the T settling
  steps of a batch in one ``scan``.

Models: ``GenerativePCN`` (64-128 and 64-256-128, T 20, batch 50: reset, settle, evolve), ``DiehlCookSNN``
(64 inputs, 100 excitatory cells, T 150 per image: reset, then advance + STDP as one scan), and the PCN
(64-128-128-10, T 20, batch 50: start (reset, project, prime), settle as scan, evolve).

Printed: milliseconds per batch (median of ``--rounds`` alternating rounds of ``--batches`` batches) and the
ratio, after checking that both ways trained to the same weights bit for bit.
"""

import argparse
import statistics
import time

import numpy as np
from ngc_optim.models import PCN, DiehlCookSNN, GenerativePCN

from ngc_optim.datasets import load_digits, one_hot

MODELS = {
    "GenerativePCN 64-128": lambda: GenerativePCN((64, 128)),
    "GenerativePCN 64-256-128": lambda: GenerativePCN((64, 256, 128)),
    "DiehlCookSNN 64-100": lambda: DiehlCookSNN(64, 100),
    "PCN 64-128-128-10": lambda: PCN((64, 128, 128, 10)),
}


def processes(model):
    """Every process of the model's context."""
    return [value for value in vars(model).values() if hasattr(value, "compiled_circuit")]


def batches(model, x, labels, count):
    """``count`` training batches for ``model`` (a PCN takes one-hot labels too), from the start of the data
    again when it runs out."""
    size = 1 if isinstance(model, DiehlCookSNN) else model.batch_size
    for index in range(count):
        start = index % (len(x) // size) * size
        rows = slice(start, start + size)
        yield (x[rows], labels[rows]) if isinstance(model, PCN) else (x[rows],)


def train(model, data):
    """Seconds for the batches ``data``, each one ``train_batch``."""
    start = time.perf_counter()
    for batch in data:
        model.train_batch(*batch)
    return time.perf_counter() - start


def measure(name, x, labels, count, rounds):
    """Median seconds per batch per call and by circuit, and whether both trained to the same weights."""
    times = {"per call": [], "circuit": []}
    same = True
    for _ in range(rounds):
        weights = []
        for way, samples in times.items():
            model = MODELS[name]()
            for process in processes(model):
                process.compiled_circuit = way == "circuit"
            warm = 1 + max(process.compile_after for process in processes(model))
            data = list(batches(model, x, labels, count + warm))
            train(model, data[:warm])
            samples.append(train(model, data[warm:]) / count)
            weights.append(model.W[1].weights.get().copy())
        same &= np.array_equal(*weights)
    return statistics.median(times["per call"]), statistics.median(times["circuit"]), same


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=10, help="timed batches per round (10)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (3)")
    args = parser.parse_args(argv)
    data = load_digits()
    x, targets = data.x_train, one_hot(data.y_train, data.n_classes)
    print(f"ms per batch, median of {args.rounds} rounds of {args.batches} batches")
    for name in MODELS:
        calls, circuit, same = measure(name, x, targets, args.batches, args.rounds)
        print(f"{name:<28} per call {calls * 1e3:8.2f}   circuit {circuit * 1e3:8.2f}   {calls / circuit:5.2f}x   "
              f"(same weights: {'yes' if same else 'NO'})")


if __name__ == "__main__":
    main()
