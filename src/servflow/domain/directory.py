"""Directories kept in the log: customers, teams and agents, each with its own events.

A **customer** is a record of its own (``CustomerRecord``), its id derived from the customer id,
so the store keeps one record per customer across every writer, as it keeps ticket codes
unique. **Teams** and **agents** are two registries (``TeamDirectory``, ``AgentDirectory``),
one record each with a fixed id: a desk has tens or hundreds of them, read whole.

Names are canonical: a team's or an agent's id is its name stripped, inner blanks made one
and lower-cased (``"Billing "`` and ``"billing"`` are the team ``billing``); the name as
given is kept as its display name. Customer ids are kept as given (requests carry them so).

Events only assign state; the rules (a second registration, an unknown entry) are the
commands'. Every directory rebuilds from its own events, so there is nothing to project.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Self
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import Field, StringConstraints, ValidationError

from servflow.domain.base import EventSourced, refused
from servflow.domain.state import Moment
from servflow.domain.values import MAX_ITEMS, Actor, Instant, ShortText, Text, Tier, Value

__all__ = [
    "AGENT_DIRECTORY_ID",
    "TEAM_DIRECTORY_ID",
    "AgentDirectory",
    "AgentEntry",
    "CustomerEntry",
    "CustomerRecord",
    "TeamDirectory",
    "TeamEntry",
    "canonical",
    "customer_record_id",
]

_NAMESPACE = uuid5(NAMESPACE_URL, "https://servflow.dev/directory")
#: The id of a store's one team directory (deterministic: every process finds the same one).
TEAM_DIRECTORY_ID: UUID = uuid5(_NAMESPACE, "teams")
#: The id of a store's one agent directory.
AGENT_DIRECTORY_ID: UUID = uuid5(_NAMESPACE, "agents")

Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
Names = Annotated[tuple[ShortText, ...], Field(max_length=MAX_ITEMS)]


def canonical(name: str) -> str:
    """A team's or an agent's id: the name stripped, inner blanks made one, lower case."""
    return " ".join(name.split()).casefold()


def customer_record_id(customer_id: str) -> UUID:
    """The id of a customer's record: one per customer id in the store."""
    return uuid5(_NAMESPACE, f"customer:{customer_id}")


def _display(name: object) -> object:
    """A display name with its blanks made one (anything else is left to validation)."""
    return " ".join(name.split()) if isinstance(name, str) else name


def _unique(names: tuple[str, ...]) -> tuple[str, ...]:
    """Canonical ids, each once, in the order first given."""
    return tuple(dict.fromkeys(canonical(n) for n in names))


# -- the entries queries return ----------------------------------------------------------------


class CustomerEntry(Value):
    """A customer as the directory knows it: what a new request of theirs takes."""

    id: str
    name: str | None
    tier: Tier
    language: str | None
    contacts: tuple[str, ...]
    active: bool
    registered_at: datetime
    updated_at: datetime


class TeamEntry(Value):
    """A team: its canonical id, its display name and its members (agent ids)."""

    id: str
    name: str
    members: tuple[str, ...]
    active: bool


class AgentEntry(Value):
    """An agent: id (as in ``agent:<id>`` and assignments), name and teams (team ids)."""

    id: str
    name: str
    teams: tuple[str, ...]
    active: bool


class _Event(EventSourced.Event):
    """Base of the directories' events: who recorded it and when it happened."""

    actor: Actor
    occurred_at: Instant

    def apply(self, aggregate: Any) -> None:  # noqa: ANN401 - the library's signature
        """Fold this event into the record."""
        self.apply_to(aggregate)

    def apply_to(self, record: Any) -> None:  # noqa: ANN401 - each record its own
        """Assign the event's state changes; never raise (it runs on every replay)."""


def _fields(moment: Moment, actor: str) -> dict[str, object]:
    return {"timestamp": moment.recorded_at, "occurred_at": moment.occurred_at, "actor": actor}


# -- customers ---------------------------------------------------------------------------------


