"""``create_app``: the API at ``/api`` (with its live events) and the reference console."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from servflow.desk import ServiceDesk
from servflow.http.api import router
from servflow.http.auth import Authenticate
from servflow.http.events import POLL_INTERVAL
from servflow.http.problems import install

__all__ = ["CONSOLE", "create_app"]

#: The reference console's files (HTML, one script, one style sheet): package data, no build.
CONSOLE = Path(__file__).with_name("console")


def create_app(
    desk: ServiceDesk,
    *,
    auth: Authenticate,
    title: str = "servflow",
    poll_interval: float = POLL_INTERVAL,
) -> FastAPI:
    """A FastAPI app serving ``desk``: the API at ``/api``, the console at ``/console/``.

    Each API call's caller is named by ``auth``; the console's files are public (it asks for
    an API key and sends it with each call). ``poll_interval`` (seconds): how often the event
    stream looks at the log on a store without notifications. The desk stays the caller's:
    close it when the app stops.
    """
    app = FastAPI(
        title=title,
        description="An event-sourced service desk: every command and query of servflow.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    install(app)
    app.include_router(router(desk, auth, poll_interval=poll_interval), prefix="/api")

    @app.get("/console", include_in_schema=False)
    def console() -> RedirectResponse:
        # The console's script calls ../api: it must be read from /console/.
        return RedirectResponse("console/")

    app.mount("/console/", StaticFiles(directory=CONSOLE, html=True), name="console")
    return app
