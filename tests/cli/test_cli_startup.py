"""The command line starts without loading the engine it does not need (issue 20, item 1).

Timings are the benchmark's (``python -m benchmarks --only startup``); these tests check the
cause: what each start imports, in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_ENGINE = (
    "servflow.desk.facade",
    "servflow.projections.runner",
    "eventsourcing.application",
    "servflow.demo",
)


def loaded_after(code: str) -> dict[str, bool]:
    """Which heavy modules a fresh interpreter holds after running ``code``."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps({{name: name in sys.modules for name in {list(_ENGINE)!r} "
        "+ ['servflow.cli', 'servflow.settings', 'pydantic']}))"
    )
    done = subprocess.run(  # noqa: S603 - our own code
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    found: dict[str, bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_import_servflow_loads_nothing_more() -> None:
    loaded = loaded_after("import servflow")
    assert not any(loaded.values()), loaded


def test_the_command_line_is_built_without_the_engine() -> None:
    loaded = loaded_after("import servflow.cli")
    assert loaded["servflow.cli"]
    assert not any(loaded[name] for name in _ENGINE), loaded


def test_version_answers_before_the_command_line_is_built(
    capsys: pytest.CaptureFixture[str],
) -> None:
    loaded = loaded_after(
        "import sys\nsys.argv = ['servflow', '--version']\nfrom servflow.__main__ import run\nrun()"
    )
    assert not loaded["servflow.cli"]
    assert not loaded["pydantic"]
    del capsys


def test_a_public_name_loads_on_first_use() -> None:
    loaded = loaded_after("import servflow\nservflow.ServiceDesk")
    assert loaded["servflow.desk.facade"]
