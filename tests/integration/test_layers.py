"""The layers as import-linter keeps them, plus what it cannot see inside external packages."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "servflow"
ROOT = SRC.parents[1]


def imported_modules(package: Path) -> set[tuple[str, str]]:
    """Every (file, module) a package's files import, lazy imports included."""
    found: set[tuple[str, str]] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {(path.name, alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add((path.name, node.module))
    return found


def test_the_domain_uses_only_the_domain_part_of_eventsourcing() -> None:
    used = {
        (name, module)
        for name, module in imported_modules(SRC / "domain")
        if module.split(".")[0] == "eventsourcing"
    }
    assert used, "the aggregates are eventsourcing aggregates"
    assert {module for _, module in used} == {"eventsourcing.domain"}, sorted(used)


def lint_imports(root: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """import-linter's verdict on the tree at ``root`` (its pyproject.toml's contracts)."""
    executable = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert executable is not None, "import-linter is in the test extra"
    return subprocess.run(  # noqa: S603 - our own tool on our own tree
        [executable, "--no-cache"], cwd=root, capture_output=True, text=True, check=False, env=env
    )


def test_the_layer_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("domain/values.py", "import servflow.desk.facade", "Layers point down"),
        ("persistence/sql.py", "import servflow.projections.base", "Layers point down"),
        ("domain/values.py", "import sqlite3", "The domain does no I/O"),
        ("domain/values.py", "import orjson", "The domain imports only"),
        ("errors.py", "import servflow.domain.values", "Errors import nothing"),
        ("desk/facade.py", "import servflow.senders", "Layers point down"),
        ("domain/values.py", "import httpx", "The domain imports only"),
        ("domain/values.py", "import smtplib", "The domain does no I/O"),
    ],
)
def test_a_deliberate_violation_breaks_a_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "src", tree / "src")
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    target = tree / "src" / "servflow" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", "utf-8")
    result = lint_imports(tree, env={"PYTHONPATH": str(tree / "src")})
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract}" in result.stdout
    assert "BROKEN" in result.stdout
