"""Delivering the outbox: at least once, with retries, dead letters and every attempt recorded.

The outbox projection (``servflow.projections.outbox``) says which messages the log makes owed.
Their delivery is the outbox's own bookkeeping, in tables of its own beside the views
(``sf_outbox_delivery``, ``sf_outbox_attempts``) that a rebuild of the views leaves alone: a
message's key is derived from the log, so a rebuilt projection names the same messages and
the deliveries already made stay made. Delivery attempts are facts of the company's mail or
webhook plumbing, not of the service request: they are kept here, not as events, so that the log
does not fill with retries (a delivered receipt is not something the desk did).

A dispatch run collects what became owed (the projection's new rows, and the bad news the SLA
view shows as of its instant), claims due messages for a while (a lease: another dispatcher
skips them; a dispatcher killed mid-run leaves them to be claimed again when the lease ends),
renders each one, hands it to the sender, and records the outcome. A failure is retried after
a pause that doubles each time (with jitter, derived from the key so that runs agree), until
``RetryPolicy.max_attempts``; a sender that says trying again cannot help
(``DeliveryError(retryable=False)``) sends the message to the dead letters at once. Messages
owed long before the run (``expire_after``: history imported from another system, say) are
recorded as expired, never sent.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson
from pydantic import AwareDatetime

from servflow.desk.outbox.message import OutboundMessage, Sender
from servflow.desk.outbox.templates import Templates, local
from servflow.domain.clocks import Clock
from servflow.domain.policy import SlaPolicy
from servflow.domain.sla import ClockState
from servflow.domain.values import Value
from servflow.errors import (
    ConfigurationError,
    DeliveryError,
    NotInDirectoryError,
    ServflowError,
    shown,
)
from servflow.persistence.sql import Tx, from_micros, id_text, micros
from servflow.projections.outbox import OWING_EVENTS, message_key
from servflow.projections.outbox import owed as owed_by

if TYPE_CHECKING:
    from servflow.desk.facade import ServiceDesk

__all__ = ["DeliveryStatus", "DispatchReport", "Outbox", "OutboxEntry", "RetryPolicy"]

DeliveryStatus = Literal["pending", "delivered", "dead", "expired"]
_DELIVERY = "sf_outbox_delivery"
_ATTEMPTS = "sf_outbox_attempts"
_CURSOR = "sf_outbox_cursor"
_COLLECT_BATCH = 5000
_CLAIM_BATCH = 50
_MAX_ERROR = 500
_STOPPED = frozenset({ClockState.MET, ClockState.MISSED, ClockState.CANCELLED})
#: The messages time makes owed, by the SLA clock whose state says so: bad news when the
#: resolution clock is at risk or breached; a progress report when the update clock warns (the
#: customer is about to go longer than the policy allows without news) or is overdue.
_TIMED = {"resolution": "bad_news", "update": "progress"}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often, and how patiently, a failed delivery is tried again."""

    #: Attempts in all before a message goes to the dead letters.
    max_attempts: int = 8
    #: The pause after the first failure; it doubles after each one, up to ``max_delay``.
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    #: Each pause is stretched or shrunk by up to this fraction (0: none).
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            shown_value = shown(self.max_attempts)
            msg = f"max_attempts must be a whole number of at least 1, not {shown_value}"
            raise ConfigurationError(msg)
        if self.first_delay < timedelta(0) or self.max_delay < self.first_delay:
            msg = "first_delay must be at least zero and max_delay at least first_delay"
            raise ConfigurationError(msg)
        if not 0 <= self.jitter < 1:
            msg = f"jitter must be at least 0 and under 1, not {shown(self.jitter)}"
            raise ConfigurationError(msg)

    def delay(self, key: str, failures: int) -> timedelta:
        """The pause after the ``failures``-th failure of message ``key`` (the same every run)."""
        pause = min(self.max_delay, self.first_delay * 2 ** min(failures - 1, 40))
        spread = random.Random(f"{key}:{failures}").uniform(-self.jitter, self.jitter)  # noqa: S311 - jitter
        stretched: timedelta = pause * (1 + spread)
        return stretched


