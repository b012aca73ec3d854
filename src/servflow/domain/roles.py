"""Who may record what: the kind of each actor, and which kinds may record which commands.

An actor is ``system`` or ``<kind>:<name>`` (``agent:ana``, ``customer:acme``). ``Roles`` is
data a desk is given (``ServiceDesk(roles=...)``, default ``Roles.standard()``): for each kind,
the commands it may record, and the kinds that act on their own requests only (a customer's
name is the customer id of its requests). The desk asks before it records anything, so a
refusal (``PermissionDeniedError``) appends nothing. Reads are not restricted here: an adapter
in front of the desk (HTTP) decides who may read what.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from servflow.domain.lifecycle import LIFECYCLE, Command
from servflow.errors import PermissionDeniedError

__all__ = ["ActorKind", "Roles", "actor_kind", "actor_name"]


class ActorKind(StrEnum):
    """What kind of actor records an event (the part of the actor before the colon)."""

    AGENT = "agent"
    """Someone of the desk working requests."""
    SUPERVISOR = "supervisor"
    """Someone of the desk who also answers for others' work."""
    CUSTOMER = "customer"
    """The customer the request is for (``customer:<customer id>``)."""
    SYSTEM = "system"
    """servflow itself: deemed acceptances, follow-ups coming due, automation."""
    AUDITOR = "auditor"
    """Control: reads everything, documents non-conformities."""
    INTEGRATION = "integration"
    """Another system recording what happened there (an import, a mailbox, a CRM)."""


_KINDS: Mapping[str, ActorKind] = MappingProxyType({kind.value: kind for kind in ActorKind})


def actor_kind(actor: str) -> ActorKind | None:
    """The kind of an actor; None when it names none (the event's validation refuses it)."""
    return _KINDS.get(actor.partition(":")[0]) if isinstance(actor, str) else None


def actor_name(actor: str) -> str:
    """The name after the kind (``acme`` for ``customer:acme``; ``system`` for ``system``)."""
    return actor.partition(":")[2] or actor


#: Every command a person of the desk may record (all but those only ``system`` records).
_DESK_COMMANDS = frozenset(c for c, rule in LIFECYCLE.items() if not rule.system)


