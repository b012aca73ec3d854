"""Keeping up with the log: a follower process, its turns at time-based work, a waiter.

``ServiceDesk.follow`` keeps the projections up to date (and, with ``due_every``, records what
time brings and runs automation rules); ``event_waiter`` lets a live reader (the HTTP
adapter's event stream) wait for new events.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from servflow.desk import checks
from servflow.desk.checks import callback
from servflow.errors import ServflowError, shown
from servflow.persistence.store import translated

if TYPE_CHECKING:
    from servflow.desk.automation import AutomationReport
    from servflow.desk.stores import Stores
    from servflow.domain.automation import AutomationRule, AutomationRules
    from servflow.domain.sla import DueAction
    from servflow.projections.runner import ProgressCallback

__all__ = ["Following"]

_log = logging.getLogger("servflow")


class Following:
    """The follower, its due work, and the event waiter: a part of ``ServiceDesk``."""

    _stores: Stores
    run_due: Callable[..., list[DueAction]]
    automate: Callable[..., AutomationReport]

    def follow(
        self,
        stop: threading.Event,
        *,
        poll_interval: float = 0.5,
        progress: ProgressCallback | None = None,
        due_every: float | None = None,
        rules: AutomationRules | Sequence[AutomationRule | Mapping[str, Any]] | None = None,
    ) -> None:
        """Keep the projections up to date until ``stop`` is set (for a follower process).

        With ``due_every`` (seconds), the follower also records what time brings
        (``run_due``) and runs ``rules`` (``automate``) once caught up, at most that often; a
        refusal or a store failure there is logged (logger ``servflow``) and tried again at
        the next turn, the follower goes on.
        """
        if not isinstance(stop, threading.Event):
            checks.refuse("follow", "stop", f"must be a threading.Event, not {shown(stop)}")
        interval = checks.number(poll_interval, "poll_interval", "follow", low=0, high=3600)
        callback(progress, "progress", "follow")
        every = (
            None
            if due_every is None
            else checks.number(due_every, "due_every", "follow", low=0, high=86_400)
        )
        checked = None if rules is None else checks.rules(rules, "rules", "follow")
        if checked is not None and every is None:
            checks.refuse("follow", "rules", "run by the follower only with due_every (seconds)")
        after = None if every is None else self._due_turn(every, checked)
        with translated():
            self._stores.projector.follow(
                stop, poll_interval=interval, progress=progress, after=after
            )

    def event_waiter(self) -> Callable[[float], None]:
        """A function that waits up to N seconds for new events to be recorded, then returns.

        On PostgreSQL it wakes on the log's ``NOTIFY`` (one connection, held until it is called
        with a negative timeout); elsewhere it sleeps N seconds (poll then). For readers that
        follow the log live (the HTTP adapter's event stream): a return means "look again", not
        "something is there".
        """
        with translated():
            listener = self._stores.projector.listener()
        if listener is not None:
            return listener

        def sleep(timeout: float) -> None:
            if timeout > 0:
                time.sleep(timeout)

        return sleep

    def _due_turn(self, every: float, rules: AutomationRules | None) -> Callable[[], None]:
        """The follower's turn at time-based work: ``run_due`` and the rules, every ``every`` s."""
        last = [-math.inf]

        def turn() -> None:
            if time.monotonic() - last[0] < every:
                return
            last[0] = time.monotonic()
            try:
                self.run_due()
                if rules is not None:
                    report = self.automate(rules)
                    for problem in report.problems:
                        _log.warning("servflow: rule %s refused: %s", problem.rule, problem.message)
            except ServflowError as error:
                _log.warning("servflow: the follower's due work failed (%s); trying again", error)

        return turn
