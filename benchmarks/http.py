"""9. HTTP: the adapter behind uvicorn on 127.0.0.1, 16 clients at once, against the library.

A desk on SQLite holds open requests; uvicorn serves ``create_app(desk)`` in a thread on a free
port of 127.0.0.1. Sixteen client threads, each with its own ``httpx.Client`` (keep-alive),
send calls for a fixed time: ``GET /api/queue`` (a page of 50), and ``POST
/api/requests/{ref}/report-progress`` on requests each thread takes in turn (the threads never
share a request, so no call meets a concurrency conflict). Each call's latency is kept: the
figure is calls per second, with p50 and p99. The baseline is the same calls made on the desk
directly (``desk.queue``, ``desk.report_progress``) by sixteen threads of the same process, in
the same run: the ratio is what HTTP, JSON, FastAPI and the event loop cost on top. Both share
the two cores with the clients, as a UI's server would share them with nothing: a lower bound.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from benchmarks.common import Run, open_desk, percentile

SECTION = "9 http"
CLIENTS = 16
_AGENT = "agent:bench"


@contextlib.contextmanager
def _served(app: Any) -> Iterator[str]:  # noqa: ANN401 - an ASGI app
    """``app`` served by uvicorn on a free port of 127.0.0.1; yields its base URL."""
    import uvicorn  # noqa: PLC0415 - the optional extra

    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            msg = "uvicorn did not start"
            raise RuntimeError(msg)
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        listening.close()


def _hammer(
    seconds: float, make: Callable[[int], Callable[[int], object]]
) -> tuple[float, list[float]]:
    """CLIENTS threads each call ``make(thread)(n)`` for ``seconds``; calls/s and latencies."""
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(CLIENTS + 1)

    def worker(index: int) -> None:
        call = make(index)
        try:
            barrier.wait(timeout=30)
            deadline = time.perf_counter() + seconds
            n = 0
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                call(n)
                latencies[index].append(time.perf_counter() - started)
                n += 1
        except Exception as error:  # noqa: BLE001 - reported after the run
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=30)
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    flat = [x for per in latencies for x in per]
    return len(flat) / elapsed, flat


def bench_http(run: Run) -> None:
    """Calls/s, p50 and p99 of GET queue and POST report-progress, over HTTP and directly."""
    import httpx  # noqa: PLC0415 - the optional extra

    from servflow.http import ApiKeys, create_app  # noqa: PLC0415

    quick = run.quick
    seconds = 1.0 if quick else 10.0
    requests_per_client = 4 if quick else 50
    with open_desk("sqlite", path=run.path("http.db"), projections="inline") as desk:
        refs: list[list[str]] = [
            [
                desk.open(
                    customer=f"c{client}",
                    channel="web",
                    kind="complaint",
                    stage="post_sale",
                    symptom="No dial tone",
                    actor=_AGENT,
                ).ticket_code
                for _ in range(requests_per_client)
            ]
            for client in range(CLIENTS)
        ]
        keys = ApiKeys()
        key = keys.issue(_AGENT, "agent")
        headers = {"Authorization": f"Bearer {key}"}

        def direct_queue(_: int) -> Callable[[int], object]:
            return lambda _n: desk.queue(limit=50)

        def direct_post(client: int) -> Callable[[int], object]:
            mine = refs[client]
            return lambda n: desk.report_progress(
                mine[n % len(mine)], message="On it", actor=_AGENT
            )

        results: dict[str, dict[str, tuple[float, list[float]]]] = {"queue": {}, "post": {}}
        results["queue"]["direct"] = _hammer(seconds, direct_queue)
        results["post"]["direct"] = _hammer(seconds, direct_post)
        with _served(create_app(desk, auth=keys)) as url:
            clients = [
                httpx.Client(base_url=url, headers=headers, timeout=30) for _ in range(CLIENTS)
            ]
            try:

                def http_queue(client: int) -> Callable[[int], object]:
                    session = clients[client]
                    return lambda _n: session.get(
                        "/api/queue", params={"limit": 50}
                    ).raise_for_status()

                def http_post(client: int) -> Callable[[int], object]:
                    session, mine = clients[client], refs[client]
                    return lambda n: session.post(
                        f"/api/requests/{mine[n % len(mine)]}/report-progress",
                        json={"message": "On it"},
                    ).raise_for_status()

                results["queue"]["http"] = _hammer(seconds, http_queue)
                results["post"]["http"] = _hammer(seconds, http_post)
            finally:
                for client in clients:
                    client.close()
    names = {
        "queue": "GET /api/queue (50 rows)",
        "post": "POST /api/requests/{ref}/report-progress",
    }
    run.extras["http"] = {}
    for what, by in results.items():
        http_rate, http_lat = by["http"]
        direct_rate, direct_lat = by["direct"]
        p50, p99 = percentile(http_lat, 50) * 1000, percentile(http_lat, 99) * 1000
        d50, d99 = percentile(direct_lat, 50) * 1000, percentile(direct_lat, 99) * 1000
        print(
            f"  {names[what]}: {http_rate:,.0f} calls/s over HTTP (p50 {p50:.1f} ms, p99 "
            f"{p99:.1f} ms); directly {direct_rate:,.0f} calls/s (p50 {d50:.2f} ms, p99 "
            f"{d99:.2f} ms)"
        )
        run.extras["http"][what] = {
            "http": {"rate": http_rate, "p50_ms": p50, "p99_ms": p99, "calls": len(http_lat)},
            "direct": {"rate": direct_rate, "p50_ms": d50, "p99_ms": d99},
        }
        run.add(
            SECTION,
            f"{names[what]}, {CLIENTS} clients",
            "sqlite",
            http_rate,
            "calls/s",
            baseline=f"the desk called directly, {CLIENTS} threads",
            baseline_value=direct_rate,
            note=f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (directly: p50 {d50:.2f}, p99 {d99:.2f})",
        )
