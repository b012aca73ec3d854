"""Stored tallies add up to the tally of all their durations, whichever way they are read.

A question over the KPI view adds each bucket's plain data (``Tally.absorb``, bins added up in
a list until read); a batch of the view reads buckets back as tallies (``Tally.from_state``)
and merges them. For random durations (negative ones from corrected clocks included), split
into random buckets, both ways give the state of one binned tally of every duration.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from servflow.domain.durations import Durations
from servflow.domain.kpis import Tally

#: Durations from a minute before nothing to about three years, to the microsecond.
durations = st.integers(-60_000_000, 10**14).map(lambda us: timedelta(microseconds=us))


def binned(values: list[timedelta]) -> Durations:
    found = Durations(exact=False)
    for value in values:
        found.add(value)
    return found


@given(st.lists(st.lists(durations, max_size=40), max_size=6))
def test_absorbed_and_merged_buckets_equal_one_tally_of_every_duration(
    buckets: list[list[timedelta]],
) -> None:
    states = []
    for values in buckets:
        tally = Tally(exact=False)
        tally.resolution_times = binned(values)
        states.append(tally.state())
    absorbed, merged = Tally(exact=False), Tally(exact=False)
    for state in states:
        absorbed.absorb(state)
        merged.merge(Tally.from_state(state))
    whole = Tally(exact=False)
    whole.resolution_times = binned([value for values in buckets for value in values])
    assert absorbed.state() == merged.state() == whole.state()
    assert absorbed.resolution_times.median() == whole.resolution_times.median()
    assert absorbed.resolution_times.p90() == whole.resolution_times.p90()


@given(st.lists(durations, max_size=40), st.lists(durations, max_size=40))
def test_a_bucket_absorbed_then_added_to_reads_the_same(
    first: list[timedelta], then: list[timedelta]
) -> None:
    # Bins absorbed, then durations added one by one (a question folding the requests still
    # at work after the buckets): the pending counts are taken in first.
    stored = Tally(exact=False)
    stored.resolution_times = binned(first)
    tally = Tally(exact=False)
    tally.absorb(stored.state())
    for value in then:
        tally.resolution_times.add(value)
    assert tally.resolution_times.state() == binned(first + then).state()
