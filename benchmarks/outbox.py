"""8. Outbox: what the outbox projection costs the write path, and dispatch throughput.

- **Write path**: lifecycles (seven commands, inline views) on two fresh desks of the same
  kind, one with the outbox projection and one without it (taken out of the desk's projector
  before its first command: the benchmark's own switch, not an option of the desk), in
  alternating rounds; the figure is the rate with it over the rate without, the spread over
  rounds.
- **Dispatch**: the messages owed by that many lifecycles (receipt, completion, closure: three
  each) handed to a sender that does nothing, in one ``desk.dispatch`` run, on a fresh store:
  messages per second, rendering and bookkeeping included.
"""

from __future__ import annotations

import time

from benchmarks.common import Run, Spread, StoreKind, open_desk
from benchmarks.workload import LIFECYCLE_EVENTS, T0, run_lifecycle
from servflow import ServiceDesk

SECTION = "8 outbox"


class _Nothing:
    """A sender that does nothing: what is measured is the outbox's own work."""

    def send(self, message: object) -> None:
        del message


def _desk(run: Run, kind: StoreKind, label: str, *, outbox: bool) -> ServiceDesk:
    now = [T0]
    desk = open_desk(
        kind,
        path=run.path(f"outbox-{label}.db"),
        schema=run.schema(f"o_{label}") if kind == "postgres" else None,
        projections="inline",
        clock=lambda: now[0],
    )
    if not outbox:
        desk._stores.projector.projections.pop("outbox")  # noqa: SLF001 - the benchmark's switch
    return desk


def bench_outbox(run: Run) -> None:
    """The outbox projection's cost on inline writes, and dispatch throughput."""
    sizes = run.sizes
    kinds: list[StoreKind] = ["memory", "sqlite", "postgres"]
    for kind in kinds:
        if kind == "postgres" and not run.postgres:
            run.add(SECTION, "writes with the outbox", kind, None, "ratio", note="no PostgreSQL")
            continue
        per_round = sizes.memory_lifecycles if kind == "memory" else sizes.write_lifecycles
        desks = {
            name: _desk(run, kind, f"{kind}_{name}", outbox=name == "with")
            for name in ("with", "without")
        }
        rates: dict[str, list[float]] = {"with": [], "without": []}
        index = 0
        for round_number in range(sizes.write_rounds * 2):
            order = ("with", "without") if round_number % 2 == 0 else ("without", "with")
            for name in order:
                desk = desks[name]
                started = time.perf_counter()
                for _ in range(per_round):
                    run_lifecycle(desk, index)
                    index += 1
                desk.projection_status()  # an in-memory desk's views settle
                rates[name].append(per_round * LIFECYCLE_EVENTS / (time.perf_counter() - started))
        ratios = [w / o for w, o in zip(rates["with"], rates["without"], strict=True)]
        with_rate = sorted(rates["with"])[len(rates["with"]) // 2]
        without_rate = sorted(rates["without"])[len(rates["without"]) // 2]
        print(f"  outbox {kind}: writes {with_rate:,.0f} ev/s with it, {without_rate:,.0f} without")
        run.add(
            SECTION,
            "writes with the outbox, inline views",
            kind,
            with_rate,
            "ev/s",
            baseline="the same desk without it",
            baseline_value=without_rate,
            spread=Spread.of(ratios, "round"),
            note=f"{per_round} lifecycles a round",
        )
        # Dispatch: everything those lifecycles made owed, from a fresh run's point of view.
        desk = desks["with"]
        started = time.perf_counter()
        report = desk.dispatch(_Nothing())
        seconds = time.perf_counter() - started
        print(f"  outbox {kind}: dispatched {report.delivered:,} messages in {seconds:.1f}s")
        run.add(
            SECTION,
            "dispatch to a sender that does nothing",
            kind,
            report.delivered / seconds if seconds else None,
            "msg/s",
            note=f"{report.delivered:,} messages (receipt, completion, closure of each request)",
        )
        for open_one in desks.values():
            open_one.close()
