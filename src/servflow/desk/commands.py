"""The commands of a desk: everything that records a fact about a request.

``ServiceDesk`` is ``RequestCommands`` plus its queries. Each command takes keyword-only
arguments, among them ``actor`` and ``occurred_at``, and goes through the one write path
(``Writer.change``): load, check (the aggregate consults the lifecycle table), record, save.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from servflow.desk.clock import DeskClock
from servflow.desk.directories import Directories
from servflow.desk.sla import SlaDesk
from servflow.desk.tickets import Ref, Tickets
from servflow.desk.writer import Writer
from servflow.domain.base import refuse
from servflow.domain.external import ExternalRef, ExternalReference
from servflow.domain.lifecycle import Command, Status
from servflow.domain.policy import SlaPolicy
from servflow.domain.request import NonConformity, Note, ServiceRequest
from servflow.domain.sla import DEFAULT_POLICY
from servflow.domain.values import (
    Channel,
    Customer,
    Kind,
    Outcome,
    Priority,
    Severity,
    Stage,
    Visibility,
)
from servflow.domain.view import Request

__all__ = ["RequestCommands"]


class RequestCommands:
    """The commands of ``ServiceDesk``: each records one event on one request (or opens one)."""

    _clock: DeskClock
    _tickets: Tickets
    _writer: Writer
    _sla: SlaDesk
    _directories: Directories

    def _policy_of(self, request: ServiceRequest) -> SlaPolicy:
        """The SLA policy measuring ``request``: its holds catalogue and reopening window."""
        book = self._sla.book()
        return book.policy_at(request.opened_at) if book is not None else DEFAULT_POLICY

    def open(
        self,
        *,
        customer: Customer | Mapping[str, Any] | str,
        channel: Channel | str,
        kind: Kind | str,
        stage: Stage | str,
        symptom: str,
        synthesis: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
        external_ref: str | ExternalRef | None = None,
        external_source: str | None = None,
    ) -> Request:
        """Record a new request and give it the next free ticket code (001 step 1).

        ``external_ref`` is the request's id in the system it came from (``"INC0012345"``),
        unique per ``external_source`` (``"servicenow"``): a second request with the same pair
        is refused (``DuplicateExternalRefError``), and ``"ext:INC0012345"`` (or
        ``"ext:servicenow:INC0012345"``) names the request wherever a reference is accepted.
        """
        at = self._clock.moment(occurred_at, Command.OPEN)
        customer = self._directories.customer_for_open(customer)
        external: ExternalRef | None = None
        if isinstance(external_ref, ExternalRef):
            if external_source is not None:
                external_ref = ExternalRef.of(external_ref.ref, external_source)
            external = ExternalRef.of(external_ref.ref, external_ref.source)
        elif external_ref is not None:
            external = ExternalRef.of(external_ref, external_source)
        elif external_source is not None:
            refuse("open", "external_source", "needs an external_ref")

        def save(code: str) -> Request:
            request = ServiceRequest.open(
                ticket_code=code,
                customer=customer,
                channel=channel,
                kind=kind,
                stage=stage,
                symptom=symptom,
                synthesis=synthesis,
                actor=actor,
                at=at,
                external_ref=None if external is None else external.ref,
                external_source=None if external is None else external.source,
            )
            self._writer.check_roles(actor, Command.OPEN, request)
            claim = None
            if external is not None:
                # No read first: the store refuses a taken reference (``save_new`` says whose).
                claim = ExternalReference.claim(
                    external, request_id=request.id, ticket_code=code, actor=actor, at=at
                )
            self._writer.save_new(request, claim)
            return Request.of(request)

        return self._tickets.claim(save)

    def classify(
        self,
        ref: Ref,
        *,
        priority: Priority | str,
        kind: Kind | str | None = None,
        category: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Request:
        """Set the priority (and correct the kind or category); SLA targets follow it."""
        with self._writer.change(ref, Command.CLASSIFY, actor, occurred_at) as (r, at):
            r.classify(priority=priority, kind=kind, category=category, actor=actor, at=at)
        return Request.of(r)

    def assign(
        self,
        ref: Ref,
        *,
        team: str,
        agent: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Request:
        """Give the request to a team and optionally an agent (also transfers and reassignment).

        A team or agent of the directories is recorded by its id (``"Billing "`` is
        ``billing``); an unknown one is refused unless the desk takes ad-hoc names.
        """
        team = self._directories.team_for(team, Command.ASSIGN)
        agent = self._directories.agent_for(agent, Command.ASSIGN)
        with self._writer.change(ref, Command.ASSIGN, actor, occurred_at) as (r, at):
            r.assign(team=team, agent=agent, actor=actor, at=at)
        return Request.of(r)

    def probe(
        self,
        ref: Ref,
        *,
        questions: list[str] | tuple[str, ...],
        findings: str,
        diagnosis: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Request:
        """Record STAR probing: the questions asked, what was found, the working diagnosis."""
        with self._writer.change(ref, Command.PROBE, actor, occurred_at) as (r, at):
            r.probe(questions=questions, findings=findings, diagnosis=diagnosis, actor=actor, at=at)
        return Request.of(r)

    def act(
        self,
        ref: Ref,
        *,
        action: str,
        effort_minutes: int = 0,
        cost: Decimal | int | str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Request:
        """Record a STAR action with the effort (minutes) and cost it took."""
        with self._writer.change(ref, Command.ACT, actor, occurred_at) as (r, at):
            r.act(action=action, effort_minutes=effort_minutes, cost=cost, actor=actor, at=at)
        return Request.of(r)

    def wait_on_customer(
        self, ref: Ref, *, reason: str, actor: str, occurred_at: datetime | None = None
    ) -> Request:
        """Pause the work and the SLA clocks until the customer replies."""
        with self._writer.change(ref, Command.WAIT_ON_CUSTOMER, actor, occurred_at) as (r, at):
            r.wait_on_customer(reason=reason, actor=actor, at=at)
        return Request.of(r)

    def customer_responded(
        self, ref: Ref, *, note: str, actor: str, occurred_at: datetime | None = None
    ) -> Request:
        """Record the customer's reply; work and SLA clocks resume."""
        with self._writer.change(ref, Command.CUSTOMER_RESPONDED, actor, occurred_at) as (r, at):
            r.customer_responded(note=note, actor=actor, at=at)
        return Request.of(r)

    def hold(
        self,
        ref: Ref,
        *,
        reason: str,
        note: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Request:
        """Put the work on hold for a reason of the SLA policy's catalogue (``holds``).

        ``customer`` is ``wait_on_customer`` (``note`` says what the desk waits for); the
        catalogue says whether another reason pauses the SLA clocks, and the hold records it.
        A hold may switch to another reason; ``resume`` (or the customer's reply) ends it.
        """
        with self._writer.change(ref, Command.HOLD, actor, occurred_at) as (r, at):
            holds = self._policy_of(r).holds
            r.hold(reason=reason, note=note, holds=holds, actor=actor, at=at)
        return Request.of(r)

    def resume(
        self,
        ref: Ref,
        *,
        note: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Request:
        """End a hold (on the customer or another reason): the work and the clocks go on."""
        with self._writer.change(ref, Command.RESUME, actor, occurred_at) as (r, at):
            r.resume(note=note, actor=actor, at=at)
        return Request.of(r)

    def unassign(
        self,
        ref: Ref,
        *,
        team: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Request:
        """Return the request to ``team``'s queue (None: to nobody's), with no agent.

        A request at work is classified again (a hold ends); a completed one only records
        who holds it, and stays completed. A named team is checked against the team directory,
        as ``assign`` checks it.
        """
        if team is not None:
            team = self._directories.team_for(team, Command.UNASSIGN)
        with self._writer.change(ref, Command.UNASSIGN, actor, occurred_at) as (r, at):
            r.unassign(team=team, actor=actor, at=at)
        return Request.of(r)

    def report_progress(
        self, ref: Ref, *, message: str, actor: str, occurred_at: datetime | None = None
    ) -> Request:
        """Record a customer-visible progress update."""
        with self._writer.change(ref, Command.REPORT_PROGRESS, actor, occurred_at) as (r, at):
            r.report_progress(message=message, actor=actor, at=at)
        return Request.of(r)

    def complete(
        self,
        ref: Ref,
        *,
        outcome: Outcome | str,
        resolution: str,
        follow_up_at: datetime | None = None,
        to_team: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Request:
        """End the work: ``resolved``, ``transferred`` (to ``to_team``) or ``follow_up``."""
        if to_team is not None:
            to_team = self._directories.team_for(to_team, Command.COMPLETE)
        with self._writer.change(ref, Command.COMPLETE, actor, occurred_at) as (r, at):
            r.complete(
                outcome=outcome,
                resolution=resolution,
                follow_up_at=follow_up_at,
                to_team=to_team,
                actor=actor,
                at=at,
            )
        return Request.of(r)

    def accept(
        self,
        ref: Ref,
        *,
        satisfaction: int,
        comment: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Request:
        """Close the request with the customer's explicit acceptance and a 1-5 satisfaction."""
        with self._writer.change(ref, Command.ACCEPT, actor, occurred_at) as (r, at):
            r.accept(satisfaction=satisfaction, comment=comment, actor=actor, at=at)
        return Request.of(r)

    def _close_request(
        self, ref: Ref, *, reason: str, actor: str, occurred_at: datetime | None = None
    ) -> Request:
        """Close a completed request for the desk or ``system`` (``desk.close(ref, ...)``).

        Never the customer's ``accept``.

        No satisfaction is recorded. When importing history, give the source's closure time
        as ``occurred_at``; ``run_due`` keeps recording deemed acceptances by the policy.
        """
        with self._writer.change(ref, Command.CLOSE, actor, occurred_at) as (r, at):
            r.close(reason=reason, actor=actor, at=at)
        return Request.of(r)

    def reopen(
        self, ref: Ref, *, reason: str, actor: str, occurred_at: datetime | None = None
    ) -> Request:
        """Back to work: the customer rejects the completion, or the closed request reopens.

        A closed request reopens within the SLA policy's ``reopen_window`` of its closure
        (default: any time).
        """
        with self._writer.change(ref, Command.REOPEN, actor, occurred_at) as (r, at):
            window = self._policy_of(r).reopen_window if r.status is Status.CLOSED else None
            r.reopen(reason=reason, actor=actor, at=at, window=window)
        return Request.of(r)

    def cancel(
        self, ref: Ref, *, reason: str, actor: str, occurred_at: datetime | None = None
    ) -> Request:
        """Withdraw an open request (or mark it a duplicate); its SLA clocks stop."""
        with self._writer.change(ref, Command.CANCEL, actor, occurred_at) as (r, at):
            r.cancel(reason=reason, actor=actor, at=at)
        return Request.of(r)

    def log_nonconformity(
        self,
        ref: Ref,
        *,
        description: str,
        severity: Severity | str,
        category: str | None = None,
        root_cause: str | None = None,
        corrective_action: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> NonConformity:
        """Document a non-conformity on a request, at any time (even after closure)."""
        with self._writer.change(ref, Command.LOG_NONCONFORMITY, actor, occurred_at) as (r, at):
            return r.log_nonconformity(
                description=description,
                severity=severity,
                category=category,
                root_cause=root_cause,
                corrective_action=corrective_action,
                actor=actor,
                at=at,
            )

    def note(
        self,
        ref: Ref,
        *,
        text: str,
        visibility: Visibility | str = Visibility.INTERNAL,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Note:
        """Write a note on a request, at any time: ``internal`` (default) or for the ``customer``.

        A note the customer sees is a reply to them: the first one counts as the first response.
        Internal notes are never a response; both appear in the history and exports.
        """
        with self._writer.change(ref, Command.NOTE, actor, occurred_at) as (r, at):
            return r.note(text=text, visibility=visibility, actor=actor, at=at)

    def customer_message(
        self, ref: Ref, *, text: str, actor: str, occurred_at: datetime | None = None
    ) -> Note:
        """Record a message from the customer about a request, at any time.

        Recorded by the customer (``customer:<id>``, on their own requests) or by the desk or an
        integration on their behalf (a phone call, a mailbox). It changes no status: a request
        waiting on the customer goes back to work with ``customer_responded``. While a request
        awaits acceptance, the customer is no longer silent from then on.
        """
        with self._writer.change(ref, Command.CUSTOMER_MESSAGE, actor, occurred_at) as (r, at):
            return r.customer_message(text=text, actor=actor, at=at)

    def correct_nonconformity(
        self,
        ref: Ref,
        nc: NonConformity | int,
        *,
        correction: str,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> NonConformity:
        """Record how a documented non-conformity was corrected."""
        number = nc.number if isinstance(nc, NonConformity) else nc
        with self._writer.change(ref, Command.CORRECT_NONCONFORMITY, actor, occurred_at) as (r, at):
            return r.correct_nonconformity(number=number, correction=correction, actor=actor, at=at)
