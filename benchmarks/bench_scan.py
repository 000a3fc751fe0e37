"""Benchmark of ``MethodProcess.scan`` on circuits wired as a researcher writes them, in ngc-learn's style.

Two circuits from ngc_optim's components, each one ``MethodProcess`` per simulated step, stepped ``--steps``
times from the same start in three ways:

* ``per call``: a Python loop of ``run`` calls through ngcsimlib's compiled Python (``compiled_circuit =
  False``), what every process ran before the compiled circuits;
* ``run``: the same loop, each ``run`` one call of the compiled circuit (``ngc_optim.circuit``);
* ``scan``: ``pack_rows`` + ``scan``, all the steps in one call of the compiled circuit.

The circuits:

* ``spiking``: PoissonCell(784) -> TraceSTDPSynapse(784x100, SGD) -> LIFCell(100), VarTraces on both sides,
  batch 1, dt 1 ms; the process advances every component and then W1's evolve; z1's spikes are watched;
* ``rate``: a predictive-coding layer: z0 (clamped inputs, 64) -> W1 HebbianSynapse(64x128, Adam) ->
  e1 GaussianErrorCell <- z1 RateCell(128, tanh), e1's dmu fed back to z1 through E1 (DenseSynapse), at batch
  1, 10 and 50 (``--rate-batches``); the process advances every component and then W1's evolve; e1's L is
  watched.

Printed: microseconds per step of each (median of ``--rounds`` rounds, the three alternating, each on a fresh
circuit after 5 warm-up steps) and the ratios to the per-call path, after checking that all three give the
same watched values and final weights bit for bit. The compiled-circuit issue's target for scan is 5x. What
scan removes is the Python between the kernels (about 6 us a component call), not their arithmetic, which
both ways share: so the ratio falls as the batch grows (at batch 50 the rate layer's products and Adam step
are most of a step either way).
"""

import argparse
import statistics
import time

import numpy as np
from ngc_optim.components import (
    DenseSynapse,
    GaussianErrorCell,
    HebbianSynapse,
    LIFCell,
    PoissonCell,
    RateCell,
    TraceSTDPSynapse,
    VarTrace,
)
from ngcsimlib.global_state import stateManager

from ngc_optim import Context, MethodProcess

DT = 1.0
TARGET = 5.0


def learning_step(components, learner, watched):
    """One step's process: every component's advance_state in order, then the learner's evolve; ``watched`` is
    returned each step."""
    step = MethodProcess("step")
    for component in components:
        step >> component.advance_state
    step >> learner.evolve
    step.watch(watched)
    return step


def spiking(name):
    """The spiking circuit (see the module); returns (step process, the compartment to compare at the end)."""
    with Context(name):
        z0 = PoissonCell("z0", 784, target_freq=63.75, seed=1)
        W1 = TraceSTDPSynapse("W1", (784, 100), A_plus=1e-2, A_minus=1e-4, eta=1.0, optim_type="sgd", w_bound=1.0,
                              weight_init={"dist": "uniform", "amin": 0.0, "amax": 0.3}, seed=2)
        z1 = LIFCell("z1", 100, tau_m=100.5, resist_m=100.5, thr=-52.0, v_rest=-65.0, v_reset=-60.0,
                     tau_theta=1e7, theta_plus=0.05, refract_time=5.0, seed=3)
        tr0 = VarTrace("tr0", 784, tau_tr=20.0, a_delta=0.0)
        tr1 = VarTrace("tr1", 100, tau_tr=20.0, a_delta=0.0)
        z0.outputs >> W1.inputs
        W1.outputs >> z1.j
        z0.outputs >> tr0.inputs
        z1.s >> tr1.inputs
        tr0.trace >> W1.preTrace
        z0.outputs >> W1.preSpike
        tr1.trace >> W1.postTrace
        z1.s >> W1.postSpike
        step = learning_step((W1, z0, z1, tr0, tr1), W1, z1.s)
    z0.inputs.set(np.random.default_rng(0).random((1, 784)).astype(np.float32))
    return step, W1.weights


