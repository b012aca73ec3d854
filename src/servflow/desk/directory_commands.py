"""The directory calls of a desk: register, update and deactivate customers, teams and agents.

``ServiceDesk`` is ``RequestCommands`` plus ``DirectoryCommands`` plus its queries. Each
command takes keyword-only arguments after the entry's id, among them ``actor`` and
``occurred_at``, and records one event of a directory (``servflow.domain.directory``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from servflow.desk.directories import _KEEP, Directories
from servflow.domain.directory import AgentEntry, CustomerEntry, TeamEntry
from servflow.domain.values import Tier

__all__ = ["DirectoryCommands"]


class DirectoryCommands:
    """Customers, teams and agents kept in the log: the calls of ``ServiceDesk``."""

    _directories: Directories

    # -- customers ----------------------------------------------------------------------------

    def register_customer(
        self,
        customer_id: str,
        *,
        name: str | None = None,
        tier: Tier | str = Tier.STANDARD,
        language: str | None = None,
        contacts: Sequence[str] = (),
        actor: str,
        occurred_at: datetime | None = None,
    ) -> CustomerEntry:
        """Register a customer: new requests of theirs take the record's name, tier, language.

        ``contacts`` are personal, like the name: an erasable store seals both, and they read
        as ``[erased]`` once the customer is forgotten. ``DirectoryConflictError`` if the
        customer is registered already.
        """
        return self._directories.register_customer(
            customer_id,
            name=name,
            tier=tier,
            language=language,
            contacts=contacts,
            actor=actor,
            occurred_at=occurred_at,
        )

    def update_customer(
        self,
        customer_id: str,
        *,
        name: str | None = _KEEP,
        tier: Tier | str = _KEEP,
        language: str | None = _KEEP,
        contacts: Sequence[str] = _KEEP,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> CustomerEntry:
        """Change a customer's details (those given; ``None`` clears a name or a language).

        Requests opened before keep the details they were opened with.
        """
        details: dict[str, Any] = {
            "name": name,
            "tier": tier,
            "language": language,
            "contacts": contacts,
        }
        return self._directories.update_customer(
            customer_id, **details, actor=actor, occurred_at=occurred_at
        )

    def deactivate_customer(
        self,
        customer_id: str,
        *,
        reason: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> CustomerEntry:
        """Take a customer out of the directory: new requests no longer take their record."""
        return self._directories.deactivate_customer(
            customer_id, reason=reason, actor=actor, occurred_at=occurred_at
        )

    def customer(self, customer_id: str) -> CustomerEntry:
        """A registered customer's record (``NotInDirectoryError`` if none)."""
        return self._directories.customer(customer_id)

    def customers(self, *, include_inactive: bool = False) -> list[CustomerEntry]:
        """The registered customers, in the order registered (a pass over the log's index)."""
        return self._directories.customers(include_inactive=include_inactive)

    # -- teams --------------------------------------------------------------------------------

    def register_team(
        self,
        team: str,
        *,
        name: str | None = None,
        members: Sequence[str] = (),
        actor: str,
        occurred_at: datetime | None = None,
    ) -> TeamEntry:
        """Register a team: its id is ``team`` stripped and lower-cased, ``name`` its display.

        From the first team on, a desk with ``ad_hoc=None`` (the default) refuses unknown
        teams (``UnknownTeamError``) and records registered ones by their id.
        """
        return self._directories.register_team(
            team, name=name, members=members, actor=actor, occurred_at=occurred_at
        )

    def update_team(
        self,
        team: str,
        *,
        name: str | None = None,
        members: Sequence[str] | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> TeamEntry:
        """Change a team's display name or members (those given)."""
        return self._directories.update_team(
            team, name=name, members=members, actor=actor, occurred_at=occurred_at
        )

    def deactivate_team(
        self, team: str, *, actor: str, occurred_at: datetime | None = None
    ) -> TeamEntry:
        """Close a team: no new work may be assigned or transferred to it."""
        return self._directories.deactivate_team(team, actor=actor, occurred_at=occurred_at)

    def teams(self, *, include_inactive: bool = False) -> list[TeamEntry]:
        """The registered teams, in the order registered."""
        return self._directories.teams(include_inactive=include_inactive)

    # -- agents -------------------------------------------------------------------------------

    def register_agent(
        self,
        agent: str,
        *,
        name: str | None = None,
        teams: Sequence[str] = (),
        actor: str,
        occurred_at: datetime | None = None,
    ) -> AgentEntry:
        """Register an agent (``ana`` for ``agent:ana``): id lower-cased, ``name``, team ids.

        From the first agent on, a desk with ``ad_hoc=None`` refuses unknown agents in
        assignments (``UnknownAgentError``).
        """
        return self._directories.register_agent(
            agent, name=name, teams=teams, actor=actor, occurred_at=occurred_at
        )

    def update_agent(
        self,
        agent: str,
        *,
        name: str | None = None,
        teams: Sequence[str] | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> AgentEntry:
        """Change an agent's name or teams (those given)."""
        return self._directories.update_agent(
            agent, name=name, teams=teams, actor=actor, occurred_at=occurred_at
        )

    def deactivate_agent(
        self, agent: str, *, actor: str, occurred_at: datetime | None = None
    ) -> AgentEntry:
        """Record that an agent left: no new work may be assigned to them."""
        return self._directories.deactivate_agent(agent, actor=actor, occurred_at=occurred_at)

    def agents(self, *, include_inactive: bool = False) -> list[AgentEntry]:
        """The registered agents, in the order registered."""
        return self._directories.agents(include_inactive=include_inactive)
