"""Durations added up: exact, or in bins of about 1% whose quantiles are within 0.5%.

What a KPI tally keeps of its response and resolution times (``servflow.domain.kpis``): the sum
and the count (means exact to the microsecond), and each value (``exact``) or the count in each
bin, so that tallies add, subtract and store as plain data however many requests they hold.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from itertools import chain
from typing import Any

__all__ = ["Durations", "add_counts", "bin_value", "duration_bin", "median", "p90_rank"]

#: A microsecond: sums are kept in whole microseconds.
_US = timedelta(microseconds=1)


def median(values: list[timedelta]) -> timedelta | None:
    """The median of durations (the mean of the middle two for an even count); None for none."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def p90_rank(count: int) -> int:
    """The rank (from 0) of the 90th percentile by nearest rank among ``count`` values."""
    return max(0, math.ceil(0.9 * count) - 1)


def add_counts(mine: dict[Any, int], theirs: Mapping[Any, int], sign: int) -> None:
    """Add (``sign`` 1) or take away (-1) counts by key; a count that comes to 0 is removed."""
    for key, n in theirs.items():
        left = mine.get(key, 0) + sign * n
        if left:
            mine[key] = left
        else:
            mine.pop(key, None)


# -- durations in bins ---------------------------------------------------------------------
#
# A period of a million requests cannot keep every duration to find medians: a stored tally
# keeps durations in bins instead. Below a minute a bin is a second; above, each bin is 1%
# wider than the one before, and stands for its middle: a median or percentile read from bins
# is within 0.5% of the exact one (a few hundred bins cover a minute to a year). Means are
# exact: the sum of the durations is kept to the microsecond.

#: Durations below this many seconds are binned to the second.
_EXACT_BELOW = 60
_RATIO = 1.01
_LOG_RATIO = math.log(_RATIO)


def duration_bin(duration: timedelta) -> int:
    """The bin of a duration (see :func:`bin_value`)."""
    seconds = duration.total_seconds()
    if seconds < _EXACT_BELOW:
        return math.floor(seconds)
    return _EXACT_BELOW + math.floor(math.log(seconds / _EXACT_BELOW) / _LOG_RATIO)


def bin_value(index: int) -> timedelta:
    """The duration a bin stands for: its second below a minute, else its middle (rounded)."""
    if index < _EXACT_BELOW:
        return timedelta(seconds=index)
    return timedelta(seconds=round(_EXACT_BELOW * _RATIO ** (index - _EXACT_BELOW + 0.5)))


class Durations:
    """Durations added up: their sum and count, and each value (exact) or its bin."""

    __slots__ = ("_bins", "_dense", "count", "exact", "total", "values")

    def __init__(self, *, exact: bool) -> None:
        self.exact = exact
        self.values: list[timedelta] = []
        self._bins: Counter[int] = Counter()
        #: Counts added up by ``absorb``, by bin (an index into the list), not yet in ``bins``.
        self._dense: list[int] | None = None
        self.total = 0  # microseconds
        self.count = 0

    @property
    def bins(self) -> Counter[int]:
        """The count of durations in each bin."""
        dense = self._dense
        if dense is not None:
            self._dense = None
            bins = self._bins
            for index, n in enumerate(dense):
                if n:
                    left = bins[index] + n
                    if left:
                        bins[index] = left
                    else:
                        del bins[index]
        return self._bins

    @bins.setter
    def bins(self, bins: Counter[int]) -> None:
        self._bins = bins
        self._dense = None

    def absorb(self, flat: list[int]) -> None:
        """Add a stored tally's durations (``state``): what a question does for each bucket.

        The bins (in order in ``flat``) are added up in a list indexed by bin, cheaper than a
        dictionary for the hundreds of bins a bucket of a busy day holds; ``bins`` takes them
        in when read.
        """
        self.total += flat[0]
        self.count += flat[1]
        if len(flat) <= 2:  # noqa: PLR2004 - no bins: the sum and the count only
            return
        if flat[2] < 0:  # a negative duration's bin: not an index
            bins = self.bins
            for index, n in zip(flat[2::2], flat[3::2], strict=True):
                bins[index] = bins.get(index, 0) + n
            return
        dense = self._dense
        if dense is None:
            dense = self._dense = []
        top = flat[-2]
        if top >= len(dense):
            dense.extend([0] * (top + 1 - len(dense)))
        pairs = iter(flat)
        next(pairs)
        next(pairs)
        for index, n in zip(pairs, pairs, strict=True):
            dense[index] += n

    def add(self, duration: timedelta) -> None:
        """Add one duration."""
        self.total += duration // _US
        self.count += 1
        if self.exact:
            self.values.append(duration)
        else:
            self.bins[duration_bin(duration)] += 1

    def binned(self) -> Counter[int]:
        """The count in each bin (exact durations binned on the spot)."""
        if self.exact:
            return Counter(duration_bin(value) for value in self.values)
        return self.bins

    def merge(self, other: Durations, sign: int) -> None:
        """Add (``sign`` 1) or take away (-1) other durations (exact ones only added)."""
        self.total += sign * other.total
        self.count += sign * other.count
        if self.exact:
            if not other.exact or sign < 0:
                msg = "exact durations take only exact durations, added"
                raise ValueError(msg)
            self.values.extend(other.values)
            return
        add_counts(self.bins, other.binned(), sign)

    def mean(self) -> timedelta | None:
        """The mean, exact to the microsecond; None for none."""
        return timedelta(microseconds=self.total) / self.count if self.count else None

    def median(self) -> timedelta | None:
        """The median (from the bins: within 0.5%); None for none."""
        if self.exact:
            return median(self.values)
        if not self.count:
            return None
        middle = self.count // 2
        if self.count % 2:
            return self._at(middle)
        return (self._at(middle - 1) + self._at(middle)) / 2

    def p90(self) -> timedelta | None:
        """The 90th percentile by nearest rank (from the bins: within 0.5%); None for none."""
        if not self.count:
            return None
        if self.exact:
            return sorted(self.values)[p90_rank(self.count)]
        return self._at(p90_rank(self.count))

    def _at(self, rank: int) -> timedelta:
        """The binned value at ``rank`` (from 0) in order."""
        seen = 0
        for index in sorted(self.bins):
            seen += self.bins[index]
            if rank < seen:
                return bin_value(index)
        msg = f"rank {rank} past {self.count} durations"
        raise ValueError(msg)

    def state(self) -> list[int]:
        """Plain data: the sum (us), the count, then each bin and its count, in order."""
        flat = [self.total, self.count]
        bins = self.binned()
        if bins:
            flat.extend(chain.from_iterable(sorted(bins.items())))
        return flat

    @classmethod
    def from_state(cls, flat: list[int]) -> Durations:
        """Binned durations from their plain data (``state``)."""
        durations = cls(exact=False)
        durations.total, durations.count = flat[0], flat[1]
        durations.bins = Counter(dict(zip(flat[2::2], flat[3::2], strict=True)))
        return durations