def rate(name, batch=50):
    """The rate circuit (see the module) at ``batch``; returns (step process, the compartment to compare at the
    end)."""
    with Context(name):
        z0 = RateCell("z0", 64, 0.0, batch_size=batch)
        W1 = HebbianSynapse("W1", (64, 128), eta=0.001, optim_type="adam", sign_value=-1.0, w_bound=0.0,
                            batch_size=batch, seed=1)
        e1 = GaussianErrorCell("e1", 128, batch_size=batch)
        z1 = RateCell("z1", 128, 20.0, act_fx="tanh", batch_size=batch)
        E1 = DenseSynapse("E1", (128, 128), batch_size=batch, seed=2)
        z0.zF >> W1.inputs
        z0.zF >> W1.pre
        W1.outputs >> e1.mu
        z1.z >> e1.target
        e1.dmu >> W1.post
        e1.dmu >> E1.inputs
        E1.outputs >> z1.j
        step = learning_step((z0, W1, E1, z1, e1), W1, e1.L)
    z0.j.set(np.random.default_rng(0).random((batch, 64)).astype(np.float32))
    return step, W1.weights


CIRCUITS = {"spiking": spiking, "rate": rate}
KEYWORDS = {"dt": DT, "t": lambda row: row * DT}
"""A step's keywords (a process takes the ones it needs): t advances with the row."""
_built = iter(range(10**6))


def by_calls(step, steps):
    """Seconds, watched values and final state of ``steps`` runs of ``step``, one call each."""
    watched = []
    start = time.perf_counter()
    for row in range(steps):
        _, values = step.run(row_seed=row, **KEYWORDS)
        watched.append(tuple(np.array(value) for value in values))
    seconds = time.perf_counter() - start
    return seconds, tuple(np.stack(series) for series in zip(*watched)), stateManager.state


def by_scan(step, steps):
    """Seconds, watched values and final state of one ``scan`` of ``steps`` rows (the final state then set, as
    ``run`` sets it)."""
    rows = step.pack_rows(steps, **KEYWORDS)
    start = time.perf_counter()
    final, watched = step.scan(rows)
    seconds = time.perf_counter() - start
    stateManager.set_state(final)
    return seconds, watched, final


WAYS = {"per call": (by_calls, False), "run": (by_calls, True), "scan": (by_scan, True)}
"""How a circuit is stepped: the loop and whether the process runs as a compiled circuit."""


def measure(circuit, steps, rounds, **options):
    """Median seconds per step of each way over ``rounds`` alternating rounds, each on a fresh circuit built
    with ``options``; checks that all ways agree bit for bit."""
    times = {way: [] for way in WAYS}
    for _ in range(rounds):
        expected = None
        for way, (run, compiled) in WAYS.items():
            step, weights = CIRCUITS[circuit](f"{circuit}{next(_built)}", **options)
            step.compiled_circuit = compiled
            run(step, 5)
            seconds, watched, final = run(step, steps)
            times[way].append(seconds / steps)
            if expected is None:
                expected = (watched, final[weights.target].copy())
            else:
                for got, want in zip(watched, expected[0]):
                    np.testing.assert_array_equal(got, want)
                np.testing.assert_array_equal(final[weights.target], expected[1])
    return {way: statistics.median(values) for way, values in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=500, help="simulated steps per run (500)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (5)")
    parser.add_argument("--rate-batches", type=int, nargs="+", default=[1, 10, 50],
                        help="batch sizes of the rate circuit (1 10 50)")
    args = parser.parse_args(argv)
    print(f"us per step, median of {args.rounds} rounds of {args.steps} steps (the same bits all three ways)")
    cases = [("spiking", "spiking", {})] + [(f"rate {batch}", "rate", {"batch": batch}) for batch in args.rate_batches]
    for label, circuit, options in cases:
        times = measure(circuit, args.steps, args.rounds, **options)
        calls = times["per call"]
        ratio = calls / times["scan"]
        print(f"{label:<8} per call {calls * 1e6:8.1f}   run {times['run'] * 1e6:8.1f} "
              f"({calls / times['run']:4.2f}x)   scan {times['scan'] * 1e6:8.1f} ({ratio:5.2f}x; "
              f"target >= {TARGET}x: {'met' if ratio >= TARGET else 'NOT met'})")


if __name__ == "__main__":
    main()
