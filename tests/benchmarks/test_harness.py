"""The benchmark harness measures what it says: the realistic workloads and the maths of spreads.

These check the harness's own logic, cheaply, with real parts (a memory desk, an SQLite log):
the time-ordered schedule keeps its requests in flight and interleaves them, the in-flight
writer keeps that many open and steps each in turn, the time-ordered log is stored in exactly
the schedule's order, and the pairing, median and spread maths. ``python -m benchmarks --quick``
(CI) runs every benchmark end to end.
"""

from __future__ import annotations

import functools
import sqlite3
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path
from uuid import UUID

import pytest
from benchmarks.__main__ import _parse
from benchmarks.common import (
    BEST_CASE,
    FULL,
    QUICK,
    REALISTIC,
    ChildPeaks,
    Goal,
    Run,
    Spread,
    block_ratios,
    open_desk,
    pair_order,
    paired_ratios,
    percentile,
    with_options,
)
from benchmarks.memory import fill
from benchmarks.report import goals_markdown, grouped, markdown, report
from benchmarks.workload import (
    LAST_STEP,
    LIFECYCLE_EVENTS,
    InFlight,
    desk_command,
    fill_length,
    in_flight_for_span,
    interleaved,
    request_spans,
    save_time_ordered,
)
from hypothesis import given
from hypothesis import strategies as st

from servflow.domain.request import request_id_for

# -- the schedule ------------------------------------------------------------------------------


@given(requests=st.integers(1, 300), in_flight=st.integers(1, 80))
def test_the_schedule_takes_every_request_through_its_steps_in_order_once(
    requests: int, in_flight: int
) -> None:
    schedule = list(interleaved(requests, in_flight))
    assert len(schedule) == requests * LIFECYCLE_EVENTS
    assert Counter(schedule) == Counter(
        (n, s) for n in range(1, requests + 1) for s in range(LIFECYCLE_EVENTS)
    )
    next_step: dict[int, int] = {}
    opened: list[int] = []
    for number, step in schedule:
        assert next_step.get(number, 0) == step
        next_step[number] = step + 1
        if step == 0:
            opened.append(number)
    assert opened == sorted(opened)


@given(requests=st.integers(1, 300), in_flight=st.integers(1, 80))
def test_the_schedule_never_has_more_than_its_requests_in_flight(
    requests: int, in_flight: int
) -> None:
    open_now: set[int] = set()
    most = 0
    for number, step in interleaved(requests, in_flight):
        if step == 0:
            open_now.add(number)
        elif step == LAST_STEP:
            open_now.discard(number)
        most = max(most, len(open_now))
    assert most == min(requests, in_flight)
    assert not open_now


def test_after_the_fill_the_schedule_keeps_exactly_its_requests_open() -> None:
    in_flight = 50
    open_now: set[int] = set()
    schedule = list(interleaved(2_000, in_flight))
    fill = fill_length(in_flight)
    # Steady state: from the end of the fill until the last request is opened, every command
    # leaves ``in_flight`` requests open, except between an acceptance and the opening of its
    # slot's next request (the very next command).
    last_open = max(i for i, (_, step) in enumerate(schedule) if step == 0)
    for position, (number, step) in enumerate(schedule):
        if step == 0:
            open_now.add(number)
        elif step == LAST_STEP:
            open_now.discard(number)
        if fill <= position < last_open:
            expected = in_flight - 1 if step == LAST_STEP else in_flight
            assert len(open_now) == expected, position
        if position == fill - 1:
            assert len(open_now) == in_flight
            # The fill spreads the slots over the lifecycle rather than in lockstep.
            steps = Counter(next_step for next_step in _next_steps(schedule[:fill]).values())
            assert set(steps) == set(range(1, LAST_STEP + 1))


def _next_steps(schedule: list[tuple[int, int]]) -> dict[int, int]:
    steps: dict[int, int] = {}
    for number, step in schedule:
        steps[number] = step + 1
    return steps


def test_the_time_ordered_schedule_interleaves_requests_over_its_span() -> None:
    span = 700
    in_flight = in_flight_for_span(span)
    schedule = list(interleaved(3_000, in_flight))
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for position, (number, _) in enumerate(schedule):
        first.setdefault(number, position)
        last[number] = position
    spans = [last[n] - first[n] for n in first]
    # Past the fill, a request spans about ``span`` events (the fill's are shorter).
    steady = [last[n] - first[n] for n in first if n > in_flight and last[n] < len(schedule) - span]
    assert statistics.mean(steady) == pytest.approx(span, rel=0.1)
    assert statistics.mean(spans) > span * 0.8
    # Consecutive events past the fill belong to different requests, except an acceptance
    # followed by its slot's next opening.
    fill = fill_length(in_flight)
    for (a, _), (b, step_b) in zip(schedule[fill:], schedule[fill + 1 :], strict=False):
        assert a != b or step_b == 0


