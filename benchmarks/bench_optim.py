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
  mode as ours. It is the practical roofline: ``%stream`` = ours' GB/s as a
  percentage of the stream kernel's GB/s; 100 % means the rule costs nothing but
  its memory traffic.
* ``numpy``: the same formula written as in-place NumPy ufunc calls (``out=``,
  preallocated scratch); ``np/ours`` = NumPy time / our time (> 1: ours faster).
* torch: ``torch.optim`` on CPU with ``p.grad`` set to u (plain = ``foreach=False``,
  foreach, fused); the columns are torch time / our time (> 1: ours faster).
  Torch runs in a subprocess (``--torch-worker``), never in the process that runs
  Numba: it loads a second OpenMP runtime that disturbs Numba's worker threads.

Then the cost of the object API at N = 1e3 (``opt.step`` per parameter array,
with 1 and 4 arrays, against calling the kernel directly and against NumPy), the
cold and warm start (``import ngc_optim`` plus the first call of every kernel in
a fresh process, with an empty and then with a filled ``NUMBA_CACHE_DIR``), and
the issue's targets, each marked met or not met.

``--crossover`` instead times the serial against the prange variant of every
rule in float32 for N = 2**12 .. 2**22 and prints the smallest N from which the
parallel kernel is faster at every size: the evidence for the default
``NGC_OPTIM_PARALLEL_THRESHOLD`` in ``ngc_optim/config.py``.

Timing: each figure is a median over batches of calls (a batch lasts about a
tenth of ``--budget``; there are at least ``--min-repeats`` batches). The
candidates of one row are measured in interleaved rounds, so that the noise of a
shared machine falls on all of them alike. Arrays are reused from step to step,
so the small sizes run from cache. Run with the benchmark environment, e.g.
``/work/bench-venv/bin/python benchmarks/bench_optim.py``; without torch
installed the torch columns are skipped.
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
    0: kernels.Kernel(stream12_serial, stream12_parallel),
    1: kernels.Kernel(stream20_serial, stream20_parallel),
    2: kernels.Kernel(stream28_serial, stream28_parallel),
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


def numpy_adam(p, u, g1, g2, tmp, tmp2, eta, beta1, beta2, eps, correction1, correction2, shrink):
    """Adam (AdamW when ``shrink`` = eta * decoupled_decay is not zero), as ``kernels.adam``."""
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
    np.divide(g2, correction2, out=tmp)
    np.sqrt(tmp, out=tmp)
    np.add(tmp, eps, out=tmp)
    np.divide(g1, correction1, out=tmp2)
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
        kernel_scalars: kernel arguments after the arrays (no penalty).
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
    """The rules, with the default hyperparameters of the optimizers and t = ``STEP``."""
    hyper = {name: ngc_optim.get_optimizer(name) for name in RULE_NAMES}
    penalty = (kernels.NO_PENALTY, 0.0)
    sgd, nag, momentum, rmsprop = (hyper[name] for name in ("sgd", "nag", "momentum", "rmsprop"))
    rules = {
        "sgd": Rule("sgd", kernels.sgd, 0, (sgd.eta, *penalty), numpy_sgd, 1, (sgd.eta,)),
        "nag": Rule("nag", kernels.nag, 1, (nag.eta, nag.mu, STEP, *penalty), numpy_nag, 1,
                    (nag.eta, nag.mu)),
        "momentum": Rule("momentum", kernels.momentum, 1, (momentum.eta, momentum.mu, *penalty),
                         numpy_momentum, 1, (momentum.eta, momentum.mu)),
        "rmsprop": Rule("rmsprop", kernels.rmsprop, 1,
                        (rmsprop.eta, rmsprop.decay, rmsprop.eps, *penalty), numpy_rmsprop, 2,
                        (rmsprop.eta, rmsprop.decay, rmsprop.eps)),
    }
    for name, decay in (("adam", 0.0), ("adamw", hyper["adamw"].decoupled_weight_decay)):
        opt = hyper[name]
        corrections = (1.0 - opt.beta1**STEP, 1.0 - opt.beta2**STEP)
        common = (opt.eta, opt.beta1, opt.beta2, opt.eps, *corrections)
        rules[name] = Rule(name, kernels.adam, 2, (*common, decay, *penalty), numpy_adam, 2,
                           (*common, opt.eta * decay))
    return rules


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


