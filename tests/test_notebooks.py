"""Every notebook in notebooks/ runs from top to bottom (with fewer steps or epochs than its own, through the
function of ``notebooks/execute.py`` that executes them in place), and is committed executed: every code cell
run in order, its results printed, its figures stored, nothing raised, the file small."""

import base64
import importlib.util
import re
import struct
from pathlib import Path

import nbformat
import pytest

NOTEBOOK_DIRECTORY = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIRECTORY.glob("*.ipynb"))
EXPECTED = {"01_optimizers.ipynb": "bit for bit", "02_train_pcn.ipynb": "test accuracy",
            "03_resume.ipynb": "bit for bit", "04_spiking_stdp.ipynb": "bit for bit",
            "05_optimizers_on_the_pcn.ipynb": "mean final test accuracy",
            "06_generative_reconstruction.ipynb": "test MSE"}
"""What each notebook prints when its results hold."""
LARGEST = 600_000
"""Bytes a committed notebook may take (its figures at the execution script's modest resolution)."""


def _execute_module():
    spec = importlib.util.spec_from_file_location("execute", NOTEBOOK_DIRECTORY / "execute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _outputs(notebook):
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def _printed(notebook):
    return "".join(output.get("text", "") for output in _outputs(notebook))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    notebook = _execute_module().execute(path, quick=True, directory=tmp_path)
    assert not [output for output in _outputs(notebook) if output.output_type == "error"]
    assert EXPECTED[path.name] in _printed(notebook)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_is_committed_executed_with_its_figures(path):
    notebook = nbformat.read(path, as_version=4)
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in cells] == list(range(1, len(cells) + 1)), "not executed in order"
    assert not [output for output in _outputs(notebook) if output.output_type == "error"]
    assert EXPECTED[path.name] in _printed(notebook)
    quick = [short for short in _execute_module().QUICK.values()
             if any(re.search(re.escape(short) + r"(?!\d)", cell.source) for cell in cells)]
    assert quick == [], "committed with the test suite's quick settings"
    figures = [base64.b64decode(output.data["image/png"]) for output in _outputs(notebook)
               if "image/png" in output.get("data", {})]
    assert figures, "no figure stored"
    for figure in figures:
        width, height = struct.unpack(">II", figure[16:24])
        assert width <= 1000 and height <= 1000, f"a figure of {width}x{height} pixels"
    assert path.stat().st_size <= LARGEST
    assert not any("execution" in cell.metadata for cell in cells), "timing metadata committed"


def test_the_quick_settings_are_in_the_notebooks():
    sources = "".join(cell.source for path in NOTEBOOKS for cell in nbformat.read(path, as_version=4).cells)
    assert [full for full in _execute_module().QUICK if full not in sources] == []


def test_every_notebook_says_what_it_prints_when_it_holds():
    assert sorted(EXPECTED) == [path.name for path in NOTEBOOKS]


def test_the_execution_command_writes_outputs_and_small_figures_in_place(tmp_path):
    from nbformat.v4 import new_code_cell, new_notebook

    path = tmp_path / "tiny.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1])\nprint('drawn')")],
                                metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                         "language": "python"}}), path)
    assert _execute_module().main([str(path)]) == 0
    cell = nbformat.read(path, as_version=4).cells[0]
    assert cell.execution_count == 1 and "drawn" in "".join(output.get("text", "") for output in cell.outputs)
    figure = next(base64.b64decode(output.data["image/png"]) for output in cell.outputs
                  if "image/png" in output.get("data", {}))
    width, _ = struct.unpack(">II", figure[16:24])
    assert width < 6.4 * 72, "the figure was not stored at the execution script's resolution"