class Roles(BaseModel):
    """Which kinds of actor may record which commands, and who acts on its own requests only.

    ``Roles.standard()`` is the default; build your own with ``Roles(grants={...})`` or
    ``Roles.standard().granting(...)``. ``Roles.unrestricted()`` lets every kind record every
    command, as servflow 0.1 did (imports of old logs, migrations).
    """

    model_config = ConfigDict(frozen=True)

    grants: Mapping[ActorKind, frozenset[Command]]
    own_requests_only: frozenset[ActorKind] = frozenset({ActorKind.CUSTOMER})
    #: Who may forget a customer (``ServiceDesk.forget_customer``): supervisors by default.
    forgetters: frozenset[ActorKind] = frozenset({ActorKind.SUPERVISOR})
    #: Who may keep the directories (register, update, deactivate customers, teams, agents).
    curators: frozenset[ActorKind] = frozenset(
        {ActorKind.AGENT, ActorKind.SUPERVISOR, ActorKind.INTEGRATION}
    )

    @classmethod
    def standard(cls) -> Self:
        """The default: the desk works, customers answer, auditors control, time is system's.

        Agents, supervisors and integrations record every command a person may (a mailbox
        integration records the customer's messages too); customers open, reply to, write
        about, accept, reopen and withdraw (cancel) their own requests; auditors
        document and correct non-conformities (control and improvement, source 000) and
        nothing else; ``system`` records what time brings (deemed acceptance, follow-ups
        coming due, closures) and what automation rules do (reassign, raise the priority,
        log a non-conformity, each after the rule's ``AutomationFired``).
        """
        customer = frozenset(
            {
                Command.OPEN,
                Command.CUSTOMER_RESPONDED,
                Command.ACCEPT,
                Command.REOPEN,
                Command.CANCEL,
                Command.CUSTOMER_MESSAGE,
            }
        )
        control = frozenset({Command.LOG_NONCONFORMITY, Command.CORRECT_NONCONFORMITY})
        return cls(
            grants={
                ActorKind.AGENT: _DESK_COMMANDS,
                ActorKind.SUPERVISOR: _DESK_COMMANDS,
                ActorKind.INTEGRATION: _DESK_COMMANDS,
                ActorKind.CUSTOMER: customer,
                ActorKind.AUDITOR: control,
                ActorKind.SYSTEM: frozenset(
                    {
                        Command.MARK_FOLLOW_UP_DUE,
                        Command.ACCEPT,
                        Command.CLOSE,
                        # Automation rules: the firing, and the actions a rule may take.
                        Command.AUTOMATE,
                        Command.ASSIGN,
                        Command.CLASSIFY,
                        Command.LOG_NONCONFORMITY,
                    }
                ),
            }
        )

    @classmethod
    def unrestricted(cls) -> Self:
        """Every kind may record every command, on any request (servflow 0.1's behaviour)."""
        return cls(
            grants=dict.fromkeys(ActorKind, frozenset(Command)),
            own_requests_only=frozenset(),
            forgetters=frozenset(ActorKind),
            curators=frozenset(ActorKind),
        )

    def granting(self, kind: ActorKind | str, commands: Iterable[Command | str]) -> Self:
        """These roles with ``kind`` also allowed ``commands``."""
        kind = ActorKind(kind)
        more = frozenset(Command(c) for c in commands)
        grants = dict(self.grants)
        grants[kind] = grants.get(kind, frozenset()) | more
        return self.model_copy(update={"grants": MappingProxyType(grants)})

    def may_forget(self, actor: str) -> bool:
        """Whether ``actor`` may forget a customer (an unknown kind is left to validation)."""
        kind = actor_kind(actor)
        return kind is None or kind in self.forgetters

    def forget_refusal(self, actor: str, customer_id: str) -> PermissionDeniedError:
        """The error for ``actor`` refused forgetting a customer (``may_forget`` said no)."""
        allowed = ", ".join(sorted(k.value for k in self.forgetters)) or "nobody"
        msg = (
            f"refused 'forget_customer' of customer {customer_id!r}: actor {actor!r} may not "
            f"forget customers (allowed: {allowed})"
        )
        return PermissionDeniedError(msg, actor=actor, command="forget_customer")

    def check_curator(self, actor: str, command: str) -> None:
        """Refuse (``PermissionDeniedError``) an actor who may not keep the directories."""
        kind = actor_kind(actor)
        if kind is None or kind in self.curators:
            return  # an unknown kind is left to the event's validation
        allowed = ", ".join(sorted(k.value for k in self.curators)) or "nobody"
        msg = (
            f"refused '{command}': actor {actor!r} may not keep the directories "
            f"(kind {kind.value}; allowed: {allowed})"
        )
        raise PermissionDeniedError(msg, actor=actor, command=command)

    def may(self, actor: str, command: Command | str) -> bool:
        """Whether the actor's kind may record ``command`` at all (on its own requests)."""
        kind = actor_kind(actor)
        return kind is None or Command(command) in self.grants.get(kind, frozenset())

    def allows(self, actor: str, command: Command, *, customer_id: str | None) -> bool:
        """Whether ``actor`` may record ``command`` on a request of ``customer_id``.

        An actor that names no known kind is left to the event's validation (True here).
        """
        if not isinstance(actor, str):
            return True  # not an actor at all: the event's validation refuses it
        kind = _KINDS.get(actor.partition(":")[0])
        if kind is None:
            return True
        granted = self.grants.get(kind)
        if granted is None or command not in granted:
            return False
        return kind not in self.own_requests_only or customer_id == actor_name(actor)

    def check(
        self,
        actor: str,
        command: Command,
        *,
        customer_id: str | None,
        where: str = "",
        request_id: UUID | None = None,
    ) -> None:
        """Refuse (``PermissionDeniedError``) what the actor may not record on this request."""
        if not self.allows(actor, command, customer_id=customer_id):
            raise self.refusal(
                actor, command, customer_id=customer_id, where=where, request_id=request_id
            )

    def refusal(
        self,
        actor: str,
        command: Command,
        *,
        customer_id: str | None,
        where: str = "",
        request_id: UUID | None = None,
    ) -> PermissionDeniedError:
        """The error for ``actor`` refused ``command`` (``allows`` said no), saying why."""
        kind = actor_kind(actor)
        about = f"{where}: " if where else ""
        if kind is None or command in self.grants.get(kind, frozenset()):
            msg = (
                f"{about}refused '{command}': actor {actor!r} acts on its own requests only, "
                f"and this one is customer {customer_id!r}'s"
            )
        else:
            allowed = sorted(k.value for k, granted in self.grants.items() if command in granted)
            msg = (
                f"{about}refused '{command}': actor {actor!r} may not record it "
                f"(kind {kind.value}; allowed: {', '.join(allowed) or 'nobody'})"
            )
        return PermissionDeniedError(msg, actor=actor, command=command, request_id=request_id)
