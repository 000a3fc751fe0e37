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

5. State optimizers (inference through the optimizers, ``--state-seeds``): the PCN of
   STATE_SETTINGS (T = 20, the README's digits split) with each state optimizer of
   STATE_OPTIMIZERS (Euler, SGD with momentum, NAG, Adam) trained for ``--state-epochs`` from
   each seed: test accuracy per seed and mean; ms per training batch of each, medians of
   groups of 10 batches interleaved in rounds, and its ratio to Euler's.

With ``--pcx-python`` (the Python of a venv with PCX 0.6.3 and JAX), PCX's classifier of the
same size, batch and T (``benchmarks/pcx_pcn.py``: its tutorial's cross-entropy output, Nesterov
SGD on the states, AdamW on the weights) is timed in the same run (and, with ``--pcx-seeds``,
scored on the same split), and the ratios printed beside ours.
"""

import argparse
import json
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
TARGET_PCX_ACCURACY = 0.981
TARGET_PCX_RATIO = 1.5
TARGET_STATE_COST = 1.3
STATE_SETTINGS = {"sizes": (64, 128, 128, 10), "T": REFERENCE_T, "dt": 1.0, "tau_m": 40.0, "act_fx": "tanh",
                  "optim_type": "adam", "eta": 0.001, "batch_size": 50}
"""The PCN of the state-optimizer comparison (docs/state-optimizers-sweep.json's base)."""
STATE_OPTIMIZERS = {"euler": None, "momentum": {"name": "momentum", "eta": 0.0125, "mu": 0.5},
                    "nag": {"name": "nag", "eta": 0.0125, "mu": 0.5}, "adam": {"name": "adam", "eta": 0.0005}}
"""The state optimizers compared (None: Euler steps of dt / tau_m = 0.025)."""


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


def state_optimizers(epochs, seeds, repeats):
    """Accuracy over ``seeds`` and ms per batch (and the ratio to Euler's) of the PCN of STATE_SETTINGS with
    each of STATE_OPTIMIZERS; returns ({name: mean accuracy}, {name: ms per batch}, {name: the last seed's
    model})."""
    data = load_digits()
    print(f"\n== State optimizers: PCN {STATE_SETTINGS['sizes']}, T {REFERENCE_T}, {epochs} epochs, test split of "
          f"{len(data.y_test)} ==")
    accuracies, models = {}, {}
    for name, state_optim in STATE_OPTIMIZERS.items():
        scores = []
        for seed in seeds:
            model = PCN(**{**STATE_SETTINGS, "seed": seed, "state_optim": state_optim})
            model.fit(data.x_train, data.y_train, epochs=epochs, progress=False)
            scores.append(model.evaluate(data.x_test, data.y_test)["accuracy"])
        models[name], accuracies[name] = model, float(np.mean(scores))
        print(f"{name:<9} {state_optim or 'dt / tau_m = 0.025'}  " + "  ".join(f"{score:.4f}" for score in scores)
              + f"   mean {accuracies[name]:.4f}")
    x = data.x_train[:STATE_SETTINGS["batch_size"]]
    y = one_hot(data.y_train[:STATE_SETTINGS["batch_size"]], 10)
    times = {name: [] for name in models}
    for _ in range(ROUNDS):
        for name, model in models.items():
            times[name] += group_seconds(lambda model=model: model.train_batch(x, y), max(1, repeats // ROUNDS), 10)
    milliseconds = {name: statistics.median(values) * 1e3 for name, values in times.items()}
    print("ms per batch      " + "  ".join(f"{name} {value:.3f} ({value / milliseconds['euler']:.2f}x)"
                                           for name, value in milliseconds.items()))
    return accuracies, milliseconds, models


def pcx(python, seeds, epochs):
    """PCX's classifier (benchmarks/pcx_pcn.py) on the digits split, timed (and scored over ``seeds`` seeds) in a
    new process of ``python``: its JSON report."""
    data = load_digits()
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "digits.npz")
        np.savez(path, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test)
        command = [python, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pcx_pcn.py"), "--data", path,
                   "--T", str(REFERENCE_T), "--seeds", str(seeds), "--epochs", str(epochs)]
        result = subprocess.run(command, capture_output=True, text=True, check=True,
                                env={**os.environ, "JAX_PLATFORMS": "cpu"})
    return json.loads(result.stdout.splitlines()[-1])


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
    parser.add_argument("--pcx-python", help="Python of a venv with PCX 0.6.3 and JAX")
    parser.add_argument("--pcx-seeds", type=int, default=0, help="seeds of PCX's accuracy runs (0: timing only)")
    parser.add_argument("--pcx-epochs", type=int, default=30, help="epochs of PCX's accuracy runs (30)")
    parser.add_argument("--state-seeds", type=int, default=3, help="seeds of the state-optimizer runs (3; 0: none)")
    parser.add_argument("--state-epochs", type=int, default=100, help="epochs of the state-optimizer runs (100)")
    args = parser.parse_args(argv)
    print(f"ngc_optim {ngc_optim.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    model, pcn, reference = accuracy(args.epochs, range(args.seeds))
    if model.T != REFERENCE_T:
        speed(model, args.repeats)
        model = PCN(**{**model_arguments(DEFAULTS), "T": REFERENCE_T})
    batch = speed(model, args.repeats, args.ngclearn_python)
    targets = []
    if args.state_seeds:
        accuracies, milliseconds, models = state_optimizers(args.state_epochs, range(args.state_seeds),
                                                            args.repeats)
        best = max(accuracies, key=accuracies.get)
        costs = {name: value / milliseconds["euler"] for name, value in milliseconds.items() if name != "euler"}
        summary = f"state optimizers: best mean accuracy >= {TARGET_PCX_ACCURACY}: {best} {accuracies[best]:.4f}"
        targets += [(summary, accuracies[best] >= TARGET_PCX_ACCURACY),
                    (f"state optimizer cost <= {TARGET_STATE_COST}x Euler: worst {max(costs.values()):.2f}x",
                     max(costs.values()) <= TARGET_STATE_COST)]
        if args.pcx_python:
            anchor = pcx(args.pcx_python, args.pcx_seeds, args.pcx_epochs)
            data = load_digits()
            x, y = data.x_train[:STATE_SETTINGS["batch_size"]], one_hot(data.y_train[:STATE_SETTINGS["batch_size"]], 10)
            ours, serial, _ = parallel_and_serial_batches(models[best], x, y, max(1, args.repeats // ROUNDS))
            ratio = anchor["median_ms"] / (ours * 1e3)
            print(f"\n== PCX {anchor['pcx_version']} (JAX {anchor['jax_version']}), same run: "
                  f"{anchor['h_optim']} on the states, {anchor['w_optim']} on the weights ==")
            print(f"ms per batch   PCX {anchor['median_ms']:.3f}   ours ({best}) {ours * 1e3:.3f}, serial "
                  f"{serial * 1e3:.3f}   PCX / ours {ratio:.2f}x, serial {anchor['median_ms'] / (serial * 1e3):.2f}x")
            if "accuracies" in anchor:
                print(f"PCX accuracy ({anchor['epochs']} epochs)   " + "  ".join(
                    f"{score:.4f}" for score in anchor["accuracies"]) + f"   mean {anchor['mean_accuracy']:.4f}")
            targets.append((f">= {TARGET_PCX_RATIO}x faster per batch than PCX: {ratio:.2f}x",
                            ratio >= TARGET_PCX_RATIO))
    warm = startup()
    rss = peak_memory()
    print("\n== Targets ==")
    for text, met in ((f"PCN accuracy >= 97% (mean over seeds): {pcn:.2%}", pcn >= 0.97),
                      (f"PCN within 1 point of the MLP or above (means): {pcn - reference:+.2%}", pcn >= reference - 0.01),
                      (f"<= {TARGET_MS_PER_BATCH} ms per batch: {batch * 1e3:.2f} ms", batch * 1e3 <= TARGET_MS_PER_BATCH),
                      (f"warm start <= {TARGET_WARM_SECONDS} s: {warm:.2f} s", warm <= TARGET_WARM_SECONDS),
                      (f"peak RSS <= {TARGET_RSS_MB} MB: {rss:.0f} MB", rss <= TARGET_RSS_MB), *targets):
        print(f"{text:<60} {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
