"""Benchmark of ngc_optim's optimizer kernels against a memory roofline, NumPy and PyTorch.

Every optimizer step is a single pass over a few arrays, so its speed limit on a
CPU is memory bandwidth. The benchmark reports, for each rule, dtype and size N:

* ``ours``: median time of one step of the Numba kernel that
  ``ngc_optim.kernels.pick`` chooses for N (``mode`` ser = serial, par = prange),
  called directly, and the bandwidth it achieves, counting the bytes the rule
  must move per element (float32: SGD 12 B = read p, u, write p; NAG, momentum,
  RMSprop 20 B = read p, u, state, write p, state; Adam, AdamW 28 B = read p, u,
  g1, g2, write p, g1, g2; twice that in float64).
* ``stream``: a Numba kernel with exactly that traffic and no arithmetic
  (``p += u``; ``p += u; s += u``; ``p += u; g1 += u; g2 += u``), run in the same
  mode as ours. It is the practical roofline: ``%stream`` = stream time / our
  time, i.e. ours' GB/s as a percentage of the stream kernel's GB/s; 100 % means
  the rule costs nothing but its memory traffic.
* ``numpy``: the same formula written as in-place NumPy ufunc calls (``out=``,
  preallocated scratch), checked at start-up to give the kernel's results bit for
  bit; ``np/ours`` = NumPy time / our time (> 1: ours faster).
* torch: ``torch.optim`` on CPU with ``p.grad`` set to u (plain = ``foreach=False``,
  foreach, fused); the columns are torch time / our time (> 1: ours faster).
  Torch runs in a worker subprocess (``--torch-worker``), never in the process that
  runs Numba: it loads a second OpenMP runtime that disturbs Numba's worker
  threads. The worker times batches on request, so its batches interleave with
  ours like the other candidates of the row.

Then the cost of the object API at N = 1e3 (``opt.step`` per parameter array,
with 1 and 4 arrays, against calling the kernel directly and against NumPy), the
cold and warm start (``import ngc_optim`` plus the first call of every kernel in
a fresh process, with an empty and then with a filled ``NUMBA_CACHE_DIR``), and
the issue's targets, each marked met or not met.

``--crossover`` instead times the serial against the prange variant of every
rule in float32 for N = 2**12 .. 2**22 and prints the smallest N from which the
parallel kernel is faster at every size: the evidence for the default
``NGC_OPTIM_PARALLEL_THRESHOLD`` in ``ngc_optim/config.py``.

Timing: each time is a median over batches of calls (a batch lasts about a
tenth of ``--budget``; there are at least ``--min-repeats`` batches). The
candidates of one row (ours, stream, NumPy, the torch variants) are measured in
interleaved rounds, one batch each, so that the noise of a shared machine falls
on all of them alike, with a short pause whenever the timing passes between this
process and the torch worker (see ``SETTLE_SECONDS``). Every ratio is the median
of the per-round ratios of the two candidates' batches (:func:`paired_ratio`),
so it may differ a little from the ratio of the two printed medians. Every row
is measured ``--passes`` times and the least disturbed pass is reported (see
:func:`least_disturbed`): other work on a small machine only ever adds time, it
stalls two-thread parallel regions (Numba's and torch's alike) by whole
scheduler time slices, and the memory bandwidth this virtual machine gets
varies from minute to minute. Arrays are reused from step to step, so the small
sizes run from cache, as they would in a training loop. Run with the benchmark
environment, e.g. ``/work/bench-venv/bin/python benchmarks/bench_optim.py``;
without torch installed the torch columns are skipped.
"""

import argparse
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

import ngc_optim
from ngc_optim import config, kernels

RULE_NAMES = ("sgd", "nag", "momentum", "rmsprop", "adam", "adamw")
DEFAULT_SIZES = (10**3, 10**4, 10**5, 10**6, 16 * 10**6)
QUICK_SIZES = (10**3, 10**4)
DTYPES = {"float32": np.float32, "float64": np.float64}
API_SIZE = 1000
API_ARRAY_COUNTS = (1, 4)
CROSSOVER_EXPONENTS = range(12, 23)
STEP = 10
"""The step count t the direct kernel calls run with (NAG's t > 1 branch, Adam's corrections)."""

TORCH_VARIANTS = {
    "sgd": ("plain", "foreach", "fused"),
    "momentum": ("foreach",),
    "rmsprop": ("foreach",),
    "adam": ("foreach", "fused"),
    "adamw": ("foreach", "fused"),
}
"""The torch.optim variants compared with each rule (NAG has no torch counterpart)."""

TORCH_COLUMNS = ("plain", "foreach", "fused")


_STREAM_OPTIONS = {"error_model": "numpy", "nogil": True, "cache": False}
"""The stream kernels' Numba options: the library's, without the on-disk cache (they compile in
well under a second). Each serial and parallel variant is a function of its own, never two
dispatchers of one function object."""


@njit(parallel=False, **_STREAM_OPTIONS)
def stream12_serial(p, u):
    """Read p, u; write p: SGD's traffic."""
    for i in range(p.size):
        p[i] += u[i]


@njit(parallel=True, **_STREAM_OPTIONS)
def stream12_parallel(p, u):
    """Read p, u; write p: SGD's traffic, prange."""
    for i in prange(p.size):
        p[i] += u[i]


@njit(parallel=False, **_STREAM_OPTIONS)
def stream20_serial(p, u, s):
    """Read p, u, s; write p, s: the traffic of NAG, momentum and RMSprop."""
    for i in range(p.size):
        p[i] += u[i]
        s[i] += u[i]


@njit(parallel=True, **_STREAM_OPTIONS)
def stream20_parallel(p, u, s):
    """Read p, u, s; write p, s: the traffic of NAG, momentum and RMSprop, prange."""
    for i in prange(p.size):
        p[i] += u[i]
        s[i] += u[i]


