"""Replay the BPI Challenge 2013 incident log through servflow's public API.

Each source row (a status change of one service request: ``Status`` / ``Sub Status``, the
involved support team, the owner) is mapped to the nearest desk commands, recorded with
``occurred_at`` = the row's own time, so a desk can tell how much of a real desk's history it
takes without a refusal. What each row becomes:

* the first row of a request: ``open`` (by ``integration:bpi``) and ``classify`` (the impact:
  Low, Medium, High, Major -> low, normal, high, urgent), then the row as below;
* ``Queued / Awaiting Assignment``: ``unassign`` back to the row's team (``reopen`` first if the
  request was completed or closed);
* ``Accepted / In Progress`` and ``Accepted / Assigned``: ``resume`` if on hold, ``assign`` if
  the team or owner changed (``reopen`` first if completed or closed); an In Progress row that
  changes nothing else is an ``act``;
* ``Accepted / Wait - User`` and ``Wait - Customer``: ``hold`` for the customer (recorded as
  ``WaitingOnCustomer``); ``Wait - Vendor``, ``Wait - Implementation`` and ``Wait``: ``hold``
  for vendor, implementation and other;
* ``Completed / Resolved`` and ``Completed / In Call``: ``complete`` (resolved), straight from
  a hold or a queue (assigned first); on a completed request only an owner change (``assign``);
* ``Completed / Closed``: ``close`` by ``system``; ``Completed / Cancelled``: ``cancel``;
  ``Unmatched``: nothing.

Rows that change nothing the desk records (the same status and owner again, an owner change
on a closed request) are counted as ``ignored``. A refused command is counted by its error
code, command and status, and the replay goes on with the request's next row.

Run it as ``python tests/replay_bpi.py [--limit N] [--sqlite PATH]``; the CI test
(``tests/integration/test_bpi_replay.py``) replays a deterministic sample.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from servflow import Request, ServflowError, ServiceDesk, Status

__all__ = ["DATA", "Outcome", "Row", "read_rows", "replay", "replay_requests", "requests_of"]

#: The log, as the shared data folder holds it (see its README).
DATA = Path("/work/shared/data/bpi2013_incidents.csv.gz")
ACTOR = "integration:bpi"
#: After every source time: the desk's clock during the replay.
NOW = datetime(2026, 1, 1, tzinfo=UTC)
PRIORITY = {"Low": "low", "Medium": "normal", "High": "high", "Major": "urgent"}
#: The hold reason of each ``Accepted / Wait...`` sub-status.
HOLDS = {
    "Wait - User": "customer",
    "Wait - Customer": "customer",
    "Wait - Vendor": "vendor",
    "Wait - Implementation": "implementation",
    "Wait": "other",
}
_HELD = frozenset({Status.WAITING_ON_CUSTOMER, Status.ON_HOLD})
_DONE = frozenset({Status.COMPLETED, Status.CLOSED})


@dataclass(frozen=True, slots=True)
class Row:
    """One status change of the source log."""

    number: str
    at: datetime
    status: str
    sub_status: str
    team: str
    owner: str
    impact: str
    product: str


def read_rows(path: Path = DATA) -> Iterator[Row]:
    """The rows of the log, in file order (each request's rows are together, in time order)."""
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as handle:
        for record in csv.DictReader(handle):
            yield Row(
                number=record["SR Number"],
                at=datetime.fromisoformat(record["Change Date+Time"]),
                status=record["Status"],
                sub_status=record["Sub Status"],
                team=record["Involved ST"].strip(),
                owner=record["Owner First Name"].strip(),
                impact=record["SR Latest Impact"],
                product=record["Product"],
            )


def requests_of(rows: Iterable[Row]) -> Iterator[list[Row]]:
    """The rows grouped by request."""
    for _, group in itertools.groupby(rows, key=lambda row: row.number):
        yield list(group)


@dataclass
class Outcome:
    """What a replay did: requests with and without refusals, refusals by reason, speed."""

    requests: int = 0
    full: int = 0
    rows: int = 0
    ignored: int = 0
    events: int = 0
    seconds: float = 0.0
    refusals: Counter[str] = field(default_factory=Counter)
    commands: Counter[str] = field(default_factory=Counter)
    #: Reopenings of closed requests (also counted in ``commands["reopen"]``).
    reopened_after_closure: int = 0
    #: Ignored rows by source status / sub-status and the request's status then.
    ignored_rows: Counter[str] = field(default_factory=Counter)

    @property
    def partial(self) -> int:
        """Requests with at least one refused command."""
        return self.requests - self.full

    @property
    def events_per_second(self) -> float:
        """Events recorded per second of replay."""
        return self.events / self.seconds if self.seconds else 0.0

    def report(self) -> str:
        """The figures, as the how-to quotes them."""
        share = self.full / self.requests if self.requests else 1.0
        lines = [
            (
                f"requests: {self.requests:,} (full {self.full:,} = {share:.2%}, "
                f"partial {self.partial:,})"
            ),
            (
                f"rows: {self.rows:,} (ignored {self.ignored:,}); events recorded: "
                f"{self.events:,} in {self.seconds:.1f} s = {self.events_per_second:,.0f} events/s"
            ),
            "commands: " + _counts(self.commands),
            f"reopened after closure: {self.reopened_after_closure:,}",
            "refusals: " + (_counts(self.refusals) or "none"),
            "ignored: " + _counts(self.ignored_rows),
        ]
        return "\n".join(lines)


def _counts(counts: Counter[str]) -> str:
    return ", ".join(f"{key} {n:,}" for key, n in counts.most_common())


class _Replayer:
    """Replays one request's rows through the desk, counting what it records and refuses."""

    def __init__(self, desk: ServiceDesk, outcome: Outcome) -> None:
        self.desk = desk
        self.outcome = outcome
        self.view: Request | None = None
        self.refused = False
        self.recorded = 0

    def run(self, name: str, command: Callable[[], Request]) -> bool:
        """Send one command; count it, or count its refusal (and go on)."""
        view = self.view
        assert view is not None
        try:
            self.view = command()
        except ServflowError as error:
            self.refused = True
            self.outcome.refusals[f"{error.code} {name} from {view.status.value}"] += 1
            return False
        self.outcome.commands[name] += 1
        self.recorded += 1
        return True

    def request(self, rows: Sequence[Row]) -> None:
        first = rows[0]
        self.view = self.desk.open(
            customer="volvo-it",
            channel="web",
            kind="report",
            stage="post_sale",
            symptom=f"Incident {first.number} on {first.product or 'an unknown product'}",
            actor=ACTOR,
            occurred_at=first.at,
        )
        self.outcome.commands["open"] += 1
        ref = self.view.id
        self.run(
            "classify",
            lambda: self.desk.classify(
                ref,
                priority=PRIORITY.get(first.impact, "normal"),
                actor=ACTOR,
                occurred_at=first.at,
            ),
        )
        for row in rows:
            self.recorded = 0
            status = self.status
            self.row(row)
            self.outcome.rows += 1
            if not self.recorded:
                self.outcome.ignored += 1
                key = f"{row.status} / {row.sub_status} in {status.value}"
                self.outcome.ignored_rows[key] += 1

    @property
    def status(self) -> Status:
        assert self.view is not None
        return self.view.status

    def row(self, row: Row) -> None:  # noqa: C901, PLR0912 - a branch per kind of source row
        pair = (row.status, row.sub_status)
        if row.status == "Unmatched":
            return
        if pair == ("Completed", "Closed"):
            self.closed(row)
        elif pair == ("Completed", "Cancelled"):
            if self.status not in {Status.CLOSED, Status.CANCELLED}:
                self.command("cancel", row)
        elif row.status == "Completed":
            self.resolved(row)
        elif self.status is Status.CANCELLED:
            return
        elif row.status == "Queued":
            self.reopen_if_done(row)
            assert self.view is not None
            if not (
                self.status is Status.CLASSIFIED
                and self.view.team == row.team
                and self.view.agent is None
            ):
                self.command("unassign", row)
        elif row.sub_status in HOLDS:
            self.reopen_if_done(row)
            self.own(row)
            reason = HOLDS[row.sub_status]
            assert self.view is not None
            on_it = (reason == "customer" and self.status is Status.WAITING_ON_CUSTOMER) or (
                self.status is Status.ON_HOLD and self.view.hold_reason == reason
            )
            if not on_it:
                self.command("hold", row, reason=reason)
        else:  # Accepted / In Progress, Accepted / Assigned
            self.reopen_if_done(row)
            before = self.recorded
            if self.status in _HELD:
                self.command("resume", row)
            self.own(row)
            if row.sub_status == "In Progress" and self.recorded == before:
                self.command("act", row)

    def reopen_if_done(self, row: Row) -> None:
        if self.status in _DONE:
            self.command("reopen", row)

    def own(self, row: Row) -> None:
        """Make the row's team and owner the request's (``assign``), if they are not."""
        assert self.view is not None
        agent = row.owner or None
        unassigned = self.status in {Status.NEW, Status.CLASSIFIED, Status.TRANSFERRED}
        if unassigned or (self.view.team, self.view.agent) != (row.team, agent):
            self.command("assign", row)

    def resolved(self, row: Row) -> None:
        if self.status is Status.CANCELLED:
            return
        if self.status is Status.CLOSED:
            self.command("reopen", row)
        if self.status is Status.COMPLETED:
            self.own(row)  # an owner change after completion, recorded as a fact
            return
        self.own(row)
        self.command("complete", row)

    def closed(self, row: Row) -> None:
        if self.status in {Status.CLOSED, Status.CANCELLED}:
            return
        if self.status is not Status.COMPLETED:
            self.resolved(row)
        self.own(row)
        self.command("close", row)

    def command(self, name: str, row: Row, *, reason: str = "") -> None:
        desk, at = self.desk, row.at
        assert self.view is not None
        ref = self.view.id
        agent = row.owner or None
        note = f"{row.status} / {row.sub_status}"
        commands: dict[str, Callable[[], Request]] = {
            "assign": lambda: desk.assign(
                ref, team=row.team, agent=agent, actor=ACTOR, occurred_at=at
            ),
            "unassign": lambda: desk.unassign(ref, team=row.team, actor=ACTOR, occurred_at=at),
            "act": lambda: desk.act(ref, action=note, actor=ACTOR, occurred_at=at),
            "hold": lambda: desk.hold(ref, reason=reason, note=note, actor=ACTOR, occurred_at=at),
            "resume": lambda: desk.resume(ref, note=note, actor=ACTOR, occurred_at=at),
            "complete": lambda: desk.complete(
                ref, outcome="resolved", resolution=note, actor=ACTOR, occurred_at=at
            ),
            "close": lambda: desk.close(
                ref, reason="Closed in the source system", actor="system", occurred_at=at
            ),
            "reopen": lambda: desk.reopen(ref, reason=note, actor=ACTOR, occurred_at=at),
            "cancel": lambda: desk.cancel(ref, reason=note, actor=ACTOR, occurred_at=at),
        }
        closed = self.status is Status.CLOSED
        if self.run(name, commands[name]) and name == "reopen" and closed:
            self.outcome.reopened_after_closure += 1


def replay_requests(desk: ServiceDesk, requests: Iterable[Sequence[Row]]) -> Outcome:
    """Replay these requests' rows through ``desk``; what it recorded and refused."""
    outcome = Outcome()
    started = time.perf_counter()
    for rows in requests:
        replayer = _Replayer(desk, outcome)
        replayer.request(rows)
        outcome.requests += 1
        outcome.full += not replayer.refused
    outcome.seconds = time.perf_counter() - started
    outcome.events = sum(outcome.commands.values())
    return outcome


def replay(
    desk: ServiceDesk, *, limit: int | None = None, every: int = 1, path: Path = DATA
) -> Outcome:
    """Replay the log (every ``every``-th request, at most ``limit`` of them) through ``desk``."""
    chosen = itertools.islice(requests_of(read_rows(path)), 0, None, every)
    return replay_requests(desk, itertools.islice(chosen, limit))


def main(argv: Sequence[str] | None = None) -> None:
    """Replay the log and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--limit", type=int, default=None, help="at most this many requests")
    parser.add_argument("--every", type=int, default=1, help="every n-th request only")
    parser.add_argument("--sqlite", default=None, help="replay into this SQLite file")
    parser.add_argument("--data", type=Path, default=DATA, help="the log (.csv.gz)")
    args = parser.parse_args(argv)
    if args.sqlite:
        desk = ServiceDesk.sqlite(args.sqlite, clock=lambda: NOW)
    else:
        desk = ServiceDesk(clock=lambda: NOW)
    with desk:
        outcome = replay(desk, limit=args.limit, every=args.every, path=args.data)
    print(outcome.report())  # noqa: T201 - a script's output


if __name__ == "__main__":
    main()
