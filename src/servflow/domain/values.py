"""Value types of the service process: kinds, stages, channels, priorities, customers, actors.

Enum values are stored in events: never change a value, only add new members.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "ACTOR_KINDS",
    "Actor",
    "Channel",
    "Customer",
    "Kind",
    "Money",
    "OptionalText",
    "Outcome",
    "Priority",
    "Severity",
    "ShortText",
    "Stage",
    "Text",
    "Tier",
    "Value",
    "is_aware",
]


class Value(BaseModel):
    """Base of immutable value objects: frozen, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Kind(StrEnum):
    """The kind of need behind a request (source 001, "Necesidades de Servicio")."""

    INFORMATION = "information"
    QUOTE = "quote"
    PROPOSAL = "proposal"
    SERVICE_REQUEST = "service_request"
    PETITION = "petition"
    COMPLAINT = "complaint"
    CLAIM = "claim"
    SUGGESTION = "suggestion"
    REPORT = "report"
    WARRANTY = "warranty"


class Stage(StrEnum):
    """The stage of the customer relationship the request arises in."""

    PRE_SALE = "pre_sale"
    SALE = "sale"
    POST_SALE = "post_sale"


class Channel(StrEnum):
    """How the customer reached the company (source 001, "Canales")."""

    FACE_TO_FACE = "face_to_face"
    PHONE = "phone"
    WEB = "web"
    EMAIL = "email"
    CHAT = "chat"
    MOBILE_APP = "mobile_app"


class Priority(StrEnum):
    """How urgent the request is; drives SLA targets and queue order."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """0 for the most urgent, so that ascending order puts urgent work first."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}


class Outcome(StrEnum):
    """How a STAR contact ended: resolved, sent to another department, or to be followed up."""

    RESOLVED = "resolved"
    TRANSFERRED = "transferred"
    FOLLOW_UP = "follow_up"


class Severity(StrEnum):
    """How serious a non-conformity is."""

    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class Tier(StrEnum):
    """Customer tier: the most valuable customers get a differentiated service (source 004)."""

    STANDARD = "standard"
    PREMIUM = "premium"
    VIP = "vip"


#: Kinds of actor an event may be recorded by.
ACTOR_KINDS = ("agent", "supervisor", "customer", "system", "auditor", "integration")

_ACTOR = re.compile(rf"^(system|({'|'.join(ACTOR_KINDS)}):[^\s:][^\s]{{0,199}})$")


def _check_actor(value: str) -> str:
    # Every event read back is checked again: the actors seen valid are remembered (a desk
    # has a few hundred), which costs less than the regular expression.
    if value in _VALID_ACTORS:
        return value
    if not _ACTOR.match(value):
        msg = (
            f"actor {value!r} must be 'system' or '<kind>:<name>' with kind one of "
            f"{', '.join(ACTOR_KINDS)} (e.g. 'agent:ana')"
        )
        raise ValueError(msg)
    if len(_VALID_ACTORS) >= _MAX_VALID_ACTORS:
        _VALID_ACTORS.clear()
    _VALID_ACTORS.add(value)
    return value


_VALID_ACTORS: set[str] = set()
_MAX_VALID_ACTORS = 10_000


#: Who recorded an event: ``agent:ana``, ``customer:acme``, ``system``, ``auditor:eva``.
Actor = Annotated[str, AfterValidator(_check_actor)]

#: Free text that must say something (surrounding blanks are trimmed).
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
#: A name or label: a team, an agent, a category.
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
OptionalText = Text | None
#: A non-negative amount of money, kept exact.
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)]


class Customer(Value):
    """Who the request is for. Only ``id`` is required; ``tier`` selects SLA targets."""

    id: ShortText
    name: ShortText | None = None
    tier: Tier = Tier.STANDARD
    language: (
        Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] | None
    ) = None


def is_aware(value: datetime) -> bool:
    """True when ``value`` names a single instant (it has a working UTC offset)."""
    return value.tzinfo is not None and value.utcoffset() is not None
