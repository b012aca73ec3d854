"""``servflow automation``: automation rules checked, and run once per condition.

``servflow automation check rules.toml`` validates a rules file and says what each rule does;
``servflow automation run rules.toml`` runs them as of now (or ``--at``), as ``system``. The
same rules run with ``servflow sla run-due --rules rules.toml`` and in a follower
(``servflow projections follow --due-every 60 --rules rules.toml``).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from servflow.cli._common import AsJson, At, console, emit_json, guarded, say, session
from servflow.cli.render import local_time, stamp, zone_label

if TYPE_CHECKING:
    from servflow.desk.automation import AutomationReport
    from servflow.domain.automation import AutomationRule, AutomationRules

__all__ = ["RulesFile", "automation_app", "load_rules", "report_firings"]

automation_app = typer.Typer(
    help="Automation rules: check a rules file, run the rules once per condition.",
    no_args_is_help=True,
)

RulesFile = Annotated[
    Path, typer.Argument(help="The rules: a .toml, .json or .yaml file of [[rules]].")
]


def load_rules(path: Path) -> AutomationRules:
    """The rules of a file (``ConfigurationError`` naming each bad setting)."""
    from servflow.domain.automation import AutomationRules  # noqa: PLC0415 - when a file is read

    return AutomationRules.from_file(path)


def _actions(rule: AutomationRule) -> str:
    then = rule.then
    parts = []
    if then.notify is not None:
        parts.append(f"notify {then.notify}")
    if then.reassign is not None:
        parts.append(f"reassign to {then.reassign}")
    if then.raise_priority is not None:
        parts.append(f"raise priority to {then.raise_priority.value}")
    if then.nonconformity is not None:
        parts.append(f"log a {then.nonconformity.severity.value} non-conformity")
    return ", ".join(parts)


def _filters(rule: AutomationRule) -> str:
    where = rule.where
    parts = [
        f"{label} {', '.join(str(v) for v in values)}"
        for label, values in (
            ("team", where.teams),
            ("priority", where.priorities),
            ("tier", where.tiers),
            ("kind", where.kinds),
        )
        if values
    ]
    return "; ".join(parts) or "any request"


@automation_app.command("check")
@guarded
def check(rules_file: RulesFile, *, as_json: AsJson = False) -> None:
    """Validate a rules file and say what each rule does (records nothing)."""
    rules = load_rules(rules_file)
    if as_json:
        emit_json(rules.model_dump(mode="json"))
        return
    count = len(rules.rules)
    say(f"{rules_file}: {count} rule{'s' if count != 1 else ''}, all valid.")
    table = Table()
    for column in ("rule", "when", "where", "then"):
        table.add_column(column)
    for rule in rules.rules:
        table.add_row(
            Text(rule.name, style="bold"), rule.when.describe(), _filters(rule), _actions(rule)
        )
    console().print(table)


@automation_app.command("run")
@guarded
def run(
    ctx: typer.Context, rules_file: RulesFile, *, at: At = None, as_json: AsJson = False
) -> None:
    """Run the rules as of now (or --at), as system: each fires once per condition."""
    current = session(ctx)
    rules = load_rules(rules_file)
    report = current.desk(existing=True).automate(rules, at=current.instant(at))
    if as_json:
        emit_json(report.model_dump(mode="json"))
        return
    report_firings(report, current.zone)


def report_firings(report: AutomationReport, zone: tzinfo | None) -> None:
    """Say what a run of the rules did: a table of firings, then each refusal on its line."""
    when = local_time(report.at, zone)
    if not report.fired:
        say(f"No rule fired as of {when} ({report.judged:,} candidates judged).")
    else:
        count = len(report.fired)
        say(f"{count} rule firing{'s' if count != 1 else ''} recorded as of {when}:")
        console().print(_firings_table(report, report.at, zone))
    for problem in report.problems:
        say(
            f"refused: rule {problem.rule} on {problem.ticket_code or problem.request_id}: "
            f"{problem.message} [{problem.code}]"
        )
    if report.problems:
        raise typer.Exit(1)


def _firings_table(report: AutomationReport, when: datetime, zone: tzinfo | None) -> Table:
    table = Table()
    table.add_column("ticket", no_wrap=True)
    table.add_column("rule")
    table.add_column("condition")
    table.add_column("actions")
    table.add_column(f"at ({zone_label(zone, when)})", no_wrap=True)
    for firing in report.fired:
        done = ", ".join(firing.actions)
        if firing.skipped:
            done += f" (skipped: {'; '.join(firing.skipped)})"
        table.add_row(
            Text(firing.ticket_code, style="bold"),
            firing.rule,
            firing.condition,
            done,
            stamp(firing.occurred_at, zone),
        )
    return table
