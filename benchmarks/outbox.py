"""8. Outbox: dispatch throughput.

The outbox keeps no view of its own (what is owed is read from the audit view, which every
desk keeps anyway), so it adds nothing to the write path: there is no write-path ratio to
measure. What is measured is a dispatch: the messages owed by a number of lifecycles (receipt,
completion, closure: three each) handed to a sender that does nothing, in one
``desk.dispatch`` run on a fresh store of each kind: messages per second, the collection from
the audit view, rendering and the delivery bookkeeping included.
"""

from __future__ import annotations

import time

from benchmarks.common import Run, StoreKind, open_desk
from benchmarks.workload import T0, run_lifecycle

SECTION = "8 outbox"


class _Nothing:
    """A sender that does nothing: what is measured is the outbox's own work."""

    def send(self, message: object) -> None:
        del message


def bench_outbox(run: Run) -> None:
    """Dispatch throughput to a sender that does nothing, on each store."""
    sizes = run.sizes
    kinds: list[StoreKind] = ["memory", "sqlite", "postgres"]
    for kind in kinds:
        name = "dispatch to a sender that does nothing"
        if kind == "postgres" and not run.postgres:
            run.add(SECTION, name, kind, None, "msg/s", note="no PostgreSQL")
            continue
        lifecycles = (sizes.memory_lifecycles if kind == "memory" else sizes.write_lifecycles) * 4
        with open_desk(
            kind,
            path=run.path(f"outbox-{kind}.db"),
            schema=run.schema(f"o_{kind}") if kind == "postgres" else None,
            projections="inline",
            clock=lambda: T0,
        ) as desk:
            for index in range(lifecycles):
                run_lifecycle(desk, index)
            started = time.perf_counter()
            report = desk.dispatch(_Nothing())
            seconds = time.perf_counter() - started
        print(f"  outbox {kind}: dispatched {report.delivered:,} messages in {seconds:.2f}s")
        run.add(
            SECTION,
            name,
            kind,
            report.delivered / seconds if seconds else None,
            "msg/s",
            note=f"{report.delivered:,} messages (receipt, completion, closure of each request)",
        )
