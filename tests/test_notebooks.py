"""Every notebook in notebooks/ runs from top to bottom (with fewer steps or epochs than its own)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
QUICK = {"STEPS = 3000": "STEPS = 300", "EPOCHS = 30": "EPOCHS = 2", "HALF = 5": "HALF = 1",
         "N_EXC = 100": "N_EXC = 12", "T = 150": "T = 30", "SUBSET = None": "SUBSET = 60"}
EXPECTED = {"01_optimizers.ipynb": "bit for bit", "02_train_pcn.ipynb": "test accuracy",
            "03_resume.ipynb": "bit for bit", "04_spiking_stdp.ipynb": "bit for bit"}
"""What each notebook prints when its results hold."""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        for full, quick in QUICK.items():
            cell.source = cell.source.replace(full, quick)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    assert any(EXPECTED[path.name] in output.get("text", "") for output in outputs)


def test_there_are_notebooks():
    assert NOTEBOOKS
