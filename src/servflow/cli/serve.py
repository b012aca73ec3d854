"""``servflow serve``: the HTTP adapter and its console, served by uvicorn; ``servflow api-key``.

Needs the ``http`` extra (``pip install 'servflow[http]'``). Callers authenticate with API
keys kept (as digests only) in a JSON file: ``servflow api-key add --actor agent:ana --role
agent`` prints a new key once; ``servflow serve --keys keys.json`` accepts it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated

import typer

from servflow.cli._common import guarded, say, session
from servflow.errors import ConfigurationError

__all__ = ["api_key_app", "serve"]

KeysFile = Annotated[
    Path, typer.Option("--keys", help="The API keys file (digests only).", show_default=True)
]
DEFAULT_KEYS = Path("servflow-keys.json")

api_key_app = typer.Typer(help="API keys of the HTTP adapter: add, list.", no_args_is_help=True)


def _need_http() -> None:
    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        msg = "the HTTP adapter needs its extra: pip install 'servflow[http]'"
        raise ConfigurationError(msg)


@guarded
def serve(
    ctx: typer.Context,
    *,
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.", min=1, max=65535)] = 8000,
    keys: KeysFile = DEFAULT_KEYS,
) -> None:
    """Serve the HTTP API at /api and the console at /console until Ctrl-C."""
    _need_http()
    import uvicorn  # noqa: PLC0415 - the optional extra, loaded when used

    from servflow.http import ApiKeys, create_app  # noqa: PLC0415

    accepted = ApiKeys.load(keys)
    if not accepted.digests():
        msg = f"no API keys in {keys}: add one with servflow api-key add --actor ... --role ..."
        raise ConfigurationError(msg)
    desk = session(ctx).desk(existing=True)
    app = create_app(desk, auth=accepted)
    say(f"servflow: serving http://{host}:{port}/api and /console (Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@api_key_app.command("add")
@guarded
def add_key(
    *,
    actor: Annotated[str, typer.Option(help="Who calls: agent:ana, customer:acme, auditor:eva.")],
    role: Annotated[str, typer.Option(help="agent, supervisor, customer or auditor.")],
    keys: KeysFile = DEFAULT_KEYS,
) -> None:
    """Make a new API key: printed once, only its digest is kept."""
    _need_http()
    from servflow.http import ApiKeys, HttpRole  # noqa: PLC0415

    try:
        chosen = HttpRole(role)
    except ValueError:
        msg = f"role {role!r}: use agent, supervisor, customer or auditor"
        raise ConfigurationError(msg) from None
    from pydantic import ValidationError  # noqa: PLC0415 - with the extra, when a key is made

    kept = ApiKeys.load(keys)
    try:
        key = kept.issue(actor, chosen)
    except ValidationError as error:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
        msg = f"--actor {actor!r}: {problems}"
        raise ConfigurationError(msg) from None
    kept.save(keys)
    say(key)


@api_key_app.command("list")
@guarded
def list_keys(keys: KeysFile = DEFAULT_KEYS) -> None:
    """Who holds a key (digests are not shown)."""
    _need_http()
    from servflow.http import ApiKeys  # noqa: PLC0415

    for principal in ApiKeys.load(keys).digests().values():
        say(f"{principal.actor}\t{principal.role.value}")
