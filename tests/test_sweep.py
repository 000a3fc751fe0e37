"""ngc-optim sweep: the sweep file's checks, a small sweep on a 2-process LocalCluster against the same points
one by one in this process, re-running a finished sweep."""

import csv
import json
import os
import signal
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from ngc_optim.__main__ import main
from ngc_optim.checkpoint import load_checkpoint
from ngc_optim.sweep import Point, _client, _numba_threads, load_sweep, plot_summary, run_point, run_sweep
from ngc_optim.threads import cores_allowed
from ngc_optim.training import ConfigError

TINY = {"sizes": [64, 8, 10], "T": 2, "epochs": 1, "batch_size": 100}
SWEEP = {"name": "small", "base": TINY, "grid": {"optimizer.name": ["sgd", "adam"], "seed": [0, 1]}}


def write(tmp_path, spec, name="sweep.json"):
    path = tmp_path / name
    path.write_text(json.dumps(spec))
    return path


def test_points_are_the_grid_then_the_listed_ones_with_stable_names(tmp_path):
    spec = {**SWEEP, "points": [{"optimizer.eta": 0.01, "optimizer.beta1": 0.8, "optimizer.name": "adam"}]}
    name, points = load_sweep(write(tmp_path, spec))
    assert name == "small"
    assert [point.name for point in points] == ["0_optimizer.name=sgd_seed=0", "1_optimizer.name=sgd_seed=1",
                                                "2_optimizer.name=adam_seed=0", "3_optimizer.name=adam_seed=1",
                                                "4_optimizer.eta=0.01_optimizer.beta1=0.8_optimizer.name=adam"]
    assert [(p.config["optimizer"], p.config["seed"]) for p in points[:4]] == [("sgd", 0), ("sgd", 1), ("adam", 0),
                                                                              ("adam", 1)]
    last = points[-1].config
    assert (last["eta"], last["optim_kwargs"], last["T"], last["name"]) == (0.01, {"beta1": 0.8}, 2, points[-1].name)


@pytest.mark.parametrize(("spec", "message"), [
    ({**SWEEP, "grids": {}}, r"unknown key\(s\) \['grids'\]"),
    ({"base": TINY, "grid": {"seed": []}}, "grid 'seed' must be a non-empty list"),
    ({"base": TINY}, "the sweep is empty"),
    ({"base": TINY, "grid": {"sead": [0, 1]}}, "unknown setting 'sead'"),
    ({"base": TINY, "grid": {"T": [2, -1]}}, r"point 1_T=-1: T=-1"),
    ({"base": {**TINY, "colour": 1}, "grid": {"seed": [0]}}, "unknown key"),
    ({"base": TINY, "points": [{"optimizer.name": "adamw2"}]}, "optimizer"),
    ({"base": TINY, "points": {"seed": 1}}, "points must be a list"),
])
def test_a_bad_sweep_file_is_an_error_naming_the_problem(tmp_path, spec, message):
    with pytest.raises(ConfigError, match=message):
        load_sweep(write(tmp_path, spec))


def test_the_state_optimizer_sweep_of_the_docs_compares_four_optimizers_over_three_seeds():
    name, points = load_sweep(Path(__file__).resolve().parents[1] / "docs" / "state-optimizers-sweep.json")
    assert name == "state_optimizers" and len(points) == 12
    optimizers = {None if point.config["state_optim"] is None else point.config["state_optim"]["name"]
                  for point in points}
    assert optimizers == {None, "momentum", "nag", "adam"}
    assert {point.config["T"] for point in points} == {20}