@njit(parallel=False, **_STREAM_OPTIONS)
def stream28_serial(p, u, g1, g2):
    """Read p, u, g1, g2; write p, g1, g2: Adam's traffic."""
    for i in range(p.size):
        p[i] += u[i]
        g1[i] += u[i]
        g2[i] += u[i]


@njit(parallel=True, **_STREAM_OPTIONS)
def stream28_parallel(p, u, g1, g2):
    """Read p, u, g1, g2; write p, g1, g2: Adam's traffic, prange."""
    for i in prange(p.size):
        p[i] += u[i]
        g1[i] += u[i]
        g2[i] += u[i]


STREAM_KERNELS = {
    0: kernels.Kernel("stream12", stream12_serial, stream12_parallel),
    1: kernels.Kernel("stream20", stream20_serial, stream20_parallel),
    2: kernels.Kernel("stream28", stream28_serial, stream28_parallel),
}
"""Stream kernel by number of state arrays."""


def numpy_sgd(p, u, tmp, eta):
    """p = p - eta * u."""
    np.multiply(u, eta, out=tmp)
    np.subtract(p, tmp, out=p)


def numpy_nag(p, u, phi, tmp, eta, mu):
    """phi' = p - eta * u; p = phi' + mu * (phi' - phi); phi = phi' (the t > 1 branch)."""
    np.multiply(u, eta, out=tmp)
    np.subtract(p, tmp, out=tmp)
    np.subtract(tmp, phi, out=p)
    np.multiply(p, mu, out=p)
    np.add(tmp, p, out=p)
    np.copyto(phi, tmp)


def numpy_momentum(p, u, velocity, tmp, eta, mu):
    """v = mu * v - eta * u; p = p + v."""
    np.multiply(velocity, mu, out=velocity)
    np.multiply(u, eta, out=tmp)
    np.subtract(velocity, tmp, out=velocity)
    np.add(p, velocity, out=p)


def numpy_rmsprop(p, u, cache, tmp, tmp2, eta, decay, eps):
    """c = decay * c + (1 - decay) * u**2; p = p - eta * u / (sqrt(c) + eps)."""
    np.multiply(cache, decay, out=cache)
    np.multiply(u, u, out=tmp)
    np.multiply(tmp, 1.0 - decay, out=tmp)
    np.add(cache, tmp, out=cache)
    np.sqrt(cache, out=tmp)
    np.add(tmp, eps, out=tmp)
    np.multiply(u, eta, out=tmp2)
    np.divide(tmp2, tmp, out=tmp2)
    np.subtract(p, tmp2, out=p)


def numpy_adam(p, u, g1, g2, tmp, tmp2, eta, beta1, beta2, eps, inverse_correction1,
               inverse_correction2, shrink):
    """Adam (AdamW when ``shrink`` = eta * decoupled_decay is not zero), as ``kernels.adam``.

    g1 = b1*g1 + (1-b1)*u; g2 = b2*g2 + (1-b2)*u**2; p = p - shrink*p;
    p = p - eta * (g1*k1) / (sqrt(g2*k2) + eps), with k_j the inverse bias corrections.
    """
    np.multiply(g1, beta1, out=g1)
    np.multiply(u, 1.0 - beta1, out=tmp)
    np.add(g1, tmp, out=g1)
    np.multiply(g2, beta2, out=g2)
    np.multiply(u, u, out=tmp)
    np.multiply(tmp, 1.0 - beta2, out=tmp)
    np.add(g2, tmp, out=g2)
    if shrink != 0.0:
        np.multiply(p, shrink, out=tmp)
        np.subtract(p, tmp, out=p)
    np.multiply(g2, inverse_correction2, out=tmp)
    np.sqrt(tmp, out=tmp)
    np.add(tmp, eps, out=tmp)
    np.multiply(g1, inverse_correction1, out=tmp2)
    np.multiply(tmp2, eta, out=tmp2)
    np.divide(tmp2, tmp, out=tmp2)
    np.subtract(p, tmp2, out=p)


@dataclass(frozen=True)
class Rule:
    """One update rule: its kernel, its NumPy twin and the scalars both are called with.

    Attributes:
        name: optimizer name, as ``ngc_optim.get_optimizer`` takes it.
        kernel: the ``kernels.Kernel``.
        slots: number of state arrays.
        kernel_scalars: kernel arguments after the arrays (as ``opt.step`` passes them).
        numpy_fn: the NumPy implementation, called as ``(p, u, *state, *scratch, *numpy_scalars)``.
        scratch: number of scratch arrays ``numpy_fn`` needs.
        numpy_scalars: ``numpy_fn`` arguments after the arrays.
    """

    name: str
    kernel: kernels.Kernel
    slots: int
    kernel_scalars: tuple
    numpy_fn: object
    scratch: int
    numpy_scalars: tuple

    def bytes_per_element(self, itemsize):
        """Bytes the rule must read and write per element: p, u and the state in, p and the state out."""
        return (3 + 2 * self.slots) * itemsize


def build_rules():
    """The rules, with the optimizers' default hyperparameters, at step t = ``STEP``.

    The kernel scalars are taken from the optimizer (``_step_scalars``), so the
    kernel is timed with exactly the arguments ``opt.step`` passes it.
    """
    optimizers = {name: ngc_optim.get_optimizer(name) for name in RULE_NAMES}
    kernel_scalars = {name: tuple(opt._step_scalars(STEP)) for name, opt in optimizers.items()}
    sgd, nag, momentum, rmsprop = (optimizers[name] for name in ("sgd", "nag", "momentum", "rmsprop"))
    rules = {
        "sgd": Rule("sgd", kernels.sgd, 0, kernel_scalars["sgd"], numpy_sgd, 1, (sgd.eta,)),
        "nag": Rule("nag", kernels.nag, 1, kernel_scalars["nag"], numpy_nag, 1, (nag.eta, nag.mu)),
        "momentum": Rule("momentum", kernels.momentum, 1, kernel_scalars["momentum"], numpy_momentum, 1,
                         (momentum.eta, momentum.mu)),
        "rmsprop": Rule("rmsprop", kernels.rmsprop, 1, kernel_scalars["rmsprop"], numpy_rmsprop, 2,
                        (rmsprop.eta, rmsprop.decay, rmsprop.eps)),
    }
    for name in ("adam", "adamw"):
        opt = optimizers[name]
        decay = opt.decoupled_weight_decay if name == "adamw" else 0.0
        inverse_corrections = (1.0 / (1.0 - opt.beta1**STEP), 1.0 / (1.0 - opt.beta2**STEP))
        rules[name] = Rule(name, kernels.adam, 2, kernel_scalars[name], numpy_adam, 2,
                           (opt.eta, opt.beta1, opt.beta2, opt.eps, *inverse_corrections, opt.eta * decay))
    return rules


