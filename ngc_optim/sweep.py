"""Parameter sweeps: many training runs of one base config, each a point of a grid or list of overrides.

A sweep file (JSON) holds:

* ``base``: a simulation config as ``ngc-optim train --config`` takes it (a JSON object, or the path of
  such a file, relative to the sweep file), default the defaults of the PCN;
* ``grid``: setting -> list of values; every combination is a point (settings in the file's order,
  the last one varying fastest);
* ``points``: a list of objects of settings, each one more point;
* ``name`` (optional): the sweep's name (default: the file's stem), its directory under ``runs``.

Settings are the config's keys, or ``optimizer.name`` (the optimizer), ``optimizer.eta`` (its step size)
and ``optimizer.<hyperparameter>`` (an entry of ``optim_kwargs``). Each point is the base with its
settings applied, checked like a training config, and trains as ``ngc-optim train`` into
``runs/<sweep>/<point>/`` (``point.json``, its config; ``checkpoint.h5`` and ``metrics.json`` after every
epoch). A point is named by its index and settings, so re-running a sweep finds its points again: a finished
point (``metrics.json`` with all its epochs, or a diverged one) is read, not trained, an interrupted one
resumes from its checkpoint, and a directory of other settings is an error. Every worker must see ``runs``
at the same path (on a cluster: a shared filesystem).

``summary.csv`` gets one row per point: its name, the swept settings, its epochs, the final test score and
train energy (or spikes), the seconds its epochs took in all and, for a point whose training diverged, the
error (and no scores). ``summary.png`` draws the final test score against each swept setting (see
:func:`plot_summary`); ``ngc-optim plot runs/<sweep>`` draws the points' learning curves.
"""

import csv
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .figures import axis_scale
from .models import DivergenceError
from .threads import cores_allowed, set_threads
from .training import (
    KEYS,
    ConfigError,
    check_name,
    check_runnable,
    load_config,
    load_data,
    make_directory,
    read_json,
    train,
    write_json,
)

__all__ = ["LOCAL_CLUSTER_CONFIG", "SWEEP_KEYS", "Point", "SweepError", "load_sweep", "local_cluster",
           "plot_summary", "run_point", "run_sweep", "write_summary"]

SWEEP_KEYS = ("name", "base", "grid", "points")
POINT_NAME_LENGTH = 100
"""Point names (index, then settings) are cut to this length; the index keeps them apart."""
OPTIMIZER_PREFIX = "optimizer."
TICKS = 8
"""A numeric setting of at most this many values is labelled at each value in ``summary.png``."""


class SweepError(RuntimeError):
    """Points of a sweep failed (the others finished); the message names each with its error."""


@dataclass
class Point:
    """One point of a sweep: ``name``, ``settings`` (the overrides as given) and ``config`` (checked)."""

    name: str
    settings: dict
    config: dict


def _apply(config, settings, where):
    """``config`` with ``settings`` applied (``optimizer.*`` aliases resolved); unknown settings are errors."""
    config = {**config, "optim_kwargs": dict(config.get("optim_kwargs") or {})}
    for key, value in settings.items():
        if key == "optimizer.name":
            config["optimizer"] = value
        elif key == "optimizer.eta":
            config["eta"] = value
        elif key.startswith(OPTIMIZER_PREFIX):
            config["optim_kwargs"][key.removeprefix(OPTIMIZER_PREFIX)] = value
        elif key in KEYS and key != "name":
            config[key] = value
        else:
            raise ConfigError(f"{where}: unknown setting {key!r}; expected one of {[k for k in KEYS if k != 'name']} "
                              f"or optimizer.name, optimizer.eta, optimizer.<hyperparameter>")
    return config


def _label(value):
    text = json.dumps(value, separators=(",", ":")) if not isinstance(value, str) else value
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text)