def test_a_bad_sweep_file_exits_with_a_message(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", str(write(tmp_path, {"base": TINY, "grid": {"seed": []}})), "--runs", str(tmp_path)])
    assert exit_.value.code == 2
    assert "grid 'seed' must be a non-empty list" in capsys.readouterr().err


def assert_same_final_weights(directory, expected_directory):
    expected = load_checkpoint(expected_directory / "checkpoint.h5").params
    params = load_checkpoint(directory / "checkpoint.h5").params
    assert params.keys() == expected.keys()
    for name, group in params.items():
        np.testing.assert_array_equal(group["weights"], expected[name]["weights"])


def without_seconds(result):
    return [{key: value for key, value in row.items() if key != "seconds"} for row in result["epochs"]]


def test_a_sweep_on_a_local_cluster_equals_its_points_run_one_by_one(tmp_path):
    path = write(tmp_path, SWEEP)
    directory, rows = run_sweep(path, runs=tmp_path / "runs", workers=2, progress=False)
    _, points = load_sweep(path)
    assert [row["point"] for row in rows] == [point.name for point in points]
    summary = (directory / "summary.csv").read_text().splitlines()
    assert summary[0].split(",")[:5] == ["point", "optimizer.name", "seed", "epochs", "train_energy"]
    assert len(summary) == 5 and (directory / "summary.png").stat().st_size > 0
    for point, row in zip(points, rows):
        alone = run_point(point.config, tmp_path / "alone")
        swept = json.loads((directory / point.name / "metrics.json").read_text())
        assert without_seconds(swept) == without_seconds(alone)
        assert row["test_accuracy"] == alone["epochs"][-1]["test_accuracy"]
        assert_same_final_weights(directory / point.name, tmp_path / "alone" / point.name)
    assert len({row["test_accuracy"] for row in rows}) > 1
    seconds = {point.name: json.loads((directory / point.name / "metrics.json").read_text()) for point in points}
    _, again = run_sweep(path, runs=tmp_path / "runs", workers=1, progress=False)
    assert again == rows
    assert all(json.loads((directory / name / "metrics.json").read_text()) == seconds[name] for name in seconds)


SLOW = {"sizes": [64, 64, 10], "T": 20, "batch_size": 1, "epochs": 5}
"""A point whose epochs take a few tenths of a second each: time to kill its worker between two of them."""


def test_a_killed_worker_loses_only_the_epoch_it_was_training(tmp_path):
    from dask.distributed import Client, LocalCluster

    path = write(tmp_path, {"name": "killed", "base": SLOW, "grid": {"seed": [3]}})
    (point,) = load_sweep(path)[1]
    metrics = tmp_path / "runs" / "killed" / point.name / "metrics.json"
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None)
    with cluster, Client(cluster) as client, ThreadPoolExecutor(1) as pool:
        sweep = pool.submit(run_sweep, path, runs=tmp_path / "runs", scheduler=cluster.scheduler_address,
                            progress=False)
        key = ("run_point-killed", 0)
        running = wait_for(lambda: [address for address, keys in client.processing().items() if key in keys])
        (pid,) = client.run(os.getpid, workers=running).values()
        wait_for(lambda: metrics.exists())
        os.kill(pid, signal.SIGKILL)
        before = json.loads(metrics.read_text())["epochs"]
        _, (row,) = sweep.result(timeout=120)
        assert pid not in client.run(os.getpid).values()
    assert 1 <= len(before) < SLOW["epochs"]
    after = json.loads(metrics.read_text())
    assert after["epochs"][:len(before)] == before
    alone = run_point(point.config, tmp_path / "alone")
    assert without_seconds(after) == without_seconds(alone)
    assert row["test_accuracy"] == alone["epochs"][-1]["test_accuracy"]
    assert_same_final_weights(metrics.parent, tmp_path / "alone" / point.name)


def scheduler_load(dask_scheduler):
    """(tasks each worker is processing, tasks queued on the scheduler)."""
    processing = sorted(len(worker.processing) for worker in dask_scheduler.workers.values())
    return processing, len(dask_scheduler.queued)


def test_the_local_cluster_hands_a_worker_its_next_point_only_when_it_is_free(tmp_path):
    spec = {"name": "queued", "base": {**SLOW, "epochs": 1}, "grid": {"seed": list(range(6))}}
    path = write(tmp_path, spec)
    client, cluster = _client(None, 2)
    loads = []
    with cluster, client, ThreadPoolExecutor(1) as pool:
        sweep = pool.submit(run_sweep, path, runs=tmp_path / "runs", scheduler=cluster.scheduler_address,
                            progress=False)
        while not sweep.done():
            loads.append(client.run_on_scheduler(scheduler_load))
        assert len(sweep.result()[1]) == 6
    assert max(max(processing) for processing, _ in loads) == 1
    assert max(queued for _, queued in loads) >= 3


