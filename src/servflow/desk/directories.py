"""The directories of a desk: customers, teams and agents, kept in the log and used on commands.

Commands record directory events through the one write path (``Writer.until_saved``: a
registry changed by another writer meanwhile is read again and the command retried). Reads
fold the records from their own events: nothing to project, so a directory is always as the
log says, on every store, after any rebuild. The team and agent registries a desk checks
names against are kept in memory and brought up to date with one indexed read per use.

What a command does with a name (``team_for``, ``agent_for``): a registered name is recorded
as its canonical id; a deactivated one is refused; an unknown one is refused
(``UnknownTeamError``, ``UnknownAgentError``) unless the desk takes ad-hoc names:
``ad_hoc=True`` always, ``ad_hoc=None`` (the default) while its directory is empty, so a desk
that registers no team works as before, ``ad_hoc=False`` never.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic

from servflow.desk.clock import DeskClock
from servflow.desk.stores import Stores
from servflow.desk.writer import Writer, project
from servflow.domain.base import EventSourced, refuse
from servflow.domain.directory import (
    AGENT_DIRECTORY_ID,
    TEAM_DIRECTORY_ID,
    AgentDirectory,
    AgentEntry,
    CustomerEntry,
    CustomerRecord,
    TeamDirectory,
    TeamEntry,
    canonical,
    customer_record_id,
)
from servflow.domain.erasure import ERASED
from servflow.domain.values import MAX_ITEMS, MAX_NAME, Customer, Tier, storable
from servflow.errors import (
    ConfigurationError,
    DirectoryConflictError,
    NotInDirectoryError,
    StoreError,
    UnknownAgentError,
    UnknownTeamError,
    shown,
)
from servflow.persistence.store import translated

__all__ = ["Directories", "check_ad_hoc"]

_A = TypeVar("_A", bound=EventSourced)
_T = TypeVar("_T")
#: An argument left out of an update: the detail stays as it is.
_KEEP: Any = object()
#: Attempts at saving a registry change before giving up (each after a lost race).
_MAX_ATTEMPTS = 50


def check_ad_hoc(ad_hoc: object) -> bool | None:
    """The desk's ``ad_hoc`` setting, or ``ConfigurationError``."""
    if ad_hoc is not None and not isinstance(ad_hoc, bool):
        msg = f"ad_hoc must be True, False or None, not {shown(ad_hoc)}"
        raise ConfigurationError(msg)
    return ad_hoc


def _name(value: object, field: str, command: str) -> str:
    """A name argument (a team, an agent, a customer id): text of at most ``MAX_NAME``."""
    if not isinstance(value, str) or not value.strip():
        refuse(command, field, f"must be a non-empty text, not {shown(value)}")
    if len(value) > MAX_NAME * 2:
        refuse(command, field, f"has at most {MAX_NAME} characters, not {len(value):,}")
    try:
        return storable(value)
    except ValueError as error:
        refuse(command, field, str(error))


def _names(values: object, field: str, command: str) -> tuple[str, ...]:
    """A list of names (members, teams, contacts)."""
    if not isinstance(values, list | tuple):
        refuse(command, field, f"must be a list of texts, not {shown(values)}")
    if len(values) > MAX_ITEMS:
        refuse(command, field, f"has at most {MAX_ITEMS} items, not {len(values):,}")
    items = tuple(values)
    for item in items:
        _name(item, field, command)
    return items


class _Kept:
    """A registry as last read, brought up to date from the events stored since (thread-safe)."""

    def __init__(self, stores: Stores, aggregate_id: UUID) -> None:
        self._stores = stores
        self._id = aggregate_id
        self._lock = threading.Lock()
        self._kept: Any = None

    def current(self) -> Any:  # noqa: ANN401 - the registry's class
        """The registry as stored now (None while it does not exist); not to be changed."""
        with self._lock, translated():
            store = self._stores.store
            newer = store.recorder.select_events(
                self._id, gt=None if self._kept is None else self._kept.version
            )
            for stored in newer:
                event: Any = store.mapper.to_domain_event(stored)
                self._kept = event.mutate(self._kept)
            return self._kept


