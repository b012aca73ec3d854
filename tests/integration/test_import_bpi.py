"""The whole BPI Challenge 2013 log goes through ``servflow import`` with the shipped mapping.

``examples/import/bpi2013_incidents.csv.gz`` (7,554 incidents, 65,533 status changes; BPI
Challenge 2013, 4TU.ResearchData, CC BY 4.0) and ``examples/import/bpi2013.toml``, through the
installed command line, in a process of its own, on an SQLite file: at least 99% of the cases
import with nothing reported; the counts of cases and events in the store are those of the
source less what was reported; ``servflow export --format xes`` gives pm4py the same cases and
events back; a second run appends nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

from servflow import ServiceDesk, Status

ROOT = Path(__file__).resolve().parents[2]
LOG = ROOT / "examples" / "import" / "bpi2013_incidents.csv.gz"
MAPPING = ROOT / "examples" / "import" / "bpi2013.toml"
SERVFLOW = (sys.executable, "-m", "servflow.cli")


def read_xes(path: Path) -> Any:
    """The export as pm4py reads it (a test-only dependency: it is AGPL)."""
    import pm4py  # noqa: PLC0415 - heavy, and only this test needs it

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pm4py.read_xes(str(path), variant="iterparse")


def servflow_import(db: Path, report: Path) -> dict[str, object]:
    done = subprocess.run(  # noqa: S603 - our own command line, with our own arguments
        [
            sys.executable,
            "-m",
            "servflow.cli",
            "--db",
            str(db),
            "import",
            str(LOG),
            "--mapping",
            str(MAPPING),
            "--report",
            str(report),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    outcome: dict[str, object] = json.loads(done.stdout)
    return outcome


def test_the_whole_bpi_log_imports_through_the_command_line_and_a_second_run_appends_nothing(
    tmp_path: Path,
) -> None:
    db, report = tmp_path / "bpi.db", tmp_path / "report.jsonl"
    first = servflow_import(db, report)
    assert (first["rows"], first["cases"]) == (65_533, 7_554)
    cases = 7_554
    left_out = first["skipped"]
    assert isinstance(left_out, int)
    assert first["opened"] == cases - left_out
    clean = first["clean"]
    assert isinstance(clean, int)
    assert clean >= 0.99 * cases
    reported = sum(json.loads(line) is not None for line in report.read_text().splitlines())
    problems = first["problems"]
    assert isinstance(problems, dict)
    assert reported == sum(problems.values())

    with ServiceDesk.sqlite(str(db)) as desk:
        requests = desk.queue(status=list(Status), limit=1, count=True).total
        assert requests == first["opened"]
        statuses = desk.projection_status()
        head = max(status.head for status in statuses)
        # The log: each request's events, and the claim of its external reference.
        events, opened = first["events"], first["opened"]
        assert isinstance(events, int)
        assert isinstance(opened, int)
        assert head == events + opened
        assert all(status.lag == 0 for status in statuses)

    # Back out to a process-mining tool: pm4py reads the same cases and events.
    xes = tmp_path / "bpi.xes"
    done = subprocess.run(  # noqa: S603 - our own command line
        [*SERVFLOW, "--db", str(db), "export", "--format", "xes", "--output", str(xes)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    log = read_xes(xes)
    assert log["case:concept:name"].nunique() == opened
    assert len(log) == events  # the requests' events; the references' claims are no case's

    second = servflow_import(db, report)
    assert (second["opened"], second["resumed"], second["events"]) == (0, 0, 0)
    assert second["unchanged"] == first["opened"]
    assert report.read_text() == ""
