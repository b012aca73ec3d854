"""An HTTP adapter for servflow (``pip install 'servflow[http]'``): FastAPI routes and a console.

``create_app(desk, auth=...)`` is a whole ASGI app: the API under ``/api`` (OpenAPI schema at
``/api/openapi.json``), live events at ``/api/events`` (Server-Sent Events) and the reference
console at ``/console``. ``router(desk, auth)`` is the API alone, for a company's own FastAPI
app (with ``install_problems(app)``, which answers errors as problem details). ``auth`` says
who calls: ``ApiKeys`` for tests and small deployments, or the company's own authentication
(``docs/how-to/http.md``).
"""

from servflow.http.api import router
from servflow.http.app import create_app
from servflow.http.auth import ApiKeys, Authenticate, HttpRole, Principal, Unauthenticated
from servflow.http.problems import STATUS, Problem
from servflow.http.problems import install as install_problems

__all__ = [
    "STATUS",
    "ApiKeys",
    "Authenticate",
    "HttpRole",
    "Principal",
    "Problem",
    "Unauthenticated",
    "create_app",
    "install_problems",
    "router",
]
