"""The declarative mapping of an import: where each field is in the source, what each state becomes.

A mapping is data (a TOML, JSON or YAML file, or a mapping in Python), validated as a whole
before a row is read; every mistake is a ``ConfigurationError`` naming the key. The BPI
Challenge 2013 mapping shipped with servflow (``examples/import/bpi2013.toml``) shows every key.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from servflow.domain.external import SourceName
from servflow.domain.values import MAX_NAME, Actor, Channel, Kind, Priority, Stage
from servflow.errors import MAX_SHOWN, ConfigurationError, shown
from servflow.settings import read_settings

__all__ = ["MAX_PATH", "STEPS", "ImportMapping", "Step", "actor_name", "load_mapping"]

#: What a source state may become. ``queue``: back to the row's team's queue (reopened first
#: if done); ``assign``: the row's team and resource take it (resumed first if on hold);
#: ``work``: as ``assign``, and an action when nothing else changed; ``act``: an action;
#: ``hold:<reason>``: a hold (``hold:customer`` is waiting on the customer); ``resume``;
#: ``complete``: resolved; ``close``: closed by ``system`` (completed first if need be);
#: ``cancel``; ``ignore``: nothing (counted).
STEPS = ("queue", "assign", "work", "act", "resume", "complete", "close", "cancel", "ignore")
_HOLD = re.compile(r"^hold:([a-z][a-z0-9_]{0,39})$")


def _step(value: str) -> str:
    text = value.strip().lower()
    if text in STEPS or _HOLD.fullmatch(text):
        return text
    msg = f"must be one of {', '.join(STEPS)} or hold:<reason>, not {shown(value)}"
    raise ValueError(msg)


#: A step of ``[states]``: one of ``STEPS`` or ``hold:<reason>``.
Step = Annotated[str, Field(min_length=1, max_length=50), AfterValidator(_step)]

_Column = Annotated[str, Field(min_length=1, max_length=200)]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceSettings(_Part):
    """``[source]``: the source system, the file's format and how its times are read."""

    #: The source system: requests are named ``ext:<name>:<case id>``.
    name: SourceName
    #: ``csv`` (plain or gzip) or ``xes`` (plain or gzip); None: from the file name.
    format: Literal["csv", "xes"] | None = None
    #: IANA time zone of times written without an offset (None: such times are refused).
    timezone: str | None = None
    #: How times are written: a ``strptime`` format, or None for ISO 8601.
    time_format: str | None = None
    encoding: str = "utf-8-sig"
    delimiter: str = Field(",", min_length=1, max_length=1)
    #: What a state ``[states]`` does not name becomes: ``refuse`` (reported) or ``ignore``.
    unknown_states: Literal["refuse", "ignore"] = "refuse"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                msg = f"unknown IANA time zone {shown(value)}"
                raise ValueError(msg) from None
        return value


class Fields(_Part):
    """``[fields]``: the column (CSV) or attribute (XES) that holds each field."""

    #: The case id: the request's external reference.
    case: _Column
    time: _Column
    #: The state: one column, or several joined with `` / `` (``["Status", "Sub Status"]``).
    state: _Column | tuple[_Column, ...]
    #: Who did it: a name turned into an actor (``[actors] resource_kind``).
    resource: _Column | None = None
    team: _Column | None = None
    #: The priority at opening (values mapped by ``[priority]``).
    priority: _Column | None = None

    @property
    def states(self) -> tuple[str, ...]:
        """The state's columns."""
        return (self.state,) if isinstance(self.state, str) else self.state


class Actors(_Part):
    """``[actors]``: who records what the source does not attribute, and how names become actors."""

    importer: Actor = "integration:import"
    resource_kind: Literal["agent", "supervisor", "integration"] = "agent"


class Defaults(_Part):
    """``[defaults]``: the opening's fields the source lacks; ``{column}`` takes a row's value."""

    customer: str = Field("imported", min_length=1, max_length=200)
    channel: Channel = Channel.WEB
    kind: Kind = Kind.REPORT
    stage: Stage = Stage.POST_SALE
    symptom: str = Field("Imported case {case}", min_length=1, max_length=2000)
    priority: Priority = Priority.NORMAL
    #: The team of rows that name none (None: such rows keep the request's team).
    team: str | None = Field(None, min_length=1, max_length=MAX_NAME)


