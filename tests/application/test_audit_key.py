"""A store remembers how its hash chain is keyed, and refuses a desk with another key at open.

Issue 13, item 5: a desk opened without the store's ``audit_key`` wrote to a keyed store
without complaint, and a keyed ``verify()`` then called the log tampered with. Now the store
records, with its first chain link, whether the chain is keyed and a fingerprint of the key
(never the key); a desk without the key, with another key, or with a key on an unkeyed chain
that has links is refused with ``AuditKeyMismatchError`` before it records anything. A store
written before the marker existed is judged by its links.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from conftest import DeskFactory, FakeClock
from servflow import AuditKeyMismatchError, ConfigurationError, Request, ServiceDesk, SlaPolicy
from servflow.persistence.chain import Chain

KEY = b"the audit key of this store: 32B"
OTHER = b"another audit key, also 32 bytes"
STORES = pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
#: (written with, opened with, what the refusal says) for each way a key can be wrong.
WRONG_KEYS = pytest.mark.parametrize(
    ("written_with", "opened_with", "says"),
    [
        (KEY, None, "without an audit_key"),
        (KEY, OTHER, "not the one"),
        (None, KEY, "not keyed"),
    ],
    ids=["keyed-opened-without", "keyed-opened-with-another", "unkeyed-opened-with-one"],
)


def work(desk: ServiceDesk) -> Request:
    request = desk.open(
        customer="acme",
        channel="web",
        kind="claim",
        stage="post_sale",
        symptom="The invoice charges the visit twice",
        actor="agent:ana",
    )
    desk.classify(request, priority="high", actor="agent:ana")
    return request


def key_marks(key: bytes) -> list[str]:
    """Every spelling of a key that must never be shown or stored."""
    return [
        key.decode(),
        key.hex(),
        base64.b64encode(key).decode(),
        hashlib.sha256(key).hexdigest(),
    ]


def stored_keying(desk: ServiceDesk) -> list[tuple[str, str | None]]:
    """The store's record of how its chain is keyed (no row: not recorded yet)."""
    with desk._stores.views.transaction() as tx:
        rows = tx.query(
            f"SELECT algorithm, key_fingerprint FROM {tx.dialect.table('sf_chain_key')}"  # noqa: S608
        )
    return [(row["algorithm"], row["key_fingerprint"]) for row in rows]


def as_written_before_the_marker(desk: ServiceDesk) -> None:
    """Make the store exactly as servflow 0.1 left it: its chain table, and no record of the key.

    The chain table's layout did not change; the record is a table of its own.
    """
    with desk._stores.views.transaction() as tx:
        tx.execute(f"DROP TABLE {tx.dialect.table('sf_chain_key')}")


def log_length(desk: ServiceDesk) -> int:
    recorder = desk._stores.store.recorder
    return recorder.max_notification_id() or 0


@STORES
@WRONG_KEYS
@pytest.mark.parametrize("marked", [True, False], ids=["marked", "written-before-the-marker"])
def test_a_desk_whose_key_is_not_the_chains_is_refused_at_open_and_records_nothing(
    make_desk: DeskFactory,
    written_with: bytes | None,
    opened_with: bytes | None,
    says: str,
    marked: bool,  # noqa: FBT001 - a parameter of the test
) -> None:
    writer = make_desk(audit_key=written_with)
    request = work(writer)
    if not marked:
        as_written_before_the_marker(writer)  # then its links say how it is keyed
    head, events = writer.audit_head(), log_length(writer)
    # A policy differing from the adopted one would be recorded as the desk opens: it is not.
    with pytest.raises(AuditKeyMismatchError, match=says) as refused:
        make_desk(audit_key=opened_with, sla=SlaPolicy.standard())
    assert isinstance(refused.value, ConfigurationError)
    assert refused.value.code == "audit_key_mismatch"
    assert refused.value.store_keyed is (written_with is not None)
    assert refused.value.desk_keyed is (opened_with is not None)
    for key in (KEY, OTHER):
        for mark in key_marks(key):
            assert mark not in str(refused.value)
    assert (writer.audit_head(), log_length(writer), writer.policies()) == (head, events, [])
    if marked:
        assert [algorithm for algorithm, _ in stored_keying(writer)] == [
            "hmac-sha256" if written_with else "sha256"
        ]
    else:
        with pytest.raises(Exception, match="sf_chain_key"):  # not even created by the refusal
            stored_keying(writer)
    assert writer.verify().intact
    again = make_desk(audit_key=written_with)
    assert again.verify().intact
    assert again.get(request.id).priority == "high"


