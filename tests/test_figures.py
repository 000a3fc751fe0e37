"""The figures: how a swept setting is drawn (categories apart, numbers on a log axis past a decade), the
sweep's summary plot, and ``ngc-optim plot`` (learning curves of runs into a PNG; bad runs exit 2, one line)."""

import json
import struct

import pytest

from ngc_optim.__main__ import main
from ngc_optim.figures import MetricsError, axis_scale, find_runs, plot_curves
from ngc_optim.sweep import Point, plot_summary


@pytest.mark.parametrize(("values", "scale"), [
    (["sgd", "nag", "adam", "rmsprop"], "categorical"),
    ([True, False], "categorical"),
    ([[64, 8, 10], [64, 16, 10]], "categorical"),
    ([0.001, "adam"], "categorical"),
    ([0.001, float("nan")], "categorical"),
    ([], "categorical"),
    ([0.001, 0.003, 0.01, 0.03], "log"),
    ([1, 100], "log"),
    ([0.001, 0.003, 0.0099], "linear"),
    ([1, 10], "linear"),
    ([0, 0.1, 10], "linear"),
    ([-1, 100], "linear"),
    ([5, 10, 20], "linear"),
    ([3], "linear"),
])
def test_the_axis_of_a_setting(values, scale):
    assert axis_scale(values) == scale


def summary(tmp_path, settings):
    points = [Point(str(index), point, {}) for index, point in enumerate(settings)]
    rows = [{"test_accuracy": 0.5 + index / 100} for index in range(len(points))]
    return plot_summary(tmp_path / "summary.png", points, rows)


def test_the_summary_draws_categories_apart_and_a_step_size_on_a_log_axis(tmp_path):
    settings = [{"optimizer.name": name, "optimizer.eta": eta, "seed": seed}
                for name in ("sgd", "adam", "rmsprop") for eta in (0.001, 0.01, 0.1) for seed in (0, 1)]
    names, etas = summary(tmp_path, settings).axes
    assert names.get_xscale() == "linear" and [tick.get_text() for tick in names.get_xticklabels()] == \
        ["sgd", "adam", "rmsprop"]
    assert all(line.get_linestyle() == "None" for line in names.get_lines() if len(line.get_xdata()) > 1)
    markers = [line for line in names.get_lines() if line.get_marker() == "o"]
    assert len(markers) == 3 and len({tuple(line.get_xdata()) for line in markers}) == 3
    assert etas.get_xscale() == "log" and [tick.get_text() for tick in etas.get_xticklabels()] == \
        ["0.001", "0.01", "0.1"]
    joined = [line for line in etas.get_lines() if line.get_linestyle() == "-"]
    assert len(joined) == 3 and all(list(line.get_xdata()) == [0.001, 0.01, 0.1] for line in joined)


def test_a_step_size_within_a_decade_is_on_a_linear_axis(tmp_path):
    figure = summary(tmp_path, [{"optimizer.eta": eta} for eta in (0.002, 0.005, 0.01)])
    assert figure.axes[0].get_xscale() == "linear"


def write_run(directory, epochs, **extra):
    directory.mkdir(parents=True)
    rows = [{"epoch": epoch, "train_energy": 1.0 / epoch**2, "test_accuracy": 0.5 + epoch / 100, "seconds": 0.1}
            for epoch in range(1, epochs + 1)]
    (directory / "metrics.json").write_text(json.dumps({"epochs": rows, **extra}))
    return directory


def test_plot_draws_the_curves_of_runs_and_of_a_sweeps_points(tmp_path, capsys):
    single = write_run(tmp_path / "pcn", 5)
    write_run(tmp_path / "sweep" / "0_adam", 3)
    write_run(tmp_path / "sweep" / "1_nag", 0, diverged="energy nan")
    output = tmp_path / "curves.png"
    assert main(["plot", str(single), str(tmp_path / "sweep"), "--output", str(output)]) == 0
    assert capsys.readouterr().out == f"curves: {output}\n"
    header = output.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", header[16:24]) == (900, 340)
    energy, accuracy = plot_curves([single, tmp_path / "sweep"]).axes
    assert energy.get_yscale() == "log" and accuracy.get_yscale() == "linear"
    assert [text.get_text() for text in accuracy.get_legend().get_texts()] == ["pcn", "0_adam", "1_nag (diverged)"]
    assert list(accuracy.get_lines()[0].get_ydata()) == [0.51, 0.52, 0.53, 0.54, 0.55]
    assert find_runs([tmp_path / "sweep"]) == [tmp_path / "sweep" / "0_adam", tmp_path / "sweep" / "1_nag"]


BAD_METRICS = {"not JSON": "{", "a list": "[]", "no epochs": "{}", "epochs not a list": '{"epochs": 3}',
               "an epoch not an object": '{"epochs": [1]}', "no epoch number": '{"epochs": [{"train_energy": 1}]}',
               "a score a string": '{"epochs": [{"epoch": 1, "test_accuracy": "high"}]}',
               "not UTF-8": b"\xff\xfe", "deep": "[" * 100_000, "no epoch at all": '{"epochs": []}'}


@pytest.mark.parametrize("case", ["missing", "a file", "no metrics", *BAD_METRICS, "bad output"])
def test_plot_refuses_what_is_not_a_run_with_one_line_and_exit_2(tmp_path, capsys, case):
    run, output = tmp_path / "run", tmp_path / "curves.png"
    if case == "a file":
        run.write_text("x")
    elif case == "no metrics":
        run.mkdir()
    elif case == "bad output":
        write_run(run, 2)
        output = tmp_path / "missing" / "curves.png"
    elif case != "missing":
        run.mkdir()
        content = BAD_METRICS[case]
        (run / "metrics.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(SystemExit) as stop:
        main(["plot", str(run), "--output", str(output)])
    lines = capsys.readouterr().err.splitlines()
    assert stop.value.code == 2 and len(lines) == 1 and lines[0].startswith("ngc-optim plot: error: ")
    assert str(output if case == "bad output" else run) in lines[0]
    assert not output.exists()


def test_plot_needs_a_run(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["plot"])
    assert stop.value.code == 2 and "RUN" in capsys.readouterr().err


def test_curves_refuse_labels_that_do_not_match_the_runs(tmp_path):
    with pytest.raises(MetricsError, match="2 labels for 1 runs"):
        plot_curves([write_run(tmp_path / "a", 1)], labels=["a", "b"])
