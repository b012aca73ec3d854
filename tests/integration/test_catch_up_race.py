"""Two projectors on one store: one applies the log between the other's position read and batch.

The loser's batch then changes nothing. A catch-up must still end (at the head), having applied
nothing twice, and leave the same rows as a rebuild. Each store runs it, with the interleaving
forced by a hook on the log reader rather than left to timing. (In memory every projector has
views of its own: there is nothing to race for.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from conftest import DeskFactory, FakeClock
from servflow import ServiceDesk
from servflow.projections import Projector, QueueProjection
from strategies import run_history

#: A catch-up of a few events that reads the log more often than this is going round in circles.
MAX_READS = 50

pytestmark = pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)


def queue_copy(name: str) -> type[QueueProjection]:
    """The queue projection under a name and tables of its own (both projectors use it)."""
    return type(
        f"Queue{name.title()}",
        (QueueProjection,),
        {"name": f"queues_{name}", "table": f"sf_{name}"},
    )


def table_rows(projector: Projector) -> list[list[dict[str, Any]]]:
    """Every row of every table of the projector's projections."""
    with projector.views.transaction(commit=False) as tx:
        return [
            sorted(tx.query(f"SELECT * FROM {p.t(table)}"), key=repr)  # noqa: S608
            for p in projector.projections.values()
            for table in p.tables()
        ]


class Interleaved:
    """The log reader of one store, which lets someone else act before a given read returns.

    ``select_notifications`` is the catch-up's only read of the log, made after it has read
    its positions: the meddler's work lands between that read and the batch.
    """

    def __init__(self, app: Any, meddle_before_read: int, meddle: Callable[[], object]) -> None:
        self._app = app
        self._select = app.recorder.select_notifications
        self._meddle_before = meddle_before_read
        self._meddle: Callable[[], object] | None = meddle
        self.reads = 0

    def select_notifications(self, *args: Any, **kwargs: Any) -> Sequence[Any]:
        self.reads += 1
        if self.reads > MAX_READS:
            pytest.fail(f"catch-up read the log {self.reads} times without reaching its end")
        if self.reads == self._meddle_before and self._meddle is not None:
            meddle, self._meddle = self._meddle, None
            meddle()  # the other projector's reads go straight to the store
        found: Sequence[Any] = self._select(*args, **kwargs)
        return found


@pytest.fixture
def external(make_desk: DeskFactory, clock: FakeClock) -> ServiceDesk:
    """A desk that leaves its projections to others, with a dozen events in its log."""
    desk = make_desk(projections="external")
    history = [("open", i, i % 3) for i in range(4)]
    history += [("classify", i, 2) for i in range(4)]
    history += [("assign", i, 1) for i in range(4)]
    run_history(desk, clock, history, any_command=True, minutes=(7, 1))
    return desk


def projectors(
    desk: ServiceDesk, monkeypatch: pytest.MonkeyPatch, *, batch: int, meddle_before_read: int
) -> tuple[Projector, Projector, Interleaved]:
    """``slow`` (batches of ``batch``) and ``fast``, which runs at the given read of ``slow``."""
    app = desk._stores.store
    slow = Projector(app, [queue_copy("race")()], batch_size=batch)
    fast = Projector(app, [queue_copy("race")()])
    hook = Interleaved(app, meddle_before_read, fast.catch_up)
    slow_app = _AppView(app, hook)
    monkeypatch.setattr(slow, "_app", slow_app)
    return slow, fast, hook


class _AppView:
    """The store's application as one projector sees it: the same, but for its log reader."""

    def __init__(self, app: Any, hook: Interleaved) -> None:
        self._app = app
        self.recorder = _RecorderView(app.recorder, hook)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)


class _RecorderView:
    def __init__(self, recorder: Any, hook: Interleaved) -> None:
        self._recorder = recorder
        self.select_notifications = hook.select_notifications

    def __getattr__(self, name: str) -> Any:
        return getattr(self._recorder, name)


def test_a_catch_up_whose_whole_batch_another_projector_applied_first_ends_at_the_head(
    external: ServiceDesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = external.projection_status()[0].head
    slow, fast, hook = projectors(external, monkeypatch, batch=3, meddle_before_read=1)
    try:
        assert slow.catch_up() == 0  # the other projector applied everything
        assert hook.reads <= 2  # one stale batch, then the head: no reading round in circles
        assert [s.position for s in slow.status()] == [head]
        assert table_rows(slow) == table_rows(fast)
        rebuilt = Projector(external._stores.store, [queue_copy("rebuilt")()])
        rebuilt.rebuild()
        assert table_rows(slow) == table_rows(rebuilt)
        rebuilt.close()
    finally:
        slow.close()
        fast.close()


def test_a_catch_up_overtaken_midway_applies_the_rest_once(
    external: ServiceDesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = external.projection_status()[0].head
    slow, fast, hook = projectors(external, monkeypatch, batch=2, meddle_before_read=3)
    try:
        applied = slow.catch_up()
        assert applied == 4  # two batches of its own before the other caught up with the rest
        assert [s.position for s in slow.status()] == [head]
        assert hook.reads <= 4
        assert table_rows(slow) == table_rows(fast)
        assert slow.catch_up() == 0
    finally:
        slow.close()
        fast.close()
