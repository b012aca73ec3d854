"""The request lifecycle as the tests understand it, written by hand from the domain rules.

This is the tests' oracle for "may this command run now?" and "where does it leave the request?".
It is deliberately *not* derived from ``servflow.TRANSITIONS`` (nor from ``COMMANDS``,
``OPEN_STATUSES`` or ``SYSTEM_TRANSITIONS``): a test that asks the code under test what the
code should do passes whatever the code says. Each entry below comes from the prose of the
source workflow (``DOMAIN.md``: 001 "Flujo de trabajo", the STAR method of 000) and of
``docs/explanation/lifecycle.md``, and says which sentence it encodes. Only the ``Status``
enumeration (the names of the statuses) is taken from servflow.

If the code and this model disagree, decide from the domain which one is wrong; never copy the
code's table here to make a test pass.
"""

from __future__ import annotations

from collections.abc import Mapping

from servflow import Outcome, Status

__all__ = [
    "ALLOWED",
    "COMMANDS",
    "FINISHED",
    "OPEN",
    "SYSTEM_ALLOWED",
    "allowed_in",
    "allows",
    "status_after",
]

NEW = Status.NEW
CLASSIFIED = Status.CLASSIFIED
ASSIGNED = Status.ASSIGNED
WAITING = Status.WAITING_ON_CUSTOMER
ON_HOLD = Status.ON_HOLD
TRANSFERRED = Status.TRANSFERRED
COMPLETED = Status.COMPLETED
CLOSED = Status.CLOSED
CANCELLED = Status.CANCELLED
EVERY = frozenset(
    {NEW, CLASSIFIED, ASSIGNED, WAITING, ON_HOLD, TRANSFERRED, COMPLETED, CLOSED, CANCELLED}
)
#: On hold: on the customer or for another reason of the desk's catalogue.
HELD = frozenset({WAITING, ON_HOLD})
#: Completed or closed: either may be reopened.
DONE = frozenset({COMPLETED, CLOSED})

#: Accepted by the customer, or withdrawn: nothing but control happens to them any more.
FINISHED = frozenset({CLOSED, CANCELLED})
#: Still needs work or the customer's acceptance ("cancel ends any open request").
OPEN = EVERY - FINISHED
#: Classified and not yet completed: someone may take it, hold it or hand it on.
IN_HAND = frozenset({CLASSIFIED, ASSIGNED, TRANSFERRED}) | HELD

#: For each command after ``open``, the statuses in which the lifecycle accepts it.
ALLOWED: Mapping[str, frozenset[Status]] = {
    # Step 2 sets the priority; a request can be reclassified while it is worked on (its SLA
    # targets follow the latest classification), but not once completed or finished.
    "classify": frozenset({NEW}) | IN_HAND,
    # Step 2 again: first assignment, reassignment, pick-up of a transfer; only after
    # classification. Once completed, a change of owner is still recorded (a fact real desks
    # keep: who answers for the completion), without reopening it; closed is finished.
    "assign": IN_HAND | {COMPLETED},
    # Step 3, STAR probing and action: only the one working on it, while they work on it
    # (work needs an owner: a source row of work with no team is assigned first).
    "probe": frozenset({ASSIGNED}),
    "act": frozenset({ASSIGNED}),
    # Pausing for the customer interrupts work in progress (or another hold); the customer's
    # reply resumes it.
    "wait_on_customer": frozenset({ASSIGNED, ON_HOLD}),
    "customer_responded": frozenset({WAITING}),
    # A hold for another reason (vendor, implementation...) interrupts work in progress or
    # switches from another hold; the desk resumes any hold.
    "hold": frozenset({ASSIGNED}) | HELD,
    "resume": HELD,
    # Back to a queue, unassigned: from any open state (after completion only a fact about
    # who holds it).
    "unassign": OPEN,
    # "Periodic progress for requests that take long": from receipt until completion.
    "report_progress": frozenset({NEW}) | IN_HAND,
    # Step 4: completion (resolved, transferred, follow-up) needs someone assigned; the work
    # may be completed straight from a hold.
    "complete": frozenset({ASSIGNED}) | HELD,
    # Step 5: the customer accepts a completion, or rejects it and the work resumes; the
    # desk (or ``system``) may close a completion instead; a closed request may be reopened
    # (within the policy's window).
    "accept": frozenset({COMPLETED}),
    "close": frozenset({COMPLETED}),
    "reopen": DONE,
    # Withdrawn or a duplicate: from any open state.
    "cancel": OPEN,
    # Control and improvement (000): at any time, even after closure.
    "log_nonconformity": EVERY,
    "correct_nonconformity": EVERY,
    # Notes and the customer's messages: a conversation, at any time.
    "note": EVERY,
    "customer_message": EVERY,
    # Another system's history taken in (``import_events``): a mark, at any time.
    "import": EVERY,
}

#: Every command a request accepts after ``open``, in the order of the workflow.
COMMANDS: tuple[str, ...] = tuple(ALLOWED)

#: Commands only ``system`` records when their time comes: a follow-up date reached while the
#: completion awaits the customer.
SYSTEM_ALLOWED: Mapping[str, frozenset[Status]] = {
    "mark_follow_up_due": frozenset({COMPLETED}),
    # An automation rule's firing: recorded in any status, changing none.
    "automate": frozenset(Status),
}


def allows(command: str, status: Status) -> bool:
    """Whether the lifecycle accepts ``command`` from a request in ``status``."""
    allowed = ALLOWED.get(command)
    if allowed is None:
        allowed = SYSTEM_ALLOWED[command]
    return status in allowed


def allowed_in(status: Status) -> tuple[str, ...]:
    """The commands a request in ``status`` accepts, in workflow order."""
    return tuple(command for command in COMMANDS if status in ALLOWED[command])


def status_after(command: str, status: Status, outcome: Outcome | None = None) -> Status:
    """Where an accepted ``command`` leaves a request that was in ``status``.

    ``outcome`` is the outcome of a ``complete`` (resolved when not given).
    """
    assert allows(command, status), (command, status)  # a misuse of the model
    if command == "classify":
        # Classification moves a new request on and leaves any later status alone.
        return CLASSIFIED if status is NEW else status
    if command == "assign":
        # A held request stays held when it changes hands; a completed one stays completed.
        return status if status in HELD | {COMPLETED} else ASSIGNED
    if command == "unassign":
        # Back in a queue (classified again), except before triage or once completed.
        return status if status in {NEW, COMPLETED} else CLASSIFIED
    if command == "complete":
        # Sent to another department: re-queued there, still open.
        return TRANSFERRED if outcome is Outcome.TRANSFERRED else COMPLETED
    moves = {
        "wait_on_customer": WAITING,
        "customer_responded": ASSIGNED,
        "hold": ON_HOLD,
        "resume": ASSIGNED,
        "accept": CLOSED,
        "close": CLOSED,
        "reopen": ASSIGNED,
        "cancel": CANCELLED,
    }
    # probe, act, report_progress, non-conformities and the follow-up mark leave it where it is.
    return moves.get(command, status)
