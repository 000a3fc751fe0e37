"""Benchmark of the default PCN: accuracy against a backprop MLP, time per batch, start-up and memory.

1. Accuracy: the PCN of ``ngc-optim train`` (its defaults: 64-128-128-10, tanh,
   Adam, batch 50, ...) trained for ``--epochs`` on the bundled digits split, and
   in the same run scikit-learn's ``MLPClassifier`` of the same size (Adam, batch
   50, the same number of epochs, no early stopping): test accuracy of both for
   each of ``--seeds`` seeds, and the means.
2. Speed, on one batch of 50 of the trained model, and again for T = 20 (the
   settling steps of the ngc-learn figure and of the target) when the default T
   differs, medians over timed groups of 10 batches: ms per training batch (``PCN.train_batch``) with the
   settling loop on every core (the default) and serial (``NGC_OPTIM_PARALLEL=0``), the two
   interleaved in 5 rounds of ``--repeats`` / 5 groups each (the medians of the rounds show
   how much the shared machine varied); ms per settling step through ngcsimlib (one run of
   the components' ``settle`` process per call) and through its compiled circuit (a scan of T
   steps / T; ``ngc_optim.circuit``); ms per call of each of the batch's three compiled
   circuits (``start``: reset, project, prime; ``settle``; ``evolve``), and what is left of
   the batch outside them (clamping, copies, the circuits' checks of their arguments).
3. Cold start (empty Numba and circuit caches) and warm start (filled caches): a fresh process
   that imports ngc_optim, builds the PCN and trains until every process has compiled.
4. Peak resident memory of the default training run (``ngc-optim train``) in a
   child process.

With ``--ngclearn-python`` (the Python of a venv with ngc-learn 3.2.3 and JAX),
ngc-learn's own PCN of the same size, batch and T (``benchmarks/ngclearn_pcn.py``,
settling with ``MethodProcess.scan``) is timed in the same run, and the ratio
printed beside ours.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings

import numpy as np
from ngc_optim.models import PCN

import ngc_optim
from ngc_optim import config
from ngc_optim.datasets import load_digits, one_hot
from ngc_optim.training import DEFAULTS, model_arguments

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_threads import ngclearn

TARGET_MS_PER_BATCH = 1.3
REFERENCE_T = 20
"""The settling steps of the ngc-learn figure (and of the speed target)."""
TARGET_WARM_SECONDS = 2.0
TARGET_RSS_MB = 300


def accuracy(epochs, seeds):
    """Test accuracy of the default PCN and of a same-size MLP for each seed; returns the seed-0 model (or
    the first seed's) and the mean accuracies."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    data = load_digits()
    print(f"\n== Accuracy on the digits test split ({len(data.y_test)} images), {epochs} epochs ==")
    print("seed   PCN     MLPClassifier (backprop)   PCN training s")
    models, pcn, mlp = [], [], []
    for seed in seeds:
        model = PCN(**{**model_arguments(DEFAULTS), "seed": seed})
        start = time.perf_counter()
        model.fit(data.x_train, data.y_train, epochs=epochs, progress=False)
        seconds = time.perf_counter() - start
        models.append(model)
        pcn.append(model.evaluate(data.x_test, data.y_test)["accuracy"])
        reference = MLPClassifier(hidden_layer_sizes=tuple(DEFAULTS["sizes"][1:-1]), activation="tanh",
                                  solver="adam", batch_size=DEFAULTS["batch_size"], max_iter=epochs,
                                  n_iter_no_change=epochs + 1, tol=0.0, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            reference.fit(data.x_train, data.y_train)
        mlp.append(float(np.mean(reference.predict(data.x_test) == data.y_test)))
        print(f"{seed:4d}   {pcn[-1]:.4f}  {mlp[-1]:.4f}                     {seconds:.2f}")
    print(f"mean   {np.mean(pcn):.4f}  {np.mean(mlp):.4f}   (PCN worst seed {min(pcn):.4f}, MLP worst {min(mlp):.4f})")
    return models[0], float(np.mean(pcn)), float(np.mean(mlp))


def group_seconds(function, repeats, calls=1):
    """Seconds per call of ``function`` in each of ``repeats`` groups of ``calls`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        times.append((time.perf_counter() - start) / calls)
    return times


def median_seconds(function, repeats, calls=1):
    return statistics.median(group_seconds(function, repeats, calls))


ROUNDS = 5
"""Rounds of the interleaved batch timings."""


def parallel_and_serial_batches(model, x, y, repeats):
    """Seconds per training batch with parallel and with serial settling: the two timed in ROUNDS
    alternating rounds of ``repeats`` groups of 10 batches (so a noisy spell of the shared machine falls on
    both), the median over all groups of each, and the parallel medians of the rounds."""
    times, rounds = {True: [], False: []}, []
    parallel = config.PARALLEL
    try:
        for _ in range(ROUNDS):
            for setting in (True, False):
                config.PARALLEL = setting and parallel
                groups = group_seconds(lambda: model.train_batch(x, y), repeats, 10)
                times[setting] += groups
                if setting:
                    rounds.append(statistics.median(groups))
    finally:
        config.PARALLEL = parallel
    return statistics.median(times[True]), statistics.median(times[False]), rounds


def process_seconds(model, repeats):
    """Seconds per call of each process of a training batch, each through its compiled circuit, on the state
    of a batch just trained: ``start`` (reset, project, prime), ``settle`` (a scan of T rows), ``evolve``."""
    rows = model._rows()
    calls = {"start": lambda: model.start_process.run(dt=model.dt),
             "settle": lambda: model.settle_process.scan(rows, store_state=False, store_results=False),
             "evolve": lambda: model.evolve_process.run(dt=model.dt)}
    return {name: median_seconds(call, repeats, 10) for name, call in calls.items()}


def speed(model, repeats, ngclearn_python=None):
    data = load_digits()
    x = data.x_train[:model.batch_size]
    y = one_hot(data.y_train[:model.batch_size], model.sizes[-1])
    for _ in range(10):
        model.train_batch(x, y)
    batch, serial, rounds = parallel_and_serial_batches(model, x, y, max(1, repeats // ROUNDS))
    process = model.settle_process
    process.compiled_circuit = False
    process_step = median_seconds(lambda: process.run(dt=model.dt), repeats, 50)
    process.compiled_circuit = True
    parts = process_seconds(model, repeats)
    print(f"\n== Speed of one training batch (batch {model.batch_size}, T = {model.T}), medians ==")
    anchor = ""
    if ngclearn_python and model.T == REFERENCE_T:
        reference = ngclearn(ngclearn_python, "default", warmup=3, batches=50)
        anchor = (f"   (ngc-learn {reference['ngclearn_version']}, same run: {reference['median_ms']:.2f} ms, "
                  f"{reference['median_ms'] / (batch * 1e3):.1f}x)")
    print(f"ms per batch                      {batch * 1e3:7.3f}{anchor}")
    print(f"  medians of the {ROUNDS} rounds           {' '.join(f'{t * 1e3:.3f}' for t in rounds)}")
    print(f"ms per batch, serial              {serial * 1e3:7.3f}   (parallel settling: {serial / batch:.2f}x)")
    print(f"ms per settling step, process     {process_step * 1e3:7.3f}   (ngcsimlib, one call per component)")
    print(f"ms per settling step, circuit     {parts['settle'] / model.T * 1e3:7.3f}   "
          f"(the settle process's scan / T: {process_step * model.T / parts['settle']:.1f}x)")
    for name, seconds in parts.items():
        print(f"ms per {name:<8} circuit call     {seconds * 1e3:7.3f}")
    outside = batch - sum(parts.values())
    print(f"outside the circuits ms           {outside * 1e3:7.3f}   ({outside / batch:.0%} of the batch: clamping, "
          f"copies, checks)")
    return batch


STARTUP = textwrap.dedent("""
    import time
    start = time.perf_counter()
    import numpy as np
    from ngc_optim.models import PCN
    from ngc_optim.datasets import one_hot
    model = PCN()
    x = np.random.default_rng(0).random((50, 64), dtype=np.float32)
    for _ in range(1 + model.start_process.compile_after):
        model.train_batch(x, one_hot(np.arange(50) % 10, 10))
    print(time.perf_counter() - start)
""")


def startup():
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "NGC_OPTIM_CACHE_DIR": cache}
        runs = [float(subprocess.run([sys.executable, "-c", STARTUP], env=env, capture_output=True, text=True,
                                     check=True).stdout) for _ in range(3)]
    print("\n== Start-up: fresh process, import + build + the batches until every process is compiled ==")
    print(f"cold (empty caches)        {runs[0]:.2f} s")
    print(f"warm (filled cache)        {statistics.median(runs[1:]):.2f} s")
    return statistics.median(runs[1:])


_PEAK = """
import resource, runpy, sys
sys.argv = ["ngc-optim", "train", "--no-progress", "--runs", sys.argv[1]]
try:
    runpy.run_module("ngc_optim", run_name="__main__")
except SystemExit as stop:
    if stop.code:
        raise
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
"""``ngc-optim train`` in a child that prints its own peak RSS (kB): RUSAGE_CHILDREN would give the largest
of every child this benchmark ran, e.g. the cold start's compiling one."""


def peak_memory():
    with tempfile.TemporaryDirectory() as runs:
        child = subprocess.run([sys.executable, "-c", _PEAK, runs], check=True, capture_output=True, text=True)
    megabytes = int(child.stdout.split()[-1]) / 1024
    print("\n== Memory ==")
    print(f"peak RSS of the default training run (ngc-optim train)   {megabytes:.0f} MB")
    return megabytes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], help="training epochs (as ngc-optim train)")
    parser.add_argument("--repeats", type=int, default=101, help="timed repeats (101)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 .. SEEDS-1 of the accuracy runs (5)")
    parser.add_argument("--ngclearn-python", help="Python of a venv with ngc-learn 3.2.3 and JAX")
    args = parser.parse_args(argv)
    print(f"ngc_optim {ngc_optim.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    model, pcn, reference = accuracy(args.epochs, range(args.seeds))
    if model.T != REFERENCE_T:
        speed(model, args.repeats)
        model = PCN(**{**model_arguments(DEFAULTS), "T": REFERENCE_T})
    batch = speed(model, args.repeats, args.ngclearn_python)
    warm = startup()
    rss = peak_memory()
    print("\n== Targets ==")
    for text, met in ((f"PCN accuracy >= 97% (mean over seeds): {pcn:.2%}", pcn >= 0.97),
                      (f"PCN within 1 point of the MLP or above (means): {pcn - reference:+.2%}", pcn >= reference - 0.01),
                      (f"<= {TARGET_MS_PER_BATCH} ms per batch: {batch * 1e3:.2f} ms", batch * 1e3 <= TARGET_MS_PER_BATCH),
                      (f"warm start <= {TARGET_WARM_SECONDS} s: {warm:.2f} s", warm <= TARGET_WARM_SECONDS),
                      (f"peak RSS <= {TARGET_RSS_MB} MB: {rss:.0f} MB", rss <= TARGET_RSS_MB)):
        print(f"{text:<60} {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
