"""Benchmark of ngc_optim's components: MethodProcess overhead, Hebbian and STDP evolve against NumPy.

Part 1, a process of 10 components (4 RateCells with tanh, 3 DenseSynapses, 3
GaussianErrorCells; batch 50, 128 units), wired as the layers of a predictive-coding
network, ``MethodProcess.run(dt=1.0)`` calling every ``advance_state``, at batch 50 and
128 units and at batch 1 and 1 unit (whose arithmetic is negligible: the fixed cost of a
call). Per step, each way:

* ``per call``: ``run`` through ngcsimlib's compiled Python (``compiled_circuit = False``):
  one Python call per component method;
* ``run, circuit``: ``run`` as one call of the process's compiled circuit (``ngc_optim.circuit``);
* ``scan, circuit``: ``scan`` of 20 rows, all in one call of the circuit (per step);

and the ratios to the per-call path.

Part 2, ``HebbianSynapse.evolve`` (float32, batch 50, w_bound 1, gaussian prior
1e-3, sign -1) for a 784x512 and a 4096x4096 synapse with each optimizer at its
default hyperparameters, called through ``MethodProcess.run``, against the same
step written in NumPy (the product, then the bound, prior and sign with in-place
ufuncs, the optimizer's NumPy twin from ``bench_optim.py``, the clip), which is
checked at start-up to reproduce the synapse bit for bit. ``matmul`` is the
Hebbian product alone (``(pre * pre_wght).T @ (post * post_wght)``), which both
compute the same way; subtracting it leaves the element-wise part, fused into one
pass over W in ours. ``in-place`` is the same synapse built with ``in_place=True``
(ours writes the new weights into other arrays, ngc-learn's value semantics:
``ours/ip`` is the cost of that, the two measured in rounds of their own, one
after the other: after a matrix product, OpenBLAS's spinning threads slow
whatever runs next). The per-call overhead of evolve is reported
separately, from a 2x2 synapse.

Part 3, ``TraceSTDPSynapse.evolve`` (float32, 784x1000, batch 1, SGD, A_plus 0.01,
A_minus 0.005, pretrace_target 0.1, w_bound 1; mu 0 and mu 0.5) through
``MethodProcess.run``, against the same update written plainly in NumPy (ngc-learn's
formula: the two products, the weight-dependent factors, ``W += eta * dW``, the
clip), which is checked at start-up to agree with the synapse.

Times are medians over interleaved rounds (every candidate of a row runs once
per round); ratios are medians of per-round ratios (> 1: ours faster).
"""

import argparse
import itertools
import os
import platform
import statistics
import sys

import numpy as np
from ngc_optim.components import DenseSynapse, GaussianErrorCell, HebbianSynapse, RateCell, TraceSTDPSynapse

import ngc_optim
from ngc_optim import Context, MethodProcess

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_optim import STEP, Batch, build_rules, measure, paired_ratio

SHAPES = ((784, 512), (4096, 4096))
BATCH = 50
UNITS = 128
LAYERS = 3
SETTINGS = {"w_bound": 1.0, "prior": ("gaussian", 1e-3), "sign_value": -1.0}
_names = itertools.count()


def ten_components(batch, units):
    """The 10-component process (4 rate cells, 3 synapses, 3 error cells) and its context."""
    with Context(f"ten{next(_names)}") as context:
        cells = [RateCell(f"z{i}", units, batch_size=batch, tau_m=10.0, act_fx="tanh") for i in range(LAYERS + 1)]
        synapses = [DenseSynapse(f"W{i}", (units, units), batch_size=batch, seed=i) for i in range(LAYERS)]
        errors = [GaussianErrorCell(f"e{i}", units, batch_size=batch) for i in range(LAYERS)]
        for i in range(LAYERS):
            cells[i].zF >> synapses[i].inputs
            synapses[i].outputs >> errors[i].mu
            cells[i + 1].z >> errors[i].target
            errors[i].dmu >> cells[i + 1].j
        process = MethodProcess("advance")
        for component in cells + synapses + errors:
            process >> component.advance_state
    cells[0].j.set(np.random.default_rng(0).standard_normal((batch, units)).astype(np.float32))
    return context, process


