"""``servflow import FILE --mapping MAP.toml``: another system's history, taken in and reported."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from servflow.cli._common import AsJson, emit_json, guarded, say, session
from servflow.cli.render import events_progress, rows_progress

if TYPE_CHECKING:
    from servflow.desk.importing import ImportOutcome
    from servflow.projections.runner import Progress as ProjectionProgress

__all__ = ["import_history"]


@guarded
def import_history(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The CSV or XES file (plain or .gz).")],
    *,
    mapping: Annotated[
        Path,
        typer.Option(
            "--mapping",
            "-m",
            help="The import mapping (.toml, .json or .yaml).",
            show_default=False,
        ),
    ],
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Write each row or case not imported, and why, to this JSON Lines file.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be imported; write nothing.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    as_json: AsJson = False,
) -> None:
    """Import another helpdesk's history: each case a request, each row its commands.

    A second run of the same file appends nothing; a run that was interrupted resumes.
    Rows that cannot be imported are counted by reason (and listed with --report).
    """
    desk = session(ctx).desk()
    if quiet or as_json:
        outcome = desk.import_events(file, mapping, report=report, dry_run=dry_run)
    else:
        outcome = _with_progress(file, mapping, report, dry_run=dry_run, ctx=ctx)
    if as_json:
        data = outcome.model_dump(mode="json")
        data["events_per_second"] = round(outcome.events_per_second, 1)
        emit_json(data)
        return
    _summary(outcome, report)


def _with_progress(
    file: Path, mapping: Path, report: Path | None, *, dry_run: bool, ctx: typer.Context
) -> ImportOutcome:
    desk = session(ctx).desk()
    began = time.perf_counter()
    with rows_progress() as bar:
        task = bar.add_task(f"Importing {file.name}", total=None, rate="")

        def tick(done: int, total: int) -> None:
            seconds = time.perf_counter() - began
            rate = f"{done / seconds:,.0f}/s" if seconds > 0 else ""
            bar.update(task, completed=done, total=total, rate=rate)

        with events_progress(rate=True) as views:
            view_task = views.add_task("Catching the views up", total=None, rate="", visible=False)

            def caught(progress: ProjectionProgress) -> None:
                views.update(
                    view_task,
                    visible=True,
                    completed=progress.done,
                    total=progress.total,
                    rate=f"{progress.rate:,.0f} events/s",
                )

            return desk.import_events(
                file,
                mapping,
                report=report,
                dry_run=dry_run,
                progress=tick,
                views_progress=caught,
            )


def _summary(outcome: ImportOutcome, report: Path | None) -> None:
    would = "would be " if outcome.dry_run else ""
    say(
        f"{outcome.file}: {outcome.rows:,} rows of {outcome.cases:,} cases; "
        f"{outcome.opened:,} requests {would}opened, {outcome.resumed:,} {would}resumed, "
        f"{outcome.unchanged:,} already imported, {outcome.skipped:,} left out."
    )
    if outcome.events:
        say(
            f"{outcome.events:,} events {would}recorded in {outcome.seconds:.1f} s "
            f"({outcome.events_per_second:,.0f} events/s); views caught up in "
            f"{outcome.views_seconds:.1f} s."
        )
    say(f"Cases with nothing reported: {outcome.clean:,} ({outcome.clean_share:.2%}).")
    if outcome.problems:
        listed = ", ".join(f"{reason} {n:,}" for reason, n in outcome.problems.items())
        where = f" (listed in {report})" if report else " (--report lists them)"
        say(f"Not imported: {listed}{where}.")
    if outcome.refusals:
        say("Refused: " + ", ".join(f"{k} {n:,}" for k, n in outcome.refusals.items()) + ".")
