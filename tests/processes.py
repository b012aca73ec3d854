"""Run one function in several spawned processes at once, and collect what each returns.

For concurrency claims: each child gets the arguments given, then a barrier (wait on it to
start together) and a queue (put your result there); ``together`` returns the results and
checks every child ended cleanly.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.queues import Queue


def together(
    target: Callable[..., None], args: tuple[Any, ...], *, count: int = 2, timeout: float = 120
) -> list[Any]:
    """Start ``count`` spawned children of ``target(*args, barrier, queue)``; their results."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(count)
    results: Queue[Any] = context.Queue()
    children = [context.Process(target=target, args=(*args, start, results)) for _ in range(count)]
    for child in children:
        child.start()
    try:
        found = [results.get(timeout=timeout) for _ in children]
    finally:
        for child in children:
            child.join(timeout=60)
    assert [child.exitcode for child in children] == [0] * count
    results.close()
    results.join_thread()
    return found