@pytest.mark.parametrize(("workers", "threads"), [(2, 1), (1, 2)])
def test_numba_threads_times_dask_threads_stay_within_the_cores(workers, threads):
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=threads, host="127.0.0.1", dashboard_address=None)
    with cluster, Client(cluster) as client:
        assert _numba_threads(client) == max(1, cores_allowed() // 2)


def wait_for(condition, timeout=60.0):
    """The first true value of ``condition()``, polled every few milliseconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)
    return value


def test_an_interrupted_point_resumes_from_its_checkpoint(tmp_path):
    _, (point,) = load_sweep(write(tmp_path, {"base": {**TINY, "epochs": 3}, "points": [{"seed": 2}]}))
    run_point({**point.config, "epochs": 1}, tmp_path / "runs")
    first = json.loads((tmp_path / "runs" / point.name / "metrics.json").read_text())["epochs"]
    resumed = run_point(point.config, tmp_path / "runs")
    alone = run_point(point.config, tmp_path / "alone")
    assert resumed["epochs"][:1] == first
    assert without_seconds(resumed) == without_seconds(alone)
    assert_same_final_weights(tmp_path / "runs" / point.name, tmp_path / "alone" / point.name)


def test_a_point_directory_of_other_settings_is_an_error_not_a_resume(tmp_path):
    _, (point,) = load_sweep(write(tmp_path, {"base": TINY, "points": [{"seed": 2}]}))
    run_point(point.config, tmp_path / "runs")
    with pytest.raises(ConfigError, match=r"holds a run of other settings \(T differ\)"):
        run_point({**point.config, "T": 3}, tmp_path / "runs")


def test_without_dask_the_sweep_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", str(write(tmp_path, SWEEP)), "--runs", str(tmp_path / "runs")])
    assert exit_.value.code == 2
    assert "pip install 'ngc-optim[dask]'" in capsys.readouterr().err


def test_a_failed_point_is_named_after_the_others_finish(tmp_path, capsys):
    path = write(tmp_path, {"name": "failing", "base": TINY, "grid": {"seed": [0, 1]}})
    _, points = load_sweep(path)
    run_point({**points[1].config, "T": 3}, tmp_path / "runs" / "failing")
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", str(path), "--runs", str(tmp_path / "runs"), "--workers", "1", "--no-progress"])
    assert exit_.value.code == 1
    message = capsys.readouterr().err
    assert "1 of 2 points failed" in message
    assert f"{points[1].name}: ConfigError: " in message and "(T differ)" in message
    assert len(json.loads((tmp_path / "runs" / "failing" / points[0].name / "metrics.json").read_text())["epochs"]) == 1
    assert not (tmp_path / "runs" / "failing" / "summary.csv").exists()


def test_a_diverged_point_is_a_result_of_the_sweep_not_a_failure(tmp_path, capsys):
    spec = {"name": "etas", "base": {**TINY, "optimizer": "sgd", "epochs": 3}, "grid": {"optimizer.eta": [0.001, 0.03]}}
    path = write(tmp_path, spec)
    assert main(["sweep", str(path), "--runs", str(tmp_path / "runs"), "--workers", "1", "--no-progress"]) == 0
    _, points = load_sweep(path)
    assert f"2 points: {tmp_path / 'runs' / 'etas' / 'summary.csv'} (1 diverged: {points[1].name})" in \
        capsys.readouterr().out
    with open(tmp_path / "runs" / "etas" / "summary.csv") as stream:
        finished, diverged = csv.DictReader(stream)
    assert finished["epochs"] == "3" and float(finished["test_accuracy"]) > 0.1 and finished["diverged"] == ""
    assert diverged["epochs"] == "1" and diverged["test_accuracy"] == "" and float(diverged["seconds"]) > 0
    assert diverged["diverged"].startswith("PCN: training diverged in epoch 2 (train_energy nan")
    metrics = tmp_path / "runs" / "etas" / points[1].name / "metrics.json"
    written = metrics.read_text()
    assert run_point(points[1].config, tmp_path / "runs" / "etas") == json.loads(written)
    assert metrics.read_text() == written


def test_the_plot_has_a_panel_per_swept_setting_and_leaves_the_callers_backend_alone(tmp_path):
    import matplotlib

    settings = [{"optimizer.name": name, "optimizer.eta": eta, "seed": seed}
                for name in ("sgd", "adam") for eta in (0.01, 0.1) for seed in (0, 1)]
    points = [Point(str(index), point, {}) for index, point in enumerate(settings)]
    rows = [{"test_accuracy": 0.5 + index / 100} for index in range(len(points) - 1)] + [{"diverged": "energy nan"}]
    with matplotlib.rc_context({"backend": "svg"}):
        plot_summary(tmp_path / "summary.png", points, rows)
        assert matplotlib.get_backend() == "svg"
    header = (tmp_path / "summary.png").read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (900, 340)
    plot_summary(tmp_path / "seeds.png", [Point("0", {"seed": 0}, {})], [{"test_accuracy": 0.5}])
    assert not (tmp_path / "seeds.png").exists()
