"""The table, the JSON, and what machine the figures came from."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import sqlite3
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.common import BEST_CASE, REALISTIC, Figure, Run, Workload, pg_connect

_COLUMNS = (
    ("section", 13),
    ("figure", 46),
    ("store", 8),
    ("value", 15),
    ("baseline", 26),
    ("base value", 15),
    ("ratio", 7),
    ("spread", 11),
    ("goal", 7),
    ("", 4),
)
#: The tables of a report, in order: realistic workloads first (what users will see), then the
#: best case (one request at a time, grouped logs: the figures of earlier runs), then the
#: figures measured once for both (growth, concurrency).
GROUPS: tuple[tuple[Workload, str], ...] = (
    (REALISTIC, "Realistic workloads"),
    (BEST_CASE, "Best case"),
    ("", "Not split by workload"),
)


def machine(run: Run) -> dict[str, Any]:
    """The machine, the software versions and the time of the run."""
    info: dict[str, Any] = {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": run.sizes.mode,
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "ram_gib": _ram_gib(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average": os.getloadavg(),
    }
    for package in ("eventsourcing", "pydantic", "orjson", "psycopg"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            info[package] = metadata.version(package)
    with contextlib.suppress(Exception):
        import psycopg  # noqa: PLC0415

        info["psycopg_impl"] = psycopg.pq.__impl__
    if run.postgres:
        with contextlib.suppress(Exception), pg_connect() as connection:
            info["postgresql"] = connection.execute("SHOW server_version").fetchone()[0]
            info["postgresql_settings"] = {
                name: connection.execute(f"SHOW {name}").fetchone()[0]
                for name in ("fsync", "synchronous_commit", "shared_buffers")
            }
    with contextlib.suppress(Exception):
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - read-only, from PATH
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    info["servflow_source"] = _source_fingerprint()
    info["sizes"] = {
        name: value for name, value in vars(run.sizes).items() if not name.startswith("_")
    }
    return info


def _source_fingerprint() -> dict[str, str]:
    """Where the measured servflow was imported from, and a digest of its source files."""
    import servflow  # noqa: PLC0415

    root = Path(servflow.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return {"path": str(root), "sha256": digest.hexdigest()[:16]}


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    elif abs(value) >= 0.1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    return f"{text} {unit}".strip()


def _cells(figure: Figure) -> list[str]:
    unit = figure.unit
    return [
        figure.section,
        figure.name,
        figure.store,
        _number(figure.value, unit),
        figure.baseline,
        _number(figure.baseline_value, unit) if figure.baseline_value is not None else "",
        f"{figure.ratio:.2f}" if figure.ratio is not None else "",
        figure.spread,
        figure.goal,
        figure.verdict if figure.verdict != "info" else "",
    ]


def grouped(figures: list[Figure]) -> list[tuple[str, list[Figure]]]:
    """The figures by workload, in ``GROUPS`` order (groups without figures left out)."""
    return [
        (title, chosen)
        for workload, title in GROUPS
        if (chosen := [f for f in figures if f.workload == workload])
    ]


def verdicts(figures: list[Figure]) -> str:
    """``"n pass, m miss"`` of these figures."""
    passes = sum(f.verdict == "pass" for f in figures)
    misses = sum(f.verdict == "miss" for f in figures)
    return f"{passes} pass, {misses} miss"


def report(figures: list[Figure]) -> str:
    """A text table per workload, each headed by its title and its verdicts."""
    parts = [f"{title} ({verdicts(chosen)})\n{table(chosen)}" for title, chosen in grouped(figures)]
    return "\n\n".join(parts)


def table(figures: list[Figure]) -> str:
    """The figures as a fixed-width text table."""
    lines = [
        " ".join(name.ljust(width) for name, width in _COLUMNS).rstrip(),
        " ".join("-" * width for _, width in _COLUMNS),
    ]
    for figure in figures:
        cells = _cells(figure)
        lines.append(
            " ".join(
                (cell if len(cell) <= width else cell[: width - 1] + "~").ljust(width)
                for cell, (_, width) in zip(cells, _COLUMNS, strict=True)
            ).rstrip()
        )
    return "\n".join(lines)


def markdown(figures: list[Figure]) -> str:
    """Every figure: a goals table, then a Markdown table per workload (docs/performance.md)."""
    parts = ["## Goals", "", goals_markdown(figures)]
    for title, chosen in grouped(figures):
        parts += ["", f"## {title} ({verdicts(chosen)})", "", markdown_table(chosen)]
    return "\n".join(parts)


def goals_markdown(figures: list[Figure]) -> str:
    """The figures that have a goal, realistic workloads first, as a Markdown table."""
    head = ["workload", "figure", "store", "value", "baseline value", "ratio", "spread", "goal"]
    lines = [
        "| " + " | ".join([*head, "verdict"]) + " |",
        "|" + "---|" * (len(head) + 1),
    ]
    for _, chosen in grouped(figures):
        for f in chosen:
            if not f.goal:
                continue
            cells = [
                f.workload or "both",
                f.name,
                f.store,
                _number(f.value, f.unit),
                _number(f.baseline_value, f.unit) if f.baseline_value is not None else "",
                f"{f.ratio:.2f}" if f.ratio is not None else "",
                f.spread + (f" ({f.spread_of})" if f.spread_of else ""),
                f.goal,
                f.verdict,
            ]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def markdown_table(figures: list[Figure]) -> str:
    """The figures as one Markdown table."""
    head = [
        "section",
        "figure",
        "store",
        "value",
        "baseline",
        "baseline value",
        "ratio",
        "spread",
        "goal",
    ]
    lines = [
        "| " + " | ".join([*head, "verdict", "note"]) + " |",
        "|" + "---|" * (len(head) + 2),
    ]
    for figure in figures:
        cells = [*_cells(figure), figure.note]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def write_json(path: Path, run: Run, meta: dict[str, Any], durations: dict[str, float]) -> None:
    """Write everything measured, with the machine and the durations, as JSON."""
    payload = {
        "machine": meta,
        "durations_s": durations,
        "figures": [figure.as_dict() for figure in run.figures],
        "extras": run.extras,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
