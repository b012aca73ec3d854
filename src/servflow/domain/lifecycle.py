"""The lifecycle of a request, in one table: each command, where it is allowed, where it leads.

``LIFECYCLE`` is the one definition. The aggregate's guards (``refusal``), its appliers and the
queue projection (``status_after``), the public ``TRANSITIONS`` mapping, the docs' lifecycle
diagram and table (checked by a test) and the error messages all read it.

``status_after`` is a function of stored facts only (the event's type and outcome, and the
status before it), so replaying the log under this code gives the statuses it gave when the
events were recorded. Changing an entry's ``leads_to`` changes history: version the event
instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar
from uuid import UUID

from servflow.domain.choices import Outcome
from servflow.errors import InvalidTransitionError

__all__ = [
    "COMMANDS",
    "HELD_STATUSES",
    "LIFECYCLE",
    "OPEN_STATUSES",
    "SYSTEM_TRANSITIONS",
    "TRANSITIONS",
    "Command",
    "Status",
    "Transition",
    "changes_of_status",
    "refusal",
    "status_after",
]


class Status(StrEnum):
    """Where a request stands in the 001 workflow."""

    NEW = "new"
    """Opened and confirmed, waiting for classification (the triage queue)."""
    CLASSIFIED = "classified"
    """Classified, waiting for a team or agent to take it."""
    ASSIGNED = "assigned"
    """Someone is working on it (STAR probing and actions)."""
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    """On hold on the customer until they reply; SLA clocks do not count."""
    ON_HOLD = "on_hold"
    """On hold for another reason (vendor, implementation, change window, problem...); the
    desk's catalogue of hold reasons says whether SLA clocks count."""
    TRANSFERRED = "transferred"
    """Sent to another department; re-queued for that team, still open."""
    COMPLETED = "completed"
    """Resolved (or to be followed up); waiting for the customer's acceptance."""
    CLOSED = "closed"
    """Accepted by the customer (explicitly or deemed) or closed by the desk or ``system``:
    finished (reopened only within the policy's window)."""
    CANCELLED = "cancelled"
    """Withdrawn or a duplicate: finished without resolution."""


#: Statuses in which a request still needs work or acceptance.
OPEN_STATUSES = frozenset(Status) - {Status.CLOSED, Status.CANCELLED}

#: On hold: on the customer, or for another reason.
HELD_STATUSES = frozenset({Status.WAITING_ON_CUSTOMER, Status.ON_HOLD})
_HELD = HELD_STATUSES
_WORKABLE = frozenset({Status.CLASSIFIED, Status.ASSIGNED, Status.TRANSFERRED}) | _HELD
#: Completed or closed: reopened from there.
_DONE = frozenset({Status.COMPLETED, Status.CLOSED})
#: Completed, awaiting acceptance: assignment changes are still recorded there, as facts.
_COMPLETED = frozenset({Status.COMPLETED})


