"""The desk's work beyond one command: history imported, messages owed sent, rules run.

``ServiceDesk`` is ``RequestCommands``, ``DirectoryCommands`` and these, plus its queries. Each
method checks its arguments and hands the work to its own module: ``servflow.desk.importing``
(another helpdesk's history, through a mapping), ``servflow.desk.outbox`` (the messages the
log owes each customer, and their delivery) and ``servflow.desk.automation`` (automation
rules, run once per condition).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from servflow.desk import checks
from servflow.persistence.store import translated

if TYPE_CHECKING:
    from servflow.desk.automation import AutomationReport
    from servflow.desk.facade import ServiceDesk
    from servflow.desk.importing import ImportMapping, ImportOutcome, ImportProgress
    from servflow.desk.outbox import (
        DeliveryStatus,
        DispatchReport,
        OutboxEntry,
        RetryPolicy,
        Sender,
    )
    from servflow.domain.automation import AutomationRule, AutomationRules
    from servflow.projections.runner import ProgressCallback

__all__ = ["Integrations"]


class Integrations:
    """Importing history, the outbox and automation rules: a part of ``ServiceDesk``."""

    def import_events(
        self,
        source: str | Path,
        mapping: ImportMapping | Mapping[str, Any] | str | Path,
        *,
        report: str | Path | IO[str] | None = None,
        dry_run: bool = False,
        progress: ImportProgress | None = None,
        views_progress: ProgressCallback | None = None,
    ) -> ImportOutcome:
        """Import another system's history from a CSV or XES file, through a mapping.

        ``mapping`` is an ``ImportMapping``, its data, or the path of its TOML, JSON or YAML
        file (``docs/how-to/migrate.md``). Each case becomes a request named
        ``ext:<source>:<case>``, written in one transaction with a mark of the rows it took,
        so a second run appends nothing and an interrupted one resumes. Rows that cannot be
        used are counted by reason and written to ``report`` (JSON lines), never dropped in
        silence. ``dry_run`` counts without writing. The views are left behind while rows are
        written and catch up at the end (``views_progress``); ``progress(done, total)`` is
        called as rows are taken.
        """
        from servflow.desk.importing import run_import  # noqa: PLC0415 - when importing

        return run_import(
            self._desk(),
            source,
            mapping,
            report=report,
            dry_run=dry_run,
            progress=progress,
            views_progress=views_progress,
        )

    # -- the outbox ---------------------------------------------------------------------------

    def dispatch(
        self,
        sender: Sender,
        *,
        at: datetime | None = None,
        limit: int | None = None,
        retry: RetryPolicy | None = None,
        expire_after: timedelta = timedelta(days=7),
        templates: str | Path | None = None,
        language: str = "en",
        lease: timedelta = timedelta(minutes=5),
    ) -> DispatchReport:
        """Hand the messages owed to customers by ``at`` (default now) to ``sender``.

        Receipt, completion, closure, reopening and cancellation come from the log; bad news
        (a resolution clock at risk or breached) from the SLA view as of ``at``. Each message
        is rendered from a Jinja2 template in the customer's language (``templates``: a folder
        of the company's own, looked in first; ``language``: when servflow has none in theirs),
        delivered at least once (its ``key`` lets a sender drop a duplicate), retried with
        growing pauses (``retry``), and kept among the dead letters when it cannot be
        delivered. Messages owed more than ``expire_after`` before ``at`` are not sent.
        ``docs/how-to/outbox.md``.
        """
        from servflow.desk.outbox.run import run_dispatch  # noqa: PLC0415 - when dispatching

        return run_dispatch(
            self._desk(),
            sender,
            at=at,
            limit=limit,
            retry=retry,
            expire_after=expire_after,
            templates=templates,
            language=language,
            lease=lease,
        )

    def outbox(
        self, *, status: DeliveryStatus | None = None, limit: int = 50, offset: int = 0
    ) -> list[OutboxEntry]:
        """The messages the outbox took in, or those of one ``status`` (pending, dead...)."""
        from servflow.desk.outbox.run import outbox_entries  # noqa: PLC0415

        return outbox_entries(self._desk(), status=status, limit=limit, offset=offset)

    def retry_dead(self, keys: Sequence[str] | None = None) -> int:
        """Send dead letters (these keys, or all of them) back to be tried again; how many."""
        from servflow.desk.outbox.run import requeue_dead  # noqa: PLC0415

        return requeue_dead(self._desk(), keys)

    def automate(
        self,
        rules: AutomationRules | Sequence[AutomationRule | Mapping[str, Any]],
        *,
        at: datetime | None = None,
    ) -> AutomationReport:
        """Run automation rules as of ``at`` (default now): each fires once per condition.

        A rule whose condition holds for a request (an SLA clock at risk, breached or missed;
        a hold longer than a duration; a reopening) and whose filters it passes records, by
        ``system`` and in one transaction, ``AutomationFired`` (the rule, the condition and its
        key) and the events of its actions (reassign, raise the priority, log a
        non-conformity; a team to notify is owed a ``team_alert`` by the outbox). The same
        occurrence of a condition never fires a rule twice, whatever runs it and however
        often (``run_due`` with rules, a follower, two processes at once). A refused action
        (an unknown team, roles that do not let ``system`` act) records nothing and is
        reported in ``problems``. ``docs/how-to/automation.md``.
        """
        desk = self._desk()
        checked = checks.rules(rules, "rules", "automate")
        when = desk._clock.instant(at, "at", "automate")  # noqa: SLF001 - the desk's own clock
        checks.not_after_now(when, desk._clock.now(), "automate")  # noqa: SLF001
        from servflow.desk.automation import run_rules  # noqa: PLC0415 - when rules run

        with translated():
            return run_rules(desk, checked, when)

    def _desk(self) -> ServiceDesk:
        """The desk this is a part of (the mixin is only ever a ServiceDesk)."""
        from servflow.desk.facade import ServiceDesk  # noqa: PLC0415 - the facade imports us

        assert isinstance(self, ServiceDesk)  # noqa: S101 - see above
        return self
