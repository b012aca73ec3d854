"""Inline views remember rows between commands: never rows of a transaction that did not commit,
never across another writer's changes. Each check compares the live views with a rebuild."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from conftest import DeskFactory
from servflow import ServflowError, ServiceDesk
from servflow.persistence.store import hooks_of
from servflow.projections import Tx


def _views(desk: ServiceDesk) -> dict[str, list[dict[str, Any]]]:
    """Every row of the queue and SLA views, as stored."""
    with desk._stores.projector.views.transaction(commit=False) as tx:
        return {
            table: tx.query(f"SELECT * FROM {tx.dialect.table(table)} ORDER BY request_id")  # noqa: S608
            for table in ("sf_queue", "sf_sla")
        }


def _rebuilt_equals_live(desk: ServiceDesk) -> None:
    live = _views(desk)
    desk.rebuild_projections()
    assert live == _views(desk)


def _open(desk: ServiceDesk, symptom: str = "s") -> Any:
    return desk.open(
        customer="acme", channel="web", kind="claim", stage="sale", symptom=symptom, actor="agent:a"
    )


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_rows_of_a_transaction_that_rolled_back_are_not_remembered(
    make_desk: DeskFactory,
) -> None:
    desk = make_desk()
    request = _open(desk)
    desk.classify(request, priority="low", actor="agent:a")
    hooks = hooks_of(desk._stores.store.recorder)
    assert hooks is not None

    def fail(tx: Tx, stored: Sequence[object], ids: Sequence[int]) -> None:
        del tx, stored, ids
        msg = "the disk is full"
        raise RuntimeError(msg)

    hooks.append(fail)
    with pytest.raises((ServflowError, RuntimeError)):
        desk.classify(request, priority="urgent", actor="agent:a")
    hooks.remove(fail)
    # Nothing of the failed command: not its event (eventsourcing 9.5.6 alone would commit it
    # on PostgreSQL before raising), not its rows in the views.
    assert desk.get(request).version == 2
    assert str(desk.queue().rows[0].priority) == "low"
    desk.assign(request, team="t1", agent="ana", actor="agent:a")
    row = desk.queue().rows[0]
    assert (str(row.priority), row.team) == ("low", "t1")
    _rebuilt_equals_live(desk)


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_two_inline_desks_on_one_store_take_turns_on_the_same_request(
    make_desk: DeskFactory,
) -> None:
    first, second = make_desk(), make_desk()
    request = _open(first)
    second.classify(request, priority="high", actor="agent:a")
    first.assign(request, team="t1", agent="ana", actor="agent:a")
    second.probe(request, questions=["q"], findings="f", diagnosis="d", actor="agent:a")
    first.wait_on_customer(request, reason="r", actor="agent:a")
    second.customer_responded(request, note="m", actor="customer:acme")
    first.complete(request, outcome="resolved", resolution="done", actor="agent:a")
    for desk in (first, second):
        row = desk.queue().rows[0]
        assert (str(row.priority), row.team, str(row.status)) == ("high", "t1", "completed")
    _rebuilt_equals_live(second)