class Directories:
    """Customers, teams and agents of a desk: their commands, queries and checks on use."""

    def __init__(
        self, stores: Stores, writer: Writer, clock: DeskClock, *, ad_hoc: bool | None
    ) -> None:
        self._stores = stores
        self._writer = writer
        self._clock = clock
        self._ad_hoc = ad_hoc
        self._teams = _Kept(stores, TEAM_DIRECTORY_ID)
        self._agents = _Kept(stores, AGENT_DIRECTORY_ID)

    # -- customers ----------------------------------------------------------------------------

    def register_customer(
        self,
        customer_id: object,
        *,
        name: str | None,
        tier: Tier | str,
        language: str | None,
        contacts: Sequence[str],
        actor: str,
        occurred_at: datetime | None,
    ) -> CustomerEntry:
        """Record a new customer (see ``ServiceDesk.register_customer``)."""
        command = "register_customer"
        text = _name(customer_id, "customer_id", command).strip()
        self._writer.roles.check_curator(actor, command)
        found = self._load(customer_record_id(text), CustomerRecord)
        if found is not None:
            raise DirectoryConflictError(kind="customer", entry_id=text, command=command)
        at = self._clock.moment(occurred_at, command)
        record = CustomerRecord.register(
            customer_id=text,
            name=name,
            tier=tier,
            language=language,
            contacts=_names(contacts, "contacts", command),
            actor=actor,
            at=at,
        )
        self._save_new(record, "customer", text, command)
        return record.entry()

    def update_customer(
        self,
        customer_id: object,
        *,
        name: str | None = _KEEP,
        tier: Tier | str = _KEEP,
        language: str | None = _KEEP,
        contacts: Sequence[str] = _KEEP,
        actor: str,
        occurred_at: datetime | None,
    ) -> CustomerEntry:
        """Record a customer's changed details (see ``ServiceDesk.update_customer``)."""
        command = "update_customer"
        text = _name(customer_id, "customer_id", command).strip()
        self._writer.roles.check_curator(actor, command)
        at = self._clock.moment(occurred_at, command)

        def attempt() -> tuple[CustomerRecord, CustomerEntry]:
            record = self._record(text, command)
            record.update(
                name=record.name if name is _KEEP else name,
                tier=record.tier if tier is _KEEP else tier,
                language=record.language if language is _KEEP else language,
                contacts=record.contacts
                if contacts is _KEEP
                else _names(contacts, "contacts", command),
                actor=actor,
                at=at,
            )
            return record, record.entry()

        return self._until_saved(attempt, command)

    def deactivate_customer(
        self, customer_id: object, *, reason: str | None, actor: str, occurred_at: datetime | None
    ) -> CustomerEntry:
        """Record that a customer left the directory (see ``ServiceDesk.deactivate_customer``)."""
        command = "deactivate_customer"
        text = _name(customer_id, "customer_id", command).strip()
        self._writer.roles.check_curator(actor, command)
        at = self._clock.moment(occurred_at, command)

        def attempt() -> tuple[CustomerRecord | None, CustomerEntry]:
            record = self._record(text, command)
            if not record.active:
                return None, record.entry()  # nothing left to record
            record.deactivate(reason=reason, actor=actor, at=at)
            return record, record.entry()

        return self._until_saved(attempt, command)

    def customer(self, customer_id: object) -> CustomerEntry:
        """A customer's record (``NotInDirectoryError`` if none)."""
        text = _name(customer_id, "customer_id", "customer").strip()
        return self._record(text, "customer").entry()

    def customers(self, *, include_inactive: bool) -> list[CustomerEntry]:
        """Every registered customer, in the order registered."""
        topic = get_topic(CustomerRecord.Registered)
        with translated():
            ids = list(self._stores.trail.log.ids_after(0, topics=(topic,)))
        entries = []
        for record_id in ids:
            record = self._load(record_id, CustomerRecord)
            if record is not None and (include_inactive or record.active):
                entries.append(record.entry())
        return entries

    def customer_for_open(
        self, customer: Customer | Mapping[str, Any] | str
    ) -> Customer | Mapping[str, Any] | str:
        """What ``open`` records as its customer: the details not given, from the record.

        Only an active record gives them; a name a forgotten customer's record reads as
        ``ERASED`` is not copied. Anything not a customer is left to the event's validation.
        """
        if isinstance(customer, str):
            given: dict[str, Any] = {"id": customer}
        elif isinstance(customer, Customer):
            given = {name: getattr(customer, name) for name in customer.model_fields_set}
        elif isinstance(customer, Mapping):
            given = dict(customer)
        else:
            return customer
        customer_id = given.get("id")
        if not isinstance(customer_id, str) or not 0 < len(customer_id.strip()) <= MAX_NAME:
            return customer
        try:
            storable(customer_id)
        except ValueError:
            return customer  # the event's validation refuses it
        record = self._load(customer_record_id(customer_id.strip()), CustomerRecord)
        if record is None or not record.active:
            return customer
        known = {"name": record.name, "tier": record.tier, "language": record.language}
        if known["name"] == ERASED:
            known["name"] = None
        for field, value in known.items():
            if field not in given and value is not None:
                given[field] = value
        return given

    # -- teams --------------------------------------------------------------------------------

    def register_team(
        self,
        team: object,
        *,
        name: str | None,
        members: Sequence[str],
        actor: str,
        occurred_at: datetime | None,
    ) -> TeamEntry:
        """Record a new team (see ``ServiceDesk.register_team``)."""
        command = "register_team"
        text = _name(team, "team", command)
        people = _names(members, "members", command)
        self._writer.roles.check_curator(actor, command)
        at = self._clock.moment(occurred_at, command)

        def attempt() -> tuple[TeamDirectory, TeamEntry]:
            directory = self._load(TEAM_DIRECTORY_ID, TeamDirectory)
            if directory is None:
                directory = TeamDirectory.start(actor=actor, at=at)
            if canonical(text) in directory.teams:
                raise DirectoryConflictError(kind="team", entry_id=canonical(text), command=command)
            directory.register(team=text, name=name, members=people, actor=actor, at=at)
            return directory, directory.teams[canonical(text)]

        return self._until_saved(attempt, command)

    def update_team(
        self,
        team: object,
        *,
        name: str | None,
        members: Sequence[str] | None,
        actor: str,
        occurred_at: datetime | None,
    ) -> TeamEntry:
        """Record a team's new display name or members (see ``ServiceDesk.update_team``)."""
        command = "update_team"
        key = canonical(_name(team, "team", command))
        people = None if members is None else _names(members, "members", command)
        self._writer.roles.check_curator(actor, command)
        at = self._clock.moment(occurred_at, command)

        def attempt() -> tuple[TeamDirectory, TeamEntry]:
            directory = self._load(TEAM_DIRECTORY_ID, TeamDirectory)
            old = None if directory is None else directory.teams.get(key)
            if directory is None or old is None:
                raise NotInDirectoryError(kind="team", entry_id=key, command=command)
            directory.update(
                team=key,
                name=old.name if name is None else name,
                members=old.members if people is None else people,
                actor=actor,
                at=at,
            )
            return directory, directory.teams[key]

        return self._until_saved(attempt, command)

    def deactivate_team(
        self, team: object, *, actor: str, occurred_at: datetime | None
    ) -> TeamEntry:
        """Record that a team was closed (see ``ServiceDesk.deactivate_team``)."""
        command = "deactivate_team"
        key = canonical(_name(team, "team", command))
        self._writer.roles.check_curator(actor, command)
        at = self._clock.moment(occurred_at, command)

        def attempt() -> tuple[TeamDirectory | None, TeamEntry]:
            directory = self._load(TEAM_DIRECTORY_ID, TeamDirectory)
            old = None if directory is None else directory.teams.get(key)
            if directory is None or old is None:
                raise NotInDirectoryError(kind="team", entry_id=key, command=command)
            if not old.active:
                return None, old
            directory.deactivate(team=key, actor=actor, at=at)
            return directory, directory.teams[key]

        return self._until_saved(attempt, command)

    def teams(self, *, include_inactive: bool) -> list[TeamEntry]:
        """Every registered team, in the order registered."""
        directory = self._teams.current()
        teams = [] if directory is None else list(directory.teams.values())
        return [t for t in teams if include_inactive or t.active]

    def known_team(self, team: object) -> Any:  # noqa: ANN401 - a filter, checked later
        """A queue filter's team: a registered team's id (any case, blanks), else as given."""
        if not isinstance(team, str) or not team.strip() or len(team) > MAX_NAME:
            return team
        directory: TeamDirectory | None = self._teams.current()
        entry = None if directory is None else directory.teams.get(canonical(team))
        return team if entry is None else entry.id

    def known_agent(self, agent: object) -> Any:  # noqa: ANN401 - a filter, checked later
        """A queue filter's agent: a registered agent's id (any case, blanks), else as given."""
        if not isinstance(agent, str) or not agent.strip() or len(agent) > MAX_NAME:
            return agent
        directory: AgentDirectory | None = self._agents.current()
        entry = None if directory is None else directory.agents.get(canonical(agent))
        return agent if entry is None else entry.id

    def team_for(self, team: str, command: str) -> str:
        """The team a command records: the registered team's id, or ``team`` as given."""
        if not isinstance(team, str):
            return team  # the event's validation refuses it
        directory: TeamDirectory | None = self._teams.current()
        entry = None if directory is None else directory.teams.get(canonical(team))
        if entry is not None:
            if not entry.active:
                raise UnknownTeamError(team, command=command, detail="deactivated")
            return entry.id
        if self._ad_hoc is True or (self._ad_hoc is None and not (directory and directory.teams)):
            return team
        raise UnknownTeamError(team, command=command)

    # -- agents -------------------------------------------------------------------------------

    def register_agent(
        self,
        agent: object,
        *,
        name: str | None,
        teams: Sequence[str],
        actor: str,
        occurred_at: datetime | None,
    ) -> AgentEntry:
        """Record a new agent (see ``ServiceDesk.register_agent``)."""
        command = "register_agent"
        text = _name(agent, "agent", command)
        groups = _names(teams, "teams", command)
        self._writer.roles.check_curator(actor, command)
        at = self._clock.moment(occurred_at, command)

        def attempt() -> tuple[AgentDirectory, AgentEntry]:
            directory = self._load(AGENT_DIRECTORY_ID, AgentDirectory)
            if directory is None:
                directory = AgentDirectory.start(actor=actor, at=at)
            if canonical(text) in directory.agents:
                raise DirectoryConflictError(
                    kind="agent", entry_id=canonical(text), command=command
                )
            directory.register(agent=text, name=name, teams=groups, actor=actor, at=at)
            return directory, directory.agents[canonical(text)]

        return self._until_saved(attempt, command)

    def update_agent(
        self,
        agent: object,
        *,
        name: str | None,
        teams: Sequence[str] | None,
        actor: str,
        occurred_at: datetime | None,
    ) -> AgentEntry:
        """Record an agent's new name or teams (see ``ServiceDesk.update_agent``)."""
        command = "update_agent"
        key = canonical(_name(agent, "agent", command))
        groups = None if teams is None else _names(teams, "teams", command)
        self._writer.roles.check_curator(actor, command)
        at = self._clock.moment(occurred_at, command)

        def attempt() -> tuple[AgentDirectory, AgentEntry]:
            directory = self._load(AGENT_DIRECTORY_ID, AgentDirectory)
            old = None if directory is None else directory.agents.get(key)
            if directory is None or old is None:
                raise NotInDirectoryError(kind="agent", entry_id=key, command=command)
            directory.update(
                agent=key,
                name=old.name if name is None else name,
                teams=old.teams if groups is None else groups,
                actor=actor,
                at=at,
            )
            return directory, directory.agents[key]

        return self._until_saved(attempt, command)

    def deactivate_agent(
        self, agent: object, *, actor: str, occurred_at: datetime | None
    ) -> AgentEntry:
        """Record that an agent left (see ``ServiceDesk.deactivate_agent``)."""
        command = "deactivate_agent"
        key = canonical(_name(agent, "agent", command))
        self._writer.roles.check_curator(actor, command)
        at = self._clock.moment(occurred_at, command)

        def attempt() -> tuple[AgentDirectory | None, AgentEntry]:
            directory = self._load(AGENT_DIRECTORY_ID, AgentDirectory)
            old = None if directory is None else directory.agents.get(key)
            if directory is None or old is None:
                raise NotInDirectoryError(kind="agent", entry_id=key, command=command)
            if not old.active:
                return None, old
            directory.deactivate(agent=key, actor=actor, at=at)
            return directory, directory.agents[key]

        return self._until_saved(attempt, command)

    def agents(self, *, include_inactive: bool) -> list[AgentEntry]:
        """Every registered agent, in the order registered."""
        directory = self._agents.current()
        agents = [] if directory is None else list(directory.agents.values())
        return [a for a in agents if include_inactive or a.active]

    def agent_for(self, agent: str | None, command: str) -> str | None:
        """The agent a command records: the registered agent's id, or ``agent`` as given."""
        if not isinstance(agent, str):
            return agent  # None, or refused by the event's validation
        directory: AgentDirectory | None = self._agents.current()
        entry = None if directory is None else directory.agents.get(canonical(agent))
        if entry is not None:
            if not entry.active:
                raise UnknownAgentError(agent, command=command, detail="deactivated")
            return entry.id
        if self._ad_hoc is True or (self._ad_hoc is None and not (directory and directory.agents)):
            return agent
        raise UnknownAgentError(agent, command=command)

    # -- reading and saving records -----------------------------------------------------------

    def _record(self, customer_id: str, command: str) -> CustomerRecord:
        record = self._load(customer_record_id(customer_id), CustomerRecord)
        if record is None:
            raise NotInDirectoryError(kind="customer", entry_id=customer_id, command=command)
        return record

    def _load(self, aggregate_id: UUID, kind: type[_A]) -> _A | None:
        """A record as stored now (a fresh copy, which a command may change), or None."""
        self._stores.refresh_keys()
        try:
            with translated():
                found: object = self._stores.store.repository.get(
                    aggregate_id, projector_func=project
                )
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, kind) else None

    def _save_new(self, record: CustomerRecord, kind: str, entry_id: str, command: str) -> None:
        if self._writer.until_saved(lambda: (record, True), attempts=1) is None:
            # Another writer registered the same id between the read and the save.
            raise DirectoryConflictError(kind=kind, entry_id=entry_id, command=command)

    def _until_saved(self, attempt: Callable[[], tuple[Any, _T]], command: str) -> _T:
        """Save what ``attempt`` records, reading the registry again after each lost race.

        Registries are shared by every writer of the store, so races are likely when several
        register at once: the losers wait a jittered pause that grows, as ticket claims do.
        """
        for tried in range(_MAX_ATTEMPTS):
            result = self._writer.until_saved(attempt, attempts=1)
            if result is not None:
                return result
            time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** min(tried, 6))))  # noqa: S311 - jitter, not secrets
        msg = f"could not record '{command}': other writers kept changing the directory"
        raise StoreError(msg)
