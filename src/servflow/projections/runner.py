"""The projection machinery: read models folded from the log, exactly once, in batches.

Each projection owns tables in the same database as the events and a tracking position
(``eventsourcing``'s single-row tracking, keyed ``servflow:<projection>``). A batch of events
is applied and its tracking position recorded in **one transaction**, so a crash between
reading an event and updating a view neither loses nor doubles it. Projectors in several
processes (desks catching up, followers, rebuilds) take turns for those transactions (the view
store's lock), and each one applies only the events after the positions it reads once it has
its turn: a batch that another projector applied meanwhile changes nothing, and the positions
read move the catch-up on all the same.

What ``eventsourcing`` 9.5 lacks and this module adds: a pull loop for SQLite (its recorder
has no ``subscribe()``), batched transactions (its runner commits once per event), rebuilds
with progress, and a follower that wakes on PostgreSQL ``NOTIFY`` but also polls, so a lost
notification only delays it by one poll interval.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)

from servflow.errors import CorruptEventError, StoreError
from servflow.persistence import quarantine
from servflow.persistence.quarantine import QuarantinedEvent, Unreadable, decoded
from servflow.persistence.sql import Tx
from servflow.persistence.views import ViewStore
from servflow.projections.base import Projection
from servflow.projections.replay import StagedReplay
from servflow.projections.shares import Share

if TYPE_CHECKING:
    from eventsourcing.application import Application
    from eventsourcing.persistence import Notification

__all__ = ["Progress", "ProgressCallback", "ProjectionStatus", "Projector"]

_log = logging.getLogger("servflow")


@dataclass(frozen=True)
class Progress:
    """How far a catch-up or rebuild has come."""

    done: int
    total: int
    position: int
    head: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Events per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True)
class ProjectionStatus:
    """Where a projection stands against the head of the log."""

    name: str
    version: int
    position: int
    head: int
    #: Events it skipped because they could not be read (``Projector.quarantine``).
    skipped: int = 0
    #: A rebuild shared out by requests is filling it (``Projector.rebuild_start``): no
    #: catch-up or inline pass applies events to it until the rebuild ends. Still true after
    #: such a rebuild died half-way: the next rebuild starts it again.
    rebuilding: bool = False

    @property
    def lag(self) -> int:
        """How many positions the projection is behind (an upper bound: ids may have gaps)."""
        return max(0, self.head - self.position)


ProgressCallback = Callable[[Progress], None]

_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, ...] = ()


def _analyze(tx: Tx, projections: Sequence[Projection]) -> None:
    """Refresh the planner statistics of the projections' tables."""
    for projection in projections:
        for table in projection.tables():
            tx.execute(f"ANALYZE {projection.t(table)}")


@contextlib.contextmanager
def fewer_full_collections() -> Iterator[None]:
    """Make the garbage collector's full passes rare while batches are applied.

    A batch makes many short-lived objects; each full pass walks every object the process
    holds, and during a rebuild those passes took 20-30% of the CPU time (measured on 20,000
    events). Young objects are still collected as usual (servflow's batches make no reference
    cycles that only a full pass could free), and the thresholds come back as they were when
    the last batch loop ends (batch loops in several threads share one setting).
    """
    global _gc_users, _gc_saved  # noqa: PLW0603 - one process-wide setting, counted
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            young, middle, *_ = _gc_saved
            gc.set_threshold(young, middle, _RARE_FULL_COLLECTIONS)
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


#: Generation-1 passes between full passes while batches are applied (CPython's default: 10).
_RARE_FULL_COLLECTIONS = 1000

#: The longest pause (seconds) of a follower before it tries again after a passing failure.
_MAX_RETRY_PAUSE = 5.0


def _retry_pause(failures: int, poll_interval: float) -> float:
    """How long to wait after ``failures`` failed catch-ups in a row: doubling, with jitter.

    The jitter keeps two followers that failed together (a deadlock has two sides) from trying
    again at the same instant.
    """
    base = min(_MAX_RETRY_PAUSE, max(poll_interval, 0.05) * 2.0 ** (failures - 1))
    return base * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret


