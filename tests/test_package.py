"""The installed layout: components and models live under ngc_optim, never at the top level."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built from a copy of the package's sources: setuptools builds in the tree's ``build/``, which two
    test workers building at once would share."""
    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("ngc_optim", "components", "models"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__", "*.nb[ic]"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
                   check=True, capture_output=True)
    (path,) = out.glob("ngc_optim-*.whl")
    return path


def test_wheel_installs_components_and_models_under_ngc_optim(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "ngc_optim/components/__init__.py" in names
    assert "ngc_optim/models/__init__.py" in names
    assert "ngc_optim/kernels.py" in names
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"ngc_optim", next(n for n in top_level if n.endswith(".dist-info"))}


def test_plain_install_imports_and_has_no_top_level_components(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target),
                    str(wheel)], check=True, capture_output=True)
    script = (
        f"import sys; sys.path.insert(0, {str(target)!r})\n"
        "import importlib.util, ngc_optim, ngc_optim.components, ngc_optim.models\n"
        f"assert ngc_optim.__file__.startswith({str(target)!r}), ngc_optim.__file__\n"
        "assert importlib.util.find_spec('components') is None\n"
        "assert importlib.util.find_spec('models') is None\n"
        "from ngc_optim.datasets import load_digits\n"
        "assert load_digits().x_train.shape == (1438, 64)\n"
        "print(ngc_optim.adam(eta=0.1))\n"
    )
    completed = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True,
                               text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("adam(eta=0.1")


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = readme.split("Run the tests:", 1)[1].split("```bash\n", 1)[1].split("\n```", 1)[0]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == blocks.strip()


def test_top_level_exports_everything_the_optim_package_exports():
    import ngc_optim
    import ngc_optim.optim

    assert set(ngc_optim.optim.__all__) <= set(ngc_optim.__all__)
    for name in ngc_optim.__all__:
        assert hasattr(ngc_optim, name), name
