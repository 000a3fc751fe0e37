"""Figures of runs and sweeps: the learning curves of runs (``ngc-optim plot``) and how a swept setting is drawn.

A run is a directory that ``ngc-optim train`` or a sweep's point wrote, holding
``metrics.json`` (``{"epochs": [{"epoch": 1, "train_energy": ..., "test_accuracy": ...,
"seconds": ...}, ...]}``, and ``"diverged"`` for a point whose training diverged). A
sweep's directory stands for its points, the run directories in it, in name order.

:func:`axis_scale` decides how a setting's values lie along an axis: categories
(names such as optimizers, flags, lists) are points apart, with no line joining
them, as they lie on no continuum; numbers lie at their values, on a logarithmic
axis when they are all positive and span more than a decade (step sizes), else
on a linear one. The figures are drawn without pyplot, so the caller's backend
and figures are left alone; matplotlib is an optional extra
(``pip install 'ngc-optim[plot]'``).
"""

import json
import math
from pathlib import Path

__all__ = ["MetricsError", "axis_scale", "find_runs", "plot_curves", "read_metrics"]

SCALES = ("categorical", "linear", "log")


class MetricsError(ValueError):
    """A run that cannot be plotted: no directory, no ``metrics.json``, or one that is not a run's; names the path."""


def axis_scale(values):
    """How the values of a setting lie along an axis: "categorical" unless all are finite numbers (not
    booleans); then "log" if all are positive and the largest is more than 10 times the smallest, else
    "linear"."""
    values = list(values)
    numbers = [value for value in values
               if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)]
    if not values or len(numbers) != len(values):
        return "categorical"
    if min(numbers) > 0 and max(numbers) > 10 * min(numbers):
        return "log"
    return "linear"


def _figure_class():
    try:
        from matplotlib.figure import Figure  # optional: only the figures need it
    except ImportError:
        raise MetricsError("the figures need matplotlib: pip install 'ngc-optim[plot]'") from None
    return Figure


def _score(value):
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def read_metrics(run):
    """The ``metrics.json`` content of the run directory ``run``, checked.

    Raises:
        MetricsError: ``run`` is not a directory, has no readable ``metrics.json``, or it is not JSON of a run's
            metrics (an object whose ``epochs`` is a list of objects, each with an integer ``epoch`` and numbers
            or nulls for ``train_*`` and ``test_*``).
    """
    run = Path(run)
    if not run.is_dir():
        raise MetricsError(f"{run}: no such run directory")
    path = run / "metrics.json"
    try:
        metrics = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise MetricsError(f"{run}: no metrics.json (not a run of ngc-optim train or sweep)") from None
    except OSError as error:
        raise MetricsError(f"{path}: cannot be read ({error.strerror})") from None
    except (UnicodeDecodeError, RecursionError, ValueError) as error:
        raise MetricsError(f"{path}: not valid JSON ({type(error).__name__})") from None
    rows = metrics.get("epochs") if isinstance(metrics, dict) else None
    if not isinstance(rows, list):
        raise MetricsError(f"{path}: not the metrics of a run (expected an object with a list of epochs)")
    for index, row in enumerate(rows):
        valid = isinstance(row, dict) and isinstance(row.get("epoch"), int) and not isinstance(row["epoch"], bool) \
            and all(_score(value) for key, value in row.items() if key.startswith(("train_", "test_")))
        if not valid:
            raise MetricsError(f"{path}: epoch {index + 1} is not an object of an integer epoch and scores")
    return metrics


def find_runs(paths):
    """The run directories of ``paths`` (each a run, or a sweep whose points are runs), in the order given.

    Raises:
        MetricsError: a path that is not a directory, or neither holds ``metrics.json`` nor has a run in it.
    """
    runs = []
    for path in map(Path, paths):
        if not path.is_dir():
            raise MetricsError(f"{path}: no such run directory")
        if (path / "metrics.json").exists():
            runs.append(path)
            continue
        points = sorted(child for child in path.iterdir() if (child / "metrics.json").exists())
        if not points:
            raise MetricsError(f"{path}: no metrics.json (not a run of ngc-optim train or sweep) and no run in it")
        runs += points
    return runs


def plot_curves(paths, output=None, labels=None):
    """The learning curves of the runs ``paths`` (see :func:`find_runs`) from their ``metrics.json``: one panel
    per score (``train_*``, ``test_*``) against the epoch, one line per run (labelled with ``labels`` or the
    run's directory name; "(diverged)" when it did). A panel whose values are all positive and span more than
    a decade has a logarithmic y axis. Written to ``output`` (a PNG at 100 dpi) if given.

    Returns:
        The matplotlib ``Figure``.

    Raises:
        MetricsError: a path is not a run or a sweep of runs, a ``metrics.json`` is not one, no run has an
            epoch, ``output`` cannot be written, or matplotlib is missing.
    """
    runs = find_runs(paths)
    if labels is not None and len(labels) != len(runs):
        raise MetricsError(f"{len(labels)} labels for {len(runs)} runs")
    curves = [(label, read_metrics(run)) for label, run in zip(labels or [run.name for run in runs], runs)]
    keys = list(dict.fromkeys(key for _, metrics in curves for row in metrics["epochs"] for key in row
                              if key.startswith(("train_", "test_"))))
    if not keys:
        raise MetricsError(f"{', '.join(map(str, paths))}: no epoch recorded, nothing to plot")
    figure = _figure_class()(figsize=(4.5 * len(keys), 3.4))
    axes = figure.subplots(1, len(keys), squeeze=False)[0]
    for axis, key in zip(axes, keys):
        drawn = []
        for label, metrics in curves:
            points = [(row["epoch"], row[key]) for row in metrics["epochs"] if row.get(key) is not None]
            drawn += [value for _, value in points]
            name = label + (" (diverged)" if "diverged" in metrics else "")
            axis.plot([epoch for epoch, _ in points], [value for _, value in points], marker="." if
                      len(points) < 40 else None, label=name)
        if drawn and axis_scale(drawn) == "log":
            axis.set_yscale("log")
        axis.set_xlabel("epoch")
        axis.set_ylabel(key.replace("_", " "))
    axes[-1].legend(fontsize=7 if len(curves) > 6 else None)
    figure.tight_layout()
    if output is not None:
        try:
            figure.savefig(output, dpi=100)
        except (OSError, ValueError) as error:
            raise MetricsError(f"--output {output}: cannot be written "
                               f"({getattr(error, 'strerror', None) or error})") from None
    return figure
