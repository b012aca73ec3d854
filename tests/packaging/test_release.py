"""The release: ``python -m build`` makes a wheel and an sdist that install in a clean venv.

Built from this checkout with the build backend pyproject names (hatchling), installed with
pip into a new virtual environment (dependencies from the package index, as a user's would
be), then the installed command runs the demo in an empty directory. Slow (about a minute):
it builds and installs for real.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import servflow

ROOT = Path(__file__).resolve().parents[2]


def run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(  # noqa: S603 - our own commands
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out, ROOT)
    return out


@pytest.mark.slow
def test_the_wheel_and_sdist_hold_what_a_user_needs(dist: Path) -> None:
    version = servflow.__version__
    [wheel] = dist.glob(f"servflow-{version}-py3-none-any.whl")
    [sdist] = dist.glob(f"servflow-{version}.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "servflow/__init__.py",
        "servflow/__main__.py",
        "servflow/py.typed",
        "servflow/desk/outbox/templates/es/receipt.txt",
        f"servflow-{version}.dist-info/licenses/LICENSE",
    ):
        assert needed in names, needed
    metadata = zipfile.ZipFile(wheel).read(f"servflow-{version}.dist-info/METADATA").decode()
    assert f"Version: {version}" in metadata
    assert "License-Expression: MIT" in metadata
    assert "Project-URL: Changelog" in metadata
    assert "Classifier: Typing :: Typed" in metadata
    with tarfile.open(sdist) as archive:
        members = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
    for needed in ("LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "tests/conftest.py"):
        assert needed in members, needed


@pytest.mark.slow
def test_the_wheel_installs_in_a_clean_venv_and_runs_the_demo(dist: Path, tmp_path: Path) -> None:
    [wheel] = dist.glob("servflow-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", wheel)
    assert run(venv / "bin" / "servflow", "--version").strip() == f"servflow {servflow.__version__}"
    assert run(venv / "bin" / "python", "-m", "servflow", "--version").startswith("servflow ")
    workdir = tmp_path / "work"
    workdir.mkdir()
    out = run(venv / "bin" / "servflow", "demo", cwd=workdir)
    assert "SR-" in out
    assert (workdir / "servflow.db").exists() or any(workdir.iterdir())