def measure(candidates, budget, min_repeats, max_rounds=400):
    """Median seconds per call of each candidate, measured in interleaved rounds.

    Args:
        candidates: list of ``(fn, args)``; each is called once first (compilation,
            page faults), then calibrated to batches of about ``budget / 10`` seconds.
        budget: seconds to spend per candidate (after calibration).
        min_repeats: least number of batches per candidate.
        max_rounds: most number of batches per candidate.

    Returns:
        list of median seconds per call, in the order of ``candidates``.
    """
    for fn, args in candidates:
        fn(*args)
    counts = [_batch_count(fn, args, budget / 10) for fn, args in candidates]
    samples = [[] for _ in candidates]
    spent = 0.0
    rounds = 0
    while rounds < max_rounds and (rounds < min_repeats or spent < budget * len(candidates)):
        for k in range(len(candidates)):
            index = (rounds + k) % len(candidates)
            fn, args = candidates[index]
            seconds = _run_batch(fn, args, counts[index])
            samples[index].append(seconds)
            spent += seconds * counts[index]
        rounds += 1
    return [statistics.median(times) for times in samples]


def _random(size, dtype, rng):
    return rng.standard_normal(size, dtype=np.float64).astype(dtype)


def _arrays(rule, size, dtype, rng):
    """(p, u, state arrays, scratch arrays) for one rule: p and u random, state zero."""
    p = _random(size, dtype, rng)
    u = _random(size, dtype, rng)
    state = [np.zeros(size, dtype) for _ in range(rule.slots)]
    scratch = [np.empty(size, dtype) for _ in range(rule.scratch)]
    return p, u, state, scratch


def measure_rule(rule, size, dtype, budget, min_repeats, rng):
    """Time our kernel, the stream kernel in the same mode, and NumPy for one rule and size.

    Returns:
        dict with ``mode`` ("ser"/"par") and seconds per step ``ours``, ``stream``, ``numpy``.
    """
    ours = kernels.pick(rule.kernel, size)
    parallel = ours is rule.kernel.parallel
    stream_kernel = STREAM_KERNELS[rule.slots]
    stream = stream_kernel.parallel if parallel else stream_kernel.serial
    p, u, state, scratch = _arrays(rule, size, dtype, rng)
    stream_arrays = [p.copy()] + [np.zeros(size, dtype) for _ in range(rule.slots)]
    numpy_p = p.copy()
    numpy_state = [np.zeros(size, dtype) for _ in range(rule.slots)]
    candidates = [
        (ours, (p, u, *state, *rule.kernel_scalars)),
        (stream, (stream_arrays[0], u, *stream_arrays[1:])),
        (rule.numpy_fn, (numpy_p, u, *numpy_state, *scratch, *rule.numpy_scalars)),
    ]
    ours_s, stream_s, numpy_s = measure(candidates, budget, min_repeats)
    return {"mode": "par" if parallel else "ser", "ours": ours_s, "stream": stream_s, "numpy": numpy_s}


def torch_available():
    """Whether torch can be imported (checked without importing it)."""
    return importlib.util.find_spec("torch") is not None