def check_numpy_twins(rules, dtypes):
    """Raise ``RuntimeError`` unless every NumPy implementation reproduces its kernel bit for bit.

    Three steps on 1000 elements with non-zero state, so that the NumPy side of the
    comparison provably runs the same formula, with the same roundings, as the kernel.
    """
    rng = np.random.default_rng(3)
    for dtype_name in dtypes:
        for rule in rules.values():
            p, u, _, scratch = _arrays(rule, 1000, DTYPES[dtype_name], rng)
            state = [np.abs(_random(1000, DTYPES[dtype_name], rng)) for _ in range(rule.slots)]
            p_numpy, state_numpy = p.copy(), [array.copy() for array in state]
            for _ in range(3):
                rule.kernel.serial(p, u, *state, *rule.kernel_scalars)
                rule.numpy_fn(p_numpy, u, *state_numpy, *scratch, *rule.numpy_scalars)
            if not all(np.array_equal(a, b) for a, b in zip([p, *state], [p_numpy, *state_numpy])):
                raise RuntimeError(f"the NumPy implementation of {rule.name} does not reproduce "
                                   f"its kernel in {dtype_name}")


def _run_batch(fn, args, count):
    """Seconds per call of ``fn(*args)`` over ``count`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(count):
        fn(*args)
    return (time.perf_counter() - start) / count


def _batch_count(fn, args, target):
    """Calls per batch so that a batch of ``fn(*args)`` lasts about ``target`` seconds."""
    count = 1
    while True:
        elapsed = _run_batch(fn, args, count) * count
        if elapsed >= target or count >= 1 << 24:
            return count
        count = max(2 * count, min(int(count * target / max(elapsed, 1e-9)), 16 * count))


class Batch:
    """A candidate timed in this process: ``fn(*args)`` called ``count`` times back to back."""

    remote = False

    def __init__(self, fn, args):
        self.fn = fn
        self.args = args
        self.count = 1

    def prepare(self, target):
        """Call once (compilation, page faults), then size a batch to about ``target`` seconds."""
        self.fn(*self.args)
        self.count = _batch_count(self.fn, self.args, target)

    def run(self):
        """Seconds per call over one batch."""
        return _run_batch(self.fn, self.args, self.count)


class RemoteBatch:
    """A candidate timed by the torch worker process (prepared by :meth:`TorchWorker.setup`)."""

    remote = True

    def __init__(self, worker, index, count):
        self.worker = worker
        self.index = index
        self.count = count

    def prepare(self, target):
        """Nothing to do: the worker has warmed up and sized the batch."""

    def run(self):
        """Seconds per call over one batch, timed inside the worker."""
        return self.worker.request(command="run", index=self.index)["seconds"]


SETTLE_SECONDS = 0.02
"""Pause when the timing passes between this process and the torch worker.