def run_process(process):
    process.run(dt=1.0)


SCAN_ROWS = 20


def scan_process(process, rows):
    process.scan(rows)


def bench_process(budget, min_repeats):
    print(f"\n== MethodProcess of 10 components, us per step (scan: {SCAN_ROWS} rows per call) ==")
    for batch, units in ((BATCH, UNITS), (1, 1)):
        _, calls = ten_components(batch, units)
        _, circuit = ten_components(batch, units)
        _, scanned = ten_components(batch, units)
        calls.compiled_circuit = False
        rows = scanned.pack_rows(SCAN_ROWS, dt=1.0)
        samples = measure([Batch(run_process, (calls,)), Batch(run_process, (circuit,)),
                           Batch(scan_process, (scanned, rows))], budget, min_repeats)
        per_call, run, scan = (statistics.median(s) for s in samples)
        scan /= SCAN_ROWS
        print(f"batch {batch:>3}, {units:>3} units: per call {per_call * 1e6:8.1f}   run, circuit {run * 1e6:8.1f} "
              f"({per_call / run:4.2f}x)   scan, circuit {scan * 1e6:8.1f} ({per_call / scan:5.2f}x)")


class NumpyHebbian:
    """The synapse's evolve step in NumPy, at step t = ``bench_optim.STEP``, on its own arrays."""

    def __init__(self, rule, synapse):
        self.rule = rule
        self.weights = synapse.weights.get().copy()
        self.biases = synapse.biases.get().copy()
        self.state = [array.copy() for array in synapse.opt_state.arrays("weights")]
        self.bias_state = [array.copy() for array in synapse.opt_state.arrays("biases")]
        self.scratch = [np.empty_like(self.weights) for _ in range(max(rule.scratch, 1))]
        self.bias_scratch = [np.empty_like(self.biases) for _ in range(rule.scratch)]
        self.pre = synapse.pre.get()
        self.post = synapse.post.get()
        self.synapse = synapse

    def step(self):
        synapse = self.synapse
        scaled_post = self.post * synapse.post_wght
        d_biases = np.sum(scaled_post, axis=0, keepdims=True) * synapse.sign_value
        d_weights = (self.pre * synapse.pre_wght).T @ scaled_post
        scratch = self.scratch[0]
        np.abs(self.weights, out=scratch)
        np.subtract(synapse.w_bound, scratch, out=scratch)
        np.multiply(d_weights, scratch, out=d_weights)
        np.multiply(self.weights, -synapse.lmbda, out=scratch)
        np.add(d_weights, scratch, out=d_weights)
        np.multiply(d_weights, synapse.sign_value, out=d_weights)
        self.rule.numpy_fn(self.weights, d_weights, *self.state, *self.scratch[:self.rule.scratch],
                           *self.rule.numpy_scalars)
        np.clip(self.weights, synapse.low, synapse.w_bound, out=self.weights)
        self.rule.numpy_fn(self.biases, d_biases, *self.bias_state, *self.bias_scratch, *self.rule.numpy_scalars)


def hebbian(shape, name, in_place=False):
    """A HebbianSynapse with ``name``'s default hyperparameters, random pre and post, and its evolve process."""
    optimizer = ngc_optim.get_optimizer(name)
    kwargs = {key: value for key, value in optimizer.get_hyperparameters().items()
              if key not in ("eta", "regularization", "weight_decay")}
    with Context(f"hebb{next(_names)}"):
        synapse = HebbianSynapse("W", shape, eta=optimizer.eta, optim_type=name, optim_kwargs=kwargs,
                                 weight_init={"dist": "uniform", "amin": -0.5, "amax": 0.5},
                                 bias_init={"dist": "constant", "value": 0.0}, batch_size=BATCH, in_place=in_place,
                                 **SETTINGS)
        evolve = MethodProcess("evolve") >> synapse.evolve
    rng = np.random.default_rng(1)
    synapse.pre.set(rng.standard_normal((BATCH, shape[0])).astype(np.float32))
    synapse.post.set(rng.standard_normal((BATCH, shape[1])).astype(np.float32) * 0.1)
    return synapse, evolve