def run_torch_worker_process(dtype_name, size, rule_names, budget, min_repeats):
    """Run ``--torch-worker`` in a subprocess for one dtype and size.

    Returns:
        ``(info, times, error)``: the worker's torch version and thread count, its
        times as {rule: {variant: seconds}}, and an error message (or None).
    """
    rules = [name for name in rule_names if name in TORCH_VARIANTS]
    if not rules:
        return None, {}, None
    command = [sys.executable, os.path.abspath(__file__), "--torch-worker", "--dtypes", dtype_name,
               "--sizes", str(size), "--rules", *rules, "--budget", str(budget),
               "--min-repeats", str(min_repeats)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        return None, {}, f"torch worker failed ({result.returncode}): {lines[-1] if lines else ''}"
    report = json.loads(result.stdout)
    return report["info"], report["times"][str(size)], None


def torch_worker(args):
    """Time torch.optim on CPU and print the medians as JSON: {"info": ..., "times": {N: {rule: {variant: s}}}}."""
    import torch

    dtype = getattr(torch, args.dtypes[0])
    rules = build_rules()
    times = {}
    for size in args.sizes:
        generator = torch.Generator().manual_seed(size)
        grad = torch.randn(size, dtype=dtype, generator=generator)
        labels, candidates = [], []
        for name in args.rules:
            for variant in TORCH_VARIANTS.get(name, ()):
                param = torch.nn.Parameter(torch.randn(size, dtype=dtype, generator=generator))
                param.grad = grad
                optimizer = _torch_optimizer(torch, name, variant, param, rules[name])
                labels.append((name, variant))
                candidates.append((optimizer.step, ()))
        medians = measure(candidates, args.budget, args.min_repeats)
        per_rule = {}
        for (name, variant), seconds in zip(labels, medians):
            per_rule.setdefault(name, {})[variant] = seconds
        times[str(size)] = per_rule
    info = {"version": torch.__version__, "threads": torch.get_num_threads()}
    print(json.dumps({"info": info, "times": times}))


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
    decay = rule.kernel_scalars[6]
    return torch.optim.AdamW([param], lr=eta, betas=(beta1, beta2), eps=eps, weight_decay=decay, **flags)


def format_size(size):
    """``1000`` -> ``1e3``, ``16000000`` -> ``1.6e7``."""
    exponent = int(math.floor(math.log10(size)))
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


def _ratio(numerator, denominator, suffix="x"):
    if numerator is None or denominator is None:
        return "-"
    return f"{numerator / denominator:.2f}{suffix}"


def _gbps(bytes_per_step, seconds):
    return bytes_per_step / seconds / 1e9


THROUGHPUT_HEADER = (f"{'N':>7} {'rule':<8} {'mode':<4} {'B/el':>4} {'ours us':>9} {'GB/s':>6} "
                     f"{'stream':>6} {'%stream':>7} {'numpy us':>9} {'np/ours':>7} | "
                     f"{'plain':>6} {'foreach':>7} {'fused':>6}")


def throughput_row(size, rule, itemsize, result, torch_times):
    """One line of the throughput table."""
    bytes_per_step = rule.bytes_per_element(itemsize) * size
    ours_gbps = _gbps(bytes_per_step, result["ours"])
    stream_gbps = _gbps(bytes_per_step, result["stream"])
    torch_cells = [_ratio(torch_times.get(column), result["ours"]) if column in torch_times else "-"
                   for column in TORCH_COLUMNS]
    return (f"{format_size(size):>7} {rule.name:<8} {result['mode']:<4} "
            f"{rule.bytes_per_element(itemsize):>4} {format_us(result['ours']):>9} {ours_gbps:>6.1f} "
            f"{stream_gbps:>6.1f} {100 * ours_gbps / stream_gbps:>6.0f}% "
            f"{format_us(result['numpy']):>9} {_ratio(result['numpy'], result['ours']):>7} | "
            f"{torch_cells[0]:>6} {torch_cells[1]:>7} {torch_cells[2]:>6}")


def run_throughput(args, rules, use_torch):
    """Measure and print the throughput table of every dtype.

    Returns:
        ``(results, torch_info)``: results keyed by (dtype name, N, rule name), each
        a dict as :func:`measure_rule` returns plus ``"torch"``: {variant: seconds}.
    """
    rng = np.random.default_rng(0)
    results = {}
    torch_info = None
    for dtype_name in args.dtypes:
        dtype = DTYPES[dtype_name]
        itemsize = np.dtype(dtype).itemsize
        print(f"\n== Throughput, {dtype_name}: time per step and bandwidth "
              f"(torch columns: torch time / ours) ==")
        print(THROUGHPUT_HEADER)
        print("-" * len(THROUGHPUT_HEADER))
        for size in args.sizes:
            block = {name: measure_rule(rules[name], size, dtype, args.budget, args.min_repeats, rng)
                     for name in args.rules}
            torch_times = {}
            if use_torch:
                info, torch_times, error = run_torch_worker_process(
                    dtype_name, size, args.rules, args.budget, args.min_repeats)
                torch_info = info or torch_info
                if error:
                    print(f"  {error}")
            for name in args.rules:
                block[name]["torch"] = torch_times.get(name, {})
                results[(dtype_name, size, name)] = block[name]
                print(throughput_row(size, rules[name], itemsize, block[name], block[name]["torch"]))
            sys.stdout.flush()
    return results, torch_info


def _call_each(fn, argument_lists):
    """Call ``fn(*arguments)`` for every entry of ``argument_lists``."""
    for arguments in argument_lists:
        fn(*arguments)


def measure_api(rule, count, dtype, budget, min_repeats, rng):
    """Seconds per parameter array of ``opt.step``, the direct kernel call and NumPy, N = ``API_SIZE``.

    Returns:
        dict with ``step``, ``kernel`` and ``numpy``.
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
        (optimizer.step, (params, updates, state)),
        (_call_each, (kernel, kernel_arguments)),
        (_call_each, (rule.numpy_fn, numpy_arguments)),
    ]
    step_s, kernel_s, numpy_s = measure(candidates, budget, min_repeats)
    return {"step": step_s / count, "kernel": kernel_s / count, "numpy": numpy_s / count}


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
    print(API_HEADER)
    print("-" * len(API_HEADER))
    for dtype_name in args.dtypes:
        for name in args.rules:
            for count in API_ARRAY_COUNTS:
                result = measure_api(rules[name], count, DTYPES[dtype_name], args.budget,
                                     args.min_repeats, rng)
                results[(dtype_name, name, count)] = result
                met = result["step"] <= api_limit(name) and result["numpy"] >= 5 * result["step"]
                print(f"{dtype_name:<7} {name:<8} {count:>6} {format_us(result['step']):>8} "
                      f"{format_us(result['kernel']):>9} {format_us(result['numpy']):>8} "
                      f"{format_us(result['step'] - result['kernel']):>11} "
                      f"{_ratio(result['numpy'], result['step']):>7} "
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
        width = max(len(text) for text, _, _ in self.lines)
        print("\n== Targets ==")
        for text, value, verdict in self.lines:
            print(f"{text:<{width}}  {value:>22}  {verdict}")


def evaluate_targets(results, api, warm):
    """Check every target of the issue against what was measured."""
    report = TargetReport()

    def stream_share(size, name):
        result = results.get(("float32", size, name))
        return None if result is None else result["stream"] / result["ours"]

    def torch_ratio(size, name, variant):
        result = results.get(("float32", size, name))
        if result is None or variant not in result["torch"]:
            return None
        return result["torch"][variant] / result["ours"]

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
        worst_step = max(api, key=lambda key: api[key]["step"] / api_limit(key[1]))
        step = api[worst_step]["step"]
        report.add("N=1e3: opt.step <= 2 us per array (sgd/nag <= 1 us), all rules and dtypes",
                   f"worst {worst_step[1]} {worst_step[0]} x{worst_step[2]}: {format_us(step)} us",
                   all(result["step"] <= api_limit(key[1]) for key, result in api.items()))
        worst_numpy = min(api, key=lambda key: api[key]["numpy"] / api[key]["step"])
        ratio = api[worst_numpy]["numpy"] / api[worst_numpy]["step"]
        report.add("N=1e3: opt.step >= 5x faster than NumPy, all rules and dtypes",
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


def print_header(torch_note):
    """Print the machine, the library's settings and (unless None) the state of torch."""
    print("ngc_optim optimizer benchmark")
    print(f"  machine: {_cpu_name()}, {os.cpu_count()} logical CPUs; Python {platform.python_version()}, "
          f"NumPy {np.__version__}, Numba {numba.__version__} "
          f"({_threading_layer()} threading layer, {numba.config.NUMBA_NUM_THREADS} threads)")
    print(f"  ngc_optim {ngc_optim.__version__}: parallel={config.PARALLEL}, "
          f"threshold={config.PARALLEL_THRESHOLD} (2**{math.log2(max(config.PARALLEL_THRESHOLD, 1)):g}), "
          f"fastmath={config.FASTMATH}, cache={config.CACHE}")
    if torch_note:
        print(f"  torch: {torch_note}")


def run_default(args):
    """The default run: throughput, object API, start-up, targets."""
    rules = build_rules()
    use_torch = not args.no_torch and torch_available()
    if args.no_torch:
        torch_note = "skipped (--no-torch)"
    elif use_torch:
        torch_note = "measured in a subprocess per dtype and size (--torch-worker)"
    else:
        torch_note = f"not importable by {sys.executable}: torch columns skipped"
    print_header(torch_note)
    print(TARGETS_TEXT)
    print(f"Timing: median over interleaved batches, budget {args.budget:g} s per candidate, "
          f">= {args.min_repeats} batches; Adam/NAG run with t = {STEP}.")
    results, torch_info = run_throughput(args, rules, use_torch)
    if torch_info:
        print(f"(torch {torch_info['version']}, {torch_info['threads']} threads; "
              f"plain = foreach=False; momentum = SGD(momentum), rmsprop = RMSprop, same formulas)")
    api = {} if args.skip_api else run_api(args, rules)
    warm = None
    if not args.skip_startup:
        _, warm = run_startup(args.warm_runs)
    evaluate_targets(results, api, warm).print()


def crossover_size(sizes, serial, parallel):
    """The smallest size from which the parallel time is below the serial time at every size, or None."""
    found = None
    for size, serial_s, parallel_s in sorted(zip(sizes, serial, parallel), reverse=True):
        if parallel_s >= serial_s:
            break
        found = size
    return found


def run_crossover(args):
    """Time serial against parallel kernels in float32 for N = 2**12 .. 2**22 and print the crossover."""
    print_header(None)
    print(f"Crossover, float32: serial vs prange kernel, median over interleaved batches "
          f"(budget {args.budget:g} s, >= {args.min_repeats} batches); ser/par > 1: parallel faster.")
    rules = build_rules()
    rng = np.random.default_rng(2)
    sizes = [2**exponent for exponent in CROSSOVER_EXPONENTS]
    timings = {name: ([], []) for name in args.rules}
    header = f"{'N':>10} " + " ".join(f"{name:>18}" for name in args.rules)
    print(header)
    print(f"{'':>10} " + " ".join(f"{'ser us/par us/ratio':>18}" for _ in args.rules))
    print("-" * len(header))
    for exponent, size in zip(CROSSOVER_EXPONENTS, sizes):
        cells = []
        for name in args.rules:
            rule = rules[name]
            p, u, state, _ = _arrays(rule, size, np.float32, rng)
            p_parallel, state_parallel = p.copy(), [s.copy() for s in state]
            serial_s, parallel_s = measure(
                [(rule.kernel.serial, (p, u, *state, *rule.kernel_scalars)),
                 (rule.kernel.parallel, (p_parallel, u, *state_parallel, *rule.kernel_scalars))],
                args.budget, args.min_repeats)
            timings[name][0].append(serial_s)
            timings[name][1].append(parallel_s)
            cells.append(f"{format_us(serial_s)}/{format_us(parallel_s)}/{serial_s / parallel_s:.2f}")
        print(f"{'2**' + str(exponent):>10} " + " ".join(f"{cell:>18}" for cell in cells))
        sys.stdout.flush()
    print("\nSmallest N from which the parallel kernel is faster at every larger size:")
    found = {name: crossover_size(sizes, *timings[name]) for name in args.rules}
    for name, size in found.items():
        print(f"  {name:<8} {'never' if size is None else f'2**{int(math.log2(size))} = {size}'}")
    if all(size is not None for size in found.values()):
        overall = max(found.values())
        print(f"  all rules: 2**{int(math.log2(overall))} = {overall} "
              f"(configured threshold: {config.PARALLEL_THRESHOLD})")
    else:
        print(f"  all rules: none (configured threshold: {config.PARALLEL_THRESHOLD})")


def _size(text):
    size = int(float(text))
    if size < 1 or size != float(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number of elements")
    return size


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark ngc_optim's optimizer kernels against a same-traffic stream kernel, "
                    "NumPy and torch.optim; see the module docstring for how to read the ratios.")
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
    if args.quick:
        args.skip_startup = True
    if args.budget <= 0 or args.min_repeats < 1 or args.warm_runs < 1:
        parser.error("--budget, --min-repeats and --warm-runs must be positive")
    return args


def main(argv=None):
    """Entry point; see ``--help``."""
    args = parse_args(argv)
    if args.torch_worker:
        torch_worker(args)
    elif args.crossover:
        run_crossover(args)
    else:
        run_default(args)


if __name__ == "__main__":
    main()