class Command(StrEnum):
    """What a person (or ``system``) asks a request to do; each records one event."""

    OPEN = "open"
    CLASSIFY = "classify"
    ASSIGN = "assign"
    PROBE = "probe"
    ACT = "act"
    WAIT_ON_CUSTOMER = "wait_on_customer"
    CUSTOMER_RESPONDED = "customer_responded"
    HOLD = "hold"
    RESUME = "resume"
    UNASSIGN = "unassign"
    REPORT_PROGRESS = "report_progress"
    COMPLETE = "complete"
    ACCEPT = "accept"
    CLOSE = "close"
    REOPEN = "reopen"
    MARK_FOLLOW_UP_DUE = "mark_follow_up_due"
    CANCEL = "cancel"
    LOG_NONCONFORMITY = "log_nonconformity"
    CORRECT_NONCONFORMITY = "correct_nonconformity"
    NOTE = "note"
    CUSTOMER_MESSAGE = "customer_message"
    IMPORT = "import"
    AUTOMATE = "automate"


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the lifecycle: the event a command records, where it is allowed, where it leads.

    ``leads_to`` is the status after the event (None: the status stays), except from a status
    in ``stays_in`` (left as it is) and for an outcome in ``by_outcome`` (which says where that
    outcome leads). ``system`` commands are recorded by ``system`` only, never by a person.
    """

    event: str
    allowed_from: frozenset[Status]
    leads_to: Status | None = None
    stays_in: frozenset[Status] = frozenset()
    by_outcome: Mapping[Outcome, Status] = field(default_factory=dict)
    system: bool = False


#: The lifecycle. ``open`` is allowed from no status: it creates the request.
LIFECYCLE: Mapping[Command, Transition] = MappingProxyType(
    {
        Command.OPEN: Transition("Opened", frozenset(), Status.NEW),
        Command.CLASSIFY: Transition(
            "Classified", _WORKABLE | {Status.NEW}, Status.CLASSIFIED, stays_in=_WORKABLE
        ),
        Command.ASSIGN: Transition(
            "Assigned", _WORKABLE | _COMPLETED, Status.ASSIGNED, stays_in=_HELD | _COMPLETED
        ),
        Command.PROBE: Transition("Probed", frozenset({Status.ASSIGNED})),
        Command.ACT: Transition("ActionTaken", frozenset({Status.ASSIGNED})),
        Command.WAIT_ON_CUSTOMER: Transition(
            "WaitingOnCustomer",
            frozenset({Status.ASSIGNED, Status.ON_HOLD}),
            Status.WAITING_ON_CUSTOMER,
        ),
        Command.CUSTOMER_RESPONDED: Transition(
            "CustomerResponded", frozenset({Status.WAITING_ON_CUSTOMER}), Status.ASSIGNED
        ),
        Command.HOLD: Transition("Held", _HELD | {Status.ASSIGNED}, Status.ON_HOLD),
        Command.RESUME: Transition("Resumed", _HELD, Status.ASSIGNED),
        Command.UNASSIGN: Transition(
            "Unassigned",
            OPEN_STATUSES,
            Status.CLASSIFIED,
            stays_in=_COMPLETED | {Status.NEW},
        ),
        Command.REPORT_PROGRESS: Transition("ProgressReported", _WORKABLE | {Status.NEW}),
        Command.COMPLETE: Transition(
            "Completed",
            _HELD | {Status.ASSIGNED},
            Status.COMPLETED,
            by_outcome={Outcome.TRANSFERRED: Status.TRANSFERRED},
        ),
        Command.ACCEPT: Transition(
            "CustomerAccepted", frozenset({Status.COMPLETED}), Status.CLOSED
        ),
        Command.CLOSE: Transition("Closed", frozenset({Status.COMPLETED}), Status.CLOSED),
        Command.REOPEN: Transition("Reopened", _DONE, Status.ASSIGNED),
        Command.MARK_FOLLOW_UP_DUE: Transition(
            "FollowUpDue", frozenset({Status.COMPLETED}), system=True
        ),
        Command.CANCEL: Transition("Cancelled", OPEN_STATUSES, Status.CANCELLED),
        Command.LOG_NONCONFORMITY: Transition("NonConformityLogged", frozenset(Status)),
        Command.CORRECT_NONCONFORMITY: Transition("NonConformityCorrected", frozenset(Status)),
        Command.NOTE: Transition("NoteAdded", frozenset(Status)),
        Command.CUSTOMER_MESSAGE: Transition("CustomerMessaged", frozenset(Status)),
        Command.IMPORT: Transition("HistoryImported", frozenset(Status)),
        Command.AUTOMATE: Transition("AutomationFired", frozenset(Status), system=True),
    }
)

#: For each command a person may issue on an open request, the statuses that accept it.
TRANSITIONS: Mapping[str, frozenset[Status]] = {
    command.value: rule.allowed_from
    for command, rule in LIFECYCLE.items()
    if command is not Command.OPEN and not rule.system
}

#: Every command a request accepts from people after ``open``.
COMMANDS = tuple(TRANSITIONS)

#: Time-based commands only ``system`` records (``ServiceDesk.run_due``), with their statuses.
SYSTEM_TRANSITIONS: Mapping[str, frozenset[Status]] = {
    command.value: rule.allowed_from for command, rule in LIFECYCLE.items() if rule.system
}

#: The rule of each event type, by the event class's name (what ``status_after`` looks up).
_BY_EVENT: Mapping[str, Transition] = {rule.event: rule for rule in LIFECYCLE.values()}


#: A status as the aggregate keeps it (``Status``) or as a view stores it (its text).
_S = TypeVar("_S", bound=str | None)


def status_after(event: object, status: _S) -> _S | Status:
    """The status a request is in after ``event``, from the status it was in before.

    Events the lifecycle does not know (none today) leave the status as it was.
    """
    rule = _BY_EVENT.get(type(event).__name__)
    if rule is None:
        return status
    if rule.by_outcome:
        outcome: Outcome | None = getattr(event, "outcome", None)
        if outcome is not None and outcome in rule.by_outcome:
            return rule.by_outcome[outcome]
    if rule.leads_to is None or status in rule.stays_in:
        return status
    return rule.leads_to


def refusal(
    command: Command | str,
    status: Status,
    *,
    request_id: UUID,
    ticket_code: str,
    reason: str | None = None,
) -> InvalidTransitionError:
    """The error for ``command`` refused in ``status``, naming the statuses that accept it."""
    allowed = LIFECYCLE[Command(command)].allowed_from
    return InvalidTransitionError(
        request_id=request_id,
        ticket_code=ticket_code,
        status=status.value,
        command=str(command),
        allowed=tuple(s.value for s in Status if s in allowed),
        reason=reason,
    )


def changes_of_status() -> list[tuple[Status | None, Status, Command, tuple[Outcome, ...]]]:
    """Every change of status the table allows: (from, to, command, the outcomes that take it).

    ``from`` is None for ``open``; ``outcomes`` is empty for commands without one. Commands
    that leave the status as it is add nothing. What the docs' lifecycle diagram draws.
    """
    found: list[tuple[Status | None, Status, Command, tuple[Outcome, ...]]] = []
    for command, rule in LIFECYCLE.items():
        froms: list[Status | None] = [None]
        if command is not Command.OPEN:
            froms = [status for status in Status if status in rule.allowed_from]
        routes: list[tuple[Status | None, tuple[Outcome, ...]]] = [
            (rule.leads_to, tuple(o for o in Outcome if o not in rule.by_outcome))
        ]
        routes += [(to, (outcome,)) for outcome, to in rule.by_outcome.items()]
        for before in froms:
            for to, outcomes in routes:
                after = before if to is None or before in rule.stays_in else to
                if after is not None and after != before:
                    found.append((before, after, command, outcomes if rule.by_outcome else ()))
    return found