def check_twin(rule):
    """Raise ``RuntimeError`` unless the NumPy step reproduces the synapse's step t = STEP bit for bit."""
    synapse, evolve = hebbian((37, 23), rule.name)
    synapse.opt_state.count = STEP - 1
    twin = NumpyHebbian(rule, synapse)
    evolve.run(dt=1.0)
    twin.step()
    if not (np.array_equal(twin.weights, synapse.weights.get()) and np.array_equal(twin.biases, synapse.biases.get())):
        raise RuntimeError(f"the NumPy Hebbian step of {rule.name} does not reproduce the synapse")


def matmul(synapse):
    return (synapse.pre.get() * synapse.pre_wght).T @ (synapse.post.get() * synapse.post_wght)


def bench_hebbian(budget, min_repeats, names):
    rules = build_rules()
    for name in names:
        check_twin(rules[name])
    print("\n== HebbianSynapse.evolve, float32, batch 50 (ms per call; ratios NumPy / ours) ==")
    print("ours: new weights in other arrays (ngc-learn's values, the default); in-place: in_place=True")
    print(f"{'shape':<10} {'optimizer':<9} {'ours':>8} {'in-place':>8} {'ours/ip':>8} {'numpy':>8} {'np/ours':>8} "
          f"{'matmul':>8} {'ours-mm':>8} {'np-mm':>8} {'elementwise np/ours':>20}")
    for shape in SHAPES:
        for name in names:
            synapse, evolve = hebbian(shape, name)
            _, evolve_in_place = hebbian(shape, name, in_place=True)
            twin = NumpyHebbian(rules[name], synapse)
            samples = measure([Batch(run_process, (evolve,)), Batch(twin.step, ()), Batch(matmul, (synapse,))],
                              budget, min_repeats)
            pair = measure([Batch(run_process, (evolve,)), Batch(run_process, (evolve_in_place,))], budget,
                           min_repeats)
            ours, numpy_, product = (statistics.median(s) for s in samples)
            in_place = statistics.median(pair[1])
            ours_rest = [a - b for a, b in zip(samples[0], samples[2])]
            numpy_rest = [a - b for a, b in zip(samples[1], samples[2])]
            print(f"{shape[0]}x{shape[1]:<5} {name:<9} {ours * 1e3:8.3f} {in_place * 1e3:8.3f} "
                  f"{paired_ratio(pair[0], pair[1]):7.3f}x {numpy_ * 1e3:8.3f} "
                  f"{paired_ratio(samples[1], samples[0]):7.2f}x {product * 1e3:8.3f} "
                  f"{statistics.median(ours_rest) * 1e3:8.3f} {statistics.median(numpy_rest) * 1e3:8.3f} "
                  f"{paired_ratio(numpy_rest, ours_rest):19.2f}x")
            del synapse, evolve, evolve_in_place, twin
    synapse, evolve = hebbian((2, 2), "adam")
    state, pre, post = synapse.opt_params.get(), synapse.pre.get(), synapse.post.get()
    weights, biases, mask = synapse.weights.get(), synapse.biases.get(), synapse.mask.get()
    samples = measure([Batch(run_process, (evolve,)), Batch(synapse.plan.evolve, (state, pre, post, weights, biases, mask))],
                      budget, min_repeats)
    run, plan = (statistics.median(s) for s in samples)
    print(f"\nper-call overhead of evolve (2x2 Adam synapse): MethodProcess.run {run * 1e6:.1f} us, "
          f"of which the synapse's own step (checks, product, two kernel calls) {plan * 1e6:.1f} us")


STDP_SHAPE = (784, 1000)
STDP_SETTINGS = {"A_plus": 0.01, "A_minus": 0.005, "eta": 1.0, "pretrace_target": 0.1, "w_bound": 1.0}