@STORES
def test_a_keyed_store_verifies_with_its_key_after_another_desk_with_the_key_wrote(
    make_desk: DeskFactory,
) -> None:
    first = make_desk(audit_key=KEY)
    request = work(first)
    second = make_desk(audit_key=KEY)
    second.assign(request, team="billing", agent="lucia", actor="agent:ana")
    report = make_desk(audit_key=KEY).verify()
    assert (report.intact, report.events_checked) == (True, 3)


@STORES
def test_a_store_without_links_takes_the_key_of_the_desk_that_writes_first(
    make_desk: DeskFactory,
) -> None:
    make_desk()  # opened without a key, but wrote no link: the chain is not anything yet
    keyed = make_desk(audit_key=KEY)
    assert stored_keying(keyed) == []
    work(keyed)
    assert [algorithm for algorithm, _ in stored_keying(keyed)] == ["hmac-sha256"]
    with pytest.raises(AuditKeyMismatchError, match="without an audit_key"):
        make_desk()


@STORES
def test_two_desks_opened_on_an_empty_store_with_different_keys_cannot_mix_their_links(
    make_desk: DeskFactory,
) -> None:
    keyed = make_desk(audit_key=KEY)
    plain = make_desk()  # both opened before any link: the first link decides
    request = work(keyed)
    head, events = keyed.audit_head(), log_length(keyed)
    with pytest.raises(AuditKeyMismatchError, match="without an audit_key"):
        plain.classify(request, priority="low", actor="agent:bob")
    with pytest.raises(AuditKeyMismatchError, match="without an audit_key"):
        work(plain)
    assert (keyed.audit_head(), log_length(keyed)) == (head, events)
    assert keyed.get(request.id).priority == "high"
    assert keyed.verify().intact


@STORES
@pytest.mark.parametrize("key", [KEY, None], ids=["keyed", "unkeyed"])
def test_a_store_written_before_the_marker_opens_with_its_own_key_and_is_marked(
    make_desk: DeskFactory, key: bytes | None
) -> None:
    writer = make_desk(audit_key=key)
    work(writer)
    as_written_before_the_marker(writer)
    reopened = make_desk(audit_key=key)
    assert reopened.verify().intact
    assert [algorithm for algorithm, _ in stored_keying(reopened)] == [
        "hmac-sha256" if key else "sha256"
    ]
    work(reopened)
    assert make_desk(audit_key=key).verify().intact


def test_a_store_written_before_the_marker_with_no_link_opens_with_any_key(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = str(tmp_path / "empty.db")
    with ServiceDesk.sqlite(path, clock=clock) as desk:
        as_written_before_the_marker(desk)
    with ServiceDesk.sqlite(path, clock=clock, audit_key=KEY) as desk:
        work(desk)
        assert desk.verify().intact


def test_the_store_records_how_its_chain_is_keyed_never_the_key(make_desk: DeskFactory) -> None:
    desk = make_desk(audit_key=KEY)
    assert stored_keying(desk) == []  # nothing is recorded before the first link
    work(desk)
    [(algorithm, fingerprint)] = stored_keying(desk)
    assert algorithm == "hmac-sha256"
    assert fingerprint is not None
    assert len(fingerprint) == 64
    assert fingerprint not in key_marks(KEY)
    # The same key gives the same fingerprint, another key another; the chain of one desk
    # refuses the others at the next open (in memory there is no next open: ask the chain).
    with desk._stores.views.transaction() as tx:
        Chain(KEY).check_key(tx)
        for wrong in (None, OTHER):
            with pytest.raises(AuditKeyMismatchError):
                Chain(wrong).check_key(tx)
    assert desk.verify().intact


def test_an_unkeyed_store_records_that_its_chain_has_no_key(make_desk: DeskFactory) -> None:
    desk = make_desk()
    work(desk)
    assert stored_keying(desk) == [("sha256", None)]
    with desk._stores.views.transaction() as tx:
        Chain(None).check_key(tx)
        with pytest.raises(AuditKeyMismatchError, match="not keyed"):
            Chain(KEY).check_key(tx)
    assert desk.verify().intact
