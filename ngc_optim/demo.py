"""The optimizers side by side on one least-squares problem (``ngc-optim demo``).

Each optimizer minimises ``0.5 * sum((A @ x - y)**2)`` over ``x`` from the same
start, with the same seeded data, in float32; the gradient ``A.T @ (A @ x - y)``
is computed with NumPy and applied through the optimizer's fused kernel. ``A``
is scaled so that the Hessian's eigenvalues lie near
``[(1 - sqrt(columns/rows))**2, (1 + sqrt(columns/rows))**2]``.
"""

import time

import numpy as np
from tqdm import tqdm

from .checkpoint import save_checkpoint
from .optim import get_optimizer

__all__ = ["DEMO_OPTIMIZERS", "least_squares_problem", "run_demo"]

DEMO_OPTIMIZERS = {
    "sgd": {"eta": 0.5},
    "nag": {"eta": 0.2, "mu": 0.5},
    "momentum": {"eta": 0.2, "mu": 0.5},
    "rmsprop": {"eta": 0.01},
    "adam": {"eta": 0.05},
    "adamw": {"eta": 0.05, "decoupled_weight_decay": 0.001},
}


def least_squares_problem(rows, columns, seed):
    """A seeded problem ``(A, y, x0)`` with a known solution and a little noise."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((rows, columns)).astype(np.float32) / np.float32(np.sqrt(rows))
    solution = rng.standard_normal(columns).astype(np.float32)
    y = A @ solution + np.float32(0.01) * rng.standard_normal(rows).astype(np.float32)
    return A, y, np.zeros(columns, np.float32)


def _loss(A, y, x):
    residual = A @ x - y
    return float(0.5 * np.dot(residual, residual))


def run_demo(steps=500, rows=2000, columns=500, seed=0, progress=True, checkpoint=None):
    """Run every optimizer of ``DEMO_OPTIMIZERS``; returns one result dict per optimizer.

    Each result holds the optimizer's name and hyperparameters, the initial and
    final loss, and the median microseconds per optimizer step (the kernel and
    its Python call, without the gradient). With ``checkpoint`` (a path), every
    optimizer's final ``x`` and state are saved there, one group per optimizer.
    """
    A, y, x0 = least_squares_problem(rows, columns, seed)
    results = []
    finals = {}
    bar = tqdm(total=steps * len(DEMO_OPTIMIZERS), disable=not progress, unit="step")
    for name, hyperparameters in DEMO_OPTIMIZERS.items():
        optimizer = get_optimizer(name, **hyperparameters)
        params = {"x": x0.copy()}
        state = optimizer.init(params)
        step_seconds = np.empty(steps)
        for k in range(steps):
            gradient = {"x": A.T @ (A @ params["x"] - y)}
            start = time.perf_counter()
            optimizer.step(params, gradient, state)
            step_seconds[k] = time.perf_counter() - start
            bar.update()
        loss = _loss(A, y, params["x"])
        bar.set_postfix(optimizer=name, loss=f"{loss:.3g}")
        results.append({"optimizer": name, "hyperparameters": optimizer.get_hyperparameters(),
                        "initial_loss": _loss(A, y, x0), "final_loss": loss,
                        "step_us": float(np.median(step_seconds) * 1e6)})
        finals[name] = (params, optimizer, state)
    bar.close()
    if checkpoint is not None:
        save_checkpoint(checkpoint, {name: params for name, (params, _, _) in finals.items()},
                        {name: (optimizer, state) for name, (_, optimizer, state) in finals.items()},
                        step=steps, metadata={"demo": {"rows": rows, "columns": columns, "seed": seed}})
    return results


def format_results(results):
    """The results of :func:`run_demo` as a text table."""
    lines = [f"{'optimizer':10s} {'initial loss':>13s} {'final loss':>12s} {'us/step':>8s}"]
    for result in results:
        lines.append(f"{result['optimizer']:10s} {result['initial_loss']:13.4g} "
                     f"{result['final_loss']:12.4g} {result['step_us']:8.2f}")
    return "\n".join(lines)
