"""The ``ngc-optim`` command line."""

import subprocess
import sys

import pytest

from ngc_optim.__main__ import main
from ngc_optim.checkpoint import load_checkpoint
from ngc_optim.demo import DEMO_OPTIMIZERS, run_demo


def test_demo_reduces_the_loss_with_every_optimizer():
    results = run_demo(steps=400, rows=200, columns=50, seed=1, progress=False)
    assert [r["optimizer"] for r in results] == list(DEMO_OPTIMIZERS)
    for result in results:
        assert result["final_loss"] < 0.05 * result["initial_loss"], result
        assert result["step_us"] > 0


def test_demo_command_prints_a_table_and_writes_a_checkpoint(capsys, tmp_path):
    path = tmp_path / "runs" / "demo.h5"
    assert main(["demo", "--steps", "5", "--rows", "20", "--columns", "5", "--no-progress",
                 "--checkpoint", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["optimizer", "initial", "loss", "final", "loss", "us/step"]
    assert [line.split()[0] for line in lines[1:-1]] == list(DEMO_OPTIMIZERS)
    assert lines[-1] == f"checkpoint: {path}"
    checkpoint = load_checkpoint(path)
    assert sorted(checkpoint.optimizers) == sorted(DEMO_OPTIMIZERS) and checkpoint.step == 5
    assert all(state.count == 5 for _, state in checkpoint.optimizers.values())
    assert checkpoint.params["adam"]["x"].shape == (5,)


def test_bad_arguments_are_refused_with_a_message(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--steps", "0"])
    assert exit_info.value.code == 2
    assert "expected a positive integer, got 0" in capsys.readouterr().err


def test_module_entry_point_runs():
    completed = subprocess.run([sys.executable, "-m", "ngc_optim", "--version"], capture_output=True,
                               text=True, check=True)
    assert completed.stdout.startswith("ngc-optim ")