def test_past_the_fill_a_request_comes_back_only_after_all_the_others_in_flight() -> None:
    # What makes the desk's cache of its last 256 requests miss with 600 in flight.
    in_flight = 600
    schedule = list(interleaved(5_000, in_flight))
    fill = fill_length(in_flight)
    last_open = max(i for i, (_, step) in enumerate(schedule) if step == 0)
    seen: dict[int, int] = {}
    gaps = []
    for position, (number, _) in enumerate(schedule[:last_open]):
        if position >= fill and number in seen:
            gaps.append(position - seen[number])
        seen[number] = position
    assert len(gaps) > 10 * in_flight
    assert min(gaps) >= in_flight  # (as the slots drain at the end, the turns get shorter)


def test_the_schedule_refuses_no_slots() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        next(interleaved(10, 0))


# -- the in-flight writer ----------------------------------------------------------------------


def test_in_flight_keeps_its_requests_open_on_a_desk_and_steps_each_in_turn() -> None:
    size = 30
    commanded: list[tuple[int, int]] = []
    with open_desk("memory", projections="inline") as desk:
        command = functools.partial(desk_command, desk)

        def recorded(number: int, step: int, ref: UUID | None) -> UUID:
            commanded.append((number, step))
            return command(number, step, ref)

        flight = InFlight(size, recorded)
        flight.fill()
        assert flight.commands == fill_length(size)
        assert flight.open_requests == size
        assert desk.queue().total == size
        open_after_fill = {number for number, _ in commanded}
        # One turn: every open request gets exactly one command; accepted ones are replaced.
        for _ in range(size + size // LAST_STEP):
            flight.step()
        turn = commanded[fill_length(size) :]
        stepped = Counter(number for number, step in turn if step != 0)
        assert set(stepped) >= open_after_fill
        assert all(count == 1 for number, count in stepped.items() if number in open_after_fill)
        assert size - 1 <= flight.open_requests <= size
        for _ in range(size * LIFECYCLE_EVENTS):  # a few lifecycles' worth more
            flight.step()
        assert desk.queue().total == flight.open_requests
        accepted = sum(1 for _, step in commanded if step == LAST_STEP)
        assert accepted > size
        # Every command went to the desk: the log holds one event each.
        assert desk.projection_status()[0].position >= len(commanded)


# -- the time-ordered log ----------------------------------------------------------------------


def test_the_time_ordered_log_is_stored_in_the_schedules_order(tmp_path: Path) -> None:
    requests, in_flight = 120, 25
    path = tmp_path / "log.db"
    with open_desk("sqlite", path=path) as desk:
        stored = save_time_ordered(desk, requests, in_flight)
    assert stored == requests * LIFECYCLE_EVENTS
    numbers = {request_id_for(f"SR-{n:06d}").hex: n for n in range(1, requests + 1)}
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT originator_id, originator_version FROM stored_events ORDER BY rowid"
        ).fetchall()
    finally:
        connection.close()
    log = [(numbers[str(originator).replace("-", "")], version - 1) for originator, version in rows]
    assert log == list(interleaved(requests, in_flight))
    spans = request_spans(path)
    assert len(spans) == requests
    assert statistics.mean(spans) > LIFECYCLE_EVENTS * in_flight * 0.6


# -- pairs, medians, spreads -------------------------------------------------------------------


def test_pairs_swap_which_runs_first() -> None:
    orders = [pair_order(i, "rebuild", "read") for i in range(4)]
    assert orders == [
        ("rebuild", "read"),
        ("read", "rebuild"),
        ("rebuild", "read"),
        ("read", "rebuild"),
    ]


def test_a_paired_figure_is_the_median_of_its_per_pair_ratios() -> None:
    # Rebuild and read rates of three pairs: the machine slowed down in the second.
    rates = [(10.0, 100.0), (5.0, 25.0), (12.0, 100.0)]
    ratios = paired_ratios(rates)
    assert ratios == pytest.approx([0.1, 0.2, 0.12])
    spread = Spread.of(ratios, "pair")
    assert spread.median == pytest.approx(0.12)
    assert (spread.low, spread.high) == pytest.approx((0.1, 0.2))
    assert spread.over == "3 pairs"
    # The ratio of medians would mix pairs from different moments.
    assert statistics.median([r for r, _ in rates]) / statistics.median(
        [b for _, b in rates]
    ) == pytest.approx(0.1)


@given(st.lists(st.floats(0.01, 100), min_size=1, max_size=40))
def test_a_spread_holds_its_median_and_quartiles(values: list[float]) -> None:
    spread = Spread.of(values, "round")
    q1, q3 = spread.quartiles
    assert spread.low <= q1 <= spread.median <= q3 <= spread.high


def test_a_spread_needs_values_and_says_what_it_is_over() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Spread.of([], "round")
    assert Spread.of([1.0], "round").over == "1 round"
    assert Spread.of([1.0, 2.0], "block of 100 samples").over == "2 blocks of 100 samples"


