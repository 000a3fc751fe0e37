"""Execute the notebooks in place, with their full settings, so that they are committed with their outputs.

    .venv/bin/python notebooks/execute.py                      # every notebook of this directory
    .venv/bin/python notebooks/execute.py notebooks/02_train_pcn.ipynb

Each notebook runs from top to bottom in a fresh kernel, in this directory, and is written back with its
outputs (figures as PNG) and without timing metadata. A notebook that raises is not written; the command
stops with its error. The test suite runs the same function with ``quick=True`` (the ``QUICK`` substitutions:
fewer steps, epochs, neurons and points), without writing anything (``tests/test_notebooks.py``).
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
QUICK = {"STEPS = 3000": "STEPS = 300", "EPOCHS = 30": "EPOCHS = 2", "EPOCHS = 20": "EPOCHS = 2",
         "HALF = 5": "HALF = 1", "N_EXC = 100": "N_EXC = 12", "T = 150": "T = 30", "SUBSET = None": "SUBSET = 60",
         "ETAS = [0.0003, 0.001, 0.003]": "ETAS = [0.001]", "SEEDS = [0, 1, 2]": "SEEDS = [0]",
         'OPTIMIZERS = ["sgd", "nag", "adam", "rmsprop"]': 'OPTIMIZERS = ["adam", "sgd"]'}
"""Each notebook's settings line -> its quick version (every notebook writes its settings in a cell of their own)."""
FIGURE_DPI = 72
"""The resolution of the figures stored in the notebooks (small files that still read well on GitHub), given to
the kernel's matplotlib in a ``matplotlibrc`` of its own."""


def execute(path, quick=False, directory=None, timeout=1800):
    """The notebook at ``path`` executed in a fresh kernel (with ``QUICK``'s substitutions if ``quick``, figures
    not drawn), in ``directory`` (default: the notebook's own); raises nbclient's ``CellExecutionError`` if a
    cell raises."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if quick:
            for full, short in QUICK.items():
                cell.source = cell.source.replace(full, short)
        cell.metadata.pop("execution", None)
    with tempfile.TemporaryDirectory() as settings:
        (Path(settings) / "matplotlibrc").write_text(f"figure.dpi: {FIGURE_DPI}\n")
        environment = {"MPLBACKEND": "Agg"} if quick else {"MATPLOTLIBRC": settings}
        saved = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
        try:
            NotebookClient(notebook, timeout=timeout, kernel_name="python3", record_timing=False,
                           resources={"metadata": {"path": str(directory or Path(path).parent)}}).execute()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return notebook


def main(argv=None):
    """Execute the notebooks named in ``argv`` (default: all of this directory) in place."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to execute (default: all here)")
    args = parser.parse_args(argv)
    for path in args.notebooks or sorted(HERE.glob("*.ipynb")):
        print(f"executing {path} ...", flush=True)
        nbformat.write(execute(path), path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
