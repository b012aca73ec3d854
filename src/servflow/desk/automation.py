"""Running automation rules (``servflow.domain.automation``): find, check, fire once, record.

A run looks for candidates in the views (cheap, possibly a little behind the log): clocks at
risk, breached or missed in the SLA view, held requests in the queue view, reopenings in the
audit view. Each candidate is then judged afresh from its own events, as of the run's instant:
the condition must hold now, its occurrence (the condition key) must not have fired the rule
before, and the request must pass the rule's filters. A firing records, by ``system`` and in one
transaction, ``AutomationFired`` (the rule, the condition and its key, the actions) and the
events of its actions (``Assigned``, ``Classified``, ``NonConformityLogged``); a team to notify
is owed a ``team_alert`` by the outbox. Two runs at once cannot both fire: the second's save
loses the race on the request's version, reads it again and finds the key fired.

Requests holding imported history are left alone (their clocks are history, as in
``breaches()``). What was looked at and found fired is remembered in the views' database
(``sf_automation_seen``) so that a long backlog of breached requests is not read again on every
run; that table only saves reads (the log decides), and a rebuild leaves it alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from pydantic import AwareDatetime

from servflow.desk.writer import project
from servflow.domain.automation import AutomationRule, AutomationRules, condition_key
from servflow.domain.clocks import ClockState
from servflow.domain.lifecycle import HELD_STATUSES, OPEN_STATUSES, Command
from servflow.domain.request import ServiceRequest
from servflow.domain.values import Priority, Value
from servflow.errors import ConcurrencyConflictError, CorruptEventError, ServflowError
from servflow.persistence.sql import Tx, micros

if TYPE_CHECKING:
    from servflow.desk.directories import Directories
    from servflow.desk.facade import ServiceDesk

__all__ = ["AutomationReport", "RuleFiring", "RuleProblem", "run_rules"]

_log = logging.getLogger("servflow")

_SEEN = "sf_automation_seen"
_STATES = {
    "warning": ClockState.WARNING,
    "breached": ClockState.BREACHED,
    "missed": ClockState.MISSED,
}
#: A firing that lost its race is judged again this many times before it is reported.
_ATTEMPTS = 4
#: The most passes of a run over its rules (another pass follows one that fired).
_PASSES = 4


class RuleFiring(Value):
    """One rule acting on one request, as recorded (``AutomationFired`` and its actions)."""

    rule: str
    request_id: UUID
    ticket_code: str
    key: str
    condition: str
    actions: tuple[str, ...]
    skipped: tuple[str, ...]
    occurred_at: AwareDatetime


class RuleProblem(Value):
    """A rule that should have acted on a request but was refused (nothing was recorded)."""

    rule: str
    request_id: UUID
    ticket_code: str
    code: str
    message: str


class AutomationReport(Value):
    """What a run of the rules did: firings recorded, refusals, candidates judged."""

    at: AwareDatetime
    fired: tuple[RuleFiring, ...] = ()
    problems: tuple[RuleProblem, ...] = ()
    #: Candidates judged from their events (those remembered as fired are not read again).
    judged: int = 0


class _Refused(Exception):  # noqa: N818 - carried from judge to run_rules, never raised out
    """An action of a firing was refused (by the directories, the roles, the lifecycle)."""

    def __init__(self, *, ticket_code: str, error: ServflowError) -> None:
        super().__init__(str(error))
        self.ticket_code = ticket_code
        self.error = error


@dataclass(frozen=True, slots=True)
class _Candidate:
    request_id: UUID
    #: What the views said of it: remembered once judged fired, so not read again.
    token: str


@dataclass(frozen=True, slots=True)
class _Occurrence:
    key: str
    condition: str


def run_rules(desk: ServiceDesk, rules: AutomationRules, when: datetime) -> AutomationReport:
    """Run ``rules`` as of ``when`` (the desk's now or before it): see the module's text.

    The rules run again while a pass fires any (at most ``_PASSES`` passes): a condition that
    one rule's action brings about (a raised priority puts a clock at risk) is met in the same
    run. Each occurrence fires once, so the passes end.
    """
    runner = _Runner(desk, when)
    fired: list[RuleFiring] = []
    problems: dict[tuple[str, UUID, str], RuleProblem] = {}
    for _ in range(_PASSES):
        before = len(fired)
        for rule in rules.rules:
            for candidate in runner.candidates(rule, rules):
                try:
                    fired += runner.judge(rule, rules, candidate)
                except CorruptEventError as error:
                    # Its events cannot be replayed: the others go on (``desk.quarantine()``).
                    _log.warning("servflow: a rule skipped a request: %s", error)
                except _Refused as refused:
                    key = (rule.name, candidate.request_id, refused.error.code)
                    problems[key] = RuleProblem(
                        rule=rule.name,
                        request_id=candidate.request_id,
                        ticket_code=refused.ticket_code,
                        code=refused.error.code,
                        message=str(refused.error),
                    )
        if len(fired) == before:
            break
    return AutomationReport(
        at=when, fired=tuple(fired), problems=tuple(problems.values()), judged=runner.judged
    )


class _Runner:
    def __init__(self, desk: ServiceDesk, when: datetime) -> None:
        self._desk = desk
        self._stores = desk._stores  # noqa: SLF001 - the desk's own parts
        self._writer = desk._writer  # noqa: SLF001
        self._when = when
        self._ready = False
        self.judged = 0

    # -- candidates, from the views ----------------------------------------------------------

    def candidates(self, rule: AutomationRule, rules: AutomationRules) -> list[_Candidate]:
        """The requests the views say may meet the rule's condition, less those seen fired."""
        condition = rule.when
        with self._stores.reading() as tx:
            if condition.sla is not None:
                found = list(self._clock_candidates(tx, rule))
            elif condition.held_for is not None:
                found = list(self._held_candidates(tx, rule))
            else:
                found = list(self._reopened_candidates(tx, rules))
        return self._unseen(rule, found)

    def _clock_candidates(self, tx: Tx, rule: AutomationRule) -> Iterator[_Candidate]:
        assert rule.when.sla is not None  # noqa: S101 - the caller chose by it
        state = _STATES[rule.when.sla]
        sla = self._stores.sla
        if state is ClockState.WARNING:
            alerts = sla.at_risk(tx, self._when, imported=False)
        elif state is ClockState.BREACHED:
            alerts = sla.breaches(tx, self._when, imported=False)
        else:
            alerts = sla.missed(tx, imported=False)
        for alert in alerts:
            if alert.state is not state or rule.when.clock not in (None, alert.clock):
                continue
            if rule.where.teams and alert.team not in rule.where.teams:
                continue
            if rule.where.priorities and alert.priority not in rule.where.priorities:
                continue
            token = f"{alert.clock}:{alert.state.value}:{alert.due.isoformat()}"
            yield _Candidate(alert.request_id, token)

    def _held_candidates(self, tx: Tx, rule: AutomationRule) -> Iterator[_Candidate]:
        where = rule.where
        offset = 0
        while True:
            page = self._stores.queues.query(
                tx,
                status=tuple(HELD_STATUSES),
                priority=where.priorities,
                kind=where.kinds,
                tier=where.tiers,
                include_imported=False,
                limit=500,
                offset=offset,
                count=False,
            )
            for row in page.rows:
                if where.teams and row.team not in where.teams:
                    continue
                if rule.when.reason is not None and row.hold_reason != rule.when.reason:
                    continue
                yield _Candidate(row.request_id, f"held:{row.updated_at.isoformat()}")
            if page.next_offset is None:
                return
            offset = page.next_offset

    def _reopened_candidates(self, tx: Tx, rules: AutomationRules) -> Iterator[_Candidate]:
        audit = self._stores.audit
        oldest = micros(self._when - rules.max_age) or 0
        rows = tx.rows(
            f"SELECT position, request_id FROM {audit.t(audit.table)} "  # noqa: S608
            "WHERE event_type = 'Reopened' AND recorded_at >= ? ORDER BY position",
            (oldest,),
        )
        for position, request_id in rows:
            yield _Candidate(UUID(str(request_id)), f"reopened:{position}")

    # -- what was seen fired -----------------------------------------------------------------

    def _ensure(self, tx: Tx) -> None:
        if self._ready:
            return
        table = self._stores.views.dialect.table(_SEEN)
        # Two runs creating it at once would collide in PostgreSQL's catalogue: one waits.
        self._stores.views.lock(tx)
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (rule TEXT NOT NULL, request_id TEXT NOT NULL, "
            "token TEXT NOT NULL, PRIMARY KEY (rule, request_id, token))"
        )
        self._ready = True

    def _unseen(self, rule: AutomationRule, found: list[_Candidate]) -> list[_Candidate]:
        if not found:
            return []
        table = self._stores.views.dialect.table(_SEEN)
        with self._stores.views.transaction() as tx:
            self._ensure(tx)
            query = f"SELECT request_id, token FROM {table} WHERE rule = ?"  # noqa: S608
            seen = {(str(r["request_id"]), str(r["token"])) for r in tx.query(query, (rule.name,))}
        return [c for c in found if (str(c.request_id), c.token) not in seen]

    def _remember(self, rule: AutomationRule, candidate: _Candidate) -> None:
        table = self._stores.views.dialect.table(_SEEN)
        with self._stores.views.transaction() as tx:
            self._ensure(tx)
            tx.execute(
                f"INSERT INTO {table} (rule, request_id, token) VALUES (?, ?, ?) "  # noqa: S608
                "ON CONFLICT (rule, request_id, token) DO NOTHING",
                (rule.name, str(candidate.request_id), candidate.token),
            )

    # -- judging one candidate, from its events ----------------------------------------------

    def judge(
        self, rule: AutomationRule, rules: AutomationRules, candidate: _Candidate
    ) -> list[RuleFiring]:
        """Fire ``rule`` on the candidate for each occurrence of its condition not yet fired."""
        for _ in range(_ATTEMPTS):
            self.judged += 1
            events = self._writer.events(candidate.request_id, candidate.request_id)
            request: ServiceRequest | None = project(None, events)
            if request is None or request.imported_rows:
                return []
            occurrences = self._occurrences(rule, rules, request, events)
            fresh = [o for o in occurrences if not request.has_fired(rule.name, o.key)]
            if occurrences and not fresh:
                self._remember(rule, candidate)
                return []
            if not occurrences and rule.when.sla == "missed":
                # A missed verdict is final: one too old to act on now stays so.
                self._remember(rule, candidate)
                return []
            if not fresh or not rule.where.admits(
                team=request.team,
                priority=request.priority,
                tier=request.customer.tier,
                kind=request.kind,
            ):
                return []
            try:
                fired = [self._fire(rule, request, occurrence) for occurrence in fresh]
            except ConcurrencyConflictError:
                continue  # another writer (or run) changed the request: judge it again
            except ServflowError as error:
                raise _Refused(ticket_code=request.ticket_code, error=error) from None
            self._remember(rule, candidate)
            return fired
        conflict = ConcurrencyConflictError(
            request_id=candidate.request_id, ticket_code="", command=Command.AUTOMATE
        )
        raise _Refused(ticket_code="", error=conflict)

    def _occurrences(
        self,
        rule: AutomationRule,
        rules: AutomationRules,
        request: ServiceRequest,
        events: Sequence[ServiceRequest.Event],
    ) -> list[_Occurrence]:
        """The occurrences of the rule's condition that hold for the request as of the run."""
        if rule.when.sla is not None:
            return self._clock_occurrences(rule, rules, request)
        if rule.when.held_for is not None:
            return self._hold_occurrences(rule, request, events)
        return self._reopening_occurrences(rules, request, events)

    def _clock_occurrences(
        self, rule: AutomationRule, rules: AutomationRules, request: ServiceRequest
    ) -> list[_Occurrence]:
        condition = rule.when
        assert condition.sla is not None  # noqa: S101 - the caller chose by it
        status = self._desk.sla(request.id, at=self._when)
        wanted = _STATES[condition.sla]
        found = []
        for clock in status.clocks:
            if clock.state is not wanted or condition.clock not in (None, clock.name):
                continue
            if wanted is ClockState.MISSED and (
                clock.met_at is None or clock.met_at < self._when - rules.max_age
            ):
                continue  # stopped late long ago: history, not something to act on
            # One occurrence per cycle: the update clock's own, the resolution clock's restart
            # at each reopening; the first response is measured once.
            cycle = (
                getattr(clock, "cycle", 0)
                if clock.name == "update"
                else request.reopen_count
                if clock.name == "resolution"
                else 0
            )
            due = "" if clock.due is None else f", due {clock.due.isoformat()}"
            found.append(
                _Occurrence(
                    condition_key("sla", condition.sla, clock.name, cycle),
                    f"{clock.name.replace('_', ' ')} clock {condition.sla}{due}",
                )
            )
        return found

    def _hold_occurrences(
        self, rule: AutomationRule, request: ServiceRequest, events: Sequence[ServiceRequest.Event]
    ) -> list[_Occurrence]:
        condition = rule.when
        assert condition.held_for is not None  # noqa: S101 - the caller chose by it
        held = _hold_start(request, events)
        if held is None:
            return []
        version, since, reason = held
        if condition.reason not in (None, reason) or self._when - since < condition.held_for:
            return []
        return [
            _Occurrence(
                condition_key("held", version),
                f"{condition.describe()}: on hold ({reason}) since {since.isoformat()}",
            )
        ]

    def _reopening_occurrences(
        self,
        rules: AutomationRules,
        request: ServiceRequest,
        events: Sequence[ServiceRequest.Event],
    ) -> list[_Occurrence]:
        if request.status not in OPEN_STATUSES or not request.reopen_count:
            return []
        reopened = next(
            (e for e in reversed(events) if isinstance(e, ServiceRequest.Reopened)), None
        )
        if reopened is None or reopened.timestamp < self._when - rules.max_age:
            return []
        return [
            _Occurrence(
                condition_key("reopened", request.reopen_count),
                f"reopened at {reopened.occurred_at.isoformat()}",
            )
        ]

    def _fire(
        self, rule: AutomationRule, request: ServiceRequest, occurrence: _Occurrence
    ) -> RuleFiring:
        """Record the firing and its actions in one transaction (all or nothing)."""
        desk = self._desk
        plan = _Plan.of(rule, request, desk._directories)  # noqa: SLF001 - the desk's own part
        ref = request.id
        writer = self._writer
        # Dated as of the run (a run for an earlier instant records what was due then).
        moment = max(self._when, request.last_occurred_at)
        with writer.gathering():
            with writer.change(ref, Command.AUTOMATE, "system", moment) as (r, at):
                if r.version != request.version:
                    # Changed since it was judged: judge it again (the caller does).
                    raise ConcurrencyConflictError(
                        request_id=r.id, ticket_code=r.ticket_code, command=Command.AUTOMATE
                    )
                r.automation_fired(
                    rule=rule.name,
                    key=occurrence.key,
                    condition=occurrence.condition,
                    actions=plan.actions,
                    skipped=plan.skipped,
                    actor="system",
                    at=at,
                )
            if plan.reassign is not None:
                desk.assign(ref, team=plan.reassign, actor="system", occurred_at=moment)
            if plan.priority is not None:
                desk.classify(ref, priority=plan.priority, actor="system", occurred_at=moment)
            nonconformity = rule.then.nonconformity
            if nonconformity is not None:
                desk.log_nonconformity(
                    ref,
                    description=nonconformity.description
                    or f"Rule {rule.name}: {occurrence.condition}",
                    severity=nonconformity.severity,
                    category=nonconformity.category,
                    actor="system",
                    occurred_at=moment,
                )
        return RuleFiring(
            rule=rule.name,
            request_id=request.id,
            ticket_code=request.ticket_code,
            key=occurrence.key,
            condition=occurrence.condition,
            actions=tuple(plan.actions),
            skipped=tuple(plan.skipped),
            occurred_at=moment,
        )


@dataclass
class _Plan:
    """What a firing does to a request as it stands: the actions taken, and those skipped."""

    actions: list[str]
    skipped: list[str]
    reassign: str | None = None
    priority: Priority | None = None

    @classmethod
    def of(cls, rule: AutomationRule, request: ServiceRequest, directories: Directories) -> _Plan:
        then = rule.then
        plan = cls([], [])
        if then.notify is not None:
            plan.actions.append(f"notify:{directories.team_for(then.notify, Command.AUTOMATE)}")
        if then.reassign is not None:
            team = directories.team_for(then.reassign, Command.ASSIGN)
            if not request.allows(Command.ASSIGN):
                plan.skipped.append(f"reassign:{team}: not while {request.status.value}")
            elif request.team == team and request.agent is None:
                plan.skipped.append(f"reassign:{team}: already in its queue")
            else:
                plan.actions.append(f"reassign:{team}")
                plan.reassign = team
        priority = then.raise_priority
        if priority is not None:
            label = f"raise_priority:{priority.value}"
            if not request.allows(Command.CLASSIFY):
                plan.skipped.append(f"{label}: not while {request.status.value}")
            elif request.priority is not None and request.priority.rank <= priority.rank:
                plan.skipped.append(f"{label}: already {request.priority.value}")
            else:
                plan.actions.append(label)
                plan.priority = priority
        if then.nonconformity is not None:
            plan.actions.append(f"nonconformity:{then.nonconformity.severity.value}")
        return plan


def _hold_start(
    request: ServiceRequest, events: Sequence[ServiceRequest.Event]
) -> tuple[int, datetime, str] | None:
    """The current hold: the version and time of the event that began it, and its reason.

    A hold for another reason (a wait on the customer, then the vendor) is another hold.
    """
    reason = request.held_for
    if reason is None:
        return None
    start = next(
        (
            e
            for e in reversed(events)
            if isinstance(e, ServiceRequest.Held | ServiceRequest.WaitingOnCustomer)
        ),
        None,
    )
    if start is None:  # pragma: no cover - a held request was put on hold
        return None
    return start.originator_version, start.occurred_at, reason