After a parallel region an OpenMP worker thread spins for a few milliseconds
before it sleeps; the pause lets the spinning threads of one process fall asleep
before the other process needs both cores.
"""


def measure(candidates, budget, min_repeats, max_rounds=400):
    """Seconds per call of each candidate, measured in interleaved rounds.

    Args:
        candidates: list of :class:`Batch` or :class:`RemoteBatch`; each is
            prepared first, with batches of about ``budget / 10`` seconds.
        budget: seconds to spend per candidate (after calibration).
        min_repeats: least number of batches per candidate.
        max_rounds: most number of batches per candidate.

    Returns:
        one list per candidate, in the order of ``candidates``, of its seconds per
        call in each round; entry r of every list comes from the same round r.
    """
    for candidate in candidates:
        candidate.prepare(budget / 10)
    samples = [[] for _ in candidates]
    spent = 0.0
    rounds = 0
    last_remote = None
    while rounds < max_rounds and (rounds < min_repeats or spent < budget * len(candidates)):
        for k in range(len(candidates)):
            index = (rounds + k) % len(candidates)
            candidate = candidates[index]
            if last_remote is not None and candidate.remote != last_remote:
                time.sleep(SETTLE_SECONDS)
            last_remote = candidate.remote
            seconds = candidate.run()
            samples[index].append(seconds)
            spent += seconds * candidate.count
        rounds += 1
    return samples


def paired_ratio(numerators, denominators):
    """The median over rounds of the ratio of two candidates' times in the same round.

    Pairing cancels what changes between rounds, e.g. the memory bandwidth this
    virtual machine gets, which switches between two levels every few seconds.
    """
    return statistics.median(a / b for a, b in zip(numerators, denominators))


def _times(figures):
    """All the times (floats) in ``figures``, a dict that may nest dicts."""
    for value in figures.values():
        if isinstance(value, dict):
            yield from _times(value)
        else:
            yield value


def least_disturbed(passes):
    """The pass with the lowest geometric mean of its times (``pass["times"]``).

    Other work on a shared machine only ever adds time, so that pass is the least
    disturbed one. All its figures are kept together: a ratio then compares two
    figures measured in the same interleaved rounds, never figures from passes
    that ran while the memory bandwidth available to this machine differed.
    """
    return min(passes, key=lambda figures: statistics.fmean(math.log(t) for t in _times(figures["times"])))


def _random(size, dtype, rng):
    return rng.standard_normal(size, dtype=np.float64).astype(dtype)


def _arrays(rule, size, dtype, rng):
    """(p, u, state arrays, scratch arrays) for one rule: p and u random, state zero."""
    p = _random(size, dtype, rng)
    u = _random(size, dtype, rng)
    state = [np.zeros(size, dtype) for _ in range(rule.slots)]
    scratch = [np.empty(size, dtype) for _ in range(rule.scratch)]
    return p, u, state, scratch


def measure_rule(rule, size, dtype_name, budget, min_repeats, rng, worker):
    """Time our kernel, the stream kernel in the same mode, NumPy and torch for one rule and size.

    Args:
        worker: a :class:`TorchWorker`, or None to leave torch out.

    Returns:
        dict with ``mode`` ("ser"/"par"); ``times``: median seconds per step of
        ``ours``, ``stream``, ``numpy`` and ``torch`` ({variant: seconds}); and
        ``ratios``: the paired ratios ``stream``, ``numpy`` and ``torch`` ({variant:
        ratio}), each that candidate's time over ours.
    """
    dtype = DTYPES[dtype_name]
    ours = kernels.pick(rule.kernel, size)
    parallel = ours is rule.kernel.parallel
    stream_kernel = STREAM_KERNELS[rule.slots]
    stream = stream_kernel.parallel if parallel else stream_kernel.serial
    p, u, state, scratch = _arrays(rule, size, dtype, rng)
    stream_arrays = [p.copy()] + [np.zeros(size, dtype) for _ in range(rule.slots)]
    numpy_p = p.copy()
    numpy_state = [np.zeros(size, dtype) for _ in range(rule.slots)]
    candidates = [
        Batch(ours, (p, u, *state, *rule.kernel_scalars)),
        Batch(stream, (stream_arrays[0], u, *stream_arrays[1:])),
        Batch(rule.numpy_fn, (numpy_p, u, *numpy_state, *scratch, *rule.numpy_scalars)),
    ]
    remote = worker.setup(dtype_name, size, rule.name, budget / 10) if worker else {}
    variants = list(remote)
    candidates += remote.values()
    ours_s, stream_s, numpy_s, *torch_s = measure(candidates, budget, min_repeats)
    return {
        "mode": "par" if parallel else "ser",
        "times": {"ours": statistics.median(ours_s), "stream": statistics.median(stream_s),
                  "numpy": statistics.median(numpy_s),
                  "torch": {variant: statistics.median(s) for variant, s in zip(variants, torch_s)}},
        "ratios": {"stream": paired_ratio(stream_s, ours_s), "numpy": paired_ratio(numpy_s, ours_s),
                   "torch": {variant: paired_ratio(s, ours_s) for variant, s in zip(variants, torch_s)}},
    }


def torch_available():
    """Whether torch can be imported (checked without importing it)."""
    return importlib.util.find_spec("torch") is not None


class TorchWorker:
    """This script run with ``--torch-worker``: times torch.optim batches on request.

    The two processes exchange one JSON object a line over the worker's stdin and
    stdout, so that torch batches interleave with the Numba batches of the same
    row without torch ever being imported here.
    """

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--torch-worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.info = self._reply()
        self.errors = {}

    def _reply(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"torch worker exited with code {self.process.wait()}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"torch worker: {reply['error']}")
        return reply

    def request(self, **message):
        """Send one request and return the worker's reply (a dict)."""
        self.process.stdin.write(json.dumps(message) + "\n")
        return self._reply()

    def setup(self, dtype_name, size, rule_name, target):
        """Build, warm up and size the torch variants of one rule.

        Returns:
            {variant: :class:`RemoteBatch`} for the variants that work; the others
            are left out and their error is kept in ``errors``.
        """
        if rule_name not in TORCH_VARIANTS:
            return {}
        reply = self.request(command="setup", dtype=dtype_name, size=size, rule=rule_name,
                             target=target)
        batches = {}
        for index, (variant, count) in enumerate(zip(TORCH_VARIANTS[rule_name], reply["counts"])):
            if count is None:
                self.errors[(rule_name, variant, dtype_name)] = reply["errors"][variant]
            else:
                batches[variant] = RemoteBatch(self, index, count)
        return batches

    def close(self):
        """Ask the worker to exit and wait for it."""
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait()