def test_block_ratios_confine_a_stall_to_its_block() -> None:
    raw = [1.0] * 100
    desk = [3.0] * 100
    desk[42] = 500.0  # one stall in the third block
    assert block_ratios(desk, raw, 5, 50) == pytest.approx([3.0] * 5)
    p99 = block_ratios(desk, raw, 5, 99)
    assert p99 == pytest.approx([3.0, 3.0, 500.0, 3.0, 3.0])
    assert percentile(desk, 99) == 3.0  # nearest rank: the 99th of 100 samples


def test_block_ratios_never_make_more_blocks_than_samples() -> None:
    assert block_ratios([2.0, 4.0], [1.0, 1.0], 5, 50) == pytest.approx([2.0, 4.0])
    with pytest.raises(ValueError, match="pair up"):
        block_ratios([1.0], [1.0, 2.0], 1, 50)


# -- the report and the command line -----------------------------------------------------------


def _run_with_figures() -> Run:
    run = Run(sizes=QUICK, postgres=False)
    run.add(
        "1 writes",
        "600 requests in flight, projections off",
        "sqlite",
        90.0,
        "req/s",
        baseline="bare eventsourcing",
        baseline_value=100.0,
        goal=Goal(">=", 0.8),
        workload=REALISTIC,
        spread=Spread.of([0.7, 0.9, 0.95], "round"),
    )
    run.add(
        "1 writes",
        "lifecycles, projections off",
        "sqlite",
        120.0,
        "req/s",
        baseline="bare eventsourcing",
        baseline_value=100.0,
        goal=Goal(">=", 0.8),
        workload=BEST_CASE,
        spread=Spread.of([1.1, 1.2, 1.3], "round"),
    )
    run.add("5 concurrency", "1 writer", "postgres", 50.0, "req/s")
    run.figures[-1].workload = ""
    return run


def test_a_figure_with_a_spread_takes_its_median_unless_given_a_ratio() -> None:
    run = _run_with_figures()
    realistic = run.figures[0]
    assert realistic.ratio == pytest.approx(0.9)
    assert realistic.verdict == "pass"
    assert realistic.spread == "0.70-0.95"
    assert realistic.spread_of == "3 rounds"
    assert realistic.as_dict()["ratio_low"] == pytest.approx(0.7)


def test_the_report_has_a_realistic_table_then_a_best_case_table() -> None:
    run = _run_with_figures()
    assert [title for title, _ in grouped(run.figures)] == [
        "Realistic workloads",
        "Best case",
        "Not split by workload",
    ]
    text = report(run.figures)
    assert text.index("Realistic workloads") < text.index("Best case")
    assert "0.70-0.95" in text
    assert "spread" in text.splitlines()[1]
    md = markdown(run.figures)
    assert md.startswith("## Goals")
    assert md.index("## Realistic workloads (1 pass, 0 miss)") < md.index("## Best case")
    goals = goals_markdown(run.figures)
    assert "0.70-0.95 (3 rounds)" in goals
    assert "1 writer" not in goals  # no goal, not in the goals table


def test_the_command_line_sizes_the_realistic_workloads() -> None:
    args = _parse(["--quick", "--in-flight", "50", "--span", "4000", "--pairs", "5"])
    sizes = with_options(QUICK, in_flight=args.in_flight, span=args.span, pairs=args.pairs)
    assert (sizes.in_flight, sizes.rebuild_span, sizes.rebuild_pairs) == (50, 4000, 5)
    assert args.workloads == (REALISTIC, BEST_CASE)
    assert with_options(FULL) == FULL
    assert (FULL.in_flight, FULL.rebuild_pairs) == (600, 3)
    assert _parse(["--realistic"]).workloads == (REALISTIC,)
    assert _parse(["--best-case", "--only", "writes"]).workloads == (BEST_CASE,)
    assert _parse([]).sections[0] == "writes"  # the old command line still works
    args = _parse(["--workers", "2"])
    assert with_options(FULL, workers=args.workers).rebuild_workers == 2
    assert 1 <= FULL.rebuild_workers <= 3


def test_child_peaks_sees_the_peak_of_a_child_not_the_parents() -> None:
    # The child holds about 60 MiB; this process's RSS (pytest's) must not be counted.
    script = (
        "x = bytearray(60 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096]); "
        "import time; time.sleep(0.5)"
    )
    with ChildPeaks(interval=0.02) as children:
        subprocess.run([sys.executable, "-c", script], check=True)  # noqa: S603 - fixed script
    assert 60 <= children.peak_mb < 60 + 40


@pytest.mark.parametrize("bad", ["0", "-3", "many"])
def test_the_command_line_refuses_a_size_below_one(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parse(["--in-flight", bad])
    assert exit_info.value.code == 2
    assert "at least 1" in capsys.readouterr().err


def test_the_memory_benchmark_opens_its_requests_and_reports_a_peak_above_a_fresh_desk() -> None:
    result = fill(30)
    assert result["requests"] == 30
    assert result["events"] == 30 + 10 + 5
    assert result["peak_rss_mb"] >= result["fresh_rss_mb"] > 0