class OutboxEntry(Value):
    """A message the outbox owes, and how its delivery stands."""

    key: str
    kind: str
    request_id: UUID
    status: DeliveryStatus
    attempts: int
    owed_at: AwareDatetime
    #: When it is next tried (pending ones).
    next_attempt_at: AwareDatetime | None
    delivered_at: AwareDatetime | None
    last_error: str | None


class DispatchReport(Value):
    """What one dispatch run did."""

    #: Messages newly found owed (from the log, and bad news from the SLA view).
    collected: int
    delivered: int
    #: Failures to be tried again later.
    retried: int
    #: Messages sent to the dead letters by this run.
    dead: int
    #: Messages owed too long before the run to be sent (never sent).
    expired: int
    seconds: float


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How one hand-over went."""

    outcome: str
    error: str | None = None
    retryable: bool = True
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class _Claimed:
    key: str
    request_id: str
    kind: str
    owed_at: int
    data: str
    attempts: int


class Outbox:
    """A desk's outbox: what is owed, and its delivery (``ServiceDesk.dispatch``)."""

    def __init__(self, desk: ServiceDesk) -> None:
        self._desk = desk
        self._views = desk._stores.views  # noqa: SLF001 - the desk's own service
        self._ready = False
        self._lock = threading.Lock()
        #: Calendar zones by policy version (a version never changes).
        self._zones: dict[tuple[str, int] | None, ZoneInfo] = {}

    def _t(self, table: str) -> str:
        return self._views.dialect.table(table)

    def _ensure(self, tx: Tx) -> None:
        if self._ready:
            return
        # Two desks creating them at once would collide in PostgreSQL's catalogue: one waits.
        self._views.lock(tx)
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {self._t(_DELIVERY)} ("
            "key TEXT PRIMARY KEY, request_id TEXT NOT NULL, kind TEXT NOT NULL, "
            "owed_at BIGINT NOT NULL, position BIGINT NOT NULL, data TEXT NOT NULL, "
            "status TEXT NOT NULL, "
            "attempts INTEGER NOT NULL, next_at BIGINT NOT NULL, claim TEXT, "
            "claimed_until BIGINT, last_error TEXT, delivered_at BIGINT)"
        )
        tx.execute(
            f'CREATE INDEX IF NOT EXISTS "ix_{_DELIVERY}_due" '
            f"ON {self._t(_DELIVERY)} (status, next_at)"
        )
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {self._t(_ATTEMPTS)} ("
            "key TEXT NOT NULL, attempt INTEGER NOT NULL, at BIGINT NOT NULL, "
            "outcome TEXT NOT NULL, error TEXT, PRIMARY KEY (key, attempt))"
        )
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {self._t(_CURSOR)} ("
            "name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
        )
        self._ready = True

    # -- what is owed ------------------------------------------------------------------------

    def collect(self, at: datetime, expire_after: timedelta) -> tuple[int, int]:
        """Take in what became owed by ``at``: (messages new to the outbox, of which expired)."""
        oldest = micros(at - expire_after) or 0
        added = expired = 0
        with self._views.transaction() as tx:
            self._ensure(tx)
            found = tx.query(f"SELECT position FROM {self._t(_CURSOR)} WHERE name = 'outbox'")  # noqa: S608
            after = int(found[0]["position"]) if found else 0
            audit = self._desk._stores.audit  # noqa: SLF001 - the desk's own view
            kinds = ", ".join("?" * len(OWING_EVENTS))
            while True:
                rows = tx.rows(
                    f"SELECT position, request_id, event_type, occurred_at, data "  # noqa: S608
                    f"FROM {audit.t(audit.table)} WHERE position > ? "
                    f"AND event_type IN ({kinds}) ORDER BY position LIMIT ?",
                    (after, *OWING_EVENTS, _COLLECT_BATCH),
                )
                if not rows:
                    break
                for position, request_id, event_type, occurred_at, data in rows:
                    after = max(after, int(position))
                    found_owed = owed_by(str(event_type), orjson.loads(data))
                    if found_owed is None:
                        continue
                    kind, facts = found_owed
                    key = message_key(str(request_id), kind, int(position))
                    status = "expired" if int(occurred_at) < oldest else "pending"
                    when = (int(occurred_at), int(position))
                    new = self._add(
                        tx, key, str(request_id), kind, when, orjson.dumps(facts).decode(), status
                    )
                    added += new
                    expired += new and status == "expired"
            tx.execute(
                f"INSERT INTO {self._t(_CURSOR)} (name, position) VALUES ('outbox', ?) "  # noqa: S608
                "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                (after,),
            )
            for state, alerts in (
                (ClockState.WARNING, self._desk._stores.sla.at_risk(tx, at, imported=False)),  # noqa: SLF001
                (ClockState.BREACHED, self._desk._stores.sla.breaches(tx, at, imported=False)),  # noqa: SLF001
            ):
                for alert in alerts:
                    if alert.clock not in _TIMED:
                        continue
                    request = id_text(alert.request_id)
                    due = micros(alert.due) or 0
                    owed = (
                        micros(alert.warn_from if state is ClockState.WARNING else alert.due) or 0
                    )
                    data = orjson.dumps(
                        {"state": state.value, "due": alert.due.isoformat()}
                    ).decode()
                    kind = _TIMED[alert.clock]
                    # Bad news once as the clock warns and once as it breaches; a progress
                    # report once per cycle of the update clock (the cycle's due names it).
                    label = kind if kind == "progress" else f"{kind}-{state.value}"
                    key = message_key(request, label, due)
                    status = "expired" if owed < oldest else "pending"
                    new = self._add(tx, key, request, kind, (owed, 0), data, status)
                    added += new
                    expired += new and status == "expired"
        return added, expired

    def _add(
        self,
        tx: Tx,
        key: str,
        request_id: str,
        kind: str,
        when: tuple[int, int],
        data: str,
        status: str,
    ) -> bool:
        """Take in one message (when it was owed, and its log position); False if known."""
        owed_at, position = when
        before = tx.query(f"SELECT 1 AS x FROM {self._t(_DELIVERY)} WHERE key = ?", (key,))  # noqa: S608
        if before:
            return False
        tx.execute(
            f"INSERT INTO {self._t(_DELIVERY)} (key, request_id, kind, owed_at, position, "  # noqa: S608
            "data, status, attempts, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?) "
            "ON CONFLICT (key) DO NOTHING",
            (key, request_id, kind, owed_at, position, data, status, owed_at),
        )
        return True

    # -- delivery ----------------------------------------------------------------------------

    def dispatch(
        self,
        sender: Sender,
        *,
        at: datetime,
        limit: int | None,
        retry: RetryPolicy,
        expire_after: timedelta,
        templates: Templates,
        lease: timedelta,
    ) -> DispatchReport:
        """Collect, then deliver what is due by ``at`` (at most ``limit`` messages)."""
        started = time.perf_counter()
        collected, expired = self.collect(at, expire_after)
        delivered = retried = dead = 0
        token = uuid.uuid4().hex
        done = 0
        while limit is None or done < limit:
            batch = self._claim(
                at, token, lease, _CLAIM_BATCH if limit is None else min(_CLAIM_BATCH, limit - done)
            )
            if not batch:
                break
            for index, claimed in enumerate(batch):
                try:
                    message = self._render(claimed, at, templates)
                except BaseException:
                    self._release(token, [c.key for c in batch[index:]])
                    raise
                sent = self._send(sender, message)
                outcome, error, retryable = sent.outcome, sent.error, sent.retryable
                if outcome == "delivered":
                    delivered += 1
                    self._record(claimed, token, at, "delivered", None, retry)
                elif retryable and claimed.attempts + 1 < retry.max_attempts:
                    retried += 1
                    self._record(claimed, token, at, "failed", error, retry, sent.retry_after)
                else:
                    dead += 1
                    self._record(claimed, token, at, "dead", error, retry)
                done += 1
        return DispatchReport(
            collected=collected,
            delivered=delivered,
            retried=retried,
            dead=dead,
            expired=expired,
            seconds=time.perf_counter() - started,
        )

    def _claim(self, at: datetime, token: str, lease: timedelta, size: int) -> list[_Claimed]:
        now = _wall()
        with self._views.transaction() as tx:
            self._ensure(tx)
            lock = " FOR UPDATE SKIP LOCKED" if tx.dialect.name == "postgres" else ""
            rows = tx.rows(
                f"SELECT key, request_id, kind, owed_at, data, attempts FROM {self._t(_DELIVERY)} "  # noqa: S608
                "WHERE status = 'pending' AND next_at <= ? "
                "AND (claimed_until IS NULL OR claimed_until < ?) "
                f"ORDER BY next_at, position, key LIMIT ?{lock}",
                (micros(at), now, size),
            )
            claimed = [
                _Claimed(str(r[0]), str(r[1]), str(r[2]), int(r[3]), str(r[4]), int(r[5]))
                for r in rows
            ]
            until = now + int(lease.total_seconds() * 1_000_000)
            tx.executemany(
                f"UPDATE {self._t(_DELIVERY)} SET claim = ?, claimed_until = ? WHERE key = ?",  # noqa: S608
                [(token, until, c.key) for c in claimed],
            )
        return claimed

    def _release(self, token: str, keys: Sequence[str]) -> None:
        with self._views.transaction() as tx:
            tx.executemany(
                f"UPDATE {self._t(_DELIVERY)} SET claim = NULL, claimed_until = NULL "  # noqa: S608
                "WHERE key = ? AND claim = ?",
                [(key, token) for key in keys],
            )

    @staticmethod
    def _send(sender: Sender, message: OutboundMessage) -> _Outcome:
        try:
            sender.send(message)
        except DeliveryError as error:
            return _Outcome("failed", _error_text(error), error.retryable, error.retry_after)
        except Exception as error:  # noqa: BLE001 - a sender's failure, whatever it is, is recorded
            return _Outcome("failed", _error_text(error), retryable=True)
        return _Outcome("delivered")

    def _record(
        self,
        claimed: _Claimed,
        token: str,
        at: datetime,
        outcome: str,
        error: str | None,
        retry: RetryPolicy,
        retry_after: float | None = None,
    ) -> None:
        attempt = claimed.attempts + 1
        status = {"delivered": "delivered", "failed": "pending", "dead": "dead"}[outcome]
        pause = retry.delay(claimed.key, attempt)
        if retry_after is not None:
            # The receiver asked for a pause (Retry-After): no sooner than it said.
            pause = max(pause, timedelta(seconds=min(retry_after, 86_400.0)))
        next_at = micros(at + pause) if outcome == "failed" else micros(at)
        with self._views.transaction() as tx:
            mine = tx.query(
                f"SELECT attempts FROM {self._t(_DELIVERY)} WHERE key = ? AND claim = ?",  # noqa: S608
                (claimed.key, token),
            )
            if not mine:
                return  # the lease ran out and another dispatcher has it now
            tx.execute(
                f"UPDATE {self._t(_DELIVERY)} SET status = ?, attempts = ?, next_at = ?, "  # noqa: S608
                "claim = NULL, claimed_until = NULL, last_error = ?, delivered_at = ? "
                "WHERE key = ?",
                (
                    status,
                    attempt,
                    next_at,
                    error,
                    micros(at) if outcome == "delivered" else None,
                    claimed.key,
                ),
            )
            tx.execute(
                f"INSERT INTO {self._t(_ATTEMPTS)} (key, attempt, at, outcome, error) "  # noqa: S608
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key, attempt) DO NOTHING",
                (claimed.key, attempt, micros(at), outcome, error),
            )

    def _zone(self, clock: Clock | None) -> ZoneInfo:
        """The zone of the calendar measuring ``clock``, looked up once per policy version."""
        key = None if clock is None else (clock.policy, clock.policy_version)
        zone = self._zones.get(key)
        if zone is None:
            zone = self._zones[key] = _zone_of(self._desk, clock)
        return zone

    def _render(self, claimed: _Claimed, at: datetime, templates: Templates) -> OutboundMessage:
        desk = self._desk
        request = desk.get(UUID(claimed.request_id))
        owed_at = from_micros(claimed.owed_at)
        assert owed_at is not None  # noqa: S101 - NOT NULL
        data: dict[str, Any] = orjson.loads(claimed.data)
        try:
            customer = desk.customer(request.customer.id)
        except NotInDirectoryError:
            customer = None
        book_at = owed_at if claimed.kind == "receipt" else at
        try:
            status = desk.sla(request.id, at=max(book_at, request.opened_at))
        except ServflowError:
            status = None
        resolution = None if status is None else status.resolution
        zone = self._zone(resolution)
        due = None
        if resolution is not None and resolution.state not in _STOPPED:
            due = resolution.due
        values: dict[str, Any] = {
            "kind": claimed.kind,
            "ticket_code": request.ticket_code,
            "customer_id": request.customer.id,
            "customer_name": (customer.name if customer is not None else None)
            or request.customer.name,
            "status": request.status.value,
            "resolution_due": local(due, zone),
            "policy": ""
            if resolution is None
            else f"{resolution.policy} v{resolution.policy_version}",
            "resolution": request.resolution,
            "follow_up_at": local(request.follow_up_at, zone),
            "deemed": bool(data.get("deemed", False)),
            "reason": request.cancel_reason,
            "state": data.get("state"),
            "due": local(datetime.fromisoformat(data["due"]), zone) if "due" in data else None,
        }
        team = data.get("team") if claimed.kind == "team_alert" else None
        if team is not None:
            values |= {"team": team, "rule": data.get("rule"), "condition": data.get("condition")}
        # A team's alert is written in the desk's language, not the customer's.
        language = customer.language if customer is not None and team is None else None
        subject, body, written_in = templates.render(claimed.kind, language, values)
        return OutboundMessage(
            key=claimed.key,
            kind=claimed.kind,
            request_id=request.id,
            ticket_code=request.ticket_code,
            customer_id=request.customer.id,
            to=() if customer is None or team is not None else customer.contacts,
            language=written_in,
            team=team,
            personal=claimed.kind == "bad_news",
            subject=subject,
            body=body,
            owed_at=owed_at,
            attempt=claimed.attempts + 1,
        )

    # -- reading and requeueing ----------------------------------------------------------------

    def entries(self, status: DeliveryStatus | None, limit: int, offset: int) -> list[OutboxEntry]:
        """The outbox's messages (those of a status), oldest owed first."""
        with self._views.transaction() as tx:
            self._ensure(tx)
            where, params = ("WHERE status = ?", [status]) if status else ("", [])
            rows = tx.query(
                f"SELECT key, kind, request_id, status, attempts, owed_at, next_at, "  # noqa: S608
                f"delivered_at, last_error FROM {self._t(_DELIVERY)} {where} "
                "ORDER BY owed_at, position, key LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
        return [
            OutboxEntry(
                key=r["key"],
                kind=r["kind"],
                request_id=UUID(r["request_id"]),
                status=r["status"],
                attempts=int(r["attempts"]),
                owed_at=from_micros(int(r["owed_at"])),
                next_attempt_at=from_micros(int(r["next_at"]))
                if r["status"] == "pending"
                else None,
                delivered_at=from_micros(r["delivered_at"]),
                last_error=r["last_error"],
            )
            for r in rows
        ]

    def requeue(self, keys: Sequence[str] | None, at: datetime) -> int:
        """Send dead letters (these, or all) back to be tried again from ``at``; how many."""
        with self._views.transaction() as tx:
            self._ensure(tx)
            targets = (
                [
                    r["key"]
                    for r in tx.query(f"SELECT key FROM {self._t(_DELIVERY)} WHERE status = 'dead'")  # noqa: S608
                ]
                if keys is None
                else list(keys)
            )
            found = 0
            for key in targets:
                rows = tx.query(f"SELECT status FROM {self._t(_DELIVERY)} WHERE key = ?", (key,))  # noqa: S608
                if not rows or rows[0]["status"] != "dead":
                    continue
                tx.execute(
                    f"UPDATE {self._t(_DELIVERY)} SET status = 'pending', attempts = 0, "  # noqa: S608
                    "next_at = ?, last_error = NULL WHERE key = ?",
                    (micros(at), key),
                )
                found += 1
        return found


def _wall() -> int:
    return time.time_ns() // 1000


def _error_text(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= _MAX_ERROR else text[:_MAX_ERROR] + "..."


def _zone_of(desk: ServiceDesk, clock: Clock | None) -> ZoneInfo:
    """The time zone of the calendar that measures ``clock`` (UTC if none is known)."""
    policy = SlaPolicy.standard()
    if clock is not None:
        for adoption in desk.policies():
            if (adoption.policy.name, adoption.policy.version) == (
                clock.policy,
                clock.policy_version,
            ):
                policy = adoption.policy
    return ZoneInfo(policy.calendar.timezone)
