"""A rebuild's pass over the log, rows kept in memory across batches (``StagedReplay``).

The projector's ``rebuild`` drops the tables and hands the pass to a ``StagedReplay``:
one-row-per-request projections fold each batch into rows they keep in memory and write them,
with their tracking position, at checkpoints; the other projections apply each batch as a
catch-up does. It works on the projector's own state (positions, views, decoding), hence
the private names it reaches.
"""

# ruff: noqa: SLF001 - the projector's own rebuild pass, in a module of its own

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import Notification

from servflow.errors import StoreError
from servflow.persistence import quarantine
from servflow.persistence.memory import MemoryRecorder
from servflow.persistence.quarantine import Unreadable
from servflow.persistence.sql import stored_bytes
from servflow.projections import runner
from servflow.projections.base import Projection, RowProjection

if TYPE_CHECKING:
    from servflow.projections.runner import ProgressCallback, Projector
    from servflow.projections.shares import Share

__all__ = ["StagedReplay"]

#: Requests a rebuild's checkpoint writes at a time (see ``StagedReplay._checkpoint``).
_CHECKPOINT_SLICE = 500


class StagedReplay:
    """One rebuild's pass over the log for a projector (``run``)."""

    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    def run(
        self,
        selected: Sequence[Projection],
        progress: ProgressCallback | None,
        batch: int,
        *,
        stop: int | None = None,
    ) -> int:
        """A rebuild's pass over the log: row projections keep their rows in memory.

        A ``RowProjection`` folds each batch into rows it keeps across batches and writes
        them, with its tracking position, at checkpoints (``RowProjection.stage``); other
        projections apply each batch in a transaction, as a catch-up does. A checkpoint that
        finds a position moved by another projector (a desk catching up meanwhile) drops the
        rows kept, and a catch-up finishes from the positions in the store.

        In a share's pass (``Projector.share``) each batch is narrowed to the share's events
        (``Share.split``), every position recorded is the batch's end all the same, and the
        pass ends at ``stop`` without a catch-up: returns how many positions it read.
        """
        share = self.projector.share
        head = self.projector.head() if stop is None else stop
        start = min((self.projector._positions[p.name] for p in selected), default=head)
        # Rows are kept only by projections that start where the pass starts.
        staged = [
            p
            for p in selected
            if isinstance(p, RowProjection) and self.projector._positions[p.name] == start
        ]
        plain = [p for p in selected if p not in staged]
        started = time.perf_counter()
        total = max(0, head - start)
        done = 0
        # A pass without rows to keep leaves the plain projections to the catch-up below; a
        # share's pass has no catch-up and reads the log itself.
        keeping = bool(staged) or share is not None
        with runner.fewer_full_collections():
            for projection in staged:
                projection.stage_start(start)
            try:
                markers: list[Unreadable] = []
                while start < head and keeping:
                    notifications, last = self._read(share, start, head, batch)
                    if not notifications and share is None:
                        break
                    # The key ring keeps the envelopes it opens for the batch's views.
                    with self.projector.decoding():
                        events, skipped, measured = self._decoded(share, notifications)
                        if plain:
                            self.projector._apply_batch(
                                plain, events, skipped=skipped, end=None if share is None else last
                            )
                        markers += skipped
                        keeping = self._stage(staged, measured, start, last, markers)
                    if not keeping:
                        break
                    done += last - start if share is not None else len(events)
                    start = last
                    _report(progress, done, total, start, head, started)
                if keeping:
                    self._checkpoint(staged, end=start, markers=markers)
            finally:
                for projection in staged:
                    projection.stage_stop()
        if share is not None:
            if not keeping:
                msg = f"another projector applied events to the views that {share} rebuilds"
                raise StoreError(msg)
            return done
        # Whatever a checkpoint could not write (or the plain projections still miss).
        return done + self.projector.catch_up(
            names=[p.name for p in selected], progress=progress, batch_size=batch, analyze=False
        )

    def _read(
        self, share: Share | None, start: int, head: int, batch: int
    ) -> tuple[Sequence[Notification], int]:
        """The next batch of the log after ``start``, and the position it ends at.

        A share's pass on a store with SQL reads only its share's events and the other
        aggregates' (``Share.stored_where``), up to ``batch`` of them: the batch then ends at
        its last, or at ``head`` when that was all.
        """
        recorder: Any = self.projector._app.recorder
        table = getattr(recorder, "events_table_name", None)
        if share is None or table is None or isinstance(recorder, MemoryRecorder):
            notifications = recorder.select_notifications(
                start=start, limit=batch, stop=head, inclusive_of_start=False
            )
            return notifications, notifications[-1].id if notifications else head
        dialect = self.projector.views.dialect
        if dialect.name == "postgres":
            position, digit = "notification_id", "right(originator_id::text, 1)"
        else:
            position, digit = "rowid", "substr(originator_id, -1)"
        condition, params = share.stored_where(digit)
        with self.projector.views.transaction(commit=False) as tx:
            rows = tx.rows(
                f"SELECT {position}, originator_id, originator_version, topic, state "  # noqa: S608
                f"FROM {dialect.table(table)} WHERE {position} > ? AND {position} <= ? "
                f"AND {condition} ORDER BY {position} LIMIT ?",
                [start, head, *params, batch],
            )
        # SQLite keeps the id as text: read back as the library's own select reads it.
        convert = getattr(recorder, "convert_originator_id", UUID)
        notifications = [
            Notification(
                id=int(row[0]),
                originator_id=row[1] if isinstance(row[1], UUID) else convert(row[1]),
                originator_version=int(row[2]),
                topic=str(row[3]),
                state=stored_bytes(row[4]),
            )
            for row in rows
        ]
        return notifications, notifications[-1].id if len(notifications) == batch else head

    def _decoded(
        self, share: Share | None, notifications: Sequence[Notification]
    ) -> tuple[list[tuple[int, object]], list[Unreadable], list[tuple[int, object]]]:
        """A batch decoded: its events and markers, and the measured views' events.

        In a share's pass, narrowed to the share (``Share.split``): the measured views also
        take the policy book's events, which only the first share has among its own, and its
        markers too (the other shares leave them to it).
        """
        if share is None:
            events, skipped = self.projector._decoded(notifications)
            return events, skipped, events
        own, book = share.split(notifications)
        events, skipped = self.projector._decoded(own) if own else ([], [])
        if not book:
            return events, skipped, events
        adopted, _ = self.projector._decoded(book)
        measured = sorted(
            [*events, *(pair for pair in adopted if type(pair[1]) is not Unreadable)],
            key=lambda pair: pair[0],
        )
        return events, skipped, measured

    def _stage(
        self,
        staged: Sequence[RowProjection[Any]],
        events: Sequence[tuple[int, object]],
        start: int,
        last: int,
        markers: list[Unreadable],
    ) -> bool:
        """Fold a batch into the rows kept in memory, and write them when a checkpoint is due.

        ``last`` is the batch's last position (its last event's, unless a share's pass left
        events out). ``markers`` holds the unreadable events since the last checkpoint (emptied
        by one). False when a checkpoint found another projector's work: nothing more is kept.
        """
        if all(p.stageable(events) for p in staged):
            with self.projector.views.transaction(commit=False) as tx:
                for projection in staged:
                    projection.stage(events, tx)
            if not any(p.stage_full() for p in staged):
                return True
            return self._checkpoint(staged, end=last, markers=markers)
        # Up to the batch, then the batch as a catch-up applies it, then keep rows again.
        batch_markers = [m for m in markers if m.position > start]
        del markers[len(markers) - len(batch_markers) :]
        if not self._checkpoint(staged, end=start, markers=markers):
            return False
        self.projector._apply_batch(
            staged,
            events,
            skipped=batch_markers,
            end=None if self.projector.share is None else last,
        )
        for projection in staged:
            projection.stage_start(last)
        return True

    def _prepare(self, moved: Sequence[RowProjection[Any]], dirty: Sequence[str]) -> None:
        """Compute the rows a checkpoint writes, in a transaction that only reads."""
        with self.projector.views.transaction(commit=False) as tx:
            for first in range(0, len(dirty), _CHECKPOINT_SLICE):
                for projection in moved:
                    projection.stage_prepare(tx, dirty[first : first + _CHECKPOINT_SLICE])
                tx.memo.clear()

    def _checkpoint(
        self,
        staged: Sequence[RowProjection[Any]],
        *,
        end: int,
        markers: list[Unreadable],
    ) -> bool:
        """Write the rows the projections folded in memory, at the position ``end``.

        False (nothing written) when a projection's position in the store is not the one its
        rows are as of: another projector applied events meanwhile. ``markers`` (the unreadable
        events folded since the last checkpoint) is emptied once they are in the quarantine.
        """
        keys = [self.projector.key(p) for p in staged]
        moved = [p for p in staged if end > p.staged.position]
        # A slice of requests at a time through every projection: the queue and SLA views
        # share each request's status (the memo), and the memo stays small. The rows are
        # prepared before the write transaction, so that it holds the lock for the writes alone.
        dirty = list(dict.fromkeys(k for p in moved for k in p.stage_dirty()))
        try:
            self._prepare(moved, dirty)
            with self.projector.views.transaction() as tx:
                self.projector.views.lock(tx)
                positions = self.projector.views.positions_in(tx, keys)
                if any(
                    positions[k] != p.staged.position for p, k in zip(staged, keys, strict=True)
                ):
                    self.projector._positions.update(
                        {p.name: positions[k] for p, k in zip(staged, keys, strict=True)}
                    )
                    return False
                for first in range(0, len(dirty), _CHECKPOINT_SLICE):
                    for projection in moved:
                        projection.stage_flush(tx, dirty[first : first + _CHECKPOINT_SLICE])
                for projection in moved:
                    if markers:
                        quarantine.record(
                            tx,
                            projection.name,
                            [m for m in markers if m.position > projection.staged.position],
                        )
                self.projector.views.track_all(tx, [self.projector.key(p) for p in moved], end)
        except BaseException:
            for projection in staged:
                projection.stage_stop()
            raise
        for projection in moved:
            projection.stage_committed(end)
            self.projector._positions[projection.name] = end
        markers.clear()
        return True


def _report(
    progress: ProgressCallback | None, done: int, total: int, at: int, head: int, started: float
) -> None:
    """Tell ``progress`` (if any) how far a pass has come."""
    if progress:
        progress(
            runner.Progress(
                done=done,
                total=max(total, done),
                position=at,
                head=head,
                elapsed=time.perf_counter() - started,
            )
        )