def _object(value, what):
    if not isinstance(value, dict):
        raise ConfigError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def load_sweep(path):
    """(sweep name, points) of the sweep file ``path``; every point's config checked.

    Raises:
        ConfigError: an unreadable file, an unknown key or setting, an empty grid or list, a bad value
            (naming the point and the key).
    """
    path = Path(path)
    spec = read_json(path, "sweep")
    _object(spec, str(path))
    unknown = sorted(set(spec) - set(SWEEP_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}; expected some of {list(SWEEP_KEYS)}")
    base = spec.get("base", {})
    if isinstance(base, str):
        base = read_json(path.parent / base, f"{path}: base")
    _object(base, f"{path}: base")
    grid = _object(spec.get("grid", {}), f"{path}: grid")
    listed = spec.get("points", [])
    if not isinstance(listed, list) or not all(isinstance(point, dict) for point in listed):
        raise ConfigError(f"{path}: points must be a list of JSON objects of settings")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{path}: grid {key!r} must be a non-empty list of values")
    combinations = [dict(zip(grid, values)) for values in itertools.product(*grid.values())] if grid else []
    settings = combinations + listed
    if not settings:
        raise ConfigError(f"{path}: the sweep is empty: give a grid of values or a list of points")
    name = spec.get("name", path.stem)
    try:
        check_name("name", name)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error} (the sweep's name: give one if the file's is not such a name)") from None
    width = len(str(len(settings) - 1))
    points = []
    for index, point in enumerate(settings):
        label = "_".join(f"{_label(key)}={_label(value)}" for key, value in point.items())
        point_name = (f"{index:0{width}d}" + (f"_{label}" if label else ""))[:POINT_NAME_LENGTH]
        where = f"{path}: point {point_name}"
        overrides = {**_apply(base, point, where), "name": point_name}
        try:
            config = load_config(overrides=overrides)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
        points.append(Point(point_name, point, config))
    return name, points


