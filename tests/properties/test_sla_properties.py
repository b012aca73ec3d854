"""SLA clocks as properties over random request histories.

- ``status`` is a pure function of (the events up to T, the policy, T): the same question gets
  the same answer, from a tracker rebuilt from JSON too, and events after T change nothing at T.
- ``elapsed + remaining == target``, and ``elapsed + paused`` is the business time since the
  opening (to the instant, or to the moment the clock stopped).
- Past the last event a clock only moves forward (running -> warning -> breached), and over the
  whole history a breached clock never goes back to running, warning or paused unless a
  reclassification or a reopening changed its target or its counting.
- Breaches are final (``breach_is_final``, drawn both ways in every property above): under it
  a breached clock never recovers, whatever reclassifications and reopenings follow; and its
  answers equal the retroactive ones (``False``) until a reclassification comes after the
  clock breached, after which it stays breached or missed, having counted the same time.
- The update clock (drawn: policies with and without update targets, one rule without) keeps
  the same invariants per cycle: ``elapsed + paused`` is the business time since its cycle
  started; its cycles' verdicts never change (the counts of cycles met and breached only grow
  with the instant, under ``breach_is_final``); and it agrees with the timeline.
- The SLA projection's rows equal a tracker folded directly from the request's events, and a
  rebuild gives the same rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import reduce

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FakeClock, view_rows
from lifecycle_model import allows
from servflow import ServflowError, ServiceDesk, Status, TimelineKind
from servflow.domain.calendar import Calendar
from servflow.domain.clocks import RESPONSES, SECOND, ClockFigures, UpdateClock
from servflow.domain.policy import SlaPolicy, SlaRule
from servflow.domain.request import Moment, ServiceRequest
from servflow.domain.sla import STOPPED_STATES, ClockState, SlaTracker, to_second
from servflow.persistence.sql import micros
from strategies import PAUSING_HOLDS, STORY, open_request, send, send_to_request

WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
CALENDARS = (
    Calendar.always_open(),
    Calendar(
        name="madrid",
        timezone="Europe/Madrid",
        hours={d: [("09:00", "13:00"), ("14:00", "18:00")] for d in WORKDAYS},
        holidays=["2026-03-19", "2026-04-03", "2026-10-12"],
    ),
    Calendar(
        name="new-york",
        timezone="America/New_York",
        hours={d: [("09:00", "17:00")] for d in WORKDAYS},
    ),
)
#: Near the 2026 DST changes of Madrid and New York, and an ordinary week.
STARTS = (
    datetime(2026, 3, 6, 20, 0, tzinfo=UTC),
    datetime(2026, 3, 27, 15, 30, tzinfo=UTC),
    datetime(2026, 10, 23, 14, 45, tzinfo=UTC),
    datetime(2026, 10, 30, 19, 0, tzinfo=UTC),
    datetime(2026, 6, 1, 7, 0, tzinfo=UTC),
)
#: How often each story command is picked among those allowed: work moves forward more than not.
WEIGHTS = {
    "classify": 2,
    "assign": 3,
    "probe": 2,
    "progress": 1,
    "wait": 2,
    "respond": 4,
    "resolve": 3,
    "transfer": 1,
    "follow_up": 1,
    "accept": 2,
    "reopen": 2,
    "hold": 2,
    "resume": 2,
    "unassign": 1,
    "close": 1,
}


def pick(status: Status, index: int) -> str:
    """A story command the lifecycle accepts in ``status``, chosen by ``index``.

    Cancelling only now and then, and a non-conformity (logged by the customer) when nothing
    else is accepted.
    """
    allowed = [c for c, w in WEIGHTS.items() if allows(STORY[c], status) for _ in range(w)]
    if index % 13 == 12 and allows("cancel", status):
        return "cancel"
    if index % 13 == 11 or not allowed:
        return "nonconformity"
    return allowed[index % len(allowed)]


Step = tuple[int, int, int]
steps = st.lists(
    st.tuples(st.integers(0, 1_000), st.integers(0, 2_000), st.integers(0, 3)),
    min_size=2,
    max_size=14,
)


def make_policy(
    calendar: Calendar,
    warn_at: float,
    final: bool = True,  # noqa: FBT001, FBT002 - built by st.builds
    updates: bool = False,  # noqa: FBT001, FBT002
) -> SlaPolicy:
    """The policy of these properties; ``updates`` sets update targets (not for low)."""

    def update(target: str) -> str | None:
        return target if updates else None

    return SlaPolicy(
        name="prop",
        calendar=calendar,
        rules=(
            SlaRule(priority="urgent", first_response="1h", resolution="4h", update=update("1h")),
            SlaRule(priority="high", first_response="2h30m", resolution="9h", update=update("3h")),
            SlaRule(priority="low", first_response="16h", resolution="40h"),
        ),
        default=SlaRule(first_response="4h", resolution="16h", update=update("2h")),
        warn_at=warn_at,
        deemed_acceptance_after="8h",
        holds=PAUSING_HOLDS,
        breach_is_final=final,
    )


policies = st.builds(
    make_policy,
    st.sampled_from(CALENDARS),
    st.sampled_from((0.5, 0.8, 0.95, 1.0)),
    st.booleans(),
    st.booleans(),
)


def history(start: datetime, story: Sequence[Step]) -> list[ServiceRequest.Event]:
    """The events of one request driven through a random story (refused commands skipped)."""
    opened = Moment(start, start)
    request = ServiceRequest.open(
        ticket_code="SR-000001",
        customer={"id": "acme", "tier": "premium"},
        channel="web",
        kind="claim",
        stage="sale",
        symptom="s",
        synthesis=None,
        actor="agent:ana",
        at=opened,
    )
    now = start
    for index, minutes, choice in story:
        now += timedelta(minutes=minutes, seconds=choice * 7)
        with contextlib.suppress(ServflowError):
            send_to_request(request, pick(request.status, index), choice, Moment(now, now))
    return [e for e in request.collect_events() if isinstance(e, ServiceRequest.Event)]


def fold(events: Sequence[object]) -> SlaTracker:
    tracker = reduce(SlaTracker.fold, events, None)
    assert tracker is not None
    return tracker


#: Ranks a state can only climb once time alone drives the clock.
RANK = {
    ClockState.RUNNING: 0,
    ClockState.PAUSED: 0,
    ClockState.WARNING: 1,
    ClockState.BREACHED: 2,
    ClockState.MET: 3,
    ClockState.MISSED: 3,
    ClockState.CANCELLED: 3,
    ClockState.NOT_STARTED: 0,
}


@given(
    start=st.sampled_from(STARTS),
    story=steps,
    sla=policies,
    offsets=st.lists(st.integers(0, 20_000), min_size=1, max_size=4),
)
def test_status_is_a_pure_function_of_the_events_up_to_the_instant(
    start: datetime, story: list[Step], sla: SlaPolicy, offsets: list[int]
) -> None:
    events = history(start, story)
    tracker = fold(events)
    copy = SlaTracker.model_validate_json(tracker.model_dump_json())
    for offset in offsets:
        at = start + timedelta(minutes=offset, microseconds=offset)
        answer = tracker.status(at, sla)
        assert tracker.status(at, sla) == answer
        assert copy.status(at, sla) == answer
        # Only what happened by then counts: a tracker that never saw later events agrees.
        prefix = [e for e in events if to_second(e.occurred_at) <= to_second(at)]
        assert fold(prefix).status(at, sla) == answer


@given(
    start=st.sampled_from(STARTS),
    story=steps,
    sla=policies,
    offsets=st.lists(st.integers(0, 20_000), min_size=1, max_size=4),
)
def test_elapsed_plus_remaining_is_the_target_and_paused_completes_the_business_time(
    start: datetime, story: list[Step], sla: SlaPolicy, offsets: list[int]
) -> None:
    tracker = fold(history(start, story))
    for offset in offsets:
        at = to_second(start + timedelta(minutes=offset))
        for clock in tracker.status(at, sla).clocks:
            assert clock.elapsed + clock.remaining == clock.target
            assert clock.elapsed >= timedelta(0)
            assert clock.paused >= timedelta(0)
            end = at if clock.state not in STOPPED_STATES else min(at, _stop(tracker, clock))
            start = tracker.opened_at
            if isinstance(clock, UpdateClock):
                # Counted from the start of its current cycle (nothing before the first one).
                start = clock.cycle_started_at or end
            assert clock.elapsed + clock.paused == sla.calendar.between(start, end)
            if clock.state in {ClockState.RUNNING, ClockState.WARNING}:
                assert clock.due is not None
                assert clock.due >= at
                assert clock.remaining >= timedelta(0)
            if clock.state is ClockState.BREACHED:
                assert clock.due is not None
                assert clock.due < at


def _stop(tracker: SlaTracker, clock: object) -> datetime:
    met_at = getattr(clock, "met_at", None)
    if met_at is not None:
        return met_at  # type: ignore[no-any-return]
    return next(f.at for f in tracker.facts if f.event == "Cancelled")


@given(
    start=st.sampled_from(STARTS),
    story=steps,
    calendar=st.sampled_from(CALENDARS),
    warn_at=st.sampled_from((0.5, 0.8, 0.95, 1.0)),
    offsets=st.lists(st.integers(0, 30_000), min_size=2, max_size=10),
)
def test_update_cycles_keep_their_verdicts(
    start: datetime, story: list[Step], calendar: Calendar, warn_at: float, offsets: list[int]
) -> None:
    # Over the whole history, at every event and at random instants: the cycle number and the
    # cycles met only grow, and so do the breached cycles when breaches are final; before the
    # first response the clock has not started, and a breached state is a counted breach.
    sla = make_policy(calendar, warn_at, final=True, updates=True)
    tracker = fold(history(start, story))
    instants = sorted({*(to_second(start + timedelta(minutes=o)) for o in offsets)})
    instants = sorted({*instants, *(f.at for f in tracker.facts)})
    first = next((f.at for f in tracker.facts if f.event in RESPONSES or f.responds), None)
    seen: list[UpdateClock] = []
    for at in instants:
        update = tracker.status(at, sla).update
        if update is None:
            continue  # reclassified low: no update target
        if first is None or at < first:
            assert update.state in {ClockState.NOT_STARTED, ClockState.CANCELLED}
            assert update.cycle == 0
        if update.state is ClockState.BREACHED:
            assert update.breached_cycles >= 1
        if seen:
            last = seen[-1]
            assert update.cycle >= last.cycle
            assert update.cycles_met >= last.cycles_met
            assert update.breached_cycles >= last.breached_cycles
        seen.append(update)


@given(
    start=st.sampled_from(STARTS),
    story=steps,
    sla=policies,
    horizon=st.integers(0, 30_000),
)
def test_the_timeline_and_the_state_agree_at_every_breach_and_warning_time_brought(
    start: datetime, story: list[Step], sla: SlaPolicy, horizon: int
) -> None:
    # A breach or warning that time alone brought is dated at the first second the clock is in
    # that state: asked at that instant the clock says so, asked a second before it did not.
    tracker = fold(history(start, story))
    until = tracker.last_at + timedelta(minutes=horizon)
    instants = {fact.at for fact in tracker.facts}
    for entry in tracker.timeline(sla, until=until):
        if entry.cause != "time" or entry.at in instants:
            # An event in the same second comes after what time brought in it (the timeline
            # lists both) and decides the state asked at that second.
            continue
        now = getattr(tracker.status(entry.at, sla), entry.clock).state
        before = getattr(tracker.status(entry.at - SECOND, sla), entry.clock).state
        if entry.kind is TimelineKind.BREACHED:
            assert now is ClockState.BREACHED
            assert before is not ClockState.BREACHED
        else:
            assert entry.kind is TimelineKind.WARNED
            assert now in {ClockState.WARNING, ClockState.BREACHED}
            assert before is ClockState.RUNNING


@given(
    start=st.sampled_from(STARTS),
    story=steps,
    sla=policies,
    offsets=st.lists(st.integers(0, 30_000), min_size=2, max_size=8),
)
def test_past_the_last_event_a_clock_only_moves_forward(
    start: datetime, story: list[Step], sla: SlaPolicy, offsets: list[int]
) -> None:
    tracker = fold(history(start, story))
    instants = sorted(tracker.last_at + timedelta(minutes=o) for o in offsets)
    for name in ("first_response", "resolution", "update"):
        clocks = [getattr(tracker.status(at, sla), name) for at in instants]
        if None in clocks:
            assert set(clocks) == {None}  # no update target: none at any instant
            continue
        states = [clock.state for clock in clocks]
        ranks = [RANK[s] for s in states]
        assert ranks == sorted(ranks), states
        assert len({s for s in states if RANK[s] == 3}) <= 1  # a stopped clock stays put


@given(
    start=st.sampled_from(STARTS),
    story=steps,
    sla=policies,
    offsets=st.lists(st.integers(0, 30_000), min_size=2, max_size=10),
)
def test_a_breached_clock_never_recovers_without_a_new_target_or_a_reopening(
    start: datetime, story: list[Step], sla: SlaPolicy, offsets: list[int]
) -> None:
    events = history(start, story)
    tracker = fold(events)
    if any(f.event in {"Classified", "Reopened"} for f in tracker.facts):
        tracker = fold([e for e in events if type(e).__name__ not in {"Classified", "Reopened"}])
        # Dropping events can leave an impossible history only in ways the tracker ignores
        # (e.g. a second completion): the clocks still follow the same rules.
    instants = sorted(to_second(start + timedelta(minutes=o)) for o in offsets)
    for name in ("first_response", "resolution"):
        states = [getattr(tracker.status(at, sla), name).state for at in instants]
        if ClockState.BREACHED in states:
            after = states[states.index(ClockState.BREACHED) :]
            assert all(
                s in {ClockState.BREACHED, ClockState.MISSED, ClockState.CANCELLED} for s in after
            ), states


#: What a clock that breached can become later, when its breach is final.
AFTER_A_BREACH = frozenset({ClockState.BREACHED, ClockState.MISSED, ClockState.CANCELLED})


@given(
    start=st.sampled_from(STARTS),
    story=steps,
    sla=policies,
    offsets=st.lists(st.integers(0, 30_000), min_size=2, max_size=10),
)
def test_a_final_breach_never_recovers_whatever_follows(
    start: datetime, story: list[Step], sla: SlaPolicy, offsets: list[int]
) -> None:
    # The whole history, reclassifications and reopenings included: once breached, a clock
    # under breach_is_final is breached, missed or cancelled at every later instant.
    final = sla.model_copy(update={"breach_is_final": True})
    tracker = fold(history(start, story))
    instants = sorted({to_second(start + timedelta(minutes=o)) for o in offsets})
    instants += [f.at for f in tracker.facts]
    instants.sort()
    for name in ("first_response", "resolution"):
        states = [getattr(tracker.status(at, final), name).state for at in instants]
        if ClockState.BREACHED in states:
            after = states[states.index(ClockState.BREACHED) :]
            assert set(after) <= AFTER_A_BREACH, states


def _kept_from(tracker: SlaTracker, name: str, sla: SlaPolicy) -> datetime | None:
    """The first reclassification that came when the clock was breached or missed, if any.

    Asked through the public answers only: the clock as of the reclassification's instant,
    measured on the facts before it.
    """
    for index, fact in enumerate(tracker.facts):
        if fact.event != "Classified":
            continue
        before = tracker.model_copy(update={"facts": tracker.facts[:index]})
        state = getattr(before.status(fact.at, sla), name).state
        if state in {ClockState.BREACHED, ClockState.MISSED}:
            return fact.at
    return None


@given(
    start=st.sampled_from(STARTS),
    story=steps,
    calendar=st.sampled_from(CALENDARS),
    warn_at=st.sampled_from((0.5, 0.8, 0.95, 1.0)),
    offsets=st.lists(st.integers(0, 30_000), min_size=1, max_size=6),
    updates=st.booleans(),
)
def test_final_and_retroactive_breaches_differ_only_after_a_breached_clock_is_reclassified(
    start: datetime,
    story: list[Step],
    calendar: Calendar,
    warn_at: float,
    offsets: list[int],
    updates: bool,  # noqa: FBT001 - drawn
) -> None:
    final = make_policy(calendar, warn_at, final=True, updates=updates)
    retroactive = make_policy(calendar, warn_at, final=False, updates=updates)
    tracker = fold(history(start, story))
    instants = [to_second(start + timedelta(minutes=o)) for o in offsets]
    instants += [f.at for f in tracker.facts]
    for name in ("first_response", "resolution"):
        kept_from = _kept_from(tracker, name, final)
        for at in instants:
            kept = getattr(tracker.status(at, final), name)
            other = getattr(tracker.status(at, retroactive), name)
            if kept_from is None or at < kept_from:
                assert kept == other
                continue
            # The same time counted, against the target it breached under.
            assert (kept.elapsed, kept.paused, kept.met_at) == (
                other.elapsed,
                other.paused,
                other.met_at,
            )
            assert kept.state in AFTER_A_BREACH, (kept, other)


# -- the projection --------------------------------------------------------------------------------

DeskStep = tuple[int, int, int, int]
desk_steps = st.lists(
    st.tuples(
        st.integers(0, 1_000),
        st.integers(0, 5),
        st.integers(0, 600),
        st.integers(0, 3),
    ),
    min_size=1,
    max_size=30,
)


def drive(desk: ServiceDesk, clock: FakeClock, story: Sequence[DeskStep]) -> list[str]:
    """Random commands on a few requests through the desk; refused ones are skipped."""
    tickets: list[str] = []
    for index, target, minutes, choice in story:
        clock.advance(minutes=minutes)
        if index % 7 == 0 or not tickets:
            tickets.append(open_request(desk, choice, len(tickets)))
            continue
        ref = tickets[target % len(tickets)]
        command = pick(desk.get(ref).status, index)
        with contextlib.suppress(ServflowError):
            send(desk, command, ref, choice, clock.now)
        if choice == 3:
            desk.run_due()
    return tickets


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(story=desk_steps, sla=policies, switch=st.integers(0, 30))
def test_the_sla_projection_rows_equal_a_tracker_folded_directly(
    story: list[DeskStep], sla: SlaPolicy, switch: int
) -> None:
    clock = FakeClock()
    with ServiceDesk(clock=clock, sla=sla) as desk:
        # A second policy version adopted part-way: each request keeps the one of its opening.
        drive(desk, clock, story[:switch])
        second = sla.model_copy(update={"version": 2, "warn_at": 0.5})
        desk.adopt_policy(second, actor="agent:admin")
        clock.advance(seconds=1)
        tickets = drive(desk, clock, story[switch:])
        with desk._stores.projector.views.transaction(commit=False) as tx:
            rows = {r["ticket_code"]: r for r in desk._stores.sla.rows(tx)}
        assert set(rows) >= set(tickets)
        adoptions = desk.policies()
        for ticket, row in rows.items():
            events = [
                e
                for e in desk._stores.store.events.get(desk.resolve(ticket))
                if isinstance(e, ServiceRequest.Event)
            ]
            tracker = fold(events)
            assert row["tracker"] == tracker.model_dump_json(exclude_defaults=True)
            assert SlaTracker.model_validate_json(row["tracker"]) == tracker
            in_force = next(
                (a.policy for a in reversed(adoptions) if a.effective_from <= tracker.opened_at),
                sla,
            )
            status = tracker.status(tracker.last_at, in_force)
            assert row["policy_version"] == in_force.version
            assert row["first_response_due"] == micros(status.first_response.due)
            assert row["resolution_due"] == micros(status.resolution.due)
            assert row["first_response_warn_from"] == micros(status.first_response.warn_from)
            assert row["resolution_warn_from"] == micros(status.resolution.warn_from)
            update = status.update
            assert row["update_due"] == (None if update is None else micros(update.due))
            assert row["update_warn_from"] == (None if update is None else micros(update.warn_from))
            assert row["update_cycle"] == (0 if update is None else update.cycle)
            assert (row["update_done"] is None) == (
                update is not None
                and update.state not in STOPPED_STATES
                and update.state is not ClockState.NOT_STARTED
            )
            deemed = tracker.deemed_acceptance_at(in_force)
            assert row["deemed_acceptance_at"] == micros(deemed)
            # And the desk, reading the events, says the same as the row for "now".
            answer = desk.sla(ticket, at=max(clock.now, tracker.last_at))
            assert micros(answer.resolution.due) == row["resolution_due"]
        with desk._stores.projector.views.transaction(commit=False) as tx:
            before = desk._stores.sla.rows(tx)
        desk.rebuild_projections(["sla"])
        with desk._stores.projector.views.transaction(commit=False) as tx:
            assert desk._stores.sla.rows(tx) == before


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    story=desk_steps,
    sla=policies,
    switch=st.integers(1, 30),
    calendar=st.sampled_from(CALENDARS),
    back=st.integers(0, 3_000),
    offsets=st.lists(st.integers(0, 3_000), max_size=3),
)
def test_known_before_a_correction_answers_what_the_desk_answered_then(
    story: list[DeskStep],
    sla: SlaPolicy,
    switch: int,
    calendar: Calendar,
    back: int,
    offsets: list[int],
) -> None:
    clock = FakeClock()
    start = clock.now
    with ServiceDesk(clock=clock, sla=sla) as desk:
        tickets = drive(desk, clock, story[:switch])
        known = clock.now
        instants = [known] + [start + timedelta(minutes=o) for o in offsets]
        answered = {
            (ticket, at): desk.sla(ticket, at=at)
            for ticket in tickets
            for at in instants
            if at >= desk.get(ticket).opened_at
        }
        # A correction, effective from a random past instant (or a future one: an adoption).
        clock.advance(seconds=1)
        corrected = sla.model_copy(update={"version": 2, "warn_at": 0.5, "calendar": calendar})
        desk.adopt_policy(
            corrected,
            actor="agent:admin",
            effective_from=min(start + timedelta(minutes=back), clock.now),
        )
        clock.advance(seconds=1)
        tickets = drive(desk, clock, story[switch:]) + tickets
        # What the desk knew before the correction, it still answers.
        for (ticket, at), answer in answered.items():
            assert desk.sla(ticket, at=at, known_at=known) == answer
        # Verdicts reached before the correction keep their version.
        for ticket in tickets:
            if (ticket, known) not in answered:
                continue
            now = desk.sla(ticket, at=max(clock.now, known))
            for old, new in zip(answered[ticket, known].clocks, now.clocks, strict=False):
                if old.state in STOPPED_STATES:
                    assert new.policy_version == old.policy_version
        # The views follow the desk's answers, and equal a rebuild.
        with desk._stores.projector.views.transaction(commit=False) as tx:
            rows = {r["ticket_code"]: r for r in desk._stores.sla.rows(tx)}
        for ticket, row in rows.items():
            last = desk.sla(ticket).at
            answer = desk.sla(ticket, at=max(clock.now, last))
            assert row["resolution_due"] == micros(answer.resolution.due)
            assert row["first_response_due"] == micros(answer.first_response.due)
            assert row["policy_version"] == answer.resolution.policy_version
        followed = view_rows(desk)
        desk.rebuild_projections()
        assert view_rows(desk) == followed


def _figures(clocks: ClockFigures) -> list[object]:
    """What the KPIs count of clocks (``Tally.add``): states, met instants, cycles."""
    return [
        (c.state, c.met_at, c.elapsed if c.state in STOPPED_STATES else None, c.cycles_met,
         c.breached_cycles)
        for c in clocks.clocks
    ]  # fmt: skip


@given(
    start=st.sampled_from(STARTS),
    story=steps,
    sla=policies,
    offsets=st.lists(st.integers(0, 40_000), min_size=1, max_size=6),
)
def test_clock_figures_carried_forward_equal_the_clocks_measured_later(
    start: datetime, story: list[Step], sla: SlaPolicy, offsets: list[int]
) -> None:
    # The KPI view keeps each request's clocks as of its tracker's last fact and carries them
    # to the question's instant by time alone (``ClockFigures.at``): asked at random later
    # instants, and at each warning and due instant and a second either side of it, that is
    # what measuring the clocks then gives.
    tracker = fold(history(start, story))
    last = tracker.status(tracker.last_at, sla)
    kept = ClockFigures.from_data(ClockFigures.of(last).state_data())
    assert kept == ClockFigures.of(last)
    instants = [tracker.last_at + timedelta(minutes=o, microseconds=o) for o in offsets]
    for clock in last.clocks:
        for edge in (clock.warn_from, clock.due):
            if edge is not None and edge >= tracker.last_at:
                instants += [edge - SECOND, edge, edge + SECOND]
    for at in instants:
        if at < tracker.last_at:
            continue
        assert _figures(kept.at(at)) == _figures(ClockFigures.of(tracker.status(at, sla))), at