def torch_worker():
    """Serve timing requests (``--torch-worker``): read JSON lines on stdin, answer on stdout.

    Requests: ``{"command": "setup", "dtype", "size", "rule", "target"}`` builds the
    torch variants of a rule (``TORCH_VARIANTS``) with ``p.grad`` set, steps each
    once and sizes its batches to ``target`` seconds, answering ``{"counts": [...],
    "errors": {variant: message}}`` (count None for a variant that fails);
    ``{"command": "run", "index"}`` times one batch of a variant, answering
    ``{"seconds": seconds per step}``. The first line sent is ``{"version", "threads"}``;
    end of input ends the worker.
    """
    try:
        import torch
    except ImportError as error:
        print(json.dumps({"error": str(error)}), flush=True)
        return
    print(json.dumps({"version": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    rules = build_rules()
    steps, counts = [], []
    for line in sys.stdin:
        message = json.loads(line)
        try:
            if message["command"] == "setup":
                steps, counts, errors = [], [], {}
                dtype = getattr(torch, message["dtype"])
                size = message["size"]
                generator = torch.Generator().manual_seed(size)
                grad = torch.randn(size, dtype=dtype, generator=generator)
                for variant in TORCH_VARIANTS[message["rule"]]:
                    param = torch.nn.Parameter(torch.randn(size, dtype=dtype, generator=generator))
                    param.grad = grad
                    try:
                        optimizer = _torch_optimizer(torch, message["rule"], variant, param,
                                                     rules[message["rule"]])
                        optimizer.step()
                    except (RuntimeError, ValueError, TypeError) as error:
                        steps.append(None)
                        counts.append(None)
                        errors[variant] = f"{type(error).__name__}: {error}"
                        continue
                    steps.append(optimizer.step)
                    counts.append(_batch_count(optimizer.step, (), message["target"]))
                reply = {"counts": counts, "errors": errors}
            else:
                index = message["index"]
                reply = {"seconds": _run_batch(steps[index], (), counts[index])}
        except Exception as error:  # noqa: BLE001 - reported to the parent, which raises it
            reply = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(reply), flush=True)


def _torch_optimizer(torch, name, variant, param, rule):
    """A torch.optim optimizer for ``param`` with the hyperparameters of ``rule``."""
    flags = {"plain": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}[variant]
    scalars = rule.numpy_scalars
    if name == "sgd":
        return torch.optim.SGD([param], lr=scalars[0], **flags)
    if name == "momentum":
        return torch.optim.SGD([param], lr=scalars[0], momentum=scalars[1], **flags)
    if name == "rmsprop":
        eta, decay, eps = scalars
        return torch.optim.RMSprop([param], lr=eta, alpha=decay, eps=eps, **flags)
    eta, beta1, beta2, eps = scalars[:4]
    if name == "adam":
        return torch.optim.Adam([param], lr=eta, betas=(beta1, beta2), eps=eps, **flags)
    decay = ngc_optim.get_optimizer("adamw").decoupled_weight_decay
    return torch.optim.AdamW([param], lr=eta, betas=(beta1, beta2), eps=eps, weight_decay=decay, **flags)


def format_size(size):
    """``1000`` -> ``1e3``, ``16000000`` -> ``1.6e7``."""
    exponent = len(str(size)) - 1
    mantissa = size / 10**exponent
    if abs(mantissa - round(mantissa, 2)) > 1e-9 or exponent < 3:
        return str(size)
    return f"{mantissa:g}e{exponent}"


def format_us(seconds):
    """Seconds as microseconds with three or more significant digits."""
    us = seconds * 1e6
    if us < 10:
        return f"{us:.2f}"
    if us < 100:
        return f"{us:.1f}"
    return f"{us:.0f}"


def _times_x(ratio):
    """A ratio as ``1.23x``, or ``-`` for None."""
    return "-" if ratio is None else f"{ratio:.2f}x"


def _gbps(bytes_per_step, seconds):
    return bytes_per_step / seconds / 1e9


THROUGHPUT_HEADER = (f"{'N':>7} {'rule':<8} {'mode':<4} {'B/el':>4} {'ours us':>9} {'GB/s':>6} "
                     f"{'stream':>6} {'%stream':>7} {'numpy us':>9} {'np/ours':>7} | "
                     f"{'plain':>6} {'foreach':>7} {'fused':>6}")


def throughput_row(size, rule, itemsize, result):
    """One line of the throughput table."""
    times, ratios = result["times"], result["ratios"]
    bytes_per_step = rule.bytes_per_element(itemsize) * size
    torch_cells = [_times_x(ratios["torch"].get(column)) for column in TORCH_COLUMNS]
    return (f"{format_size(size):>7} {rule.name:<8} {result['mode']:<4} "
            f"{rule.bytes_per_element(itemsize):>4} {format_us(times['ours']):>9} "
            f"{_gbps(bytes_per_step, times['ours']):>6.1f} {_gbps(bytes_per_step, times['stream']):>6.1f} "
            f"{100 * ratios['stream']:>6.0f}% "
            f"{format_us(times['numpy']):>9} {_times_x(ratios['numpy']):>7} | "
            f"{torch_cells[0]:>6} {torch_cells[1]:>7} {torch_cells[2]:>6}")


def run_throughput(args, rules, worker):
    """Measure and print the throughput table of every dtype.

    Args:
        worker: a :class:`TorchWorker`, or None to leave torch out.

    Returns:
        results keyed by (dtype name, N, rule name), each a dict as :func:`measure_rule` returns.
    """
    rng = np.random.default_rng(0)
    results = {}
    for dtype_name in args.dtypes:
        itemsize = np.dtype(DTYPES[dtype_name]).itemsize
        print(f"\n== Throughput, {dtype_name}: time per step and bandwidth "
              f"(torch columns: torch time / ours) ==")
        print(THROUGHPUT_HEADER)
        print("-" * len(THROUGHPUT_HEADER))
        for size in args.sizes:
            passes = [{name: measure_rule(rules[name], size, dtype_name, args.budget, args.min_repeats,
                                          rng, worker)
                       for name in args.rules}
                      for _ in range(args.passes)]
            for name in args.rules:
                result = least_disturbed([block[name] for block in passes])
                results[(dtype_name, size, name)] = result
                print(throughput_row(size, rules[name], itemsize, result))
            sys.stdout.flush()
    return results


def _call_each(fn, argument_lists):
    """Call ``fn(*arguments)`` for every entry of ``argument_lists``."""
    for arguments in argument_lists:
        fn(*arguments)


def measure_api(rule, count, dtype, budget, min_repeats, rng):
    """Seconds per parameter array of ``opt.step``, the direct kernel call and NumPy, N = ``API_SIZE``.

    Returns:
        dict with ``times`` (median seconds per array of ``step``, ``kernel`` and
        ``numpy``) and ``ratios`` (``numpy``: NumPy time / ``opt.step`` time, paired).
    """
    optimizer = ngc_optim.get_optimizer(rule.name)
    params = {f"w{i}": _random(API_SIZE, dtype, rng) for i in range(count)}
    updates = {name: _random(API_SIZE, dtype, rng) for name in params}
    state = optimizer.init(params)
    kernel = kernels.pick(rule.kernel, API_SIZE)
    kernel_arguments, numpy_arguments = [], []
    for update in updates.values():
        p, _, slots, scratch = _arrays(rule, API_SIZE, dtype, rng)
        kernel_arguments.append((p, update, *slots, *rule.kernel_scalars))
        numpy_arguments.append((p.copy(), update, *[s.copy() for s in slots], *scratch,
                                *rule.numpy_scalars))
    candidates = [
        Batch(optimizer.step, (params, updates, state)),
        Batch(_call_each, (kernel, kernel_arguments)),
        Batch(_call_each, (rule.numpy_fn, numpy_arguments)),
    ]
    step_s, kernel_s, numpy_s = measure(candidates, budget, min_repeats)
    return {"times": {"step": statistics.median(step_s) / count,
                      "kernel": statistics.median(kernel_s) / count,
                      "numpy": statistics.median(numpy_s) / count},
            "ratios": {"numpy": paired_ratio(numpy_s, step_s)}}


def api_limit(rule_name):
    """The issue's limit on one object-API step per parameter array at N = 1e3, in seconds."""
    return 1e-6 if rule_name in ("sgd", "nag") else 2e-6


API_HEADER = (f"{'dtype':<7} {'rule':<8} {'arrays':>6} {'step us':>8} {'kernel us':>9} "
              f"{'numpy us':>8} {'step-kernel':>11} {'np/step':>7} {'limit us':>8}  verdict")


def run_api(args, rules):
    """Measure and print the object-API cost at N = ``API_SIZE``.

    Returns:
        results keyed by (dtype name, rule name, array count).
    """
    rng = np.random.default_rng(1)
    results = {}
    print(f"\n== Object API at N = {format_size(API_SIZE)}: microseconds per parameter array "
          f"(opt.step vs direct kernel call vs NumPy) ==")
    print("(verdict: met when opt.step is within the limit and at least 5x faster than NumPy)")
    print(API_HEADER)
    print("-" * len(API_HEADER))
    for dtype_name in args.dtypes:
        for name in args.rules:
            for count in API_ARRAY_COUNTS:
                result = least_disturbed([measure_api(rules[name], count, DTYPES[dtype_name],
                                                      args.budget, args.min_repeats, rng)
                                          for _ in range(args.passes)])
                results[(dtype_name, name, count)] = result
                times, numpy_ratio = result["times"], result["ratios"]["numpy"]
                met = times["step"] <= api_limit(name) and numpy_ratio >= 5
                print(f"{dtype_name:<7} {name:<8} {count:>6} {format_us(times['step']):>8} "
                      f"{format_us(times['kernel']):>9} {format_us(times['numpy']):>8} "
                      f"{format_us(times['step'] - times['kernel']):>11} {_times_x(numpy_ratio):>7} "
                      f"{format_us(api_limit(name)):>8}  {'met' if met else 'NOT MET'}")
                sys.stdout.flush()
    return results


_STARTUP_PROBE = """
import json
import time

start = time.perf_counter()
import numpy as np
import ngc_optim
from ngc_optim import kernels
imported = time.perf_counter()
for dtype in (np.float32, np.float64):
    p, u, a, b = (np.full(64, 0.5, dtype) for _ in range(4))
    for mode in ("serial", "parallel"):
        getattr(kernels.sgd, mode)(p, u, 1e-3, 0, 0.0)
        getattr(kernels.nag, mode)(p, u, a, 1e-2, 0.9, 2, 0, 0.0)
        getattr(kernels.momentum, mode)(p, u, a, 1e-2, 0.9, 0, 0.0)
        getattr(kernels.rmsprop, mode)(p, u, a, 1e-3, 0.9, 1e-8, 0, 0.0)
        getattr(kernels.adam, mode)(p, u, a, b, 1e-3, 0.9, 0.999, 1e-8, 0.1, 0.001, 0.0, 0, 0.0)
done = time.perf_counter()
print(json.dumps({"import": imported - start, "calls": done - imported}))
"""
"""Run with ``python -c``: times ``import ngc_optim`` and the first call of all 20 compiled kernels."""


def _run_probe(cache_dir):
    """Run the startup probe in a fresh interpreter; returns its figures plus the process wall time."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _STARTUP_PROBE], capture_output=True, text=True,
                            env=env, check=True)
    wall = time.perf_counter() - start
    figures = json.loads(result.stdout)
    figures["total"] = figures["import"] + figures["calls"]
    figures["process"] = wall
    return figures


def run_startup(warm_runs):
    """Measure and print the cold start (empty Numba cache) and the warm start (filled cache).

    Returns:
        ``(cold, warm)``: the cold figures and the per-figure median of ``warm_runs`` warm runs.
    """
    with tempfile.TemporaryDirectory(prefix="ngc-optim-numba-cache-") as cache_dir:
        cold = _run_probe(cache_dir)
        runs = [_run_probe(cache_dir) for _ in range(warm_runs)]
    warm = {key: statistics.median(run[key] for run in runs) for key in cold}
    print("\n== Start-up: import ngc_optim + first call of all 20 kernels "
          "(5 rules x serial/parallel x float32/float64), fresh process ==")
    header = f"{'':<28} {'import s':>8} {'1st calls s':>11} {'together s':>10} {'process s':>9}"
    print(header)
    print("-" * len(header))
    for label, figures in (("cold (empty NUMBA_CACHE_DIR)", cold),
                           (f"warm (median of {warm_runs})", warm)):
        print(f"{label:<28} {figures['import']:>8.2f} {figures['calls']:>11.2f} "
              f"{figures['total']:>10.2f} {figures['process']:>9.2f}")
    print("('together' = import + first calls, timed inside the process; "
          "'process' adds interpreter start-up and exit)")
    return cold, warm


class TargetReport:
    """Collects the issue's targets with the measured value and whether each is met."""

    def __init__(self):
        self.lines = []

    def add(self, text, value, met):
        """Record one target: ``value`` is a string or None (not measured)."""
        if value is None:
            self.lines.append((text, "not measured", "-"))
        else:
            self.lines.append((text, value, "met" if met else "NOT MET"))

    def print(self):
        """Print the targets, one a line."""
        width = max(len(text) for text, _, _ in self.lines)
        print("\n== Targets ==")
        for text, value, verdict in self.lines:
            print(f"{text:<{width}}  {value:>22}  {verdict}")


def evaluate_targets(results, api, warm):
    """Check every target of the issue against what was measured."""
    report = TargetReport()

    def stream_share(size, name):
        result = results.get(("float32", size, name))
        return None if result is None else result["ratios"]["stream"]

    def torch_ratio(size, name, variant):
        result = results.get(("float32", size, name))
        return None if result is None else result["ratios"]["torch"].get(variant)

    big = 16 * 10**6
    for name in ("adam", "nag", "sgd"):
        share = stream_share(big, name)
        report.add(f"N=1.6e7 f32: {name} >= 90% of stream kernel",
                   None if share is None else f"{100 * share:.0f}%", share is not None and share >= 0.9)
    ratio = torch_ratio(big, "adam", "fused")
    report.add("N=1.6e7 f32: adam within 10% of torch fused Adam",
               None if ratio is None else f"ours = {1 / ratio:.2f} x torch",
               ratio is not None and 1 / ratio <= 1.1)
    for size in (10**5, 10**6):
        ratio = torch_ratio(size, "adam", "foreach")
        report.add(f"N={format_size(size)} f32: adam >= 3.5x faster than torch foreach",
                   None if ratio is None else f"{ratio:.2f}x", ratio is not None and ratio >= 3.5)
        for name in ("sgd", "nag"):
            share = stream_share(size, name)
            report.add(f"N={format_size(size)} f32: {name} >= 85% of stream kernel",
                       None if share is None else f"{100 * share:.0f}%",
                       share is not None and share >= 0.85)
    if api:
        worst_step = max(api, key=lambda key: api[key]["times"]["step"] / api_limit(key[1]))
        step = api[worst_step]["times"]["step"]
        report.add("N=1e3: opt.step <= 2 us per array (sgd/nag <= 1 us), all measured rules, dtypes",
                   f"worst {worst_step[1]} {worst_step[0]} x{worst_step[2]}: {format_us(step)} us",
                   all(result["times"]["step"] <= api_limit(key[1]) for key, result in api.items()))
        worst_numpy = min(api, key=lambda key: api[key]["ratios"]["numpy"])
        ratio = api[worst_numpy]["ratios"]["numpy"]
        report.add("N=1e3: opt.step >= 5x faster than NumPy, all measured rules, dtypes",
                   f"worst {worst_numpy[1]} {worst_numpy[0]} x{worst_numpy[2]}: {ratio:.2f}x",
                   ratio >= 5)
    else:
        report.add("N=1e3: opt.step <= 2 us per array (sgd/nag <= 1 us)", None, False)
        report.add("N=1e3: opt.step >= 5x faster than NumPy", None, False)
    report.add("warm start (import + first call of all kernels) <= 1 s",
               None if warm is None else f"{warm['total']:.2f} s", warm is not None and warm["total"] <= 1.0)
    return report


TARGETS_TEXT = """Targets (from the issue):
  N = 1.6e7, float32: Adam, NAG and SGD each >= 90% of the same-traffic stream kernel;
                      Adam within 10% of torch's fused Adam (ours <= 1.1 x torch time).
  N = 1e5 and 1e6, float32: Adam >= 3.5x faster than torch foreach;
                      SGD and NAG >= 85% of the stream kernel.
  N = 1e3: one opt.step <= 2 us per parameter array, SGD/NAG <= 1 us; >= 5x faster than NumPy.
  Warm start (import ngc_optim + first call of every kernel) <= 1 s."""


def _cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _threading_layer():
    """Numba's threading layer (it is chosen by the first parallel call)."""
    stream12_parallel(np.zeros(4), np.zeros(4))
    return numba.threading_layer()


def _load_average():
    """The 1, 5 and 15 minute load averages, a hint of how busy the machine was."""
    try:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load average unknown"


def print_header(torch_note):
    """Print the machine, the library's settings and (unless None) the state of torch."""
    print("ngc_optim optimizer benchmark")
    print(f"  machine: {_cpu_name()}, {os.cpu_count()} logical CPUs; Python {platform.python_version()}, "
          f"NumPy {np.__version__}, Numba {numba.__version__} "
          f"({_threading_layer()} threading layer, {numba.config.NUMBA_NUM_THREADS} threads)")
    thresholds = ", ".join(f"{rule} 2**{math.log2(max(size, 1)):g}" for rule, size in config.PARALLEL_THRESHOLDS.items())
    print(f"  ngc_optim {ngc_optim.__version__}: parallel={config.PARALLEL}, thresholds: {thresholds}, "
          f"fastmath={config.FASTMATH}, cache={config.CACHE}")
    if torch_note:
        print(f"  torch: {torch_note}")
    print(f"  {_load_average()} at start")


def run_default(args):
    """The default run: throughput, object API, start-up, targets."""
    rules = build_rules()
    check_numpy_twins(rules, args.dtypes)
    worker, torch_note = None, "skipped (--no-torch)"
    if not args.no_torch and not torch_available():
        torch_note = f"not importable by {sys.executable}: torch columns skipped"
    elif not args.no_torch:
        try:
            worker = TorchWorker()
        except RuntimeError as error:
            torch_note = f"{error}: torch columns skipped"
        else:
            torch_note = (f"{worker.info['version']}, {worker.info['threads']} threads, in a worker "
                          f"subprocess (--torch-worker) whose batches interleave with ours")
    print_header(torch_note)
    print(TARGETS_TEXT)
    print(f"Timing: median over interleaved batches, budget {args.budget:g} s per candidate, "
          f">= {args.min_repeats} batches, least disturbed of {args.passes} pass(es); "
          f"Adam/NAG run with t = {STEP}.")
    try:
        results = run_throughput(args, rules, worker)
    finally:
        if worker:
            worker.close()
    if worker:
        print("(torch: plain = foreach=False; momentum = SGD(momentum), rmsprop = RMSprop: the same "
              "formulas; NAG has no torch counterpart)")
        for (name, variant, dtype_name), error in sorted(worker.errors.items()):
            print(f"(torch {name} {variant} {dtype_name} failed: {error})")
    api = {} if args.skip_api else run_api(args, rules)
    warm = None
    if not args.skip_startup:
        _, warm = run_startup(args.warm_runs)
    evaluate_targets(results, api, warm).print()
    print(f"\n{_load_average()} at end")


def crossover_size(sizes, speedups):
    """The smallest size from which the parallel kernel is faster (speedup > 1) at every size, or None."""
    found = None
    for size, speedup in sorted(zip(sizes, speedups), reverse=True):
        if speedup <= 1:
            break
        found = size
    return found


def _serial_and_parallel(rule, size, budget, min_repeats, rng):
    """Seconds per step of the serial and the parallel kernel of ``rule`` on float32 arrays of ``size``."""
    p, u, state, _ = _arrays(rule, size, np.float32, rng)
    p_parallel, state_parallel = p.copy(), [s.copy() for s in state]
    serial_s, parallel_s = measure(
        [Batch(rule.kernel.serial, (p, u, *state, *rule.kernel_scalars)),
         Batch(rule.kernel.parallel, (p_parallel, u, *state_parallel, *rule.kernel_scalars))],
        budget, min_repeats)
    return {"times": {"serial": statistics.median(serial_s), "parallel": statistics.median(parallel_s)},
            "ratios": {"speedup": paired_ratio(serial_s, parallel_s)}}


def run_crossover(args):
    """Time serial against parallel kernels in float32 for N = 2**12 .. 2**22 and print the crossover."""
    print_header(None)
    print(f"Crossover, float32: serial vs prange kernel, median over interleaved batches "
          f"(budget {args.budget:g} s, >= {args.min_repeats} batches, least disturbed of {args.passes} "
          f"pass(es)); ratio = serial / parallel time (median of paired rounds), > 1: parallel faster.")
    rules = build_rules()
    rng = np.random.default_rng(2)
    sizes = [2**exponent for exponent in CROSSOVER_EXPONENTS]
    speedups = {name: [] for name in args.rules}
    header = f"{'N':>10} " + " ".join(f"{name:>18}" for name in args.rules)
    print(header)
    print(f"{'':>10} " + " ".join(f"{'ser us/par us/ratio':>18}" for _ in args.rules))
    print("-" * len(header))
    for exponent, size in zip(CROSSOVER_EXPONENTS, sizes):
        cells = []
        for name in args.rules:
            rule = rules[name]
            best = least_disturbed([_serial_and_parallel(rule, size, args.budget, args.min_repeats, rng)
                                    for _ in range(args.passes)])
            speedup = best["ratios"]["speedup"]
            speedups[name].append(speedup)
            cells.append(f"{format_us(best['times']['serial'])}/{format_us(best['times']['parallel'])}/"
                          f"{speedup:.2f}")
        print(f"{'2**' + str(exponent):>10} " + " ".join(f"{cell:>18}" for cell in cells))
        sys.stdout.flush()
    print("\nSmallest N from which the parallel kernel is faster at every larger size:")
    found = {name: crossover_size(sizes, speedups[name]) for name in args.rules}
    for name, size in found.items():
        measured = "never" if size is None else f"2**{size.bit_length() - 1} = {size}"
        configured = config.PARALLEL_THRESHOLDS[ngc_optim.OPTIMIZERS[name].kernel.name]
        print(f"  {name:<8} {measured:<16} (configured threshold: {configured})")
    print(f"\n{_load_average()} at end")


def _size(text):
    size = int(float(text))
    if size < 1 or size != float(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number of elements")
    return size


def parse_args(argv):
    """The command line options, with the defaults that depend on ``--quick`` filled in."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=_size, nargs="+", default=None, metavar="N",
                        help="array sizes, e.g. 1e3 1.6e7 (default: 1e3 1e4 1e5 1e6 1.6e7)")
    parser.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=list(DTYPES),
                        help="dtypes (default: both)")
    parser.add_argument("--rules", nargs="+", choices=RULE_NAMES, default=list(RULE_NAMES),
                        help="update rules (default: all)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds of timing per candidate and row (default 0.3, --quick 0.05)")
    parser.add_argument("--min-repeats", type=int, default=None,
                        help="least number of timed batches per candidate (default 5, --quick 3)")
    parser.add_argument("--passes", type=int, default=None,
                        help="measure every row this many times and report the least disturbed "
                             "pass (default 2, --quick 1)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: N = 1e3 and 1e4, short budget, no start-up measurement")
    parser.add_argument("--no-torch", action="store_true", help="skip the torch comparison")
    parser.add_argument("--skip-api", action="store_true", help="skip the object-API measurement")
    parser.add_argument("--skip-startup", action="store_true",
                        help="skip the cold/warm start measurement")
    parser.add_argument("--warm-runs", type=int, default=3,
                        help="warm-start processes to take the median of (default 3)")
    parser.add_argument("--crossover", action="store_true",
                        help="only measure serial vs parallel per rule (float32, N = 2**12 .. 2**22)")
    parser.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.budget is None:
        args.budget = 0.05 if args.quick else 0.3
    if args.min_repeats is None:
        args.min_repeats = 3 if args.quick else 5
    if args.passes is None:
        args.passes = 1 if args.quick else 2
    if args.quick:
        args.skip_startup = True
    if args.budget <= 0 or min(args.min_repeats, args.passes, args.warm_runs) < 1:
        parser.error("--budget, --min-repeats, --passes and --warm-runs must be positive")
    return args


def main(argv=None):
    """Entry point; see ``--help``."""
    args = parse_args(argv)
    if args.torch_worker:
        torch_worker()
    elif args.crossover:
        run_crossover(args)
    else:
        run_default(args)


if __name__ == "__main__":
    main()