class CustomerRecord(EventSourced):
    """One customer of the directory: name, tier, language and contacts (personal: sealed)."""

    class Event(_Event):
        """Base of a customer record's events; each names its customer (erasure keys by it)."""

        customer_id: ShortText

    class Registered(Event, EventSourced.Created):
        """The customer was registered in the directory."""

        name: ShortText | None = None
        tier: Tier = Tier.STANDARD
        language: Language | None = None
        contacts: Names = ()

        def apply_to(self, record: CustomerRecord) -> None:  # noqa: D102
            record.customer_id = self.customer_id
            record.name = self.name
            record.tier = self.tier
            record.language = self.language
            record.contacts = self.contacts
            record.active = True
            record.registered_at = record.updated_at = self.occurred_at

    class Updated(Event):
        """The customer's details changed (every detail as it is now)."""

        name: ShortText | None = None
        tier: Tier = Tier.STANDARD
        language: Language | None = None
        contacts: Names = ()

        def apply_to(self, record: CustomerRecord) -> None:  # noqa: D102
            record.name = self.name
            record.tier = self.tier
            record.language = self.language
            record.contacts = self.contacts
            record.updated_at = self.occurred_at

    class Deactivated(Event):
        """The customer left the directory: new requests no longer take their record."""

        reason: Text | None = None

        def apply_to(self, record: CustomerRecord) -> None:  # noqa: D102
            record.active = False
            record.updated_at = self.occurred_at

    # Declared for type checkers only (see ServiceRequest): the events assign them.
    if TYPE_CHECKING:
        customer_id: str
        name: str | None
        tier: Tier
        language: str | None
        contacts: tuple[str, ...]
        active: bool
        registered_at: datetime
        updated_at: datetime

    @classmethod
    def register(
        cls,
        *,
        customer_id: str,
        name: str | None,
        tier: Tier | str,
        language: str | None,
        contacts: tuple[str, ...] | list[str],
        actor: str,
        at: Moment,
    ) -> Self:
        """A new customer record (refused as ``ValidationFailedError`` for bad details)."""
        try:
            return cls._create(
                cls.Registered,
                id=customer_record_id(customer_id),
                customer_id=customer_id,
                name=name,
                tier=tier,
                language=language,
                contacts=tuple(contacts),
                **_fields(at, actor),
            )
        except ValidationError as error:
            raise refused(error, "register_customer", where=f"customer {customer_id}") from None

    def update(
        self,
        *,
        name: str | None,
        tier: Tier | str,
        language: str | None,
        contacts: tuple[str, ...] | list[str],
        actor: str,
        at: Moment,
    ) -> None:
        """Record the customer's details as they are now."""
        try:
            self.trigger_event(
                self.Updated,
                customer_id=self.customer_id,
                name=name,
                tier=tier,
                language=language,
                contacts=tuple(contacts),
                **_fields(at, actor),
            )
        except ValidationError as error:
            raise refused(error, "update_customer", where=f"customer {self.customer_id}") from None

    def deactivate(self, *, reason: str | None, actor: str, at: Moment) -> None:
        """Record that the customer left the directory."""
        try:
            self.trigger_event(
                self.Deactivated,
                customer_id=self.customer_id,
                reason=reason,
                **_fields(at, actor),
            )
        except ValidationError as error:
            raise refused(
                error, "deactivate_customer", where=f"customer {self.customer_id}"
            ) from None

    def entry(self) -> CustomerEntry:
        """The record as queries return it."""
        return CustomerEntry(
            id=self.customer_id,
            name=self.name,
            tier=self.tier,
            language=self.language,
            contacts=self.contacts,
            active=self.active,
            registered_at=self.registered_at,
            updated_at=self.updated_at,
        )


# -- teams and agents --------------------------------------------------------------------------


class TeamDirectory(EventSourced):
    """The desk's teams: canonical id -> display name, members, whether active."""

    class Event(_Event):
        """Base of the team directory's events."""

    class Started(Event, EventSourced.Created):
        """The store's team directory was created (with its first team)."""

        def apply_to(self, directory: TeamDirectory) -> None:  # noqa: D102
            directory.teams = {}

    class TeamRegistered(Event):
        """A team was registered: its canonical id, display name and members."""

        team_id: ShortText
        name: ShortText
        members: Names = ()

        def apply_to(self, directory: TeamDirectory) -> None:  # noqa: D102
            directory.teams[self.team_id] = TeamEntry(
                id=self.team_id, name=self.name, members=self.members, active=True
            )

    class TeamUpdated(Event):
        """A team's display name or members changed (both as they are now)."""

        team_id: ShortText
        name: ShortText
        members: Names = ()

        def apply_to(self, directory: TeamDirectory) -> None:  # noqa: D102
            old = directory.teams.get(self.team_id)
            directory.teams[self.team_id] = TeamEntry(
                id=self.team_id,
                name=self.name,
                members=self.members,
                active=True if old is None else old.active,
            )

    class TeamDeactivated(Event):
        """A team was closed: no new work may be assigned to it."""

        team_id: ShortText

        def apply_to(self, directory: TeamDirectory) -> None:  # noqa: D102
            old = directory.teams.get(self.team_id)
            if old is not None:
                directory.teams[self.team_id] = old.model_copy(update={"active": False})

    if TYPE_CHECKING:
        teams: dict[str, TeamEntry]

    @classmethod
    def start(cls, *, actor: str, at: Moment) -> Self:
        """Create a store's (empty) team directory."""
        try:
            return cls._create(cls.Started, id=TEAM_DIRECTORY_ID, **_fields(at, actor))
        except ValidationError as error:
            raise refused(error, "register_team") from None

    def register(
        self, *, team: str, name: str | None, members: tuple[str, ...], actor: str, at: Moment
    ) -> None:
        """Record a new team (its id is ``canonical(team)``; its name ``name`` or ``team``)."""
        _trigger(
            self, self.TeamRegistered, "register_team", **_team(team, name, members, at, actor)
        )

    def update(
        self, *, team: str, name: str, members: tuple[str, ...], actor: str, at: Moment
    ) -> None:
        """Record a team's display name and members as they are now."""
        _trigger(self, self.TeamUpdated, "update_team", **_team(team, name, members, at, actor))

    def deactivate(self, *, team: str, actor: str, at: Moment) -> None:
        """Record that a team was closed."""
        _trigger(self, self.TeamDeactivated, "deactivate_team", team_id=team, **_fields(at, actor))


