"""The desk's SLA service: clocks, timelines, what-ifs, breaches, due events, policy book.

Every answer is measured under the policy version adopted when the request was opened.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import reduce
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic
from pydantic import ValidationError

from servflow.desk.checks import not_after_now, refuse, whole
from servflow.desk.clock import DeskClock
from servflow.desk.stores import Stores
from servflow.desk.tickets import Ref, describe
from servflow.desk.writer import Writer, project
from servflow.domain.base import refused
from servflow.domain.lifecycle import Command, Status
from servflow.domain.policy import SlaPolicy
from servflow.domain.request import Moment, ServiceRequest
from servflow.domain.sla import (
    SINCE_EVER,
    SLA_POLICY_BOOK_ID,
    DueAction,
    DueActionKind,
    PolicyAdoption,
    SlaPolicyBook,
    SlaStatus,
    SlaTracker,
    TimelineEntry,
    WhatIfFlip,
    clock_policies,
    compare,
    known_by,
    policy_at,
    same_policy,
    status_under,
    timeline_under,
    to_second,
)
from servflow.domain.values import Outcome
from servflow.errors import (
    ConfigurationError,
    CorruptEventError,
    RequestNotFoundError,
    StoreError,
    ValidationFailedError,
    shown,
)
from servflow.persistence.store import translated
from servflow.projections.sla import SlaAlert

__all__ = ["SlaDesk"]

_log = logging.getLogger("servflow")

_SECOND = timedelta(seconds=1)
#: When two due actions of one request fall on the same instant, the follow-up comes first.
_DUE_ORDER: dict[DueActionKind, int] = {"follow_up_due": 0, "deemed_acceptance": 1}


class SlaDesk:
    """SLA clocks and the policy book of one desk (the desk's ``sla*``, ``run_due``, ...)."""

    def __init__(self, stores: Stores, clock: DeskClock, writer: Writer) -> None:
        self._stores = stores
        self._clock = clock
        self._writer = writer

    # -- clocks -------------------------------------------------------------------------

    def status(self, ref: Ref, at: datetime | None, known_at: datetime | None) -> SlaStatus:
        """Both clocks of a request as of ``at``, as known at ``known_at`` (``ServiceDesk.sla``)."""
        request_id = self._stores.resolve(ref)
        when = self._clock.instant(at, "at", "sla", request_id)
        known = self._known(known_at, "sla", request_id)
        tracker = self._tracker(request_id, ref, known)
        if to_second(when) < tracker.opened_at:
            raise RequestNotFoundError(
                describe(ref), detail=f"it was opened after {when.isoformat()}"
            )
        adoptions = self.adoptions()
        policies = clock_policies(
            adoptions if known is None else known_by(adoptions, known), tracker
        )
        return status_under(policies, lambda policy: tracker.status(when, policy))

    def timeline(
        self, ref: Ref, until: datetime | None, known_at: datetime | None
    ) -> list[TimelineEntry]:
        """Why the clocks stand where they do (see ``ServiceDesk.sla_timeline``)."""
        request_id = self._stores.resolve(ref)
        when = self._clock.instant(until, "until", "sla_timeline", request_id)
        known = self._known(known_at, "sla_timeline", request_id)
        tracker = self._tracker(request_id, ref, known)
        adoptions = self.adoptions()
        policies = clock_policies(
            adoptions if known is None else known_by(adoptions, known), tracker
        )
        return timeline_under(tracker, policies, when)

    def whatif(
        self, policy: SlaPolicy, period: tuple[datetime, datetime], at: datetime | None
    ) -> list[WhatIfFlip]:
        """Outcomes that would flip under ``policy`` (see ``ServiceDesk.sla_whatif``)."""
        policy = checked_policy(policy, "policy", "sla_whatif")
        if not isinstance(period, tuple) or len(period) != 2:  # noqa: PLR2004 - a pair
            refuse("sla_whatif", "period", f"must be a (start, end) pair, not {shown(period)}")
        start = self._clock.instant(period[0], "period start", "sla_whatif")
        end = self._clock.instant(period[1], "period end", "sla_whatif")
        if end < start:
            refuse("sla_whatif", "period", "ends before it starts")
        when = to_second(self._clock.instant(at, "at", "sla_whatif"))
        adoptions = self.adoptions()
        label = f"{policy.name} v{policy.version}"
        if any(a.label == label for a in adoptions):
            refuse(
                "sla_whatif",
                "policy",
                f"{label} is adopted already: a candidate is compared with the adopted versions, "
                "so give it a new version (or another name)",
            )
        with self._stores.reading() as tx:
            trackers = self._stores.sla.opened_between(tx, start, end)
        flips: list[WhatIfFlip] = []
        for tracker in trackers:
            if tracker.opened_at <= when:
                current = policy_at(adoptions, tracker.opened_at)
                flips += compare(tracker, when, current, policy)
        return flips

    def alerts(
        self, kind: str, at: datetime | None, limit: int | None, *, imported: bool
    ) -> list[SlaAlert]:
        """``breaches`` or ``at_risk`` clocks as of ``at``, from the SLA view."""
        when = self._clock.instant(at, "at", kind)
        if limit is not None:
            whole(limit, "limit", kind, low=1)
        if not isinstance(imported, bool):
            refuse(kind, "include_imported", "must be True or False")
        with self._stores.reading() as tx:
            if kind == "breaches":
                return self._stores.sla.breaches(tx, when, limit=limit, imported=imported)
            return self._stores.sla.at_risk(tx, when, limit=limit, imported=imported)

    def _known_adoptions(self, known_at: datetime | None) -> list[PolicyAdoption]:
        adoptions = self.adoptions()
        return adoptions if known_at is None else known_by(adoptions, known_at)

    def _known(self, known_at: datetime | None, command: str, request_id: UUID) -> datetime | None:
        """``known_at`` checked; None (everything recorded) when not given."""
        if known_at is None:
            return None
        return self._clock.instant(known_at, "known_at", command, request_id)

    def _tracker(self, request_id: UUID, ref: Ref, known_at: datetime | None = None) -> SlaTracker:
        """The request's tracker from the events recorded at or before ``known_at``."""
        tracker: SlaTracker | None = None
        for event in self._writer.events(request_id, ref):
            if known_at is not None and event.timestamp > known_at:
                break
            tracker = SlaTracker.fold(tracker, event)
        if tracker is None:
            when = "" if known_at is None else f" at {known_at.isoformat()}"
            raise RequestNotFoundError(describe(ref), detail=f"it was not recorded yet{when}")
        return tracker

    # -- due events -----------------------------------------------------------------------

    def run_due(self, at: datetime | None) -> list[DueAction]:
        """Record the time-based events due by ``at`` (see ``ServiceDesk.run_due``)."""
        now = self._clock.now()
        when = self._clock.instant(at, "at", "run_due")
        not_after_now(when, now, "run_due")
        with self._stores.reading() as tx:
            candidates = self._stores.sla.due_actions(tx, when)
        adoptions = self.adoptions()
        actions: list[DueAction] = []
        for candidate in candidates:
            try:
                actions += self._run_due_for(candidate.request_id, when, now, adoptions)
            except CorruptEventError as error:
                # Its events cannot be replayed: nothing is recorded for it, the others go on
                # (``desk.quarantine()`` and ``desk.verify()`` name it).
                _log.warning("servflow: run_due skipped a request: %s", error)
        return actions

    def _run_due_for(
        self, request_id: UUID, when: datetime, now: datetime, adoptions: Sequence[PolicyAdoption]
    ) -> list[DueAction]:
        """Record one request's due events (one save); retried if another writer got there."""

        def attempt() -> tuple[ServiceRequest | None, list[DueAction]]:
            events = self._writer.events(request_id, request_id)
            request: ServiceRequest | None = project(None, events)
            tracker = reduce(SlaTracker.fold, events, None)
            if request is None or tracker is None:  # pragma: no cover - Opened starts both
                return None, []
            policy = clock_policies(adoptions, tracker).resolution
            done: list[DueAction] = []
            for instant, action in _planned_due(request, tracker, policy, when):
                if request.status is not Status.COMPLETED:
                    break  # accepted first: a follow-up of a closed request is not due
                moment = Moment(recorded_at=now, occurred_at=max(instant, request.last_occurred_at))
                if action == "follow_up_due":
                    request.mark_follow_up_due(actor="system", at=moment)
                else:
                    request.accept(
                        satisfaction=None, comment=None, actor="system", at=moment, deemed=True
                    )
                done.append(
                    DueAction(
                        request_id=request.id,
                        ticket_code=request.ticket_code,
                        action=action,
                        occurred_at=moment.occurred_at,
                    )
                )
            return (request if done else None), done

        return self._writer.until_saved(attempt) or []

    # -- the policy book ------------------------------------------------------------------

    def adopt(
        self, policy: SlaPolicy, *, actor: str, effective_from: datetime | None
    ) -> PolicyAdoption:
        """Adopt a policy version (see ``ServiceDesk.adopt_policy``)."""
        policy = checked_policy(policy, "policy", "adopt_policy")

        def attempt() -> tuple[SlaPolicyBook | None, PolicyAdoption]:
            now = self._clock.now()
            book = self.book()
            latest = book.latest if book is not None else None
            if latest is not None and same_policy(latest.policy, policy):
                return None, latest
            effective = self._effective_from(book, policy, effective_from, now)
            moment = Moment(recorded_at=now, occurred_at=now)
            if book is None:
                book = SlaPolicyBook.start(actor=actor, at=moment)
            return book, book.adopt(policy, effective_from=effective, actor=actor, at=moment)

        adoption = self._writer.until_saved(attempt)
        if adoption is None:
            msg = "could not record the policy adoption after 8 attempts"
            raise StoreError(msg)
        return adoption

    def configure(self, sla: SlaPolicy | None) -> None:
        """Adopt the constructor's policy when it differs from the latest adopted one."""
        if sla is None:
            return  # keep what the store adopted (or the built-in default)
        try:
            sla = checked_policy(sla, "sla", "ServiceDesk")
        except ValidationFailedError as error:
            raise ConfigurationError(str(error)) from None
        book = self.book()
        latest = book.latest if book is not None else None
        if latest is None or not same_policy(latest.policy, sla):
            if book is not None:
                book.check(sla)  # refuse before recording anything
            self.adopt(sla, actor="system", effective_from=None)

    def book(self) -> SlaPolicyBook | None:
        """The store's policy book, if a policy was ever adopted."""
        try:
            with translated():
                book: object = self._stores.store.repository.get(
                    SLA_POLICY_BOOK_ID, projector_func=project
                )
        except AggregateNotFoundError:
            return None
        return book if isinstance(book, SlaPolicyBook) else None

    def adoptions(self) -> list[PolicyAdoption]:
        """Every adopted policy version, in order (empty: the built-in default)."""
        book = self.book()
        return [] if book is None else list(book.adoptions)

    def _effective_from(
        self,
        book: SlaPolicyBook | None,
        policy: SlaPolicy,
        requested: datetime | None,
        now: datetime,
    ) -> datetime:
        # From the next whole second: a request opened (recorded) before the adoption, even in
        # the same second, keeps the policy it was opened under.
        earliest = to_second(now) + _SECOND
        if requested is None:
            first = book is None or not book.adoptions
            return SINCE_EVER if first and not self._has_requests() else earliest
        when = self._clock.instant(requested, "effective_from", "adopt_policy")
        whole = to_second(when)
        whole = whole if whole == when else whole + _SECOND
        if when < now and book is not None:
            corrected = [a for a in book.adoptions if a.policy.name == policy.name]
            if corrected:
                return _correction_from(corrected, policy, whole)
        if when < now:
            msg = (
                f"refused 'adopt_policy': effective_from {when.isoformat()} is in the past; "
                "an adoption cannot change answers already given (use sla_whatif to see the "
                "effect of a correction on the past)"
            )
            raise ValidationFailedError(
                msg, command="adopt_policy", errors=(("effective_from", "in the past"),)
            )
        return max(earliest, whole)

    def _has_requests(self) -> bool:
        with translated():
            found = self._stores.store.recorder.select_notifications(
                start=1, limit=1, topics=(get_topic(ServiceRequest.Opened),)
            )
        return bool(found)


def _correction_from(
    corrected: Sequence[PolicyAdoption], policy: SlaPolicy, effective_from: datetime
) -> datetime:
    """``effective_from`` of a correction of the adopted versions ``corrected``, or refused.

    A correction is a higher version of an adopted policy (``SlaPolicyBook.check`` refuses a
    lower one); it reaches back no further than the first adoption of that policy, since the
    requests opened before were never measured by it.
    """
    first = min(a.effective_from for a in corrected)
    if effective_from < first:
        msg = (
            f"refused 'adopt_policy': effective_from {effective_from.isoformat()} is before "
            f"{policy.name!r} was first in force ({first.isoformat()}); a correction reaches "
            "only the requests the policy it corrects measured"
        )
        raise ValidationFailedError(
            msg,
            command="adopt_policy",
            errors=(("effective_from", "before the corrected policy was in force"),),
        )
    return effective_from


def _planned_due(
    request: ServiceRequest, tracker: SlaTracker, policy: SlaPolicy, when: datetime
) -> list[tuple[datetime, DueActionKind]]:
    """The time-based events of one request whose moment came by ``when``, in time order."""
    planned: list[tuple[datetime, DueActionKind]] = []
    follow_up = request.follow_up_at
    if (
        request.allows(Command.MARK_FOLLOW_UP_DUE)
        and request.outcome is Outcome.FOLLOW_UP
        and follow_up is not None
        and not request.follow_up_due
        and follow_up <= when
    ):
        planned.append((follow_up, "follow_up_due"))
    deemed = tracker.deemed_acceptance_at(policy)
    if request.status is Status.COMPLETED and deemed is not None and deemed <= when:
        planned.append((deemed, "deemed_acceptance"))
    planned.sort(key=lambda item: (item[0], _DUE_ORDER[item[1]]))
    return planned


def checked_policy(policy: object, name: str, command: str) -> SlaPolicy:
    """``policy`` as the store would read it back, or refused.

    An ``SlaPolicy`` made with ``model_copy(update=...)`` or ``model_construct`` skipped its
    validation; recorded as it is, a policy the store cannot read back would break every SLA
    answer. Validating its stored form again refuses it before anything is recorded.
    """
    if not isinstance(policy, SlaPolicy):
        refuse(command, name, f"must be an SlaPolicy, not {shown(policy)}")
    try:
        stored = policy.model_dump(mode="json")
    except (ValueError, TypeError) as error:  # pydantic's serialisation errors
        refuse(command, name, f"cannot be stored: {shown(str(error))}")
    try:
        checked = SlaPolicy.model_validate(stored)
    except ValidationError as error:
        raise refused(error, command, where=name) from None
    if "breach_is_final" in policy.model_fields_set:
        return checked
    # Read back from its whole stored form, every field counts as set: one the caller left to
    # its default stays unset, so that ``same_policy`` lets it match the adopted version.
    return SlaPolicy.model_construct(
        _fields_set=checked.model_fields_set - {"breach_is_final"}, **dict(checked)
    )
