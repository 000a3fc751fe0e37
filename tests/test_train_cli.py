"""ngc-optim train / evaluate: configs, flags, files written, resume equal to an uninterrupted run."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from ngc_optim.__main__ import main
from ngc_optim.checkpoint import load_checkpoint, save_checkpoint

SMALL = {"sizes": [64, 16, 10], "T": 3, "epochs": 4, "batch_size": 100}


def write_config(path, **settings):
    path.write_text(json.dumps({**SMALL, **settings}))
    return path


def metrics_without_seconds(directory):
    rows = json.loads((directory / "metrics.json").read_text())["epochs"]
    return [{key: value for key, value in row.items() if key != "seconds"} for row in rows]


@pytest.mark.parametrize("settings", [{}, {"state_optim": {"name": "nag", "eta": 0.05, "mu": 0.5}, "update_every": 2,
                                       "output_error": "cross_entropy"}])
def test_train_writes_checkpoint_and_metrics_and_resume_continues_exactly(tmp_path, capsys, settings):
    config = write_config(tmp_path / "small.json", **settings)
    runs = tmp_path / "runs"
    assert main(["train", "--config", str(config), "--runs", str(runs), "--name", "straight", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "checkpoint: " in out and "test accuracy" in out
    straight = load_checkpoint(runs / "straight" / "checkpoint.h5")
    assert straight.step == 4 and straight.metadata["train"]["T"] == 3
    rows = metrics_without_seconds(runs / "straight")
    assert [row["epoch"] for row in rows] == [1, 2, 3, 4]
    assert all(0 <= row["test_accuracy"] <= 1 and row["train_energy"] > 0 for row in rows)

    assert main(["train", "--config", str(config), "--runs", str(runs), "--name", "split", "--epochs", "2",
                 "--no-progress"]) == 0
    resumed = subprocess.run([sys.executable, "-m", "ngc_optim", "train", "--resume",
                              str(runs / "split" / "checkpoint.h5"), "--epochs", "4", "--runs", str(runs),
                              "--no-progress"], capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    split = load_checkpoint(runs / "split" / "checkpoint.h5")
    assert split.step == 4
    for group in ("W1", "W2"):
        for name in ("weights", "biases"):
            np.testing.assert_array_equal(split.params[group][name], straight.params[group][name])
        _, state = split.optimizers[group]
        _, expected = straight.optimizers[group]
        assert state.count == expected.count
        np.testing.assert_array_equal(state.g2["weights"], expected.g2["weights"])
    assert metrics_without_seconds(runs / "split") == rows

    assert main(["evaluate", str(runs / "straight" / "checkpoint.h5")]) == 0
    assert f"test accuracy {rows[-1]['test_accuracy']:.4f}" in capsys.readouterr().out


def test_a_run_saved_before_the_inference_keys_resumes_with_their_defaults(tmp_path):
    runs = tmp_path / "runs"
    config = write_config(tmp_path / "small.json", epochs=1)
    assert main(["train", "--config", str(config), "--runs", str(runs), "--name", "old", "--no-progress"]) == 0
    path = runs / "old" / "checkpoint.h5"
    saved = load_checkpoint(path)
    metadata = dict(saved.metadata)
    metadata["train"] = {key: value for key, value in metadata["train"].items()
                         if key not in ("state_optim", "update_every", "output_error")}
    metadata["config"] = {key: value for key, value in metadata["config"].items()
                          if key not in ("state_optim", "update_every", "output_error")}
    save_checkpoint(path, saved.params, saved.optimizers, step=saved.step, metadata=metadata)
    assert main(["train", "--resume", str(path), "--epochs", "2", "--runs", str(runs), "--no-progress"]) == 0
    resumed = load_checkpoint(path)
    assert resumed.step == 2 and resumed.metadata["train"]["state_optim"] is None


@pytest.mark.parametrize("settings, flags, message", [
    ({"bogus": 1}, [], r"unknown key\(s\) \['bogus'\]"),
    ({"T": 0}, [], r"T=0: expected a positive integer"),
    ({"optimizer": "lbfgs"}, [], r"optimizer='lbfgs': expected one of"),
    ({"optim_kwargs": {"beta1": 3}}, [], r"optim_kwargs: adam: beta1=3.0 is out of range"),
    ({"sizes": [60, 16, 10]}, [], r"the first size must be 64"),
    ({"data": "missing.npz"}, [], r"missing.npz: not a readable .npz file"),
    ({}, ["--eta", "-1"], r"eta=-1.0: expected a number >= 0"),
    ({"state_optim": "lbfgs"}, [], r"state_optim='lbfgs': expected null, an optimizer's name"),
    ({"state_optim": {"name": "nag", "mu": 2}}, [], r"state_optim: nag: mu=2.0 is out of range"),
    ({"state_optim": ["nag"]}, [], r"state_optim=\['nag'\]: expected null"),
    ({"update_every": 0}, [], r"update_every=0: expected a positive integer"),
    ({"output_error": "hinge"}, [], r"output_error='hinge': expected 'gaussian' or 'cross_entropy'"),
    ({"model": "generative", "output_error": "gaussian"}, [], r"output_error: not a setting of model='generative'"),
])
def test_bad_configs_stop_with_an_error_naming_the_key(tmp_path, capsys, settings, flags, message):
    config = write_config(tmp_path / "bad.json", **settings)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--config", str(config), "--runs", str(tmp_path / "runs"), "--no-progress", *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("ngc-optim train: error: ") and re.search(message, err), err
    assert not (tmp_path / "runs" / "pcn" / "checkpoint.h5").exists()


@pytest.mark.parametrize("settings, flags, message", [
    ({}, ["--T", "5"], "T cannot change (saved: T=3)"),
    ({"model": "generative", "sizes": [64, 12]}, ["--model", "pcn"],
     "model='pcn': the saved model is 'generative' and cannot change"),
])
def test_resume_refuses_to_change_the_model(tmp_path, capsys, settings, flags, message):
    config = write_config(tmp_path / "small.json", epochs=1, **settings)
    runs = tmp_path / "runs"
    main(["train", "--config", str(config), "--runs", str(runs), "--name", "run", "--no-progress"])
    with pytest.raises(SystemExit):
        main(["train", "--resume", str(runs / "run" / "checkpoint.h5"), *flags, "--runs", str(runs), "--no-progress"])
    assert message in capsys.readouterr().err


def test_flags_override_the_file(tmp_path):
    config = write_config(tmp_path / "small.json", epochs=3)
    runs = tmp_path / "runs"
    main(["train", "--config", str(config), "--runs", str(runs), "--epochs", "1", "--seed", "7", "--no-progress"])
    checkpoint = load_checkpoint(runs / "pcn" / "checkpoint.h5")
    assert checkpoint.step == 1 and checkpoint.metadata["train"]["seed"] == 7


GENERATIVE = {"model": "generative", "sizes": [64, 12], "T": 3, "epochs": 4, "batch_size": 100}


def test_a_generative_run_writes_its_mse_and_resumes_exactly(tmp_path, capsys):
    config = tmp_path / "generative.json"
    config.write_text(json.dumps(GENERATIVE))
    runs = tmp_path / "runs"
    assert main(["train", "--config", str(config), "--runs", str(runs), "--name", "straight", "--no-progress"]) == 0
    assert "test MSE" in capsys.readouterr().out
    straight = load_checkpoint(runs / "straight" / "checkpoint.h5")
    assert straight.step == 4 and straight.metadata["model"] == "GenerativePCN"
    assert straight.metadata["train"]["prior"] == ["laplacian", 0.14]
    rows = metrics_without_seconds(runs / "straight")
    assert [sorted(row) for row in rows] == [["epoch", "test_mse", "train_energy"]] * 4
    assert rows[-1]["test_mse"] < rows[0]["test_mse"]

    assert main(["train", "--model", "generative", "--config", str(config), "--runs", str(runs), "--name", "split",
                 "--epochs", "2", "--no-progress"]) == 0
    resumed = subprocess.run([sys.executable, "-m", "ngc_optim", "train", "--resume",
                              str(runs / "split" / "checkpoint.h5"), "--epochs", "4", "--runs", str(runs),
                              "--no-progress"], capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    split = load_checkpoint(runs / "split" / "checkpoint.h5")
    assert split.step == 4 and set(split.params["W1"]) == {"weights"}
    np.testing.assert_array_equal(split.params["W1"]["weights"], straight.params["W1"]["weights"])
    assert split.optimizers["W1"][1].count == straight.optimizers["W1"][1].count == 4 * (1438 // 100)
    assert metrics_without_seconds(runs / "split") == rows

    assert main(["evaluate", str(runs / "split" / "checkpoint.h5")]) == 0
    assert f"test MSE {rows[-1]['test_mse']:.4f}" in capsys.readouterr().out


def test_the_model_flag_takes_the_generative_defaults(tmp_path):
    from ngc_optim.training import GENERATIVE_DEFAULTS, load_config

    config = load_config(overrides={"model": "generative", "epochs": 1})
    assert config == {**GENERATIVE_DEFAULTS, "epochs": 1}
    assert config["name"] == "generative" and config["optimizer"] == "sgd" and config["sizes"] == [64, 128]


@pytest.mark.parametrize("settings, flags, message", [
    ({"model": "vae"}, [], r"model='vae': expected one of \['generative', 'pcn', 'snn'\]"),
    ({"model": "pcn", "prior": ["laplacian", 0.1]}, [], r"prior: not a setting of model='pcn'"),
    ({"prior": ["cauchy", 0.1]}, [], r"prior=\['cauchy', 0.1\]: expected \[name, gamma\]"),
    ({"w_bound": -1}, [], r"w_bound=-1: expected a number >= 0"),
    ({"normalize": "yes"}, [], r"normalize='yes': expected true or false"),
    ({"w_bound": 0.5}, ["--model", "pcn"], r"prior, w_bound: not a setting of model='pcn'"),
])
def test_bad_generative_configs_stop_with_an_error_naming_the_key(tmp_path, capsys, settings, flags, message):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({**GENERATIVE, "prior": ["laplacian", 0.14], **settings}))
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--config", str(config), "--runs", str(tmp_path / "runs"), "--no-progress", *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("ngc-optim train: error: ") and re.search(message, err), err



def small_digits_npz(path, per_class=12):
    from ngc_optim.datasets import load_digits

    data = load_digits()
    rows = np.concatenate([np.flatnonzero(data.y_train == c)[:per_class] for c in range(10)])
    np.savez(path, x_train=data.x_train[rows], y_train=data.y_train[rows], x_test=data.x_test[:40],
             y_test=data.y_test[:40])
    return path


def test_a_spiking_run_writes_its_accuracy_and_resumes_exactly(tmp_path, capsys):
    data = small_digits_npz(tmp_path / "digits.npz")
    config = tmp_path / "snn.json"
    config.write_text(json.dumps({"model": "snn", "n_exc": 12, "T": 25, "epochs": 3, "data": str(data),
                                  "A_minus": 2e-4}))
    runs = tmp_path / "runs"
    assert main(["train", "--config", str(config), "--runs", str(runs), "--name", "straight", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "train spikes" in out and "test accuracy" in out
    straight = load_checkpoint(runs / "straight" / "checkpoint.h5")
    assert straight.step == 3 and straight.metadata["model"] == "DiehlCookSNN"
    assert straight.metadata["config"]["n_inputs"] == 64 and straight.metadata["config"]["A_minus"] == 2e-4
    assert len(straight.metadata["labels"]) == 12
    rows = metrics_without_seconds(runs / "straight")
    assert [sorted(row) for row in rows] == [["epoch", "test_accuracy", "train_spikes"]] * 3
    assert all(row["train_spikes"] > 0 for row in rows)
    assert rows[-1]["test_accuracy"] > 0.2

    assert main(["train", "--config", str(config), "--runs", str(runs), "--name", "split", "--epochs", "1",
                 "--no-progress"]) == 0
    assert main(["train", "--resume", str(runs / "split" / "checkpoint.h5"), "--epochs", "3", "--runs", str(runs),
                 "--no-progress"]) == 0
    split = load_checkpoint(runs / "split" / "checkpoint.h5")
    for group in ("W1", "z1e", "z0"):
        for key, value in straight.params[group].items():
            np.testing.assert_array_equal(split.params[group][key], value, err_msg=f"{group}.{key}")
    assert split.metadata["labels"] == straight.metadata["labels"]
    assert metrics_without_seconds(runs / "split") == rows

    capsys.readouterr()
    assert main(["evaluate", str(runs / "split" / "checkpoint.h5")]) == 0
    assert f"test accuracy {rows[-1]['test_accuracy']:.4f} (spikes " in capsys.readouterr().out


@pytest.mark.parametrize(("settings", "message"), [
    ({"n_exc": 0}, r"n_exc=0: expected a positive integer"),
    ({"w_norm": -1}, r"w_norm=-1: expected a positive number"),
    ({"A_minus": -1e-4}, r"A_minus=-0.0001: expected a number >= 0"),
    ({"w_ie": "strong"}, r"w_ie='strong': expected a finite number"),
    ({"batch_size": 10}, r"batch_size: not a setting of model='snn'"),
    ({"sizes": [64, 10]}, r"sizes: not a setting of model='snn'"),
])
def test_bad_spiking_configs_stop_with_an_error_naming_the_key(tmp_path, capsys, settings, message):
    config = tmp_path / "snn.json"
    config.write_text(json.dumps({"model": "snn", **settings}))
    with pytest.raises(SystemExit) as stop:
        main(["train", "--config", str(config), "--runs", str(tmp_path / "runs"), "--no-progress"])
    assert stop.value.code == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "runs").exists()


def test_a_resumed_run_refuses_data_of_another_width(tmp_path, capsys):
    data = small_digits_npz(tmp_path / "digits.npz")
    wide = tmp_path / "wide.npz"
    with np.load(data) as arrays:
        np.savez(wide, **{key: np.hstack([value, value]) if key.startswith("x") else value
                          for key, value in arrays.items()})
    runs = tmp_path / "runs"
    assert main(["train", "--model", "snn", "--T", "5", "--data", str(data), "--runs", str(runs),
                 "--no-progress"]) == 0
    with pytest.raises(SystemExit):
        main(["train", "--resume", str(runs / "snn" / "checkpoint.h5"), "--data", str(wide), "--epochs", "2",
              "--runs", str(runs), "--no-progress"])
    assert "128 features; the saved model takes 64" in capsys.readouterr().err


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_diverging_run_stops_with_an_error_and_keeps_its_last_finite_epoch(tmp_path, capsys):
    config = write_config(tmp_path / "diverging.json", sizes=[64, 8, 10], T=2, optimizer="sgd", eta=0.03, epochs=6)
    runs = tmp_path / "runs"
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--config", str(config), "--runs", str(runs), "--name", "diverging", "--no-progress"])
    assert exit_.value.code == 1
    assert re.search(r"PCN: training diverged in epoch 2 \(train_energy nan, val_accuracy [0-9.]+\), which is "
                     r"neither recorded nor saved: try a smaller step size", capsys.readouterr().err)
    saved = load_checkpoint(runs / "diverging" / "checkpoint.h5")
    assert saved.step == 1 and len(saved.metadata["history"]) == 1
    assert all(np.isfinite(group["weights"]).all() for group in saved.params.values())
    assert [row["epoch"] for row in metrics_without_seconds(runs / "diverging")] == [1]


def test_a_data_file_of_one_hot_labels_trains_as_one_of_integer_labels(tmp_path):
    classes = small_digits_npz(tmp_path / "classes.npz", per_class=5)
    with np.load(classes) as arrays:
        rows = {key: np.eye(10, dtype=np.float32)[arrays[key]] if key.startswith("y") else arrays[key]
                for key in arrays.files}
    np.savez(tmp_path / "rows.npz", **rows)
    runs = tmp_path / "runs"
    for name in ("classes", "rows"):
        assert main(["train", "--data", str(tmp_path / f"{name}.npz"), "--epochs", "2", "--T", "3", "--batch-size",
                     "10", "--name", name, "--runs", str(runs), "--no-progress"]) == 0
    assert metrics_without_seconds(runs / "rows") == metrics_without_seconds(runs / "classes")
    weights = [load_checkpoint(runs / name / "checkpoint.h5").params["W1"]["weights"] for name in ("classes", "rows")]
    np.testing.assert_array_equal(*weights)