class Projector:
    """Follows the log of one store and keeps a set of projections up to date.

    ``catch_up()`` applies every event not yet applied, in batches; the desk calls it after
    each command in inline mode. ``follow()`` keeps doing so (a separate process, or a thread).
    ``rebuild()`` drops a projection's tables and replays the whole log into them.
    """

    def __init__(
        self,
        app: Application[Any],
        projections: Sequence[Projection],
        views: ViewStore | None = None,
        *,
        batch_size: int = 1000,
        rebuild_batch_size: int = 5000,
        indexes: bool = True,
    ) -> None:
        self._app = app
        #: Whether opening creates the projections' indexes (not in a rebuild's worker, which
        #: fills tables that get their indexes once the rows are in).
        self._indexes = indexes
        self.views = views or ViewStore.for_application(app)
        self.projections: dict[str, Projection] = {}
        for projection in projections:
            if projection.name in self.projections:
                msg = f"two projections are named {projection.name!r}"
                raise ValueError(msg)
            projection.bind(self.views.dialect)
            self.projections[projection.name] = projection
        self.batch_size = batch_size
        #: A rebuild's batches: larger, since nothing reads the half-built view's freshness
        #: and each commit costs a sync of the store.
        self.rebuild_batch_size = rebuild_batch_size
        #: Set when an inline pass left a projection behind; the next catch-up clears it.
        self.behind = False
        self._lock = threading.RLock()
        self._positions: dict[str, int] = {}
        #: The requests this projector folds in a rebuild's pass shared out by requests
        #: (``rebuild_pass``); its positions are then the share's own. None: all of them.
        self.share: Share | None = None
        #: Projections a rebuild shared out by requests is filling: left alone meanwhile.
        self._rebuilding: set[str] = set()
        # Projections that applied events in a writer's transaction not yet committed, per
        # thread: writers on PostgreSQL may run their transactions in several threads at once.
        self._inline = threading.local()
        #: Events waiting to be applied in one batch (see ``defer``), and how many may wait.
        self._deferred: list[tuple[int, object]] = []
        self.defer_limit = 500
        #: A catch-up that applies at least this many events refreshes PostgreSQL's planner
        #: statistics of the tables it filled (``ANALYZE``): a view filled from nothing has none
        #: until autovacuum gets to it, and PostgreSQL then scans where an index would do
        #: (``breaches`` took 15 ms instead of 1 ms on 20k fresh rows).
        self.analyze_after = 10_000
        #: Wraps each batch's decoding and applying (same thread): an erasable store's key
        #: ring keeps the envelopes it opens there, for the views (``KeyRing.keeping``).
        self.decoding: Callable[[], contextlib.AbstractContextManager[object]] = (
            contextlib.nullcontext
        )
        self.views.on_use(self.flush)
        self._setup()

    def key(self, projection: Projection) -> str:
        """The tracking key a projection's position is recorded under (a share's, in one)."""
        key = self._key(projection)
        return key if self.share is None else key + self.share.suffix

    def _key(self, projection: Projection) -> str:
        return f"{self._app.name}:{projection.name}"

    def _version_key(self, projection: Projection) -> str:
        return self._key(projection) + "#version"

    def _rebuilding_key(self, projection: Projection) -> str:
        """Set (to the number of shares) while a rebuild shared out by requests fills it."""
        return self._key(projection) + "#rebuilding"

    def _share_keys(self, projection: Projection, count: int) -> list[str]:
        return [self._key(projection) + Share(index, count).suffix for index in range(count)]

    def _setup(self) -> None:
        with self.views.transaction() as tx:
            self.views.lock(tx)
            quarantine.create(tx)
        for projection in self.projections.values():
            # ``bulk``: a view of another version is dropped here, as in a rebuild's start.
            with self.views.transaction(bulk=True) as tx:
                self.views.lock(tx)
                # Read under the lock: two processes opening the store at once agree on it.
                version_key = self._version_key(projection)
                stored_version = self.views.positions_in(tx, [version_key])[version_key]
                if stored_version and stored_version != projection.version:
                    # The tables have another shape: start again from an empty view.
                    self._drop(tx, projection)
                if self._indexes:
                    projection.create_all(tx)
                else:
                    projection.create(tx)
                if stored_version != projection.version:
                    self.views.forget(tx, version_key)
                    self.views.track(tx, version_key, projection.version)
        self._refresh_positions()

    def _drop(self, tx: Tx, projection: Projection) -> None:
        for table in projection.tables():
            tx.execute(f"DROP TABLE IF EXISTS {projection.t(table)}")
        self.views.forget(tx, self.key(projection))
        # What a rebuild shared out by requests left, had it died half-way.
        self.views.forget(tx, self._rebuilding_key(projection))
        self.views.forget_prefix(tx, self._key(projection) + Share.PREFIX)
        quarantine.forget(tx, projection.name)

    def _refresh_positions(self) -> None:
        keys = {name: self.key(p) for name, p in self.projections.items()}
        marks = {name: self._rebuilding_key(p) for name, p in self.projections.items()}
        with self.views.transaction(commit=False) as tx:
            found = self.views.positions_in(tx, [*keys.values(), *marks.values()])
        self._positions = {name: found[key] for name, key in keys.items()}
        self._note_rebuilding({name: found[mark] for name, mark in marks.items()})

    def _note_rebuilding(self, marks: dict[str, int]) -> None:
        """Remember which of these projections a rebuild shared out by requests is filling."""
        if self.share is not None:
            return  # a share's own pass fills them
        for name, mark in marks.items():
            if mark:
                self._rebuilding.add(name)
            else:
                self._rebuilding.discard(name)

    def head(self) -> int:
        """The newest position in the log (0 when empty)."""
        return self._app.recorder.max_notification_id() or 0

    def status(self) -> list[ProjectionStatus]:
        """Each projection's position against the head of the log."""
        with self._lock:
            self._refresh_positions()
            head = self.head()
            with self.views.transaction(commit=False) as tx:
                skipped = quarantine.counts(tx)
            return [
                ProjectionStatus(
                    name,
                    p.version,
                    self._positions[name],
                    head,
                    skipped.get(name, 0),
                    rebuilding=name in self._rebuilding,
                )
                for name, p in self.projections.items()
            ]

    def quarantine(self) -> list[QuarantinedEvent]:
        """The events the projections skipped because they could not be read, in log order."""
        with self.views.transaction(commit=False) as tx:
            return quarantine.records(tx)

    def catch_up(
        self,
        *,
        names: Iterable[str] | None = None,
        progress: ProgressCallback | None = None,
        limit: int | None = None,
        batch_size: int | None = None,
        analyze: bool = True,
    ) -> int:
        """Apply every event the projections have not seen; returns how many it applied.

        It goes up to the head of the log as it is when it starts, and does not count events
        another projector applied first. It ends whatever other processes do meanwhile: each
        batch either applies its events or finds them applied already, and moves on from the
        positions read in its transaction.

        ``limit`` stops after about that many events (used to simulate a crash in tests);
        ``batch_size`` overrides the projector's for this call; ``analyze`` lets a large
        catch-up refresh PostgreSQL's statistics (see ``analyze_after``).
        """
        batch = batch_size or self.batch_size
        with self._lock, fewer_full_collections():
            self.behind = False
            self._refresh_positions()
            selected = [
                self.projections[n]
                for n in (names or self.projections)
                if n not in self._rebuilding  # a rebuild shared out by requests fills it
            ]
            started = time.perf_counter()
            # Up to the head as it is now: a catch-up ends even while others keep writing
            # (what they write next is for the next catch-up, or their own inline views).
            head = self.head()
            start = min((self._positions[p.name] for p in selected), default=head)
            total = max(0, head - start)
            done = 0
            while start < head:
                size = batch if limit is None else min(batch, limit - done)
                if size <= 0:
                    break
                notifications = self._app.recorder.select_notifications(
                    start=start, limit=size, stop=head, inclusive_of_start=False
                )
                if not notifications:
                    break
                try:
                    applied = self._apply(selected, notifications)
                except IntegrityError:
                    # A tracking row moved while the batch ran, under a projector that does not
                    # take the views' lock (an older servflow): start again from what it did.
                    # Anything else that refuses the batch would refuse it again: raised.
                    stale = dict(self._positions)
                    self._refresh_positions()
                    if all(self._positions[p.name] <= stale[p.name] for p in selected):
                        raise
                    applied = 0
                # Every projection now stands at or past the batch's last event (applied here,
                # or by another projector first), or a position moved: each turn goes forward.
                start = min(self._positions[p.name] for p in selected)
                done += applied
                if progress and applied:
                    progress(
                        Progress(
                            done=done,
                            total=max(total, done),
                            position=start,
                            head=max(head, start),
                            elapsed=time.perf_counter() - started,
                        )
                    )
            if analyze and done >= self.analyze_after and self.views.dialect.name == "postgres":
                with self.views.transaction() as tx:
                    self.views.lock(tx)  # a rebuild's indexes lock the same tables
                    _analyze(tx, selected)
            return done

    def _apply(self, selected: Sequence[Projection], notifications: Sequence[Notification]) -> int:
        """Apply a batch read from the log; returns how many of its events were new here."""
        to_event = self._app.mapper.to_domain_event
        skipped: list[Unreadable] = []
        events: list[tuple[int, object]]
        with self.decoding():
            try:
                events = [(n.id, to_event(n)) for n in notifications]
            except CorruptEventError:
                events = decoded(to_event, [(n.id, n) for n in notifications])
                skipped = _markers(events)
            applied = self._apply_batch(selected, events, skipped=skipped)
        return applied or 0

    def _apply_batch(
        self,
        selected: Sequence[Projection],
        events: Sequence[tuple[int, object]],
        *,
        contiguous: bool = False,
        skipped: Sequence[Unreadable] = (),
        end: int | None = None,
    ) -> int | None:
        """Apply events to projections in one views transaction, with their tracking.

        Each projection takes the events after its own position, read in the transaction once
        it holds the views' lock; returns how many events were new to some projection. With
        ``contiguous``, nothing is applied (None) unless every projection has applied
        everything before the events. An ``Unreadable`` marker among the events is handed to
        the projections like any event and recorded in the quarantine for each that takes it
        (``skipped`` lists them).

        The positions remembered afterwards are those read in the transaction (or the batch's
        end, where it applied events), never only the ones remembered before: a projector
        that another one overtook moves on from where that one left the views. A projection a
        rebuild shared out by requests is filling is left alone, as if it had the batch.

        ``end`` is the position the batch ends at when its last events are not among
        ``events`` (a share's pass, given its own requests' events only; there may be none).
        """
        last = events[-1][0] if end is None else end
        first = events[0][0] if events else last
        touched: list[Projection] = []
        applied = 0
        try:
            with self.views.transaction() as tx:
                self.views.lock(tx)
                keys = [self.key(p) for p in selected]
                marks = [self._rebuilding_key(p) for p in selected]
                positions = self.views.positions_in(tx, [*keys, *marks])
                seen = {p.name: positions[key] for p, key in zip(selected, keys, strict=True)}
                self._note_rebuilding(
                    {p.name: positions[mark] for p, mark in zip(selected, marks, strict=True)}
                )
                filled = [p for p in selected if p.name not in self._rebuilding]
                if contiguous and any(positions[self.key(p)] < first - 1 for p in filled):
                    self._positions.update(seen)
                    return None
                for projection, key in zip(selected, keys, strict=True):
                    position = positions[key]
                    if projection.name in self._rebuilding:
                        seen[projection.name] = max(position, last)
                        continue
                    fresh = [pair for pair in events if pair[0] > position]
                    if not fresh and end is not None and position < last:
                        touched.append(projection)  # nothing of its share: it moves on
                        seen[projection.name] = last
                        continue
                    if not fresh:
                        continue
                    touched.append(projection)
                    projection.begin(position)
                    projection.apply(fresh, tx)
                    projection.end(last)
                    if skipped:
                        quarantine.record(
                            tx, projection.name, [m for m in skipped if m.position > position]
                        )
                    seen[projection.name] = last
                    applied = max(applied, len(fresh))
                self.views.track_all(tx, [self.key(p) for p in touched], last)
        except BaseException:
            for projection in touched:
                projection.rolled_back()
            raise
        self._positions.update(seen)
        for projection in touched:
            projection.committed()
        return applied

    def defer(self, events: Sequence[tuple[int, object]]) -> None:
        """Keep events just recorded, to apply them in one batch before the views are next used.

        For in-memory stores, whose views live in a database of their own: the batch is applied
        before any read of the views (so a query after a command still sees it), or once
        ``defer_limit`` events wait. What a batch of commands costs is then close to a
        catch-up's cost per event, rather than a transaction per command.
        """
        with self._lock:
            self._deferred.extend(events)
            full = len(self._deferred) >= self.defer_limit
        if full:
            self.flush()

    def flush(self) -> None:
        """Apply the deferred events now (from the log instead if the views fell behind)."""
        with self._lock:
            if not self._deferred:
                return
            events, self._deferred = self._deferred, []
            try:
                if not self.apply_recorded(events):
                    self.catch_up()
            except Exception:  # noqa: BLE001 - a view must never cost a command or a read
                _log.exception("servflow: projections could not catch up; they will retry")
                self.behind = True

    def apply_recorded(self, events: Sequence[tuple[int, object]]) -> bool:
        """Apply events just recorded (``(position, event)``, in order), as a catch-up would.

        They are applied in a transaction of the views' own, without reading them back from
        the log. Returns False, applying nothing, when a projection has not applied everything
        before them: the caller catches up instead.
        """
        if not events:
            return True
        with self._lock:
            applied = self._apply_batch(list(self.projections.values()), events, contiguous=True)
            return applied is not None

    def record_inline(self, tx: Tx, stored: Sequence[StoredEvent], ids: Sequence[int]) -> None:
        """A recording hook: apply events in the transaction that inserts them.

        Only a projection that has applied everything before these events takes part; one that
        is behind (another process wrote meanwhile) is left for ``catch_up`` after the commit,
        so a write never carries someone else's backlog. A failing projection is rolled back
        to a savepoint: the events still commit and the view catches up later.
        """
        with self.decoding():
            self._record_inline(tx, stored, ids)

    def _record_inline(self, tx: Tx, stored: Sequence[StoredEvent], ids: Sequence[int]) -> None:
        if self.share is not None:
            return  # this projector runs a share's pass: the views are marked (``rebuild_start``)
        first, last = min(ids), max(ids)
        to_event = self._app.mapper.to_domain_event
        skipped: list[Unreadable] = []
        fresh: list[tuple[int, object]]
        try:
            fresh = [(i, to_event(s)) for i, s in zip(ids, stored, strict=True)]
        except CorruptEventError:
            fresh = decoded(to_event, list(zip(ids, stored, strict=True)))
            skipped = _markers(fresh)
        events_table: str = getattr(self._app.recorder, "events_table_name", "stored_events")
        id_column = "notification_id" if self.views.dialect.name == "postgres" else "rowid"
        # A transaction whose outcome was never reported (a retried insert, say) is taken as
        # rolled back: its rows are not remembered.
        self.inline_outcome(committed=False)
        tx.execute("SAVEPOINT servflow_views")
        touched: list[Projection] = []
        try:
            # After the events' own locks: a holder of the views' lock never waits for those.
            self.views.lock(tx)
            keys = {name: self.key(p) for name, p in self.projections.items()}
            marks = {name: self._rebuilding_key(p) for name, p in self.projections.items()}
            positions = self.views.positions_in(tx, [*keys.values(), *marks.values()])
            self._note_rebuilding({name: positions[mark] for name, mark in marks.items()})
            for name, projection in self.projections.items():
                key = keys[name]
                position = positions[key]
                if position >= last or name in self._rebuilding:
                    continue  # ahead of these events, or a rebuild shared out by requests fills it
                if position < first - 1 and tx.query(
                    f"SELECT {id_column} AS n FROM {self.views.dialect.table(events_table)} "  # noqa: S608
                    f"WHERE {id_column} > ? AND {id_column} < ? LIMIT 1",
                    (position, first),
                ):
                    self.behind = True
                    continue
                touched.append(projection)
                projection.begin(position)
                projection.apply([pair for pair in fresh if pair[0] > position], tx)
                projection.end(last)
                if skipped:
                    quarantine.record(
                        tx, projection.name, [m for m in skipped if m.position > position]
                    )
            self.views.track_all(tx, [self.key(p) for p in touched], last)
        except Exception:  # noqa: BLE001 - a view must never cost the events their commit
            tx.execute("ROLLBACK TO SAVEPOINT servflow_views")
            _log.exception("servflow: inline projections failed; they will catch up later")
            self.behind = True
            for projection in touched:
                projection.rolled_back()
            touched = []
        tx.execute("RELEASE SAVEPOINT servflow_views")
        self._inline_pending.extend(touched)

    @property
    def _inline_pending(self) -> list[Projection]:
        pending: list[Projection] | None = getattr(self._inline, "pending", None)
        if pending is None:
            pending = self._inline.pending = []
        return pending

    def inline_outcome(self, committed: bool) -> None:  # noqa: FBT001 - the hook's signature
        """An outcome hook: the transaction of the last ``record_inline`` ended so."""
        pending = list(self._inline_pending)
        self._inline_pending.clear()
        for projection in pending:
            if committed:
                projection.committed()
            else:
                projection.rolled_back()

    def rebuild(
        self, *, names: Iterable[str] | None = None, progress: ProgressCallback | None = None
    ) -> int:
        """Drop the projections' tables and replay the whole log into them, in batches.

        Writers are not blocked: each write is its own short transaction. Readers see the
        view fill up from empty while it runs. One-row-per-request projections keep the rows
        they fold in memory across batches and write them at checkpoints (``StagedReplay``), so a
        request's row is read and its SLA status measured about once per rebuild, not once
        per batch; the tracking positions are those of the rows written at every commit.
        ``rebuild_start``, ``rebuild_pass`` and ``rebuild_end`` are its three steps, for a
        rebuild whose passes run in several processes (``servflow.desk.rebuild``).
        """
        with self._lock:
            selected = self.rebuild_start(names)
            done = self.rebuild_pass([p.name for p in selected], progress)
            self.rebuild_end([p.name for p in selected])
            return done

    def rebuild_start(
        self, names: Iterable[str] | None = None, *, shares: int = 1
    ) -> list[Projection]:
        """A rebuild's first step: drop the projections' tables and create them empty.

        The tables get no index yet (``rebuild_end`` builds them once the rows are in). With
        ``shares`` above 1 the passes will each fold a share of the requests (``Share``): the
        projections are marked as being rebuilt, so that no catch-up or inline pass applies
        events to them until ``rebuild_join``.
        """
        with self._lock:
            selected = [self.projections[n] for n in (names or self.projections)]
            with self.views.transaction(bulk=True) as tx:
                self.views.lock(tx)
                for projection in selected:
                    self._drop(tx, projection)
                    projection.create(tx)
                    if shares > 1:
                        self.views.track(tx, self._rebuilding_key(projection), shares)
            self._refresh_positions()
            return selected

    def rebuild_pass(
        self,
        names: Iterable[str],
        progress: ProgressCallback | None = None,
        *,
        share: Share | None = None,
        stop: int | None = None,
    ) -> int:
        """A rebuild's pass over the log into projections ``rebuild_start`` emptied.

        It goes to the head of the log (or ``stop``) and on to whatever was written meanwhile
        (a catch-up at the end); each projection's position stays exact at every commit,
        whichever process runs the pass. Returns how many events it applied.

        With a ``share``, it folds that share's requests (``Share.split``) up to ``stop`` and
        records its positions under the share's keys; ``rebuild_join`` ends the rebuild once
        every share's pass did. It then returns how many positions of the log it read.
        """
        with self._lock:
            self.share, self._rebuilding = share, set()
            try:
                for projection in self.projections.values():
                    projection.take_share(share)
                self._refresh_positions()
                selected = [self.projections[n] for n in names]
                return StagedReplay(self).run(
                    selected, progress, max(self.batch_size, self.rebuild_batch_size), stop=stop
                )
            finally:
                self.share = None
                for projection in self.projections.values():
                    projection.take_share(None)
                self._refresh_positions()

    def rebuild_join(self, names: Iterable[str], shares: int, end: int) -> None:
        """End a rebuild shared out by ``shares`` passes that each went to ``end``.

        Each projection's own position becomes ``end`` and it is no longer marked as being
        rebuilt: catch-ups and inline passes take it on from there. A ``StoreError`` if a
        share's pass stopped elsewhere (then the projections stay marked).
        """
        with self._lock:
            selected = [self.projections[n] for n in names]
            with self.views.transaction() as tx:
                self.views.lock(tx)
                for projection in selected:
                    keys = self._share_keys(projection, shares)
                    reached = self.views.positions_in(tx, keys)
                    short = {key: n for key, n in reached.items() if n != end}
                    if short:
                        msg = (
                            f"the rebuild of {projection.name} did not reach position {end} "
                            f"in every share ({short})"
                        )
                        raise StoreError(msg)
                    for key in keys:
                        self.views.forget(tx, key)
                    self.views.forget(tx, self._rebuilding_key(projection))
                    self.views.forget(tx, self.key(projection))
                    self.views.track(tx, self.key(projection), end)
            self._refresh_positions()

    def rebuild_end(self, names: Iterable[str]) -> None:
        """A rebuild's last step: the indexes, built once the rows are in, and statistics.

        Should the rebuild stop before this, the next projector creates them on start. Fresh
        tables have no planner statistics either: without them PostgreSQL may scan where an
        index would do.
        """
        with self._lock, self.views.transaction(bulk=True) as tx:
            selected = [self.projections[n] for n in names]
            self.views.lock(tx)
            for projection in selected:
                for statement in projection.indexes():
                    tx.execute(statement)
            _analyze(tx, selected)

    def _decoded(
        self, notifications: Sequence[Notification]
    ) -> tuple[list[tuple[int, object]], list[Unreadable]]:
        """A batch read from the log, decoded, and the markers of the events that were not."""
        to_event = self._app.mapper.to_domain_event
        try:
            return [(n.id, to_event(n)) for n in notifications], []
        except CorruptEventError:
            events = decoded(to_event, [(n.id, n) for n in notifications])
            return events, _markers(events)

    def follow(
        self,
        stop: threading.Event,
        *,
        poll_interval: float = 0.5,
        progress: ProgressCallback | None = None,
        after: Callable[[], None] | None = None,
    ) -> None:
        """Keep catching up until ``stop`` is set; wakes on PostgreSQL NOTIFY, else polls.

        ``after`` is called after each catch-up (the desk's time-based work, its rules).

        A catch-up that fails for a passing reason is logged and tried again after a pause
        that grows with each failure in a row (up to ``_MAX_RETRY_PAUSE``): SQLite's "database
        is locked" once its busy timeout ran out, a PostgreSQL deadlock, serialization failure
        or lost connection (the library's ``OperationalError`` and ``InterfaceError``). Its
        transaction rolled back, so nothing is applied twice. Other failures are raised.
        """
        listener = self.listener()
        failures = 0
        try:
            while not stop.is_set():
                try:
                    self.catch_up(progress=progress)
                except (OperationalError, InterfaceError) as error:
                    failures += 1
                    pause = _retry_pause(failures, poll_interval)
                    reason = (str(error).splitlines() or [type(error).__name__])[0]
                    _log.warning(
                        "servflow: the follower could not catch up (%s); trying again in %.2f s",
                        reason,
                        pause,
                    )
                    stop.wait(pause)
                    continue
                failures = 0
                if after is not None:
                    after()
                if listener is not None:
                    listener(poll_interval)
                else:
                    stop.wait(poll_interval)
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    listener(-1)

    def listener(self) -> Callable[[float], None] | None:
        """A function that waits up to N seconds for a NOTIFY on the events' channel.

        None on a store without notifications (SQLite, memory): poll there. Call the function
        with a negative timeout to close its connection.
        """
        if self.views.dialect.name != "postgres":
            return None
        import psycopg  # noqa: PLC0415 - optional extra
        from psycopg import sql  # noqa: PLC0415

        recorder: Any = self._app.recorder
        connection = psycopg.connect(
            dbname=self._app.env.get("POSTGRES_DBNAME"),
            host=self._app.env.get("POSTGRES_HOST"),
            port=self._app.env.get("POSTGRES_PORT"),
            user=self._app.env.get("POSTGRES_USER"),
            password=self._app.env.get("POSTGRES_PASSWORD") or None,
            autocommit=True,
        )
        connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(recorder.channel_name)))

        def wait(timeout: float) -> None:
            if timeout < 0:
                connection.close()
                return
            for _ in connection.notifies(timeout=timeout, stop_after=1):
                pass

        return wait

    def close(self) -> None:
        """Release the view store."""
        self.views.close()


def _markers(events: Sequence[tuple[int, object]]) -> list[Unreadable]:
    """The ``Unreadable`` markers among decoded events."""
    return [event for _, event in events if type(event) is Unreadable]