class ImportMapping(_Part):
    """How one source's rows become servflow commands (``desk.import_events``)."""

    source: SourceSettings
    fields: Fields
    actors: Actors = Actors()
    defaults: Defaults = Defaults()
    #: Source priority value -> servflow priority (others take ``defaults.priority``).
    priority: dict[str, Priority] = Field(default_factory=dict)
    #: Source state (columns joined with `` / ``) -> step (``STEPS`` or ``hold:<reason>``).
    states: dict[str, Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _templates(self) -> Self:
        for name in ("customer", "symptom"):
            template = getattr(self.defaults, name)
            try:
                template.format_map(_Probe())
            except (ValueError, IndexError, AttributeError) as exc:
                msg = f"defaults.{name} {shown(template)} is not a template: {exc}"
                raise ValueError(msg) from None
        return self

    @classmethod
    def of(
        cls, data: Mapping[str, Any] | ImportMapping, *, where: str = "mapping"
    ) -> ImportMapping:
        """Validate a mapping's data, or refuse it (``ConfigurationError`` naming each key)."""
        if isinstance(data, ImportMapping):
            return data
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            found = error.errors(include_url=False)
            problems = "; ".join(
                f"{'.'.join(_part(p) for p in d['loc']) or 'mapping'}: {_said(d['msg'])}"
                for d in found[:_LISTED]
            )
            if len(found) > _LISTED:
                problems += f"; and {len(found) - _LISTED:,} more"
            msg = f"{where} is not a valid import mapping: {problems}"
            raise ConfigurationError(msg) from None

    def step_of(self, state: str) -> str | None:
        """What a source state becomes (None: unknown, and the mapping refuses unknown states)."""
        step = self.states.get(state)
        if step is None and self.source.unknown_states == "ignore":
            return "ignore"
        return step

    def priority_of(self, value: str | None) -> Priority:
        """The servflow priority of a source value."""
        if value is None:
            return self.defaults.priority
        return self.priority.get(value.strip(), self.defaults.priority)


#: The longest path of a file an import reads or writes (the system's own limit is 4,096).
MAX_PATH = 1000
#: The most problems a refused mapping's message lists.
_LISTED = 10


def _said(message: str) -> str:
    """A problem as pydantic words it, cut short (it may quote a long value)."""
    return message if len(message) <= _LONGEST else message[:_LONGEST] + "..."


#: The most of one problem's wording a refused mapping's message keeps.
_LONGEST = 200


def _part(part: object) -> str:
    text = str(part)
    return text if len(text) <= MAX_SHOWN else shown(text)


class _Probe(dict[str, str]):
    """Any key a template names: checking a template needs no row."""

    def __missing__(self, key: str) -> str:
        return key


def load_mapping(path: str | Path) -> ImportMapping:
    """An import mapping from a ``.toml``, ``.json`` or ``.yaml`` file (``ConfigurationError``)."""
    if len(str(path)) > MAX_PATH:
        msg = f"import mapping file {shown(str(path))}: the path is too long"
        raise ConfigurationError(msg)
    file = Path(path)
    data = read_settings(file, "import mapping")
    if not isinstance(data, Mapping):
        msg = f"import mapping file {file} must hold a table of settings"
        raise ConfigurationError(msg)
    return ImportMapping.of(data, where=f"import mapping file {file}")


_NOT_NAME = re.compile(r"[\s:]+")


def actor_name(name: str) -> str | None:
    """A source's person or system name as the name part of an actor (None: no name).

    ``"Anne Claire "`` is ``anne-claire``: blanks and ``:`` become ``-``, letters lower case,
    at most ``MAX_NAME`` characters.
    """
    text = unicodedata.normalize("NFKC", name).strip().lower()
    text = _NOT_NAME.sub("-", text).strip("-")
    return text[:MAX_NAME] or None
