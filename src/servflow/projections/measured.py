"""Row projections whose rows carry SLA measures: the queue and SLA views' common base.

A :class:`MeasuredProjection` keeps each request's :class:`~servflow.domain.sla.SlaTracker` in
its row and measures it under the policies the log has adopted (``SlaPolicyBook``
events, folded in order into a table of the projection), so a rebuild and incremental
following measure every request alike. A tracker's fold, JSON and status are computed once per
tracker object and shared by the projections of one transaction.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Hashable, Sequence
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from servflow.domain.policy import SlaPolicy
from servflow.domain.sla import (
    ClockPolicies,
    PolicyAdoption,
    SlaPolicyBook,
    SlaStatus,
    SlaTracker,
    clock_policies,
    policy_at,
    status_under,
)
from servflow.persistence.sql import Tx, micros
from servflow.projections.base import RowProjection
from servflow.projections.shares import Share

__all__ = ["MeasuredProjection"]

RowT = TypeVar("RowT")
#: More distinct policy texts than this in one process is unusual: start the memo again.
_MAX_PARSED = 256


#: What was derived from recent tracker objects (their JSON, their status under a policy), by
#: identity: each entry holds its tracker, so an id is never reused while it is here.
_DERIVED: dict[int, tuple[SlaTracker, dict[Hashable, Any]]] = {}
_MAX_DERIVED = 2048


def _derived(tracker: SlaTracker) -> dict[Hashable, Any]:
    entry = _DERIVED.get(id(tracker))
    if entry is None or entry[0] is not tracker:
        if len(_DERIVED) >= _MAX_DERIVED:
            _DERIVED.clear()
        entry = _DERIVED[id(tracker)] = (tracker, {})
    return entry[1]


class MeasuredProjection(RowProjection[RowT]):
    """A one-row-per-request projection whose rows carry SLA measures.

    It folds the ``PolicyAdopted`` events of the log into a table of its own, in log order, and
    measures each stored row with the policy in force at the request's opening. Subclasses say
    how to ``measure`` a row and when it ``opened``.
    """

    #: Adopted policies parsed once per distinct text, shared by every measured projection so
    #: that equal policies are the same object (a key of the memo below).
    _parsed: ClassVar[dict[str, PolicyAdoption]] = {}

    def __init__(self) -> None:
        # The policies known to the batch being applied, and the transaction's memo, per
        # thread: inline projections run in the writers' own transactions, which may overlap
        # on PostgreSQL.
        self._batch = threading.local()

    @abstractmethod
    def measure(self, row: RowT, policies: ClockPolicies) -> RowT:
        """The row with its SLA columns computed, each clock under its version."""

    @abstractmethod
    def tracker_of(self, row: RowT) -> SlaTracker | None:
        """The row's SLA tracker, if it keeps one."""

    @abstractmethod
    def opened(self, row: RowT) -> datetime:
        """When the row's request was opened (to the second): it picks the policy."""

    @property
    def policy_table(self) -> str:
        """The table of adopted policies, beside the rows (dropped with them on a rebuild)."""
        return f"{self.table}_policy"

    def tables(self) -> Sequence[str]:  # noqa: D102
        return (self.table, self.policy_table)

    def create_policy_table(self, tx: Tx) -> None:
        """Create the table of adopted policies."""
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(self.policy_table)} ("
            f"position {self.dialect.position_key}, effective_from BIGINT NOT NULL, "
            "adoption TEXT NOT NULL)"
        )

    def take_share(self, share: Share | None) -> None:  # noqa: D102
        super().take_share(share)
        # A share's pass starts on an empty view: the policies it folds are all it knows.
        if share is None:
            self.__dict__.pop("_share_adoptions", None)
        else:
            self.__dict__["_share_adoptions"] = []

    def adoptions(self, tx: Tx) -> list[PolicyAdoption]:
        """The policies this projection has folded, in log order.

        In a share's pass (``Share``) those it folded itself: the table also holds the ones the
        other shares' processes folded, which may be further on in the log.
        """
        folded: list[PolicyAdoption] | None = self.__dict__.get("_share_adoptions")
        if folded is not None:
            return list(folded)
        records = tx.query(
            f"SELECT adoption FROM {self.t(self.policy_table)} ORDER BY position"  # noqa: S608
        )
        texts = [str(r["adoption"]) for r in records]
        parsed = MeasuredProjection._parsed
        for text in texts:
            if text not in parsed:
                if len(parsed) >= _MAX_PARSED:
                    parsed.clear()
                parsed[text] = PolicyAdoption.from_stored(text)
        return [parsed[t] for t in texts]

    # -- what the measured projections share within a transaction ------------------------------
    #
    # A tracker after a given event, and its status under a given policy, depend on the log
    # alone (the fold is pure and deterministic), so every projection that keeps one may take
    # the first one's answer: keyed by the event object and the number of facts before it, or
    # by the request, its number of facts and the policy object.

    def tracker_after(self, tracker: SlaTracker | None, event: object) -> SlaTracker | None:
        """``SlaTracker.fold(tracker, event)``, computed once per event per transaction."""
        memo: dict[Any, Any] | None = getattr(self._batch, "memo", None)
        if memo is None:
            return SlaTracker.fold(tracker, event)
        before = 0 if tracker is None else len(tracker.facts)
        key = ("fold", id(event))
        hit = memo.get(key)
        if hit is not None and hit[0] is event and hit[1] == before:
            return tracker if hit[2] is None else hit[2]
        after = SlaTracker.fold(tracker, event)
        memo[key] = (event, before, None if after is tracker else after)
        return after

    def status_of(self, tracker: SlaTracker, policy: SlaPolicy) -> SlaStatus:
        """The tracker's status as of its last fact, computed once per tracker and policy.

        A tracker is immutable and its status a function of its facts and the policy, so the
        answer is remembered with the tracker object: the queue and SLA views share it, and so
        do later transactions while a request's events leave its tracker as it was.
        """
        memo: dict[Any, Any] | None = getattr(self._batch, "memo", None)
        shared = ("status", id(tracker), id(policy))
        if memo is not None:
            # A rebuild's checkpoint measures more trackers than ``_DERIVED`` keeps: the
            # transaction's memo lets the queue and SLA views share each status all the same.
            hit = memo.get(shared)
            if hit is not None and hit[0] is tracker and hit[1] is policy:
                return hit[2]  # type: ignore[no-any-return]
        derived = _derived(tracker)
        key = ("status", id(policy))
        found = derived.get(key)
        if found is None or found[0] is not policy:
            found = derived[key] = (policy, tracker.status(tracker.last_at, policy))
        if memo is not None:
            memo[shared] = (tracker, policy, found[1])
        return found[1]

    def tracker_json(self, tracker: SlaTracker) -> str:
        """The tracker as stored, serialised once per tracker object.

        A fact's unset fields (None, False) are left out: they are most of a fact, and the
        queue and SLA rows each keep one tracker per request; parsing restores them.
        """
        memo: dict[Any, Any] | None = getattr(self._batch, "memo", None)
        shared = ("json", id(tracker))
        if memo is not None:
            hit = memo.get(shared)
            if hit is not None and hit[0] is tracker:
                return hit[1]  # type: ignore[no-any-return]
        derived = _derived(tracker)
        text = derived.get("json")
        if text is None:
            text = derived["json"] = tracker.model_dump_json(exclude_defaults=True)
        if memo is not None:
            memo[shared] = (tracker, text)
        return text

    def tracker_from(self, text: str) -> SlaTracker:
        """A stored tracker, parsed once per transaction."""
        memo: dict[Any, Any] | None = getattr(self._batch, "memo", None)
        if memo is None:
            return SlaTracker.model_validate_json(text)
        key = ("parsed", text)
        tracker = memo.get(key)
        if tracker is None:
            tracker = memo[key] = SlaTracker.model_validate_json(text)
            _derived(tracker)["json"] = text
        return tracker

    def apply(self, events: Sequence[tuple[int, object]], tx: Tx) -> None:  # noqa: D102
        self._batch.memo = tx.memo
        try:
            self._apply_measured(events, tx)
        finally:
            self._batch.memo = None

    def _apply_measured(self, events: Sequence[tuple[int, object]], tx: Tx) -> None:
        # The policy table changes only by this projection's own batches, so the policies read
        # for a committed batch hold for as long as the rows remembered with it do.
        known: list[PolicyAdoption] | None = getattr(self._batch, "known", None)
        if known is not None and self._memory().position is not None:
            self._batch.adoptions = list(known)
        else:
            self._batch.adoptions = self.adoptions(tx)
        self._batch.pending_known = self._batch.adoptions
        pending: list[tuple[int, object]] = []
        for position, event in events:
            if isinstance(event, SlaPolicyBook.PolicyAdopted):
                # Requests opened before it were folded under the policies known then.
                if pending:
                    super().apply(pending, tx)
                    pending = []
                self._adopt(tx, position, event)
            elif not isinstance(event, SlaPolicyBook.Event):
                pending.append((position, event))
        if pending:
            super().apply(pending, tx)

    def committed(self) -> None:  # noqa: D102
        # The batch's policies are remembered with its rows (and used only while they are).
        super().committed()
        pending: list[PolicyAdoption] | None = getattr(self._batch, "pending_known", None)
        self._batch.known = None if pending is None else list(pending)
        self._batch.pending_known = None

    def prepared(self, rows: Sequence[RowT]) -> list[RowT]:  # noqa: D102
        adoptions: list[PolicyAdoption] = getattr(self._batch, "adoptions", [])
        return [self.measure(row, self._policies(adoptions, row)) for row in rows]

    def _policies(self, adoptions: Sequence[PolicyAdoption], row: RowT) -> ClockPolicies:
        tracker = self.tracker_of(row)
        if tracker is None:
            return ClockPolicies.of(policy_at(adoptions, self.opened(row)))
        return clock_policies(adoptions, tracker)

    def status_under(self, tracker: SlaTracker, policies: ClockPolicies) -> SlaStatus:
        """The tracker's status as of its last fact, each clock under its version."""
        return status_under(policies, lambda policy: self.status_of(tracker, policy))

    # -- a rebuild's rows kept across batches (see ``RowProjection.stage``) ------------------

    def stageable(self, events: Sequence[tuple[int, object]]) -> bool:  # noqa: D102
        # An adopted policy re-measures rows in the table: it is applied as a batch of its own.
        return not any(isinstance(e, SlaPolicyBook.PolicyAdopted) for _, e in events)

    def stage(self, events: Sequence[tuple[int, object]], tx: Tx) -> None:  # noqa: D102
        self._batch.memo = tx.memo
        try:
            super().stage([p for p in events if not isinstance(p[1], SlaPolicyBook.Event)], tx)
        finally:
            self._batch.memo = None

    def stage_prepare(self, tx: Tx, keys: Sequence[str]) -> None:  # noqa: D102
        # No policy is adopted while rows are kept (``stageable``): the table's are the ones.
        self._batch.adoptions = self.adoptions(tx)
        self._batch.memo = tx.memo
        try:
            super().stage_prepare(tx, keys)
        finally:
            self._batch.memo = None

    def stage_flush(self, tx: Tx, keys: Sequence[str]) -> None:  # noqa: D102
        self._batch.adoptions = self.adoptions(tx)
        self._batch.memo = tx.memo
        try:
            super().stage_flush(tx, keys)
        finally:
            self._batch.memo = None
            self._batch.known = None  # the rows ``apply`` remembers are gone (``stage_start``)

    def _adopt(self, tx: Tx, position: int, event: SlaPolicyBook.PolicyAdopted) -> None:
        adoption = PolicyAdoption(
            policy=event.policy,
            effective_from=event.effective_from,
            adopted_by=event.actor,
            adopted_at=event.occurred_at,
            sequence=event.originator_version,
        )
        folded: list[PolicyAdoption] | None = self.__dict__.get("_share_adoptions")
        # Every share's process folds the policy book; the first to get here writes the row.
        tx.execute(
            f"INSERT INTO {self.t(self.policy_table)} (position, effective_from, adoption) "  # noqa: S608
            "VALUES (?, ?, ?)"
            + (" ON CONFLICT (position) DO NOTHING" if folded is not None else ""),
            (position, micros(adoption.effective_from), adoption.model_dump_json()),
        )
        self._batch.adoptions.append(adoption)
        if folded is not None:
            folded.append(adoption)
        # A correction (effective from before it was recorded) re-times the clocks still
        # running of the requests opened from its ``effective_from`` on (``clock_policies``);
        # an ordinary adoption finds nothing here unless writers' clocks disagree. A share
        # re-times its own requests' rows: the others are another process's, and as of
        # another position.
        key = self.columns[0]
        where = "opened_at >= ?"
        params: list[object] = [micros(adoption.effective_from)]
        if self.share is not None:
            mine, digits = self.share.where(key)
            where, params = f"{where} AND {mine}", [*params, *digits]
        keys = [
            str(r[key])
            for r in tx.query(
                f"SELECT {key} FROM {self.t(self.table)} WHERE {where}",  # noqa: S608
                params,
            )
        ]
        if keys:
            loaded = self.load(tx, keys)
            rows = self.prepared(list(loaded.values()))
            self._put(tx, rows, None)
            self.stored(tx, loaded, rows)  # tables kept beside the rows follow the new measures
