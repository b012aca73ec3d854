"""Tamper evidence: a hash chain over the stored events, per request and for the whole log.

Every stored event gets, in the transaction that inserts it:

- ``event_digest`` = H(request id, version, topic, stored bytes) — exactly what is on disk;
- ``request_digest`` = H(previous request digest, event digest) — the request's own chain;
- ``log_digest`` = H(previous log digest, position, event digest) — one chain for the log.

H is SHA-256, or HMAC-SHA-256 when the desk has an ``audit_key`` (then nobody without the
key can recompute a forged chain). ``verify`` walks the stored log, recomputes every digest
and names every request and version whose stored event was altered, removed, inserted
or moved. Removing the newest events together with their chain rows leaves a shorter but
self-consistent chain: export the head (``Head``) somewhere else and pass it to ``verify``
to detect that too.

A chain keeps the hash it was started with. The first link records, in its transaction, how
the chain is keyed (``sf_chain_key``: the algorithm and, when keyed, a fingerprint of the key,
HMAC-SHA-256 of a fixed label under it, never the key); ``check_key`` refuses a desk whose key
differs before it writes anything, and ``record`` refuses to extend a chain another key began.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from servflow.domain.values import Value
from servflow.errors import AuditKeyMismatchError
from servflow.persistence.sql import Tx, stored_bytes

__all__ = ["MAX_BREAKS", "BreakKind", "Chain", "ChainBreak", "ChainLink", "Head", "VerifyReport"]

_TABLE = "sf_chain"
#: One row: how the chain is keyed (see ``Chain.check_key``).
_KEY_TABLE = "sf_chain_key"
_GENESIS = "0" * 64
_PLAIN = "sha256"
_KEYED = "hmac-sha256"
#: What a key's fingerprint is the HMAC of. Changing it makes every keyed store refuse its key.
_FINGERPRINT_LABEL = b"servflow audit key fingerprint v1"
#: How many of the oldest version-1 links judge the key of a chain recorded before the marker.
_SAMPLE_LINKS = 16
#: Requests whose newest link a desk remembers (the ones it wrote last).
_MAX_HEADS = 1024
#: Transactions whose links wait for ``committed``; older ones were rolled back.
_MAX_WRITTEN = 64
#: The most breaks a ``VerifyReport`` lists; ``more_breaks`` counts the others.
MAX_BREAKS = 100

#: How the chain broke at a place: an event ``altered``, ``removed``, ``inserted`` (no link) or
#: ``moved``; a ``version_gap`` (an event removed with its link); a ``link`` that does not chain
#: to the one before (a link altered); the exported head no longer reached (``head``).
BreakKind = Literal["altered", "removed", "inserted", "moved", "version_gap", "link", "head"]


class Head(Value):
    """The newest link of the log chain: keep a copy outside the store to detect truncation."""

    position: int
    log_digest: str
    events: int


class ChainBreak(Value):
    """One place where the stored log does not match its hash chain."""

    #: The log position of the event (or of its link, for a removed event).
    position: int
    request_id: UUID | None
    version: int | None
    kind: BreakKind
    #: What was found wrong, in words an auditor can act on.
    problem: str


class VerifyReport(Value):
    """The outcome of ``verify``: intact (with the head), or every broken place.

    ``problem``, ``request_id``, ``version`` and ``position`` describe the first break (as
    they always did); ``breaks`` lists every one, up to ``MAX_BREAKS`` (``more_breaks`` counts
    those beyond), found in one pass: after a break the check goes on from the stored link, so
    one altered event is one break, not a cascade.
    """

    intact: bool
    #: Events checked before the first break (all of them when intact).
    events_checked: int
    head: Head | None
    #: What was found wrong, in words an auditor can act on.
    problem: str | None = None
    request_id: UUID | None = None
    version: int | None = None
    position: int | None = None
    breaks: tuple[ChainBreak, ...] = ()
    #: Breaks found beyond the ``MAX_BREAKS`` listed.
    more_breaks: int = 0
    #: Events read in all.
    events_read: int = 0


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One row of the chain table."""

    position: int
    request_id: str
    version: int
    event_digest: str
    request_digest: str
    log_digest: str


