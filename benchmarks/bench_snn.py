"""Benchmark of a Diehl & Cook spiking network with STDP: simulated ms per wall second, ours against NumPy.

The network is the excitatory/inhibitory layer of ngc-museum's
``exhibits/diehl_cook_snn`` (Diehl & Cook, 2015), batch 1, dt = 1 ms, built from
``ngc_optim.components`` in an ngcsimlib ``Context``:

    z0   PoissonCell(784, target_freq 63.75), inputs a fixed random image in [0, 1]
    W1   TraceSTDPSynapse(784x1000, A_plus 1e-2, A_minus 1e-4, eta 1, sgd, w_bound 1, W ~ U(0, 0.3))
    z1e  LIFCell(1000, tau_m 100.5, resist_m tau_m/dt, thr -52, v_rest -65, v_reset -60,
                 tau_theta 1e7, theta_plus 0.05, refract_time 5, one_spike)
    z1i  LIFCell(1000, tau_m 100.5, resist_m tau_m/dt, thr -40, v_rest -60, v_reset -45,
                 tau_theta 0, refract_time 5)
    W1ie StaticSynapse(1000x1000), -120 off the diagonal, 0 on it: z1i.s -> z1e.j (summed with W1.outputs)
    W1ei StaticSynapse(1000x1000), 22.5 on the diagonal:          z1e.s -> z1i.j
    tr0, tr1  VarTrace(784 / 1000, tau_tr 20, exp, a_delta 0) of z0.outputs and z1e.s
    W1's preTrace, preSpike, postTrace, postSpike <- tr0.trace, z0.outputs, tr1.trace, z1e.s

Each simulated ms runs one ``advance_state`` process (W1, W1ie, W1ei, z0, z1e,
z1i, tr0, tr1, the exhibit's order), then W1's ``evolve`` process, through ngcsimlib
one call per component (``compiled_circuit = False``: ``ours, per call``); ``ours, scan``
runs one process of both (``learn``: advance, then evolve) as a compiled circuit
(``ngc_optim.circuit``), ``--steps`` simulated ms in one ``scan`` that returns each step's
spikes (and ``ours, scan, no STDP`` the advance process alone). The synapses
multiply a spiking row by summing the weight rows of its spikes
(``cell_kernels.product_into``: the product's sum without its zero terms), and
W1's STDP, batch-1 SGD, updates only the rows of the inputs and the columns of
the cells that spiked (``hebbian_kernels.stdp_sgd_events``: the same bits as
updating every weight, which reads and writes all of them each step; in a scan,
where nothing reads W1's dW, dW is written once, after the last step). The same network is written as
plain vectorised NumPy (:class:`NumpySNN`: float32, the same equations in the
same order, its own ``numpy.random.Generator``), the issue's reference, and
again with event-driven products (:class:`EventNumpySNN`), which shows how much
of the gain is the algorithm and how much compiling; all run in the same
process, from the same initial weights.

Printed: simulated ms per wall second (median over ``--repeats`` runs of
``--steps`` simulated ms each, after ``--warmup`` ms; ours and NumPy interleaved)
and the ratios (medians of the per-repeat ratios), the time per step in the
advance and the evolve phases of each, ours with W1's evolve off (no STDP), and
the statistical agreement of the simulations (mean firing rates of z0, z1e
and z1i over the timed steps of each repeat; spikes cannot agree bit for bit,
the random streams differ).

OpenBLAS runs on one thread (``OPENBLAS_NUM_THREADS=1`` unless set otherwise),
for both: the products here are batch-1 matrix-vector products, and with two
threads on this shared 2-core machine one such product of ours or NumPy's took
a median 6-8 ms instead of 0.06-0.15 ms whenever another process held the
other core.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import platform
import statistics
import time

import numpy as np
from ngc_optim.components import LIFCell, PoissonCell, StaticSynapse, TraceSTDPSynapse, VarTrace
from ngcsimlib.global_state import stateManager
from ngcsimlib.operations import Summation

import ngc_optim
from ngc_optim import Context, MethodProcess

N_IN, N_HID = 784, 1000
DT = 1.0
TAU_M = 100.500896468
TARGET_FREQ = 63.75
TAU_TR = 20.0
A_PLUS, A_MINUS, ETA, W_BOUND = 1e-2, 1e-4, 1.0, 1.0
EXCITATORY = {"tau_m": TAU_M, "resist_m": TAU_M / DT, "thr": -52.0, "v_rest": -65.0, "v_reset": -60.0,
              "tau_theta": 1e7, "theta_plus": 0.05, "refract_time": 5.0, "one_spike": True}
INHIBITORY = {"tau_m": TAU_M, "resist_m": TAU_M / DT, "thr": -40.0, "v_rest": -60.0, "v_reset": -45.0,
              "tau_theta": 0.0, "refract_time": 5.0}
RATE_TOLERANCE = 0.25
"""The mean firing rates of ours and NumPy's agree when their relative difference is at most this, or when the
difference of the spike counts is within 3 standard deviations of Poisson counting noise (sqrt(a + b))."""


def hollow(n, value):
    """``value`` off the diagonal, 0 on it (ngc-learn's ``dist.hollow``)."""
    weights = np.full((n, n), value, np.float32)
    np.fill_diagonal(weights, 0.0)
    return weights


def eye(n, value):
    """``value`` on the diagonal, 0 off it (ngc-learn's ``dist.eye``)."""
    return np.eye(n, dtype=np.float32) * np.float32(value)


def run(simulation, steps, learn=True):
    """Simulate ``steps`` ms of ``simulation`` (its ``step(learn)`` returns the clock between its advance and its
    evolve, ``spikes()`` the spike counts of z0, z1e, z1i); returns (advance seconds, evolve seconds, spikes)."""
    clock = time.perf_counter
    advance, evolve = 0.0, 0.0
    spikes = np.zeros(3)
    for _ in range(steps):
        start = clock()
        middle = simulation.step(learn)
        end = clock()
        advance += middle - start
        evolve += end - middle
        simulation.t += DT
        spikes += simulation.spikes()
    return advance, evolve, spikes


class OursSNN:
    """The network from ngc_optim's components: an ``advance`` and an ``evolve`` MethodProcess."""

    def __init__(self, name, image, seed):
        with Context(name) as self.context:
            self.z0 = PoissonCell("z0", N_IN, target_freq=TARGET_FREQ, seed=seed)
            self.W1 = TraceSTDPSynapse("W1", (N_IN, N_HID), A_plus=A_PLUS, A_minus=A_MINUS, eta=ETA,
                                       optim_type="sgd", w_bound=W_BOUND,
                                       weight_init={"dist": "uniform", "amin": 0.0, "amax": 0.3}, seed=seed + 1)
            self.z1e = LIFCell("z1e", N_HID, seed=seed + 2, **EXCITATORY)
            self.z1i = LIFCell("z1i", N_HID, seed=seed + 3, **INHIBITORY)
            # the initialisers have no hollow or eye: constant, then the weights set below
            self.W1ie = StaticSynapse("W1ie", (N_HID, N_HID), weight_init={"dist": "constant", "value": 0.0})
            self.W1ei = StaticSynapse("W1ei", (N_HID, N_HID), weight_init={"dist": "constant", "value": 0.0})
            self.tr0 = VarTrace("tr0", N_IN, tau_tr=TAU_TR, decay_type="exp", a_delta=0.0)
            self.tr1 = VarTrace("tr1", N_HID, tau_tr=TAU_TR, decay_type="exp", a_delta=0.0)

            self.z0.outputs >> self.W1.inputs
            self.z1i.s >> self.W1ie.inputs
            Summation(self.W1.outputs, self.W1ie.outputs) >> self.z1e.j
            self.z1e.s >> self.W1ei.inputs
            self.W1ei.outputs >> self.z1i.j
            self.z0.outputs >> self.tr0.inputs
            self.z1e.s >> self.tr1.inputs
            self.tr0.trace >> self.W1.preTrace
            self.z0.outputs >> self.W1.preSpike
            self.tr1.trace >> self.W1.postTrace
            self.z1e.s >> self.W1.postSpike

            self.advance = MethodProcess("advance")
            self.learn = MethodProcess("learn")
            for component in (self.W1, self.W1ie, self.W1ei, self.z0, self.z1e, self.z1i, self.tr0, self.tr1):
                self.advance >> component.advance_state
                self.learn >> component.advance_state
            self.learn >> self.W1.evolve
            self.evolve = MethodProcess("evolve") >> self.W1.evolve
            for process in (self.advance, self.learn):
                process.watch(self.z0.outputs, self.z1e.s, self.z1i.s)
        self.advance.compiled_circuit = self.evolve.compiled_circuit = False
        self.W1ie.weights.set(hollow(N_HID, -120.0))
        self.W1ei.weights.set(eye(N_HID, 22.5))
        self.z0.inputs.set(image)
        self.t = 0.0

    def step(self, learn):
        """One simulated ms: the advance process, then (if ``learn``) the evolve process."""
        self.advance.run(t=self.t, dt=DT)
        middle = time.perf_counter()
        if learn:
            self.evolve.run(t=self.t, dt=DT)
        return middle

    def spikes(self):
        return self.z0.outputs.get().sum(), self.z1e.s.get().sum(), self.z1i.s.get().sum()


def run_scan(simulation, steps, learn=True):
    """``steps`` ms of ``simulation`` (an OursSNN) in one scan of its learn (or advance) process as a compiled
    circuit; returns (seconds, 0, spike counts of z0, z1e, z1i), as ``run``."""
    process = simulation.learn if learn else simulation.advance
    process.compiled_circuit = True
    rows = process.pack_rows(steps, t=lambda step: simulation.t + step * DT, dt=DT)
    start = time.perf_counter()
    final, spikes = process.scan(rows, store_state=False, store_results=False)
    seconds = time.perf_counter() - start
    stateManager.set_state(final)
    simulation.t += steps * DT
    return seconds, 0.0, np.array([values.sum() for values in spikes])


class NumpySNN:
    """The same network in plain vectorised NumPy (float32), written from the components' docstrings.

    One step (``advance`` then ``evolve``), in the process's order; the synapses
    read the spikes of the previous step, the cells the currents of this one:

        W1.out = z0.s @ W1;  W1ie.out = z1i.s @ W1ie;  W1ei.out = z1e.s @ W1ei
        z0.s = [u < image * dt/1000 * target_freq],  u ~ U[0, 1)
        LIF (z1e with j = W1.out + W1ie.out, then z1i with j = W1ei.out):
            v' = v + ((v_rest - v) + j * resist_m * [rfr >= refract_time]) / tau_m * dt
            s = [v' > thr + theta];  rfr = 0 where s, else rfr + dt;  v = v_reset where s, else v'
            theta = theta * exp(-dt/tau_theta) + s * theta_plus    (z1e only: z1i has tau_theta 0)
            one_spike (z1e): of a step's spikes keep one, drawn uniformly (theta uses them all, as ours)
        tr0, tr1 (a_delta 0: a spike sets the trace to 1): tr = tr * exp(-dt/tau_tr) * (1 - s) + s
        STDP: dW = A_plus * outer(tr0, z1e.s) - A_minus * outer(z0.s, tr1);  W1 = clip(W1 + eta * dW, 0, w_bound)

    The cells' surrogate gradients and times of last spike, which nothing here
    reads, are not computed.
    """

    def __init__(self, image, weights, seed):
        f32 = np.float32
        self.rng = np.random.default_rng(seed)
        self.p = (image * f32(DT / 1000.0 * TARGET_FREQ)).astype(f32)
        self.W1 = weights.copy()
        self.W1ie, self.W1ei = hollow(N_HID, -120.0), eye(N_HID, 22.5)
        self.s0 = np.zeros((1, N_IN), f32)
        self.tr0 = np.zeros((1, N_IN), f32)
        self.tr1 = np.zeros((1, N_HID), f32)
        self.cells = [self._cell(EXCITATORY), self._cell(INHIBITORY)]
        self.trace_decay = f32(np.exp(-DT / TAU_TR))
        self.t = 0.0

    @staticmethod
    def _cell(settings):
        f32 = np.float32
        cell = {key: f32(value) for key, value in settings.items() if key != "one_spike"}
        cell["one_spike"] = settings.get("one_spike", False)
        cell["rate"] = f32(1.0 / settings["tau_m"])
        cell["theta_decay"] = f32(np.exp(-DT / settings["tau_theta"])) if settings["tau_theta"] > 0 else None
        cell["v"] = np.full((1, N_HID), settings["v_rest"], f32)
        cell["rfr"] = np.full((1, N_HID), settings["refract_time"], f32)
        cell["theta"] = np.zeros((1, N_HID), f32)
        cell["s"] = np.zeros((1, N_HID), f32)
        return cell

    def _lif(self, cell, j):
        f32 = np.float32
        current = np.where(cell["rfr"] >= cell["refract_time"], j * cell["resist_m"], f32(0))
        v = cell["v"] + ((cell["v_rest"] - cell["v"]) + current) * cell["rate"] * f32(DT)
        spikes = v > cell["theta"] + cell["thr"]
        cell["rfr"] = np.where(spikes, f32(0), cell["rfr"] + f32(DT))
        cell["v"] = np.where(spikes, cell["v_reset"], v)
        if cell["theta_decay"] is not None:
            cell["theta"] = cell["theta"] * cell["theta_decay"] + spikes * cell["theta_plus"]
        if cell["one_spike"]:
            fired = np.flatnonzero(spikes)
            spikes = np.zeros_like(spikes)
            if fired.size:
                spikes.flat[fired[self.rng.integers(fired.size)]] = True
        cell["s"] = spikes.astype(f32)

    @staticmethod
    def _product(spikes, weights):
        return spikes @ weights

    def advance(self):
        excitatory, inhibitory = self.cells
        w1_out = self._product(self.s0, self.W1)
        w1ie_out = self._product(inhibitory["s"], self.W1ie)
        w1ei_out = self._product(excitatory["s"], self.W1ei)
        self.s0 = (self.rng.random((1, N_IN), np.float32) < self.p).astype(np.float32)
        self._lif(excitatory, w1_out + w1ie_out)
        self._lif(inhibitory, w1ei_out)
        self.tr0 = self.tr0 * self.trace_decay * (1 - self.s0) + self.s0
        self.tr1 = self.tr1 * self.trace_decay * (1 - excitatory["s"]) + excitatory["s"]

    def evolve(self):
        d_weights = A_PLUS * np.outer(self.tr0, self.cells[0]["s"]) - A_MINUS * np.outer(self.s0, self.tr1)
        self.W1 += np.float32(ETA) * d_weights.astype(np.float32, copy=False)
        np.clip(self.W1, 0.0, W_BOUND, out=self.W1)

    def step(self, learn):
        """One simulated ms: advance, then (if ``learn``) evolve."""
        self.advance()
        middle = time.perf_counter()
        if learn:
            self.evolve()
        return middle

    def spikes(self):
        return self.s0.sum(), self.cells[0]["s"].sum(), self.cells[1]["s"].sum()


class EventNumpySNN(NumpySNN):
    """NumpySNN with event-driven products, as a NumPy programmer who knows the spikes are sparse would write it
    (the figures of ours against it separate what the event-driven algorithm gains from what compiling does):
    a synapse sums the weight rows of its spiking inputs, and STDP updates only the rows of the spiking inputs
    and the columns of the spiking excitatory cells (elsewhere dW is 0, and the weights stay in [0, w_bound]).
    """

    @staticmethod
    def _product(spikes, weights):
        return weights[np.flatnonzero(spikes[0])].sum(axis=0, keepdims=True)

    def evolve(self):
        spikes, s0, tr0, tr1 = self.cells[0]["s"][0], self.s0[0], self.tr0[0], self.tr1[0]
        rows, cols = np.flatnonzero(s0), np.flatnonzero(spikes)
        d_rows = A_PLUS * np.outer(tr0[rows], spikes) - A_MINUS * np.outer(s0[rows], tr1)
        self.W1[rows] = np.clip(self.W1[rows] + np.float32(ETA) * d_rows, 0.0, W_BOUND)
        if cols.size:
            others = np.flatnonzero(s0 == 0)
            block = np.ix_(others, cols)
            self.W1[block] = np.clip(self.W1[block] + np.float32(ETA) * (A_PLUS * np.outer(tr0[others], spikes[cols])),
                                     0.0, W_BOUND)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=500, help="simulated ms per repeat (500)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats of each simulation (5)")
    parser.add_argument("--warmup", type=int, default=100, help="simulated ms before timing (100)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"ngc_optim {ngc_optim.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    image = np.random.default_rng(args.seed).random((1, N_IN), dtype=np.float32)
    ours = OursSNN("snn", image, args.seed)
    frozen = OursSNN("snn_frozen", image, args.seed)
    scanned = OursSNN("snn_scan", image, args.seed)
    scanned_frozen = OursSNN("snn_scan_frozen", image, args.seed)
    reference = NumpySNN(image, ours.W1.weights.get(), args.seed + 10)
    events = EventNumpySNN(image, ours.W1.weights.get(), args.seed + 20)
    assert np.array_equal(frozen.W1.weights.get(), reference.W1)
    for simulation in (ours, reference, events):
        run(simulation, args.warmup)
    run(frozen, args.warmup, learn=False)
    run_scan(scanned, args.warmup)
    run_scan(scanned_frozen, args.warmup, learn=False)

    results = {"ours": [], "numpy": [], "events": [], "frozen": [], "scan": [], "scan_frozen": []}
    for _ in range(args.repeats):
        results["ours"].append(run(ours, args.steps))
        results["scan"].append(run_scan(scanned, args.steps))
        results["numpy"].append(run(reference, args.steps))
        results["events"].append(run(events, args.steps))
        results["frozen"].append(run(frozen, args.steps, learn=False))
        results["scan_frozen"].append(run_scan(scanned_frozen, args.steps, learn=False))

    def per_second(run):
        return args.steps / (run[0] + run[1])

    print(f"\n== Diehl & Cook SNN: 784 Poisson -> 1000 LIF (+1000 inhibitory), STDP, dt {DT:g} ms, batch 1; "
          f"{args.repeats} x {args.steps} ms after {args.warmup} ms ==")
    print(f"{'':<26} {'sim ms/s':>9} {'advance us':>11} {'evolve us':>10} {'us/step':>8}  (scan: all in advance)")
    for key, label in (("ours", "ours, per call"), ("scan", "ours, scan"), ("numpy", "numpy"),
                       ("events", "numpy, event-driven"), ("frozen", "ours, per call, no STDP"),
                       ("scan_frozen", "ours, scan, no STDP")):
        runs = results[key]
        advance = statistics.median(run[0] for run in runs) / args.steps * 1e6
        evolve = statistics.median(run[1] for run in runs) / args.steps * 1e6
        rate = statistics.median(per_second(run) for run in runs)
        print(f"{label:<26} {rate:9.0f} {advance:11.1f} {evolve:10.1f} {1e6 / rate:8.1f}")
    ratio = statistics.median(per_second(a) / per_second(b) for a, b in zip(results["ours"], results["numpy"]))
    event_ratio = statistics.median(per_second(a) / per_second(b) for a, b in zip(results["ours"], results["events"]))
    stdp_share = 1 - statistics.median(
        (a[0] + a[1]) / (b[0] + b[1]) for a, b in zip(results["frozen"], results["ours"]))
    print(f"\nours / numpy: {ratio:.2f}x faster (target >= 10x: {'met' if ratio >= 10 else 'NOT met'})")
    print(f"ours / numpy, event-driven: {event_ratio:.2f}x faster (the part compiling gains)")
    print(f"share of STDP (evolve) in ours: {stdp_share:.0%} of the time per step (from the run without it)")
    for key, reference_key, label, target in (("scan", "ours", "ours, scan", 25.0),
                                              ("scan_frozen", "frozen", "ours, scan, no STDP", 15.0)):
        step_us = 1e6 / statistics.median(per_second(run) for run in results[key])
        gain = statistics.median(per_second(a) / per_second(b) for a, b in zip(results[key], results[reference_key]))
        print(f"{label}: {step_us:.1f} us per step, {gain:.2f}x the per-call path "
              f"(target <= {target:g} us: {'met' if step_us <= target else 'NOT met'})")

    print("\n== agreement: mean firing rate over all timed steps, Hz per unit ==")
    agree = True
    seconds = args.repeats * args.steps * DT / 1000.0
    for index, (name, units) in enumerate((("z0", N_IN), ("z1e", N_HID), ("z1i", N_HID))):
        counts = [sum(run[2][index] for run in results[key]) for key in ("ours", "numpy", "events", "scan")]
        rates = [count / seconds / units for count in counts]
        difference = abs(rates[0] - rates[1]) / max(rates[1], 1e-12)
        sigmas = abs(counts[0] - counts[1]) / max(np.sqrt(counts[0] + counts[1]), 1.0)
        agree &= difference <= RATE_TOLERANCE or sigmas <= 3.0
        print(f"{name:<4} ours {rates[0]:8.3f}  numpy {rates[1]:8.3f}  difference {difference:6.1%} "
              f"({sigmas:.1f} sigma of counting noise; spikes {counts[0]:.0f} / {counts[1]:.0f}; "
              f"event-driven numpy {rates[2]:.3f}, ours by scan {rates[3]:.3f})")
    weights = ours.W1.weights.get(), reference.W1, events.W1
    print(f"W1 mean after the run: ours {weights[0].mean():.5f}, numpy {weights[1].mean():.5f}, "
          f"event-driven numpy {weights[2].mean():.5f}")
    print(f"rates agree (within {RATE_TOLERANCE:.0%} or 3 sigma): {'yes' if agree else 'NO'}")


if __name__ == "__main__":
    main()
