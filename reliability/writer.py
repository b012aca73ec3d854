"""One writer process: random commands on random requests until its deadline or a signal.

Every command the desk acknowledges is written to the ack file (``<request id> <version>``)
and flushed before the next one, so a SIGKILL loses at most the line of a command the desk had
not yet acknowledged. A refusal (a lost race, a transition the request no longer allows) is
counted; any exception that is not a ``ServflowError`` is written as an ``UNTYPED`` line.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from types import FrameType
from uuid import UUID

from servflow import (
    ConcurrencyConflictError,
    ProjectionMode,
    Request,
    ServflowError,
    ServiceDesk,
)

#: Share of steps that open a new request; of the others, share that first re-read the ids.
OPEN_SHARE = 0.25
REREAD_SHARE = 0.05
#: In an erasable store, share of steps that forget one of the customers instead.
FORGET_SHARE = 0.02
#: Customers the writers open requests for (some come back after being forgotten).
CUSTOMERS = 20
#: The commands a writer sends to a request it picked, by name.
STEPS: dict[str, Callable[[ServiceDesk, UUID, str, random.Random], Request]] = {
    "classify": lambda d, r, a, g: d.classify(r, priority=g.choice(["low", "high"]), actor=a),
    "assign": lambda d, r, a, g: d.assign(r, team=g.choice(["network", "billing"]), actor=a),
    "probe": lambda d, r, a, _: d.probe(r, questions=["When?"], findings="Evenings", actor=a),
    "act": lambda d, r, a, g: d.act(r, action="Reset", effort_minutes=g.randrange(30), actor=a),
    "progress": lambda d, r, a, _: d.report_progress(r, message="On it", actor=a),
    "complete": lambda d, r, a, _: d.complete(r, outcome="resolved", resolution="Fixed", actor=a),
    "accept": lambda d, r, _, g: d.accept(
        r, satisfaction=g.randint(1, 5), actor=f"customer:{d.get(r).customer.id}"
    ),
    "cancel": lambda d, r, a, _: d.cancel(r, reason="Duplicate", actor=a),
}


def open_desk(
    db: str, schema: str | None, projections: str, *, erasable: bool = False
) -> ServiceDesk:
    """A desk on an SQLite path or a PostgreSQL DSN (with its schema); ``erasable`` creates."""
    mode: ProjectionMode = "inline" if projections == "inline" else "external"
    if db.startswith(("postgresql://", "postgres://")):
        return ServiceDesk.postgres(db, schema=schema, projections=mode, erasable=erasable)
    return ServiceDesk.sqlite(db, projections=mode, erasable=erasable)


def run(argv: Sequence[str] | None = None) -> int:
    """Write until the deadline; 0 when stopped by its deadline or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m reliability.writer")
    parser.add_argument("--db", required=True)
    parser.add_argument("--schema")
    parser.add_argument("--projections", choices=["inline", "external"], default="inline")
    parser.add_argument("--ack", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args(argv)
    stopping = False

    def stop(_signal: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    rng = random.Random(args.seed)  # noqa: S311 - a seeded workload
    deadline = time.monotonic() + args.seconds
    with open(args.ack, "a", encoding="utf-8") as ack:  # noqa: PTH123 - one flush per line
        desk = open_desk(args.db, args.schema, args.projections)
        known: list[UUID] = list(desk.request_ids())
        while not stopping and time.monotonic() < deadline:
            try:
                if desk.erasable and rng.random() < FORGET_SHARE:
                    forgetting = desk.forget_customer(
                        f"c{rng.randrange(CUSTOMERS)}", actor="supervisor:s"
                    )
                    ack.write("FORGOT\n" if forgetting.recorded else "REFUSED\n")
                    ack.flush()
                    continue
                if not known or rng.random() < OPEN_SHARE:
                    customer = f"c{rng.randrange(CUSTOMERS)}"
                    request = desk.open(
                        customer=customer,
                        channel="web",
                        kind="complaint",
                        stage="post_sale",
                        symptom=f"seed {args.seed} #{len(known)}",
                        actor=f"customer:{customer}",
                    )
                    known.append(request.id)
                else:
                    if rng.random() < REREAD_SHARE:
                        known = list(desk.request_ids())  # what the other writers opened
                    send = STEPS[rng.choice(list(STEPS))]
                    request = send(desk, rng.choice(known), f"agent:w{rng.randrange(3)}", rng)
            except ConcurrencyConflictError:
                ack.write("CONFLICT\n")
            except ServflowError:
                ack.write("REFUSED\n")
            except Exception:  # noqa: BLE001 - the suite counts them: there must be none
                text = traceback.format_exc().replace("\n", " | ")
                ack.write(f"UNTYPED {text}\n")
            else:
                ack.write(f"{request.id} {request.version}\n")
            ack.flush()
        desk.close()
    return 0


if __name__ == "__main__":
    sys.exit(run())
