"""``create_app``: the API, its problem answers, and (later) the live events and the console."""

from __future__ import annotations

from fastapi import FastAPI

from servflow.desk import ServiceDesk
from servflow.http.api import router
from servflow.http.auth import Authenticate
from servflow.http.problems import install

__all__ = ["create_app"]


def create_app(desk: ServiceDesk, *, auth: Authenticate, title: str = "servflow") -> FastAPI:
    """A FastAPI app serving ``desk``: the API at ``/api``, each caller named by ``auth``.

    The desk stays the caller's: close it when the app stops.
    """
    app = FastAPI(
        title=title,
        description="An event-sourced service desk: every command and query of servflow.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    install(app)
    app.include_router(router(desk, auth), prefix="/api")
    return app