def _team(
    team: str, name: str | None, members: tuple[str, ...], at: Moment, actor: str
) -> dict[str, Any]:
    """A team event's fields: its canonical id, display name and distinct members."""
    return {
        "team_id": canonical(team),
        "name": _display(team if name is None else name),
        "members": _unique(members),
        **_fields(at, actor),
    }


class AgentDirectory(EventSourced):
    """The desk's agents: id -> name, teams, whether active."""

    class Event(_Event):
        """Base of the agent directory's events."""

    class Started(Event, EventSourced.Created):
        """The store's agent directory was created (with its first agent)."""

        def apply_to(self, directory: AgentDirectory) -> None:  # noqa: D102
            directory.agents = {}

    class AgentRegistered(Event):
        """An agent was registered: id, name and teams."""

        agent_id: ShortText
        name: ShortText
        teams: Names = ()

        def apply_to(self, directory: AgentDirectory) -> None:  # noqa: D102
            directory.agents[self.agent_id] = AgentEntry(
                id=self.agent_id, name=self.name, teams=self.teams, active=True
            )

    class AgentUpdated(Event):
        """An agent's name or teams changed (both as they are now)."""

        agent_id: ShortText
        name: ShortText
        teams: Names = ()

        def apply_to(self, directory: AgentDirectory) -> None:  # noqa: D102
            old = directory.agents.get(self.agent_id)
            directory.agents[self.agent_id] = AgentEntry(
                id=self.agent_id,
                name=self.name,
                teams=self.teams,
                active=True if old is None else old.active,
            )

    class AgentDeactivated(Event):
        """An agent left: no new work may be assigned to them."""

        agent_id: ShortText

        def apply_to(self, directory: AgentDirectory) -> None:  # noqa: D102
            old = directory.agents.get(self.agent_id)
            if old is not None:
                directory.agents[self.agent_id] = old.model_copy(update={"active": False})

    if TYPE_CHECKING:
        agents: dict[str, AgentEntry]

    @classmethod
    def start(cls, *, actor: str, at: Moment) -> Self:
        """Create a store's (empty) agent directory."""
        try:
            return cls._create(cls.Started, id=AGENT_DIRECTORY_ID, **_fields(at, actor))
        except ValidationError as error:
            raise refused(error, "register_agent") from None

    def register(
        self, *, agent: str, name: str | None, teams: tuple[str, ...], actor: str, at: Moment
    ) -> None:
        """Record a new agent (id ``canonical(agent)``, name ``name`` or ``agent``)."""
        _trigger(
            self, self.AgentRegistered, "register_agent", **_agent(agent, name, teams, at, actor)
        )

    def update(
        self, *, agent: str, name: str, teams: tuple[str, ...], actor: str, at: Moment
    ) -> None:
        """Record an agent's name and teams as they are now."""
        _trigger(self, self.AgentUpdated, "update_agent", **_agent(agent, name, teams, at, actor))

    def deactivate(self, *, agent: str, actor: str, at: Moment) -> None:
        """Record that an agent left."""
        _trigger(
            self, self.AgentDeactivated, "deactivate_agent", agent_id=agent, **_fields(at, actor)
        )


def _agent(
    agent: str, name: str | None, teams: tuple[str, ...], at: Moment, actor: str
) -> dict[str, Any]:
    """An agent event's fields: the canonical id, display name and distinct teams."""
    return {
        "agent_id": canonical(agent),
        "name": _display(agent if name is None else name),
        "teams": _unique(teams),
        **_fields(at, actor),
    }


def _trigger(record: EventSourced, event: type[Any], command: str, **fields: object) -> None:
    """Record ``event`` on ``record``; input its validation refuses is ``command``'s error."""
    try:
        record.trigger_event(event, **fields)
    except ValidationError as error:
        raise refused(error, command) from None
