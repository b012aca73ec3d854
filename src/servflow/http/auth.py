"""Who calls: the company's authentication maps each HTTP call to a ``Principal``.

The adapter never takes the actor from a query or a body: a dependency the company supplies
(``Authenticate``: any callable taking the Starlette request and returning a ``Principal``, or
raising ``Unauthenticated``) says who calls and in which role. ``ApiKeys`` is one for tests and
small deployments: keys are kept hashed (SHA-256; a key is 32 random bytes, so no slow hash is
needed), looked up by hash and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator
from starlette.requests import Request

from servflow.domain.roles import actor_kind, actor_name
from servflow.domain.values import Actor
from servflow.errors import ConfigurationError

__all__ = ["ApiKeys", "Authenticate", "HttpRole", "Principal", "Unauthenticated"]


class HttpRole(StrEnum):
    """What a caller may do through the adapter."""

    AGENT = "agent"
    """Works requests: every command but adopting policies; reads everything."""
    SUPERVISOR = "supervisor"
    """An agent who also adopts SLA policies."""
    CUSTOMER = "customer"
    """Opens, answers, accepts, reopens and withdraws its own requests; reads only those,
    without the desk's internal notes."""
    AUDITOR = "auditor"
    """Reads everything; records nothing."""


class Principal(BaseModel):
    """Who calls: the actor recorded in the events, and the role the adapter enforces.

    The actor's kind must fit the role (``customer:<id>`` for a customer; ``agent:``,
    ``supervisor:`` or ``integration:`` for the desk's roles; ``auditor:`` for an auditor).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: Actor
    role: HttpRole

    @model_validator(mode="after")
    def _kind_fits_role(self) -> Self:
        kind = actor_kind(self.actor)
        allowed = {
            HttpRole.AGENT: {"agent", "supervisor", "integration"},
            HttpRole.SUPERVISOR: {"supervisor"},
            HttpRole.CUSTOMER: {"customer"},
            HttpRole.AUDITOR: {"auditor"},
        }[self.role]
        if kind is None or kind.value not in allowed:
            msg = f"actor {self.actor!r} does not fit the role {self.role.value!r}"
            raise ValueError(msg)
        return self

    @property
    def customer_id(self) -> str | None:
        """The customer id a customer acts for (None for the desk's roles)."""
        return actor_name(self.actor) if self.role is HttpRole.CUSTOMER else None


class Unauthenticated(Exception):  # noqa: N818 - the HTTP word, answered with 401
    """The call carries no credentials the authenticator accepts (answered with 401)."""


#: The company's authentication: the Starlette request in, who calls out (or Unauthenticated).
Authenticate = Callable[[Request], Principal | Awaitable[Principal]]


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeys:
    """API keys, kept as SHA-256 digests, each naming a ``Principal``.

    ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. ``issue`` makes a new key and
    returns it once (only its digest is kept); ``from_digests`` loads keys kept elsewhere.
    """

    def __init__(self) -> None:
        self._by_digest: dict[str, Principal] = {}

    @classmethod
    def from_digests(cls, digests: Mapping[str, Principal | Mapping[str, str]]) -> Self:
        """Keys from their digests (hex SHA-256), as ``digest()`` of each key gives them."""
        keys = cls()
        for digest, principal in digests.items():
            keys._by_digest[digest.lower()] = (
                principal
                if isinstance(principal, Principal)
                else Principal.model_validate(principal)
            )
        return keys

    @staticmethod
    def digest(key: str) -> str:
        """What is kept of a key: its SHA-256, hex."""
        return _digest(key)

    def issue(self, actor: str, role: HttpRole | str) -> str:
        """A new random key for ``actor`` in ``role``: returned once, kept as its digest."""
        principal = Principal(actor=actor, role=HttpRole(role))
        key = "sfk_" + secrets.token_urlsafe(32)
        self._by_digest[_digest(key)] = principal
        return key

    def digests(self) -> dict[str, Principal]:
        """The kept digests and whom each names (to store them)."""
        return dict(self._by_digest)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Keys from a JSON file written by ``save`` (``ConfigurationError`` if unreadable)."""
        file = Path(path)
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            entries = data["keys"]
            return cls.from_digests(
                {e["digest"]: {"actor": e["actor"], "role": e["role"]} for e in entries}
            )
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, KeyError, TypeError) as error:
            msg = f"API keys file {file}: {error}".replace("\n", " ")
            raise ConfigurationError(msg) from None

    def save(self, path: str | Path) -> None:
        """Write the digests (never the keys) to a JSON file, readable by its owner only."""
        file = Path(path)
        entries = [
            {"digest": digest, "actor": p.actor, "role": p.role.value}
            for digest, p in sorted(self._by_digest.items(), key=lambda item: item[1].actor)
        ]
        file.write_text(json.dumps({"keys": entries}, indent=2) + "\n", encoding="utf-8")
        file.chmod(0o600)

    def __call__(self, request: Request) -> Principal:
        """The principal of the call's key, or ``Unauthenticated``."""
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        key = credentials.strip() if scheme.lower() == "bearer" else ""
        key = key or request.headers.get("x-api-key", "").strip()
        if not key:
            msg = "no API key: send Authorization: Bearer <key> (or X-API-Key)"
            raise Unauthenticated(msg)
        wanted = _digest(key)
        found: Principal | None = None
        # Every kept digest is compared with the key's, in constant time, with no early exit:
        # how long it takes says nothing of which kept key (if any) a guess came close to.
        # Linear in the number of keys: meant for tests and small deployments.
        for digest, principal in self._by_digest.items():
            if hmac.compare_digest(digest, wanted):
                found = principal
        if found is None:
            msg = "unknown API key"
            raise Unauthenticated(msg)
        return found