def _finished(directory, epochs):
    """The metrics of a point that trained all ``epochs`` epochs or diverged, else None."""
    try:
        written = json.loads((directory / "metrics.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return written if "diverged" in written or len(written.get("epochs", [])) >= epochs else None


def run_point(config, runs, threads=None):
    """Train one point (``config``, checked) into ``runs/<config name>``, or resume it, or read it when finished;
    returns its ``metrics.json`` content. ``threads``: Numba threads to use (None: as configured).

    The point's directory holds ``point.json`` (its config), ``checkpoint.h5`` and ``metrics.json``. A point
    whose training diverges is finished: its ``metrics.json`` keeps the epochs before and gets ``diverged``
    (the error's message).

    Raises:
        ConfigError: the point's directory holds a run of other settings (a changed sweep of the same name).
    """
    directory = Path(runs) / config["name"]
    described = directory / "point.json"
    if described.exists():
        saved = json.loads(described.read_text())
        changed = sorted(key for key in set(config) | set(saved) if key != "epochs" and config.get(key) != saved.get(key))
        if changed:
            raise ConfigError(f"{directory} holds a run of other settings ({', '.join(changed)} differ): give the sweep "
                              f"another name, or remove the directory to train the point again")
    done = _finished(directory, config["epochs"])
    if done is not None:
        return done
    if threads is not None:
        set_threads(max(1, threads))
    directory.mkdir(parents=True, exist_ok=True)
    write_json(described, config)
    checkpoint = directory / "checkpoint.h5"
    resume = checkpoint if checkpoint.exists() else None
    try:
        train(overrides=config if resume is None else {"epochs": config["epochs"]}, resume=resume, runs=runs,
              progress=False)
    except DivergenceError as error:
        done = _finished(directory, 0) or {"epochs": []}
        write_json(directory / "metrics.json", {**done, "diverged": str(error)})
    return json.loads((directory / "metrics.json").read_text())


def summary_row(point, result):
    """One row of ``summary.csv``: the point's name and settings, its epochs, then its final scores (none for a
    diverged point, which has ``diverged`` instead) and total seconds."""
    epochs = result["epochs"]
    last = epochs[-1] if epochs and "diverged" not in result else {}
    scores = {key: value for key, value in last.items() if key.startswith(("test_", "train_"))}
    settings = {key: json.dumps(value) if not isinstance(value, (int, float, str)) else value
                for key, value in point.settings.items()}
    diverged = {"diverged": result["diverged"]} if "diverged" in result else {}
    return {"point": point.name, **settings, "epochs": len(epochs), **scores,
            "seconds": sum(row["seconds"] for row in epochs), **diverged}


def write_summary(path, points, results):
    """Write ``summary.csv`` (one row per point, see :func:`summary_row`) to ``path``; returns the rows."""
    rows = [summary_row(point, result) for point, result in zip(points, results)]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return rows


LOCAL_CLUSTER_CONFIG = {
    "distributed.scheduler.worker-saturation": 1.0,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}
"""Dask settings of the LocalCluster ``ngc-optim sweep`` starts, for tasks that each train a network for
seconds to hours, on as many worker processes as cores:

* worker saturation 1.0: the scheduler hands a worker a point only when its thread is free (Dask's default
  1.1 gives a one-thread worker a second point to hold, which an idle worker cannot take until work
  stealing moves it);
* no statistical profiler (it feeds the dashboard, which is off; its sampling of the task's stack every
  10 ms takes the GIL from the training loop: about 6% of a point's time);
* the event loops' tick (which only measures how long they were blocked), the system monitor (the
  dashboard's CPU and memory plots) and the nannies' memory monitor every 0.5, 2 and 1 s instead of every
  20, 500 and 100 ms: with Dask's defaults the scheduler's process took 5% of a core and each wake-up of a
  worker's event loop takes the GIL from its training loop; 8 points of the default PCN (30 epochs) on 2
  workers took 7.05 s (median of 4) instead of 7.65 s.
"""


def local_cluster(workers=None):
    """A new LocalCluster as ``ngc-optim sweep`` starts it: ``workers`` one-thread worker processes (default:
    one per core the process may use) on loopback, without a dashboard, set up with
    :data:`LOCAL_CLUSTER_CONFIG`."""
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        return LocalCluster(n_workers=workers or cores_allowed(), threads_per_worker=1, processes=True,
                            host="127.0.0.1", dashboard_address=None)


def _client(scheduler, workers):
    """(dask client, cluster or None): a client of ``scheduler``, else of a new :func:`local_cluster` of
    ``workers`` processes."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise ConfigError("ngc-optim sweep needs Dask: pip install 'ngc-optim[dask]'") from None
    if scheduler is not None:
        return Client(scheduler), None
    cluster = local_cluster(workers)
    return Client(cluster), cluster


def _numba_threads(client):
    """Numba threads for each task: on every host of the cluster, the cores its workers may use
    (:func:`ngc_optim.threads.cores_allowed`) // the Dask threads of its workers (at least 1), the fewest over
    the hosts; None for a cluster without workers."""
    from distributed.comm import get_address_host

    cores = client.run(cores_allowed)
    hosts = {}
    for address, threads in client.nthreads().items():
        host = hosts.setdefault(get_address_host(address), [0, cores.get(address) or 1])
        host[0] += threads
    return min((max(1, host_cores // threads) for threads, host_cores in hosts.values()), default=None)


def run_sweep(path, runs="runs", scheduler=None, workers=None, progress=True):
    """Run (or finish) the sweep file ``path`` on Dask; returns (sweep directory, summary rows).

    Each point is one Dask task (:func:`run_point`), on the cluster at ``scheduler`` (the address of a running
    Dask scheduler) or, without it, on a new LocalCluster of ``workers`` processes. Each task trains with
    cores // Dask threads Numba threads (the fewest over the cluster's hosts), so that on every host the Dask
    threads times the Numba threads stay within the cores. A task lost with its worker runs again elsewhere
    and resumes from the point's checkpoint. Writes ``summary.csv`` and, when matplotlib is installed,
    ``summary.png`` in the sweep directory.

    The tasks go in one graph, keyed ``("run_point-<sweep>", index)``: one task group, whose duration the
    scheduler learns from the first point to finish, and which it queues (handing out points as threads free
    up) when it holds more points than twice the cluster's threads. (With a key of its own, each point was a
    group of its own and all were handed out at once: in 2 of 3 sweeps of 8 points on 2 workers, one worker
    held two points while the other sat idle for a whole point's time.)

    Raises:
        ConfigError: a bad sweep file, or no Dask installed.
        SweepError: points failed (each named with its error), after every other point finished.
    """
    from tqdm import tqdm

    name, points = load_sweep(path)
    for point in points:
        try:
            check_runnable(point.config, load_data(point.config))
        except ConfigError as error:
            raise ConfigError(f"{path}: point {point.name}: {error}") from None
    directory = make_directory(runs, name)
    client, cluster = _client(scheduler, workers)
    try:
        from dask.distributed import as_completed

        submitted = client.map(run_point, [point.config for point in points], runs=str(directory),
                               threads=_numba_threads(client),
                               key=[(f"run_point-{name}", index) for index in range(len(points))], pure=False)
        futures = dict(zip(submitted, range(len(points))))
        results = [None] * len(points)
        failures = {}
        with tqdm(total=len(points), disable=not progress, unit="point") as bar:
            for future in as_completed(futures):
                index = futures[future]
                try:
                    results[index] = future.result()
                except Exception as error:  # noqa: BLE001 (whatever a task raised is its point's failure)
                    failures[points[index].name] = f"{type(error).__name__}: {error}"
                bar.update()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if failures:
        raise SweepError(f"{directory}: {len(failures)} of {len(points)} points failed (re-running the sweep "
                         f"trains only the points not finished):\n" +
                         "\n".join(f"  {name}: {error}" for name, error in failures.items()))
    rows = write_summary(directory / "summary.csv", points, results)
    plot_summary(directory / "summary.png", points, rows)
    return directory, rows


def plot_summary(path, points, rows):
    """The final test score against each swept setting but the seed, written to ``path``: in the panel of a
    setting, one series per combination of the other settings but the seed, each marker the mean and standard
    deviation over the seeds. A setting of categories (optimizer names, say) is drawn as markers with error
    bars apart, the series side by side and no line joining them; a numeric one at its values, joined, on a
    logarithmic axis when its values span more than a decade (:func:`ngc_optim.figures.axis_scale`).
    Diverged points are left out (and counted in the title); nothing is written without matplotlib or
    settings other than the seed. The figure is drawn without pyplot, so the caller's backend and figures
    are left alone.

    Returns:
        The matplotlib ``Figure``, or None when nothing was drawn.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    swept = [key for key in dict.fromkeys(key for point in points for key in point.settings) if key != "seed"]
    score = next((key for row in rows for key in row if key.startswith("test_")), None)
    if not swept or score is None:
        return None
    scored = [(point, row[score]) for point, row in zip(points, rows) if score in row]

    def label(point, key):
        return _label(point.settings[key]) if key in point.settings else "-"

    figure = Figure(figsize=(4.5 * len(swept), 3.4))
    axes = figure.subplots(1, len(swept), squeeze=False)
    for axis, key in zip(axes[0], swept):
        others = [other for other in swept if other != key]
        given = all(key in point.settings for point, _ in scored)
        scale = axis_scale(point.settings[key] for point, _ in scored) if given and scored else "categorical"
        categories = list(dict.fromkeys(label(point, key) for point, _ in scored))
        series = {}
        for point, value in scored:
            x = label(point, key) if scale == "categorical" else point.settings[key]
            series.setdefault(tuple(label(point, other) for other in others), {}).setdefault(x, []).append(value)
        spacing = min(0.2, 0.6 / len(series)) if series else 0.0
        for index, (line, groups) in enumerate(series.items()):
            xs = sorted(groups) if scale != "categorical" else list(groups)
            means = [sum(groups[x]) / len(groups[x]) for x in xs]
            spreads = [(sum((value - mean) ** 2 for value in groups[x]) / len(groups[x])) ** 0.5
                       for x, mean in zip(xs, means)]
            if scale == "categorical":
                xs = [categories.index(x) + (index - (len(series) - 1) / 2) * spacing for x in xs]
            axis.errorbar(xs, means, yerr=spreads, fmt="o" if scale == "categorical" else "o-", capsize=4,
                          label=", ".join(f"{other}={value}" for other, value in zip(others, line)) or None)
        if scale == "categorical":
            axis.set_xticks(range(len(categories)), categories, rotation=30)
        else:
            axis.set_xscale(scale)
            values = sorted({point.settings[key] for point, _ in scored})
            if len(values) <= TICKS:
                axis.set_xticks(values, [f"{value:g}" for value in values])
                axis.minorticks_off()
        axis.set_xlabel(key)
        axis.set_ylabel(f"final {score.replace('_', ' ')}")
        if others:
            axis.legend(fontsize=7)
    diverged = len(points) - len(scored)
    figure.suptitle("mean and standard deviation over seeds" +
                    (f"; {diverged} diverged point(s) left out" if diverged else ""))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return figure