class Chain:
    """Writes and checks the hash chain in the events' database."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key
        #: How this desk's chain is keyed, as the store records it: (algorithm, fingerprint).
        self._keying: tuple[str, str | None] = (
            (_KEYED, _hash(key, _FINGERPRINT_LABEL)) if key is not None else (_PLAIN, None)
        )
        # Whether the store is known to record this desk's keying; until then each ``record``
        # claims it in its own transaction (another desk may have begun the chain meanwhile).
        self._settled = False
        # What this process knows the table holds, so a write need not read it back: the
        # newest link (position, log digest) and the newest links of recently written
        # requests (version, request digest). Only links whose transaction committed get here
        # (``committed``); ``_written`` holds the others until then.
        self._lock = threading.Lock()
        self._tip: tuple[int, str] | None = None
        self._heads: OrderedDict[str, tuple[int, str]] = OrderedDict()
        self._written: dict[int, tuple[str, list[tuple[str, int, str]]]] = {}
        # Events saved whose links are still to be written (``defer``, ``flush``).
        self._backlog_lock = threading.Lock()
        self._backlog: list[tuple[int, StoredEvent]] = []

    def _h(self, *parts: bytes) -> str:
        return _hash(self._key, *parts)

    def event_digest(self, stored: StoredEvent) -> str:
        """The digest of one stored event, over exactly the stored bytes."""
        return self._h(
            str(stored.originator_id).encode(),
            str(stored.originator_version).encode(),
            stored.topic.encode(),
            stored_bytes(stored.state),
        )

    def create(self, tx: Tx) -> None:
        """Create the chain table if it does not exist."""
        table = tx.dialect.table(_TABLE)
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (position {tx.dialect.position_key}, "
            "request_id TEXT NOT NULL, version INTEGER NOT NULL, event_digest TEXT NOT NULL, "
            "request_digest TEXT NOT NULL, log_digest TEXT NOT NULL)"
        )
        tx.execute(
            f'CREATE UNIQUE INDEX IF NOT EXISTS "ix_{_TABLE}_request" ON {table} '
            "(request_id, version)"
        )
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {tx.dialect.table(_KEY_TABLE)} "
            "(id INTEGER PRIMARY KEY CHECK (id = 1), algorithm TEXT NOT NULL, key_fingerprint TEXT)"
        )

    def check_key(self, tx: Tx) -> None:
        """Refuse (``AuditKeyMismatchError``) a desk whose ``audit_key`` is not the chain's.

        The store's record says how the chain is keyed. A chain recorded before servflow kept
        that record is judged by its oldest links (a version-1 link's request digest hashes
        only its event digest) and the record is written then. A chain with no link yet takes
        the key of the desk that writes the first one (``record``).
        """
        recorded = self._recorded(tx)
        if recorded is not None:
            self._compare(recorded)
        else:
            found = tx.query(
                f"SELECT event_digest, request_digest FROM {tx.dialect.table(_TABLE)} "  # noqa: S608
                f"WHERE version = 1 ORDER BY position LIMIT {_SAMPLE_LINKS}"
            )
            if not found:
                return  # no link yet: the desk that writes the first one records its keying
            links = [(link["event_digest"], link["request_digest"]) for link in found]
            if not _chained(self._key, links):
                raise self._mismatch(store_keyed=not _chained(None, links))
            self._claim(tx)
        self._settled = True

    def _recorded(self, tx: Tx) -> tuple[str, str | None] | None:
        """How the store records its chain is keyed, or None before its first link."""
        rows = tx.query(
            f"SELECT algorithm, key_fingerprint FROM {tx.dialect.table(_KEY_TABLE)} "  # noqa: S608
            "WHERE id = 1"
        )
        return (rows[0]["algorithm"], rows[0]["key_fingerprint"]) if rows else None

    def _compare(self, recorded: tuple[str, str | None]) -> None:
        """Refuse a record of the chain's keying that is not this desk's."""
        algorithm, fingerprint = recorded
        if algorithm != self._keying[0] or not hmac.compare_digest(
            fingerprint or "", self._keying[1] or ""
        ):
            raise self._mismatch(store_keyed=algorithm != _PLAIN)

    def _mismatch(self, *, store_keyed: bool) -> AuditKeyMismatchError:
        return AuditKeyMismatchError(store_keyed=store_keyed, desk_keyed=self._key is not None)

    def _claim(self, tx: Tx) -> None:
        """Record this desk's keying unless the chain has one already, then compare with it.

        Two desks starting a chain at once both insert; the second waits for the first to
        commit (the row's key is unique), finds its row and is refused if the keys differ.
        """
        tx.execute(
            f"INSERT INTO {tx.dialect.table(_KEY_TABLE)} (id, algorithm, key_fingerprint) "  # noqa: S608
            "VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING",
            self._keying,
        )
        self._compare(self._recorded(tx) or self._keying)

    def record(self, tx: Tx, stored: Sequence[StoredEvent], ids: Sequence[int]) -> None:
        """A recording hook: extend both chains with the events being inserted.

        The previous links come from what this process wrote and saw committed when that is
        provably still the newest link: the log's when the first new position directly
        follows it (positions only grow, so nothing can sit between them), a request's when
        it is that request's previous version. Otherwise they are read from the table. So the
        links are the ones a read would give, unless the newest events and links were removed
        behind the desk's back and their positions are not handed out again (PostgreSQL):
        then the next link still chains to the removed one, and ``verify`` reports the break.
        """
        pairs = list(zip(ids, stored, strict=True))
        if not pairs:
            return
        if not self._settled:
            self._claim(tx)  # refused here, the events' transaction records nothing
        table = tx.dialect.table(_TABLE)
        if len(pairs) > 1:
            pairs.sort(key=lambda p: p[0])
        request_ids = [str(event.originator_id) for _, event in pairs]
        with self._lock:
            tip = self._tip
            known = {request_id: self._heads.get(request_id) for request_id in request_ids}
        if tip is not None and tip[0] + 1 == pairs[0][0]:
            log_digest = tip[1]
        else:
            last = tx.query(
                f"SELECT log_digest FROM {table} ORDER BY position DESC LIMIT 1"  # noqa: S608
            )
            log_digest = last[0]["log_digest"] if last else _GENESIS
        request_heads: dict[str, str] = {}
        rows: list[tuple[object, ...]] = []
        heads: list[tuple[str, int, str]] = []
        for (position, event), request_id in zip(pairs, request_ids, strict=True):
            previous = request_heads.get(request_id)
            if previous is None:
                head = known.get(request_id)
                if event.originator_version == 1:
                    previous = _GENESIS  # no request has a link at version 0 to read
                elif head is not None and head[0] == event.originator_version - 1:
                    previous = head[1]
                else:
                    found = tx.query(
                        f"SELECT request_digest FROM {table} "  # noqa: S608
                        "WHERE request_id = ? AND version = ?",
                        (request_id, event.originator_version - 1),
                    )
                    previous = found[0]["request_digest"] if found else _GENESIS
            digest = self.event_digest(event)
            request_digest = self._h(previous.encode(), digest.encode())
            log_digest = self._h(log_digest.encode(), str(position).encode(), digest.encode())
            request_heads[request_id] = request_digest
            heads.append((request_id, event.originator_version, request_digest))
            rows.append(
                (
                    position,
                    request_id,
                    event.originator_version,
                    digest,
                    request_digest,
                    log_digest,
                )
            )
        tx.executemany(
            f"INSERT INTO {table} (position, request_id, version, event_digest, "  # noqa: S608
            "request_digest, log_digest) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        with self._lock:
            self._written[pairs[-1][0]] = (log_digest, heads)
            while len(self._written) > _MAX_WRITTEN:
                del self._written[min(self._written)]

    def defer(self, stored: Sequence[StoredEvent], ids: Sequence[int]) -> int:
        """Queue events whose links ``flush`` writes later; returns how many are waiting.

        For stores without recording hooks (in memory), where the chain lives in another
        database: one transaction for many saves instead of one each.
        """
        with self._backlog_lock:
            self._backlog.extend(zip(ids, stored, strict=True))
            return len(self._backlog)

    def flush(self, transaction: Callable[[], AbstractContextManager[Tx]]) -> None:
        """Write the links of the queued events in one ``transaction()``, then forget them."""
        with self._backlog_lock:
            if not self._backlog:
                return
            # Saves on several threads may have queued their events out of log order.
            pending = sorted(self._backlog, key=lambda p: p[0])
            with transaction() as tx:
                self.record(tx, [e for _, e in pending], [p for p, _ in pending])
            self._backlog.clear()
            self.committed(pending[-1][0])

    def committed(self, position: int) -> None:
        """The transaction whose newest link is at ``position`` committed: remember its links.

        Called by the desk once a save returned; links written by transactions that never
        report here (rolled back, or another caller's) are forgotten, and read from the
        table when next needed.
        """
        with self._lock:
            written = self._written.pop(position, None)
            for older in [p for p in self._written if p < position]:
                del self._written[older]
            if written is None:
                return
            self._settled = True  # the transaction that claimed the keying committed
            log_digest, heads = written
            if self._tip is None or position > self._tip[0]:
                self._tip = (position, log_digest)
            for request_id, version, request_digest in heads:
                self._heads[request_id] = (version, request_digest)
                self._heads.move_to_end(request_id)
            while len(self._heads) > _MAX_HEADS:
                self._heads.popitem(last=False)

    def head(self, tx: Tx) -> Head | None:
        """The newest link, or None for an empty log."""
        table = tx.dialect.table(_TABLE)
        rows = tx.query(
            f"SELECT position, log_digest, (SELECT COUNT(*) FROM {table}) AS n "  # noqa: S608
            f"FROM {table} ORDER BY position DESC LIMIT 1"
        )
        if not rows:
            return None
        return Head(
            position=int(rows[0]["position"]),
            log_digest=rows[0]["log_digest"],
            events=int(rows[0]["n"]),
        )

    def links(self, tx: Tx, after: int, upto: int) -> list[ChainLink]:
        """The chain rows with positions in (after, upto], in order."""
        table = tx.dialect.table(_TABLE)
        return [
            ChainLink(
                position=int(r["position"]),
                request_id=str(r["request_id"]),
                version=int(r["version"]),
                event_digest=r["event_digest"],
                request_digest=r["request_digest"],
                log_digest=r["log_digest"],
            )
            for r in tx.query(
                f"SELECT position, request_id, version, event_digest, request_digest, "  # noqa: S608
                f"log_digest FROM {table} WHERE position > ? AND position <= ? ORDER BY position",
                (after, upto),
            )
        ]

    def verify(  # noqa: C901, PLR0912, PLR0915 - one pass, one check per way a log can be tampered with
        self,
        notifications: Iterator[Sequence[tuple[int, StoredEvent]]],
        links: Callable[[int, int], list[ChainLink]],
        *,
        expected: Head | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> VerifyReport:
        """Recompute the chain over the stored log, batch by batch, and compare: every break.

        ``notifications`` yields batches of ``(position, stored event)`` in log order;
        ``links(after, upto)`` returns the chain rows for a position range. After a break the
        check goes on from what the chain recorded there (the stored link's digests), so each
        altered, removed, inserted or moved event is reported once and the events after it are
        still checked.
        """
        log_digest = _GENESIS
        request_heads: dict[str, tuple[int, str]] = {}
        read = verified = 0
        checked: int | None = None  # events verified before the first break
        last_position = 0
        last_link: ChainLink | None = None
        expected_digest: str | None = None
        breaks: list[ChainBreak] = []
        more = 0

        def broken(
            kind: BreakKind,
            problem: str,
            request_id: str | None,
            version: int | None,
            position: int,
        ) -> None:
            nonlocal checked, more
            if checked is None:
                checked = verified
            if len(breaks) >= MAX_BREAKS:
                more += 1
                return
            breaks.append(
                ChainBreak(
                    position=position,
                    request_id=_request_uuid(request_id),
                    version=version,
                    kind=kind,
                    problem=problem,
                )
            )

        def removed(orphan: ChainLink) -> None:
            """A link whose event is no longer in the log: reported, then taken as the anchor."""
            nonlocal log_digest, expected_digest
            broken(
                "removed",
                f"the stored event {orphan.request_id} v{orphan.version} at position "
                f"{orphan.position} was removed",
                orphan.request_id,
                orphan.version,
                orphan.position,
            )
            log_digest = orphan.log_digest
            request_heads[orphan.request_id] = (orphan.version, orphan.request_digest)
            if expected is not None and orphan.position == expected.position:
                expected_digest = log_digest

        for batch in notifications:
            if not batch:
                continue
            upto = batch[-1][0]
            pending = deque(links(last_position, upto))
            for position, event in batch:
                read += 1
                request_id = str(event.originator_id)
                version = event.originator_version
                # Links with no event before this one: those events were removed (checked
                # first, or the log digest of the next event would take the blame).
                while pending and pending[0].position < position:
                    removed(pending.popleft())
                if not pending or pending[0].position != position:
                    broken(
                        "inserted",
                        f"event at position {position} has no chain link: it was inserted "
                        "outside servflow or its link was removed",
                        request_id,
                        version,
                        position,
                    )
                    continue  # the chain knows nothing of it: it goes on without it
                link = pending.popleft()
                last_link = link
                if (link.request_id, link.version) != (request_id, version):
                    broken(
                        "moved",
                        f"position {position} holds {request_id} v{version} but the chain "
                        f"recorded {link.request_id} v{link.version} there: events were moved",
                        request_id,
                        version,
                        position,
                    )
                    log_digest = link.log_digest
                    request_heads[link.request_id] = (link.version, link.request_digest)
                    if expected is not None and position == expected.position:
                        expected_digest = log_digest
                    continue
                digest = self.event_digest(event)
                if digest != link.event_digest:
                    broken(
                        "altered",
                        f"the stored event {request_id} v{version} was altered",
                        request_id,
                        version,
                        position,
                    )
                    log_digest = link.log_digest
                    request_heads[request_id] = (version, link.request_digest)
                    if expected is not None and position == expected.position:
                        expected_digest = log_digest
                    continue
                previous_version, previous = request_heads.get(request_id, (0, _GENESIS))
                request_digest = self._h(previous.encode(), digest.encode())
                log_digest = self._h(log_digest.encode(), str(position).encode(), digest.encode())
                if version != previous_version + 1:
                    broken(
                        "version_gap",
                        f"{request_id} jumps from v{previous_version} to v{version}: "
                        f"v{previous_version + 1} was removed",
                        request_id,
                        previous_version + 1,
                        position,
                    )
                elif request_digest != link.request_digest or log_digest != link.log_digest:
                    broken(
                        "link",
                        f"the chain breaks at {request_id} v{version}: an earlier event or "
                        "link was altered or removed",
                        request_id,
                        version,
                        position,
                    )
                # Anchored on the stored link: one break is reported once.
                log_digest = link.log_digest
                request_heads[request_id] = (version, link.request_digest)
                if expected is not None and position == expected.position:
                    expected_digest = log_digest
                verified += 1
            while pending:
                removed(pending.popleft())
            last_position = upto
            if progress:
                progress(read)
        for orphan in links(last_position, 2**62):
            removed(orphan)
            last_link = orphan
        head = (
            Head(position=last_link.position, log_digest=last_link.log_digest, events=read)
            if last_link
            else None
        )
        if expected is not None and expected_digest != expected.log_digest:
            broken(
                "head",
                f"the log no longer reaches the exported head (position {expected.position}) "
                "with the same digest: events up to it were removed or rewritten",
                None,
                None,
                expected.position,
            )
        if not breaks:
            return VerifyReport(intact=True, events_checked=read, head=head, events_read=read)
        first = breaks[0]
        return VerifyReport(
            intact=False,
            events_checked=read if checked is None else checked,
            # As before: a log broken inside has no head to trust; a truncated one shows its own.
            head=head if first.kind == "head" else None,
            problem=first.problem,
            request_id=first.request_id,
            version=first.version,
            position=first.position,
            breaks=tuple(breaks),
            more_breaks=more,
            events_read=read,
        )


def _request_uuid(request_id: str | None) -> UUID | None:
    """A request id as a UUID (None for none, or for an id that is not one)."""
    if not request_id:
        return None
    try:
        return UUID(request_id)
    except ValueError:
        return None


def _hash(key: bytes | None, *parts: bytes) -> str:
    """SHA-256 of the parts, or HMAC-SHA-256 under ``key``."""
    data = b"\x1f".join(parts)
    if key is not None:
        return hmac.new(key, data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


def _chained(key: bytes | None, links: Sequence[tuple[str, str]]) -> bool:
    """Whether any of these version-1 links (event digest, request digest) was made with ``key``."""
    return any(_hash(key, _GENESIS.encode(), event.encode()) == request for event, request in links)
