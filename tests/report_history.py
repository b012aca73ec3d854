"""A known two-week history for the report's tests (the CLI/unit test and the browser test).

The built-in standard policy: 24x7 UTC, normal priority gets 8 h to the first response and
40 h to resolution; only ``customer`` holds pause the clocks. T0 is the test clock's start,
Monday 2026-03-02 09:00 UTC (ISO week 2026-W10); the period is [T0, T0 + 14 days), weeks W10
and W11; the clock ends at T0 + 20 days.

Week W10:
- A1 phone/information, team a: probed 1 h, acted, resolved 3 h, accepted (5) at 4 h; a minor
  non-conformity "delay" logged at 5 h, corrected at 10 h (5 h to correct).
- A2 email/complaint, team a: waits on the customer from 1 h to 3 h (customer hold 2 h), acted
  4 h, resolved 6 h, accepted (3) at 7 h.
- B1 web/information, team b: on hold "vendor" from 2 h to 6 h (4 h), resolved 10 h (the first
  response: missed), accepted (4) at 11 h.

Week W11 (T0 + 7 days):
- A3 chat/complaint, team a: acted 1 h, resolved 2 h, accepted (2) at 3 h; a minor
  non-conformity "tone" logged at 4 h, corrected at 6 h (2 h).
- B2 web/quote, team b: never worked (first response and resolution breached; backlog 7-30 d).
- B3 phone/information, team b: acted 1 h, never resolved (resolution breached; backlog); a
  major non-conformity "delay" logged at 2 h, open.

So team a: 3 opened, 3 completed, 0 backlog, first responses and resolutions 100 % on time,
median first response 1.0 h (1, 1, 4), median resolution 3.0 h (2, 3, 6; p90 6 h), mean
satisfaction 3.33 over 3 scores, 2.0 h waiting on the customer, 105 min of effort, cost 30.00;
team b: 3 opened, 1 completed, 2 backlog, first responses 1 of 3 on time (B1 missed, B2
breached), resolutions 1 of 3 (B2, B3 breached), median first response 5.5 h (1, 10), median
resolution 10.0 h, mean satisfaction 4.00 over 1 score, 4.0 h on hold "vendor". Every closed
request was resolved with at most one action, never reopened nor transferred: first-contact
resolution 100 %. The default policy sets no update target: no update compliance.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from conftest import FakeClock
from servflow import ServiceDesk

H = timedelta(hours=1)
DAY = timedelta(days=1)
WHO = "agent:ana"


def build_report_history(desk: ServiceDesk, clock: FakeClock) -> datetime:
    """Six requests over two weeks (see the module's docstring); returns T0."""
    t0 = clock.now
    clock.now = t0 + 20 * DAY

    def opened(channel: str, kind: str, team: str, at: timedelta) -> UUID:
        request = desk.open(customer="ACME", channel=channel, kind=kind, stage="sale",
                            symptom="help", actor=WHO, occurred_at=t0 + at)  # fmt: skip
        desk.classify(request, priority="normal", actor=WHO, occurred_at=t0 + at)
        desk.assign(request, team=team, actor=WHO, occurred_at=t0 + at)
        return request.id

    def resolved(request: UUID, at: datetime, score: int, accepted: datetime) -> None:
        desk.complete(request, outcome="resolved", resolution="ok", actor=WHO, occurred_at=at)
        desk.accept(request, satisfaction=score, actor=WHO, occurred_at=accepted)

    a1 = opened("phone", "information", "a", 0 * H)
    desk.probe(a1, questions=["what?"], findings="f", actor=WHO, occurred_at=t0 + H)
    desk.act(a1, action="fix", effort_minutes=30, cost="10.00", actor=WHO, occurred_at=t0 + 2 * H)
    resolved(a1, t0 + 3 * H, 5, t0 + 4 * H)
    nc = desk.log_nonconformity(a1, description="Answered late", severity="minor",
                                category="delay", actor=WHO, occurred_at=t0 + 5 * H)  # fmt: skip
    desk.correct_nonconformity(a1, nc, correction="Reminded", actor=WHO, occurred_at=t0 + 10 * H)

    a2 = opened("email", "complaint", "a", 0 * H)
    desk.wait_on_customer(a2, reason="which invoice?", actor=WHO, occurred_at=t0 + H)
    desk.customer_responded(a2, note="this one", actor=WHO, occurred_at=t0 + 3 * H)
    desk.act(a2, action="refund", effort_minutes=60, cost="20", actor=WHO, occurred_at=t0 + 4 * H)
    resolved(a2, t0 + 6 * H, 3, t0 + 7 * H)

    b1 = opened("web", "information", "b", 0 * H)
    desk.hold(b1, reason="vendor", actor=WHO, occurred_at=t0 + 2 * H)
    desk.resume(b1, actor=WHO, occurred_at=t0 + 6 * H)
    resolved(b1, t0 + 10 * H, 4, t0 + 11 * H)

    w11 = 7 * DAY
    a3 = opened("chat", "complaint", "a", w11)
    desk.act(a3, action="apologise", effort_minutes=15, actor=WHO, occurred_at=t0 + w11 + H)
    resolved(a3, t0 + w11 + 2 * H, 2, t0 + w11 + 3 * H)
    nc = desk.log_nonconformity(a3, description="Curt reply", severity="minor", category="tone",
                                actor=WHO, occurred_at=t0 + w11 + 4 * H)  # fmt: skip
    desk.correct_nonconformity(a3, nc, correction="Coached", actor=WHO,
                               occurred_at=t0 + w11 + 6 * H)  # fmt: skip

    opened("web", "quote", "b", w11)
    b3 = opened("phone", "information", "b", w11)
    desk.act(b3, action="look", effort_minutes=45, actor=WHO, occurred_at=t0 + w11 + H)
    desk.log_nonconformity(b3, description="No progress", severity="major", category="delay",
                           actor=WHO, occurred_at=t0 + w11 + 2 * H)  # fmt: skip
    return t0