def numpy_stdp(weights, pre_spike, post_spike, pre_trace, post_trace, A_plus, A_minus, eta, mu, pretrace_target,
               w_bound):
    """One trace-STDP step with SGD, in plain NumPy (ngc-learn's formula); W in place, returns dW."""
    if mu > 0:
        d_weights = ((w_bound - weights) ** mu * ((pre_trace - pretrace_target).T @ post_spike)) * A_plus \
            - (weights ** mu * (pre_spike.T @ post_trace)) * A_minus
    else:
        d_weights = (pre_trace - pretrace_target).T @ (post_spike * A_plus) - pre_spike.T @ (post_trace * A_minus)
    weights += eta * d_weights
    np.clip(weights, 0.0, w_bound, out=weights)
    return d_weights


def stdp(shape, mu):
    """A TraceSTDPSynapse (SGD) with batch 1, random spikes (rate 0.1) and traces, and its evolve process."""
    with Context(f"stdp{next(_names)}"):
        synapse = TraceSTDPSynapse("W", shape, mu=mu, optim_type="sgd", **STDP_SETTINGS)
        evolve = MethodProcess("evolve") >> synapse.evolve
    rng = np.random.default_rng(2)
    for name, units in (("preSpike", shape[0]), ("postSpike", shape[1])):
        getattr(synapse, name).set((rng.random((1, units)) < 0.1).astype(np.float32))
    synapse.preTrace.set(rng.random((1, shape[0]), dtype=np.float32))
    synapse.postTrace.set(rng.random((1, shape[1]), dtype=np.float32))
    arguments = (synapse.weights.get().copy(), synapse.preSpike.get(), synapse.postSpike.get(), synapse.preTrace.get(),
                 synapse.postTrace.get(), *(STDP_SETTINGS[key] for key in ("A_plus", "A_minus", "eta")), mu,
                 STDP_SETTINGS["pretrace_target"], STDP_SETTINGS["w_bound"])
    return synapse, evolve, arguments


def bench_stdp(budget, min_repeats):
    for mu in (0.0, 0.5):
        synapse, evolve, arguments = stdp((37, 23), mu)
        evolve.run(dt=1.0)
        numpy_stdp(*arguments)
        if not np.allclose(arguments[0], synapse.weights.get(), rtol=1e-6, atol=1e-7):
            raise RuntimeError(f"the NumPy STDP step (mu {mu}) does not agree with the synapse")
    print(f"\n== TraceSTDPSynapse.evolve, float32, {STDP_SHAPE[0]}x{STDP_SHAPE[1]}, batch 1, SGD "
          f"(ms per call; ratio NumPy / ours) ==")
    print(f"{'mu':<5} {'ours':>8} {'numpy':>8} {'np/ours':>8}")
    for mu in (0.0, 0.5):
        synapse, evolve, arguments = stdp(STDP_SHAPE, mu)
        samples = measure([Batch(run_process, (evolve,)), Batch(numpy_stdp, arguments)], budget, min_repeats)
        ours, numpy_ = (statistics.median(s) for s in samples)
        print(f"{mu:<5} {ours * 1e3:8.3f} {numpy_ * 1e3:8.3f} {paired_ratio(samples[1], samples[0]):7.2f}x")


PARTS = ("process", "hebbian", "stdp")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per candidate and row (1.0)")
    parser.add_argument("--min-repeats", type=int, default=7, help="least rounds per row (7)")
    parser.add_argument("--optimizers", nargs="+", default=["sgd", "nag", "momentum", "rmsprop", "adam", "adamw"],
                        choices=["sgd", "nag", "momentum", "rmsprop", "adam", "adamw"])
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS),
                        help="what to time (all: process hebbian stdp)")
    args = parser.parse_args(argv)
    print(f"ngc_optim {ngc_optim.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if "process" in args.parts:
        bench_process(args.budget, args.min_repeats)
    if "hebbian" in args.parts:
        bench_hebbian(args.budget, args.min_repeats, args.optimizers)
    if "stdp" in args.parts:
        bench_stdp(args.budget, args.min_repeats)


if __name__ == "__main__":
    main()
