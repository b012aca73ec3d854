"""The ``ServiceRequest`` aggregate: the lifecycle of one customer service request.

Events are past-tense facts nested in the aggregate. Their class names, this module's path
and their field names are stored schema: never rename them; evolve them with
``class_version`` and ``upcast_vN_vN+1`` static methods.

Public methods are commands: they check the rules (the lifecycle table in
``servflow.domain.lifecycle``, the inputs) and then record a fact. Each event's ``apply`` only
assigns state and never raises, because it runs again on every replay, under future code too;
the status an event leads to comes from the same table (``status_after``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, NoReturn

from pydantic import Field, ValidationError

from servflow.domain.base import EventSourced, refused
from servflow.domain.conversation import RecordsAndNotes
from servflow.domain.external import RefText as ExternalRefText
from servflow.domain.external import SourceName
from servflow.domain.lifecycle import (
    COMMANDS,
    LIFECYCLE,
    OPEN_STATUSES,
    SYSTEM_TRANSITIONS,
    TRANSITIONS,
    Command,
    Status,
    refusal,
    status_after,
)
from servflow.domain.state import (
    Action,
    Moment,
    NonConformity,
    Note,
    Probe,
    RequestState,
    request_id_for,
    total_cost,
    total_effort,
)
from servflow.domain.values import (
    MAX_ITEMS,
    Actor,
    Channel,
    Customer,
    Instant,
    Kind,
    Label,
    Money,
    Outcome,
    Priority,
    Severity,
    ShortText,
    Stage,
    Text,
    Visibility,
    aware_instant,
)
from servflow.errors import (
    OccurrenceOutOfOrderError,
    ValidationFailedError,
    shown,
)

__all__ = [
    "COMMANDS",
    "CUSTOMER_HOLD",
    "OPEN_STATUSES",
    "SYSTEM_TRANSITIONS",
    "TRANSITIONS",
    "Action",
    "Moment",
    "NonConformity",
    "Note",
    "Probe",
    "ServiceRequest",
    "Status",
    "request_id_for",
    "total_cost",
    "total_effort",
]


#: The hold reason that is the customer's: recorded as ``WaitingOnCustomer``, always pausing.
CUSTOMER_HOLD = "customer"


def _end_hold(request: RequestState) -> None:
    """Forget the hold a request was on (resumed, unassigned, completed)."""
    request.waiting_reason = None
    request.hold_reason = None
    request.hold_note = None


def _days(window: timedelta) -> str:
    """A reopening window as people write it: ``14 days``, ``2 days 4h``, ``36h 30m``."""
    days, rest = divmod(window, timedelta(days=1))
    hours, rest = divmod(rest, timedelta(hours=1))
    minutes = rest // timedelta(minutes=1)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    parts += [f"{hours}h"] if hours else []
    parts += [f"{minutes}m"] if minutes else []
    return " ".join(parts) or f"{window.total_seconds():g}s"


class ServiceRequest(RecordsAndNotes, EventSourced, RequestState):
    """One customer service request, from opening to acceptance (or cancellation)."""

    # -- events ---------------------------------------------------------------------------

    class Event(EventSourced.Event):
        """Base of the request's events: every one says who recorded it and when it happened."""

        actor: Actor
        #: When it happened; equals ``timestamp`` except for imported history.
        occurred_at: Instant

        def apply(self, aggregate: Any) -> None:  # noqa: ANN401 - the library's signature
            """Fold this event into the request's state; each subclass adds its own part."""
            request: ServiceRequest = aggregate
            request.last_occurred_at = self.occurred_at
            # The one definition of where each event leads (the queue fold calls it too).
            status = status_after(self, getattr(request, "status", None))
            if status is not None:
                request.status = status
            self.apply_to(request)

        def apply_to(self, request: ServiceRequest) -> None:
            """Assign the event's state changes; never raise (it runs on every replay)."""

    class Opened(Event, EventSourced.Created):
        """The request was recorded and its receipt confirmed (001 step 1; STAR symptom)."""

        ticket_code: ShortText
        customer: Customer
        channel: Channel
        kind: Kind
        stage: Stage
        symptom: Text
        synthesis: Text | None = None
        #: The request's id in the system it came from, and that system (since version 2).
        external_ref: ExternalRefText | None = None
        external_source: SourceName | None = None

        #: 2: ``external_ref`` and ``external_source`` (None in requests opened before).
        class_version: ClassVar[int] = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """A request opened before external references had none."""
            state["external_ref"] = None
            state["external_source"] = None

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.ticket_code = self.ticket_code
            request.external_ref = self.external_ref
            request.external_source = self.external_source
            request.customer = self.customer
            request.channel = self.channel
            request.kind = self.kind
            request.stage = self.stage
            request.symptom = self.symptom
            request.synthesis = self.synthesis
            request.opened_at = self.occurred_at
            request.opened_by = self.actor
            # Fresh lists of its own; every other attribute starts as RequestState says.
            request.probes = []
            request.actions = []
            request.nonconformities = []
            request.notes = []

    class Classified(Event):
        """The request was given a priority (and maybe a corrected kind and a category)."""

        priority: Priority
        kind: Kind
        category: ShortText | None = None

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.priority = self.priority
            request.kind = self.kind
            request.category = self.category

    class Assigned(Event):
        """A team (and maybe an agent) took responsibility for the request."""

        team: ShortText
        agent: ShortText | None = None

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            if request.team is not None and request.team != self.team:
                request.transfer_count += 1
            request.team = self.team
            request.agent = self.agent

    class Probed(Event):
        """STAR probing: the agent asked questions, gathered findings, stated a diagnosis."""

        questions: tuple[Text, ...] = Field(default=(), max_length=MAX_ITEMS)
        findings: Text
        diagnosis: Text | None = None

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.probes.append(
                Probe(
                    questions=self.questions,
                    findings=self.findings,
                    diagnosis=self.diagnosis,
                    actor=self.actor,
                    at=self.occurred_at,
                )
            )

    class ActionTaken(Event):
        """STAR action: a procedure was applied to solve the problem."""

        action: Text
        effort_minutes: int = Field(default=0, ge=0, le=1_000_000)
        cost: Money | None = None

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.actions.append(
                Action(
                    action=self.action,
                    effort_minutes=self.effort_minutes,
                    cost=self.cost,
                    actor=self.actor,
                    at=self.occurred_at,
                )
            )

    class WaitingOnCustomer(Event):
        """Work is paused until the customer answers; SLA clocks stop counting.

        Asking the customer something is contacting them: ``responds`` says the hold meets the
        first-response clock (DESIGN's rule since servflow 0.2). Events recorded before it read
        ``False`` (``upcast_v1_v2``), so what was reported about them stays as it was.
        """

        reason: Text
        responds: bool = True
        class_version: ClassVar[int] = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """A hold on the customer recorded before 0.2 did not count as a first response."""
            state["responds"] = False

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.waiting_reason = self.reason
            request.hold_reason = None  # a switch from another hold to the customer
            request.hold_note = None

    class CustomerResponded(Event):
        """The customer answered; work and SLA clocks resume."""

        note: Text

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.waiting_reason = None

    class ProgressReported(Event):
        """A customer-visible progress update was given (001 communication mechanisms)."""

        message: Text

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.progress_reports += 1

    class Held(Event):
        """The work was put on hold for a reason other than the customer (from the catalogue).

        ``pauses`` is whether the SLA clocks stop counting during the hold, as the desk's
        catalogue (the SLA policy's ``holds``) said when the hold was recorded: stored with the
        fact, so replays, rebuilds and later catalogues measure it the same forever.
        """

        reason: ShortText
        note: Text | None = None
        pauses: bool

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.hold_reason = self.reason
            request.hold_note = self.note
            request.waiting_reason = None  # a switch from the customer to another hold

    class Resumed(Event):
        """The desk took the work up again after a hold (on the customer or another reason)."""

        note: Text | None = None

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            _end_hold(request)

    class Unassigned(Event):
        """The request went back to a team's queue (or, with no team, to nobody's) unassigned.

        While at work it is classified again (a hold ends); once completed it records only who
        holds the request, as a fact, and the status stays.
        """

        team: ShortText | None = None

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            if self.team is not None and request.team not in {None, self.team}:
                request.transfer_count += 1
            request.team = self.team
            request.agent = None
            _end_hold(request)

    class Completed(Event):
        """STAR resolution: resolved, transferred to another team, or to be followed up."""

        outcome: Outcome
        resolution: Text
        follow_up_at: Instant | None = None
        to_team: ShortText | None = None

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.outcome = self.outcome
            request.resolution = self.resolution
            _end_hold(request)  # completed straight from a hold
            if self.outcome is Outcome.TRANSFERRED:
                request.team = self.to_team
                request.agent = None
                request.transfer_count += 1
                request.follow_up_at = None
            else:
                request.completed_at = self.occurred_at
                request.follow_up_at = self.follow_up_at
                request.follow_up_due = False

    class CustomerAccepted(Event):
        """The customer accepted the completion (or, if ``deemed``, stayed silent too long)."""

        satisfaction: int | None = Field(default=None, ge=1, le=5)
        comment: Text | None = None
        deemed: bool = False

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.satisfaction = self.satisfaction
            request.acceptance_comment = self.comment
            request.deemed_acceptance = self.deemed
            request.closed_at = self.occurred_at

    class Closed(Event):
        """The desk or ``system`` closed the completed request (not the customer's acceptance).

        An auto-closure days after resolution, or an import of one at the history's own time:
        no satisfaction is recorded, and ``CustomerAccepted`` is never implied.
        """

        reason: Text

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.closed_at = self.occurred_at
            request.close_reason = self.reason

    class Reopened(Event):
        """The completion was rejected (or the closed request reopened): back to work."""

        reason: Text

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.reopen_count += 1
            if request.closed_at is not None:
                # Only a closure sets ``closed_at``: this reopening came after one.
                request.reopened_after_closure += 1
                request.closed_at = None
                request.close_reason = None
                request.satisfaction = None
                request.acceptance_comment = None
                request.deemed_acceptance = False
            request.outcome = None
            request.resolution = None
            request.follow_up_at = None
            request.completed_at = None
            request.follow_up_due = False

    class FollowUpDue(Event):
        """The follow-up date of a completion came (recorded by ``system``); status unchanged."""

        follow_up_at: Instant

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.follow_up_due = True

    class Cancelled(Event):
        """The request was withdrawn or found to be a duplicate; its SLA clocks stop."""

        reason: Text

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.cancel_reason = self.reason
            request.cancelled_at = self.occurred_at
            _end_hold(request)

    class NonConformityLogged(Event):
        """A non-conformity was established and documented (control, source 000)."""

        number: int = Field(ge=1)
        description: Text
        severity: Severity
        category: ShortText | None = None
        root_cause: Text | None = None
        corrective_action: Text | None = None

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.nonconformities.append(
                NonConformity(
                    number=self.number,
                    description=self.description,
                    severity=self.severity,
                    category=self.category,
                    root_cause=self.root_cause,
                    corrective_action=self.corrective_action,
                    logged_by=self.actor,
                    logged_at=self.occurred_at,
                )
            )

    class NonConformityCorrected(Event):
        """A documented non-conformity was corrected (improvement, source 000)."""

        number: int = Field(ge=1)
        correction: Text

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            for index, nc in enumerate(request.nonconformities):
                if nc.number == self.number:
                    request.nonconformities[index] = nc.model_copy(
                        update={
                            "correction": self.correction,
                            "corrected_by": self.actor,
                            "corrected_at": self.occurred_at,
                        }
                    )

    class NoteAdded(Event):
        """The desk wrote a note: internal, or a reply the customer sees (a response to them)."""

        text: Text
        visibility: Visibility

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.notes.append(
                Note(
                    text=self.text,
                    visibility=self.visibility,
                    actor=self.actor,
                    at=self.occurred_at,
                )
            )

    class CustomerMessaged(Event):
        """The customer wrote to the desk about the request (a message, not an acceptance)."""

        text: Text

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.notes.append(
                Note(
                    text=self.text,
                    visibility=Visibility.CUSTOMER,
                    actor=self.actor,
                    at=self.occurred_at,
                    by_customer=True,
                )
            )

    class HistoryImported(Event):
        """Rows of another system's history were taken into the request (``import_events``).

        Recorded after the events those rows became, in their transaction: ``rows`` is how many
        of the case's source rows the request holds so far, ``digest`` a hash of them, so a
        second import of the same file appends nothing and a longer one only what is new.
        """

        source: SourceName
        rows: int = Field(ge=1)
        digest: str = Field(pattern=r"^[0-9a-f]{64}$")

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.imported_rows = self.rows
            request.imported_digest = self.digest

    class AutomationFired(Event):
        """An automation rule's condition held for the request, and the rule acted (``system``).

        Recorded before the events of its actions, in their transaction: ``rule`` names the
        rule, ``condition`` says what held (``resolution clock breached, due 2026-03-05T10:00Z``)
        and ``key`` which occurrence of it (a rule fires once per key); ``actions`` are those
        taken (``reassign:l2``, ``raise_priority:urgent``, ``notify:supervisors``,
        ``nonconformity:major``), ``skipped`` those that did not apply, with why.
        """

        rule: Label = Field(min_length=1)
        key: ShortText
        condition: Text
        actions: tuple[ShortText, ...] = Field(default=(), max_length=MAX_ITEMS)
        skipped: tuple[Text, ...] = Field(default=(), max_length=MAX_ITEMS)

        def apply_to(self, request: ServiceRequest) -> None:  # noqa: D102
            request.automations = request.automations | {f"{self.rule}|{self.key}"}

    # -- commands ---------------------------------------------------------------------------

    @classmethod
    def open(  # noqa: PLR0913 - one argument per field of the event
        cls,
        *,
        ticket_code: str,
        customer: Customer | Mapping[str, Any] | str,
        channel: Channel | str,
        kind: Kind | str,
        stage: Stage | str,
        symptom: str,
        synthesis: str | None,
        actor: str,
        at: Moment,
        external_ref: str | None = None,
        external_source: str | None = None,
    ) -> ServiceRequest:
        """Record a new request (001 step 1); its id is derived from the ticket code."""
        if isinstance(customer, str):
            customer = {"id": customer}
        elif isinstance(customer, Customer):
            # Validated again: one made by ``model_construct`` or ``model_copy(update=...)``
            # skipped validation, and the event would take it as it is.
            customer = dict(customer)
        try:
            request = cls._create(
                cls.Opened,
                id=request_id_for(ticket_code),
                timestamp=at.recorded_at,
                occurred_at=at.occurred_at,
                actor=actor,
                ticket_code=ticket_code,
                customer=customer,
                channel=channel,
                kind=kind,
                stage=stage,
                symptom=symptom,
                synthesis=synthesis,
                external_ref=external_ref,
                external_source=external_source,
            )
        except ValidationError as error:
            raise refused(error, Command.OPEN, where=ticket_code) from None
        return request

    def classify(
        self,
        *,
        priority: Priority | str,
        kind: Kind | str | None,
        category: str | None,
        actor: str,
        at: Moment,
    ) -> None:
        """Set the priority, and correct the kind or category if given (001 step 2)."""
        self._require(Command.CLASSIFY, at)
        self._record(
            Command.CLASSIFY,
            at,
            actor=actor,
            priority=priority,
            kind=self.kind if kind is None else kind,
            category=self.category if category is None else category,
        )

    def assign(self, *, team: str, agent: str | None, actor: str, at: Moment) -> None:
        """Give the request to a team (and maybe an agent); also a transfer or a reassignment."""
        self._require(Command.ASSIGN, at)
        self._record(Command.ASSIGN, at, actor=actor, team=team, agent=agent)

    def probe(
        self,
        *,
        questions: list[str] | tuple[str, ...],
        findings: str,
        diagnosis: str | None,
        actor: str,
        at: Moment,
    ) -> None:
        """Record STAR probing: questions, findings and the working diagnosis."""
        self._require(Command.PROBE, at)
        self._record(
            Command.PROBE,
            at,
            actor=actor,
            # Anything but a list or tuple goes to the event's validation as it came.
            questions=tuple(questions) if isinstance(questions, list | tuple) else questions,
            findings=findings,
            diagnosis=diagnosis,
        )

    def act(
        self,
        *,
        action: str,
        effort_minutes: int,
        cost: object,
        actor: str,
        at: Moment,
    ) -> None:
        """Record a STAR action with its effort and cost."""
        self._require(Command.ACT, at)
        self._record(
            Command.ACT,
            at,
            actor=actor,
            action=action,
            effort_minutes=effort_minutes,
            cost=cost,
        )

    def wait_on_customer(self, *, reason: str, actor: str, at: Moment) -> None:
        """Pause the work (and the SLA clocks) until the customer replies."""
        self._require(Command.WAIT_ON_CUSTOMER, at)
        self._record(Command.WAIT_ON_CUSTOMER, at, actor=actor, reason=reason)

    def customer_responded(self, *, note: str, actor: str, at: Moment) -> None:
        """Resume the work after the customer's reply."""
        self._require(Command.CUSTOMER_RESPONDED, at)
        self._record(Command.CUSTOMER_RESPONDED, at, actor=actor, note=note)

    def report_progress(self, *, message: str, actor: str, at: Moment) -> None:
        """Tell the customer how the request is going."""
        self._require(Command.REPORT_PROGRESS, at)
        self._record(Command.REPORT_PROGRESS, at, actor=actor, message=message)

    def complete(
        self,
        *,
        outcome: Outcome | str,
        resolution: str,
        follow_up_at: datetime | None,
        to_team: str | None,
        actor: str,
        at: Moment,
    ) -> None:
        """End the work: resolved, transferred to ``to_team``, or to follow up at a date."""
        self._require(Command.COMPLETE, at)
        if follow_up_at is not None:
            try:
                aware_instant(follow_up_at)
            except ValueError as error:
                self._refuse(Command.COMPLETE, "follow_up_at", str(error))
        if str(outcome) not in Outcome._value2member_map_:
            self._refuse(
                Command.COMPLETE,
                "outcome",
                f"must be one of {', '.join(o.value for o in Outcome)}, not {shown(outcome)}",
            )
        outcome = Outcome(outcome)
        if outcome is Outcome.TRANSFERRED and to_team is None:
            self._refuse(Command.COMPLETE, "to_team", "a transfer needs the team it goes to")
        if outcome is not Outcome.TRANSFERRED and to_team is not None:
            self._refuse(Command.COMPLETE, "to_team", "only a transfer names a team")
        if outcome is Outcome.FOLLOW_UP and follow_up_at is None:
            self._refuse(Command.COMPLETE, "follow_up_at", "a follow-up needs its date")
        if outcome is not Outcome.FOLLOW_UP and follow_up_at is not None:
            self._refuse(Command.COMPLETE, "follow_up_at", "only a follow-up has a date")
        if follow_up_at is not None and follow_up_at < at.occurred_at:
            self._refuse(
                Command.COMPLETE, "follow_up_at", "a follow-up cannot be due before completion"
            )
        self._record(
            Command.COMPLETE,
            at,
            actor=actor,
            outcome=outcome,
            resolution=resolution,
            follow_up_at=follow_up_at,
            to_team=to_team,
        )

    def accept(
        self,
        *,
        satisfaction: int | None,
        comment: str | None,
        actor: str,
        at: Moment,
        deemed: bool = False,
    ) -> None:
        """Close the request with the customer's acceptance (001 step 5).

        Explicit acceptance needs a satisfaction score and a person; a deemed one is
        recorded by ``system`` only, after a silence the SLA policy sets.
        """
        self._require(Command.ACCEPT, at)
        if deemed and actor != "system":
            self._refuse(Command.ACCEPT, "actor", "only 'system' records a deemed acceptance")
        if not deemed and actor == "system":
            self._refuse(
                Command.ACCEPT,
                "actor",
                "'system' cannot accept for the customer; use deemed acceptance",
            )
        if not deemed and satisfaction is None:
            self._refuse(Command.ACCEPT, "satisfaction", "an explicit acceptance needs a 1-5 score")
        self._record(
            Command.ACCEPT,
            at,
            actor=actor,
            satisfaction=satisfaction,
            comment=comment,
            deemed=deemed,
        )

    def close(self, *, reason: str, actor: str, at: Moment) -> None:
        """Close the completed request for the desk or ``system`` (no satisfaction recorded)."""
        self._require(Command.CLOSE, at)
        self._record(Command.CLOSE, at, actor=actor, reason=reason)

    def reopen(
        self, *, reason: str, actor: str, at: Moment, window: timedelta | None = None
    ) -> None:
        """Back to work with the same team and agent: a rejected completion, or a closed request.

        A closed request reopens only within ``window`` of its closure (``None``: any time;
        zero: never), which the desk takes from the SLA policy measuring the request.
        """
        self._require(Command.REOPEN, at)
        if self.status is Status.CLOSED and window is not None and self.closed_at is not None:
            if not window:
                self._refuse_transition(
                    Command.REOPEN, "the SLA policy allows no reopening after closure"
                )
            if at.occurred_at > self.closed_at + window:
                self._refuse_transition(
                    Command.REOPEN,
                    f"closed at {self.closed_at.isoformat()}, and the SLA policy allows "
                    f"reopening for {_days(window)} after closure",
                )
        self._record(Command.REOPEN, at, actor=actor, reason=reason)

    def hold(
        self,
        *,
        reason: str,
        note: str | None,
        holds: Mapping[str, bool],
        actor: str,
        at: Moment,
    ) -> None:
        """Put the work on hold for ``reason``, one of the catalogue ``holds`` (reason -> pauses).

        The customer's hold is recorded as ``WaitingOnCustomer`` (``note`` its reason); any
        other as ``Held``, with whether it pauses the SLA clocks as the catalogue says now.
        """
        if reason == CUSTOMER_HOLD:
            self.wait_on_customer(reason=note or "waiting on the customer", actor=actor, at=at)
            return
        self._require(Command.HOLD, at)
        if not isinstance(reason, str) or reason not in holds:
            known = ", ".join(sorted(holds))
            self._refuse(
                Command.HOLD,
                "reason",
                f"{shown(reason)} is not a hold reason of the SLA policy (known: {known})",
            )
        if self.status is Status.ON_HOLD and reason == self.hold_reason:
            self._refuse_transition(Command.HOLD, f"the request is already on hold: {reason}")
        self._record(
            Command.HOLD, at, actor=actor, reason=reason, note=note, pauses=bool(holds[reason])
        )

    def resume(self, *, note: str | None, actor: str, at: Moment) -> None:
        """Take the work up again after a hold (a customer's reply is ``customer_responded``)."""
        self._require(Command.RESUME, at)
        self._record(Command.RESUME, at, actor=actor, note=note)

    def unassign(self, *, team: str | None, actor: str, at: Moment) -> None:
        """Return the request to ``team``'s queue (``None``: to nobody's), with no agent."""
        self._require(Command.UNASSIGN, at)
        self._record(Command.UNASSIGN, at, actor=actor, team=team)

    def mark_follow_up_due(self, *, actor: str, at: Moment) -> None:
        """Record that the follow-up date of the current completion has come (``system`` only).

        Accepted once per completion, while the request awaits acceptance of a ``follow_up``
        completion whose date is at or before ``at.occurred_at``.
        """
        self._require(Command.MARK_FOLLOW_UP_DUE, at)
        if actor != "system":
            self._refuse(
                Command.MARK_FOLLOW_UP_DUE, "actor", "only 'system' records a follow-up as due"
            )
        if self.outcome is not Outcome.FOLLOW_UP or self.follow_up_at is None:
            self._refuse_transition(Command.MARK_FOLLOW_UP_DUE, "the completion has no follow-up")
        if self.follow_up_due:
            self._refuse_transition(
                Command.MARK_FOLLOW_UP_DUE, "the follow-up is already marked due"
            )
        if at.occurred_at < self.follow_up_at:
            self._refuse(
                Command.MARK_FOLLOW_UP_DUE,
                "occurred_at",
                f"the follow-up is due at {self.follow_up_at.isoformat()}, not before",
            )
        self._record(
            Command.MARK_FOLLOW_UP_DUE,
            at,
            actor=actor,
            follow_up_at=self.follow_up_at,
        )

    def automation_fired(
        self,
        *,
        rule: str,
        key: str,
        condition: str,
        actions: Sequence[str],
        skipped: Sequence[str],
        actor: str,
        at: Moment,
    ) -> None:
        """Record that ``rule`` fired for the condition ``key`` (``system`` only, once per key)."""
        self._require(Command.AUTOMATE, at)
        if actor != "system":
            self._refuse(Command.AUTOMATE, "actor", "only 'system' records an automation")
        if self.has_fired(rule, key):
            self._refuse_transition(Command.AUTOMATE, f"rule {rule!r} already fired for {key!r}")
        self._record(
            Command.AUTOMATE,
            at,
            actor=actor,
            rule=rule,
            key=key,
            condition=condition,
            actions=tuple(actions),
            skipped=tuple(skipped),
        )

    def has_fired(self, rule: str, key: str) -> bool:
        """Whether ``rule`` already fired for the condition ``key`` on this request."""
        return f"{rule}|{key}" in self.automations

    def cancel(self, *, reason: str, actor: str, at: Moment) -> None:
        """Withdraw the request (or mark it a duplicate); its clocks stop."""
        self._require(Command.CANCEL, at)
        self._record(Command.CANCEL, at, actor=actor, reason=reason)

    # -- queries ----------------------------------------------------------------------------

    def allows(self, command: Command | str) -> bool:
        """Whether the lifecycle accepts ``command`` in the current status."""
        return self.status in LIFECYCLE[Command(command)].allowed_from

    # -- guards and recording -----------------------------------------------------------

    def _require(self, command: Command, at: Moment) -> None:
        if self.status not in LIFECYCLE[command].allowed_from:
            raise refusal(command, self.status, request_id=self.id, ticket_code=self.ticket_code)
        if at.occurred_at < self.last_occurred_at:
            msg = (
                f"{self.ticket_code} ({self.id}): refused '{command}': occurred_at "
                f"{at.occurred_at.isoformat()} is before the request's previous event "
                f"({self.last_occurred_at.isoformat()})"
            )
            raise OccurrenceOutOfOrderError(msg, command=command, request_id=self.id)

    def _record(self, command: Command, at: Moment, **fields: object) -> None:
        """Record the event the lifecycle table says ``command`` records."""
        event_class: type[ServiceRequest.Event] = getattr(self, LIFECYCLE[command].event)
        try:
            self.trigger_event(
                event_class, timestamp=at.recorded_at, occurred_at=at.occurred_at, **fields
            )
        except ValidationError as error:
            raise refused(
                error, command, where=f"{self.ticket_code} ({self.id})", request_id=self.id
            ) from None

    def _refuse_transition(self, command: Command, reason: str) -> NoReturn:
        raise refusal(
            command, self.status, request_id=self.id, ticket_code=self.ticket_code, reason=reason
        )

    def _refuse(self, command: Command, field: str, problem: str) -> NoReturn:
        msg = f"{self.ticket_code} ({self.id}): refused '{command}': {field}: {problem}"
        raise ValidationFailedError(
            msg,
            command=command,
            request_id=self.id,
            errors=((field, problem),),
        )
