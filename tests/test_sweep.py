"""ngc-optim sweep: the sweep file's checks, a small sweep on a 2-process LocalCluster against the same points
one by one in this process, re-running a finished sweep."""

import json

import numpy as np
import pytest

from ngc_optim.__main__ import main
from ngc_optim.checkpoint import load_checkpoint
from ngc_optim.sweep import load_sweep, run_point, run_sweep
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


def test_a_bad_sweep_file_exits_with_a_message(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", str(write(tmp_path, {"base": TINY, "grid": {"seed": []}})), "--runs", str(tmp_path)])
    assert exit_.value.code == 2
    assert "grid 'seed' must be a non-empty list" in capsys.readouterr().err


def final_weights(directory):
    return {name: group["weights"] for name, group in load_checkpoint(directory / "checkpoint.h5").params.items()}


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
        expected = final_weights(tmp_path / "alone" / point.name)
        for name, weights in final_weights(directory / point.name).items():
            np.testing.assert_array_equal(weights, expected[name])
    assert len({row["test_accuracy"] for row in rows}) > 1
    seconds = {point.name: json.loads((directory / point.name / "metrics.json").read_text()) for point in points}
    _, again = run_sweep(path, runs=tmp_path / "runs", workers=1, progress=False)
    assert again == rows
    assert all(json.loads((directory / name / "metrics.json").read_text()) == seconds[name] for name in seconds)
