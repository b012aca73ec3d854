"""Process-mining exports: XES (IEEE 1849) and OCEL 2.0 JSON, written natively and streamed.

Process-mining tools (pm4py, ProM, Disco, Celonis) read a log as cases made of events. Each
request is a case: its events come from the audit view (so erasure and quarantine are what
the audit log says), its case attributes from the work-queue view (the request as it stands).

Both formats are written without any library: XES as XML text, OCEL as JSON text, a piece at a
time. Requests are walked in the order they were opened, a batch of them at a time (their
``Opened`` rows, then every row of the batch in one indexed read), so memory holds one batch of
requests, never the log. OCEL lists objects before events: it walks the requests twice (two
passes over the views), both bounded by the log position the export started at, so the second
pass sees the requests and events the first one did.

The lifecycle mapping (``XES_LIFECYCLE``) puts servflow's holds on the XES standard lifecycle
model: the request's handling is suspended while it waits on the customer or is held, and
resumed when the customer responds or the hold ends; every other event is an atomic activity
that completes when it happens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import IO, Any
from uuid import UUID

import orjson

from servflow.desk.export import emitter
from servflow.domain.request import ServiceRequest
from servflow.persistence.views import ViewStore
from servflow.projections.audit import AuditFilter, AuditProjection, AuditRow
from servflow.projections.queues import QueueProjection, QueueRow

__all__ = ["XES_LIFECYCLE", "Case", "MiningLog", "Step", "request_event_types", "transition"]

#: The XES lifecycle transition of each event type; any other is ``complete``.
XES_LIFECYCLE: Mapping[str, str] = MappingProxyType(
    {
        "WaitingOnCustomer": "suspend",
        "Held": "suspend",
        "CustomerResponded": "resume",
        "Resumed": "resume",
    }
)
_COMPLETE = "complete"
#: Requests read in one batch (one read of their rows): what memory holds at most.
_BATCH = 100
#: Text written in one go: output is flushed once this many characters are pending.
_FLUSH = 64 * 1024
#: Characters XML 1.0 cannot hold even escaped (control characters, unpaired surrogates).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_REPLACEMENT = "\ufffd"
#: Markup, quotes, and whitespace an XML parser would turn into spaces in an attribute value.
_XML_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#9;",
    }
)


def request_event_types() -> tuple[str, ...]:
    """The names of a request's event types, sorted (``Opened``, ``Classified``...)."""
    found: set[str] = set()
    pending: list[type[object]] = [ServiceRequest.Event]
    while pending:
        cls = pending.pop()
        children = cls.__subclasses__()
        pending.extend(children)
        if not children and "<locals>" not in cls.__qualname__:
            found.add(cls.__name__)
    return tuple(sorted(found))


@dataclass(frozen=True, slots=True)
class Step:
    """One event of a case, as exported: the audit row and the team in charge after it."""

    row: AuditRow
    team: str | None


@dataclass(frozen=True, slots=True)
class Case:
    """One request as a process-mining case: its selected events and what describes it."""

    request_id: UUID
    ticket_code: str
    customer_id: str | None
    opened_at: datetime
    #: The ``Opened`` event's own fields (channel, kind, stage, external reference...).
    opening: Mapping[str, Any]
    #: The request as the work queue shows it now; None if the view has no row for it.
    queue: QueueRow | None
    steps: tuple[Step, ...]
    #: (attribute, when, value) of each change of kind, priority, team or agent, in order.
    changes: tuple[tuple[str, datetime, str | None], ...] = field(default=())


class MiningLog:
    """Reads the views as cases and writes them as XES or OCEL 2.0 (see the module)."""

    def __init__(
        self,
        views: ViewStore,
        audit: AuditProjection,
        queues: QueueProjection,
        *,
        batch_size: int = _BATCH,
    ) -> None:
        self._views = views
        self._audit = audit
        self._queues = queues
        self._batch = batch_size

    # -- reading ------------------------------------------------------------------------

    def last_position(self) -> int:
        """The position of the newest row of the audit view (0 if none): an export's bound."""
        with self._views.transaction(commit=False) as tx:
            records = tx.rows(f"SELECT MAX(position) FROM {self._audit.t(self._audit.table)}")  # noqa: S608
        value = records[0][0] if records else None
        return int(value) if value is not None else 0

    def cases(self, selected: AuditFilter, *, upto: int) -> Iterator[Case]:
        """The cases with events the filter selects, in opening order, a batch at a time.

        Rows after position ``upto`` are left out (and requests opened after it), so that
        two walks see the same log however many events arrive meanwhile.
        """
        after = 0
        while True:
            with self._views.transaction(commit=False) as tx:
                opened = self._audit.opened(
                    tx,
                    after=after,
                    limit=self._batch,
                    request_id=selected.request_id,
                    customer=selected.customer,
                )
                opened = [(position, key) for position, key in opened if position <= upto]
                ids = [key for _, key in opened]
                rows = self._audit.rows_of(tx, ids) if ids else []
                queue = self._queues.rows_of(tx, ids) if ids else {}
            by_request: dict[UUID, list[AuditRow]] = {}
            for row in rows:
                if row.position <= upto:
                    by_request.setdefault(row.request_id, []).append(row)
            for key in ids:
                case = _case(by_request.get(key, []), queue.get(key), selected)
                if case is not None:
                    yield case
            if len(opened) < self._batch:
                return
            after = opened[-1][0]

    def customers(self, selected: AuditFilter, upto: int) -> Iterator[str]:
        """The customers an OCEL export lists: every customer with a request, a page at a time.

        With a request or a customer asked for, only that request's or that customer.
        """
        if selected.request_id is not None or selected.customer is not None:
            seen = {case.customer_id for case in self.cases(selected, upto=upto)}
            yield from sorted(c for c in seen if c is not None)
            return
        after = ""
        while True:
            with self._views.transaction(commit=False) as tx:
                page = self._queues.customers(tx, after=after, limit=1000)
            yield from page
            if len(page) < 1000:  # noqa: PLR2004 - the page size just asked for
                return
            after = page[-1]

    # -- writing ------------------------------------------------------------------------

    def write_xes(self, fp: IO[bytes] | IO[str], selected: AuditFilter) -> int:
        """Write the cases as an XES log; returns the events written."""
        out = _Output(fp)
        out.write(_XES_HEAD)
        written = 0
        for case in self.cases(selected, upto=self.last_position()):
            out.write("\t<trace>\n")
            out.write(_xes_case(case))
            for step in case.steps:
                out.write(_xes_event(step))
                written += 1
            out.write("\t</trace>\n")
            out.flush_if_full()
        out.write("</log>\n")
        out.flush()
        return written

    def write_ocel(self, fp: IO[bytes] | IO[str], selected: AuditFilter) -> int:
        """Write the cases as OCEL 2.0 JSON; returns the events written."""
        upto = self.last_position()
        out = _Output(fp)
        out.write(f'{{"objectTypes":{_json(_OBJECT_TYPES)},"eventTypes":{_json(_event_types())}')
        out.write(',"objects":[')
        items = _Items(out)
        teams: set[str] = set()
        agents: set[str] = set()
        for case in self.cases(selected, upto=upto):
            items.add(_ocel_request(case))
            for step in case.steps:
                for object_id, _ in _named(step.row):
                    kind, _, name = object_id.partition(":")
                    (teams if kind == "team" else agents).add(name)
        for customer in self.customers(selected, upto):
            items.add({"id": f"customer:{customer}", "type": "customer"})
        for kind, names in (("team", teams), ("agent", agents)):
            for name in sorted(names):
                items.add({"id": f"{kind}:{name}", "type": kind})
        out.write('\n],"events":[')
        items = _Items(out)
        for case in self.cases(selected, upto=upto):
            for step in case.steps:
                items.add(_ocel_event(case, step))
        out.write("\n]}\n")
        out.flush()
        return items.count


# -- cases ----------------------------------------------------------------------------------


def _case(rows: list[AuditRow], queue: QueueRow | None, selected: AuditFilter) -> Case | None:
    """A request's case from all its rows: the selected ones become steps (None if none)."""
    if not rows or rows[0].event_type != "Opened":
        return None
    opened = rows[0]
    team: str | None = None
    agent: str | None = None
    current_kind: str | None = None
    steps: list[Step] = []
    changes: list[tuple[str, datetime, str | None]] = []
    for row in rows:
        new_team, new_agent = _holders_after(row, team, agent)
        if row.event_type in {"Opened", "Classified"}:
            if row.event_type == "Classified":
                changes.append(("priority", row.occurred_at, _text(row.data.get("priority"))))
            kind = _text(row.data.get("kind"))
            if kind is not None and kind != current_kind:
                changes.append(("kind", row.occurred_at, kind))
                current_kind = kind
        if new_team != team:
            changes.append(("team", row.occurred_at, new_team))
        if new_agent != agent:
            changes.append(("agent", row.occurred_at, new_agent))
        team, agent = new_team, new_agent
        if selected.matches(row):
            steps.append(Step(row=row, team=team))
    if not steps:
        return None
    return Case(
        request_id=opened.request_id,
        ticket_code=opened.ticket_code or str(opened.request_id),
        customer_id=opened.customer_id,
        opened_at=opened.occurred_at,
        opening=opened.data,
        queue=queue,
        steps=tuple(steps),
        changes=tuple(changes),
    )


def _holders_after(row: AuditRow, team: str | None, agent: str | None) -> tuple[str | None, ...]:
    """The team and agent in charge of a request after one of its events."""
    data = row.data
    if row.event_type == "Assigned":
        return _text(data.get("team")), _text(data.get("agent"))
    if row.event_type == "Unassigned":
        return _text(data.get("team")), None
    if row.event_type == "Completed" and data.get("outcome") == "transferred":
        return _text(data.get("to_team")), None
    return team, agent


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _case_attributes(case: Case) -> list[tuple[str, str, object]]:
    """(XES type, key, value) of a case's attributes, leaving out those it does not have."""
    opening, queue = case.opening, case.queue
    customer = opening.get("customer")
    tier = customer.get("tier") if isinstance(customer, dict) else None
    values: list[tuple[str, str, object]] = [
        ("string", "concept:name", case.ticket_code),
        ("string", "request_id", str(case.request_id)),
        ("string", "customer_id", case.customer_id),
        ("string", "channel", opening.get("channel")),
        ("string", "kind", queue.kind.value if queue else opening.get("kind")),
        ("string", "stage", opening.get("stage")),
        ("string", "tier", queue.tier.value if queue else tier),
        ("string", "external_ref", opening.get("external_ref")),
        ("string", "external_source", opening.get("external_source")),
        ("date", "opened_at", case.opened_at),
    ]
    if queue is not None:
        values += [
            ("string", "priority", queue.priority.value if queue.priority else None),
            ("string", "category", queue.category),
            ("string", "team", queue.team),
            ("string", "agent", queue.agent),
            ("string", "status", queue.status.value),
            ("string", "outcome", queue.outcome.value if queue.outcome else None),
            ("string", "hold_reason", queue.hold_reason),
            ("date", "updated_at", queue.updated_at),
            ("boolean", "quarantined", queue.quarantined),
        ]
    return [(kind, key, value) for kind, key, value in values if value is not None]


# -- XES ------------------------------------------------------------------------------------

_XES_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<!-- An event log of servflow, in XES (IEEE 1849): one trace per request. -->
<log xes.version="2.0" xmlns="http://www.xes-standard.org/">
\t<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
\t<extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
\t<extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
\t<extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>
\t<global scope="trace">
\t\t<string key="concept:name" value="__INVALID__"/>
\t\t<string key="request_id" value=""/>
\t\t<string key="customer_id" value=""/>
\t\t<string key="channel" value=""/>
\t\t<string key="kind" value=""/>
\t\t<string key="stage" value=""/>
\t\t<date key="opened_at" value="1970-01-01T00:00:00.000+00:00"/>
\t</global>
\t<global scope="event">
\t\t<string key="concept:name" value="__INVALID__"/>
\t\t<date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>
\t\t<string key="org:resource" value=""/>
\t\t<string key="lifecycle:transition" value="complete"/>
\t\t<int key="position" value="0"/>
\t\t<int key="version" value="0"/>
\t\t<date key="recorded_at" value="1970-01-01T00:00:00.000+00:00"/>
\t\t<string key="data" value="{}"/>
\t</global>
\t<classifier name="Activity" keys="concept:name"/>
\t<classifier name="Activity and transition" keys="concept:name lifecycle:transition"/>
\t<classifier name="Resource" keys="org:resource"/>
\t<string key="concept:name" value="servflow"/>
\t<string key="lifecycle:model" value="standard"/>
"""


def _xes_case(case: Case) -> str:
    return "".join(
        f"\t\t{_xes_attribute(kind, key, value)}\n" for kind, key, value in _case_attributes(case)
    )


def _xes_event(step: Step) -> str:
    row = step.row
    parts = [
        "\t\t<event>\n",
        f"\t\t\t{_xes_attribute('string', 'concept:name', row.event_type)}\n",
        f"\t\t\t{_xes_attribute('date', 'time:timestamp', row.occurred_at)}\n",
        f"\t\t\t{_xes_attribute('string', 'org:resource', row.actor)}\n",
    ]
    if step.team is not None:
        parts.append(f"\t\t\t{_xes_attribute('string', 'org:group', step.team)}\n")
    parts += [
        f"\t\t\t{_xes_attribute('string', 'lifecycle:transition', transition(row.event_type))}\n",
        f"\t\t\t{_xes_attribute('int', 'position', row.position)}\n",
        f"\t\t\t{_xes_attribute('int', 'version', row.version)}\n",
        f"\t\t\t{_xes_attribute('date', 'recorded_at', row.recorded_at)}\n",
        f"\t\t\t{_xes_attribute('string', 'data', _json(row.data))}\n",
        "\t\t</event>\n",
    ]
    return "".join(parts)


def transition(event_type: str) -> str:
    """The XES lifecycle transition of an event type (``XES_LIFECYCLE``, else ``complete``)."""
    return XES_LIFECYCLE.get(event_type, _COMPLETE)


def _xes_attribute(kind: str, key: str, value: object) -> str:
    """An XES attribute element; ``key`` is one of this module's names, never user text."""
    if isinstance(value, datetime):
        text = _iso(value)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return f'<{kind} key="{key}" value="{_escaped(text)}"/>'


def _escaped(text: str) -> str:
    """Text for a double-quoted XML attribute; characters XML cannot hold become U+FFFD."""
    # Always double quotes (never quoteattr's choice): readers that scan lines expect them.
    if _NOT_XML.search(text) is not None:
        text = _NOT_XML.sub(_REPLACEMENT, text)
    return text.translate(_XML_ESCAPES)


def _iso(moment: datetime) -> str:
    """ISO 8601 with its offset, to the millisecond (to the microsecond when it has them)."""
    spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
    return moment.isoformat(timespec=spec)


# -- OCEL 2.0 -------------------------------------------------------------------------------

_REQUEST_ATTRIBUTES = (
    ("request_id", "string"),
    ("customer_id", "string"),
    ("channel", "string"),
    ("kind", "string"),
    ("stage", "string"),
    ("tier", "string"),
    ("external_ref", "string"),
    ("external_source", "string"),
    ("opened_at", "time"),
    ("priority", "string"),
    ("category", "string"),
    ("team", "string"),
    ("agent", "string"),
    ("status", "string"),
    ("outcome", "string"),
    ("hold_reason", "string"),
    ("updated_at", "time"),
    ("quarantined", "boolean"),
)
_OBJECT_TYPES = [
    {
        "name": "request",
        "attributes": [{"name": name, "type": kind} for name, kind in _REQUEST_ATTRIBUTES],
    },
    {"name": "customer", "attributes": []},
    {"name": "team", "attributes": []},
    {"name": "agent", "attributes": []},
]
_EVENT_ATTRIBUTES = (
    ("actor", "string"),
    ("lifecycle", "string"),
    ("position", "integer"),
    ("version", "integer"),
    ("recorded_at", "time"),
    ("data", "string"),
)
#: Attributes of a request that change as its events happen (``Case.changes``).
_CHANGING = frozenset({"kind", "priority", "team", "agent"})
#: Attributes of a request set once, when it is opened; the others are as of its last event.
_AT_OPENING = frozenset(
    {"request_id", "customer_id", "channel", "stage", "tier", "external_ref", "external_source"}
)


def _event_types() -> list[dict[str, object]]:
    attributes = [{"name": name, "type": kind} for name, kind in _EVENT_ATTRIBUTES]
    return [{"name": name, "attributes": attributes} for name in request_event_types()]


def _ocel_request(case: Case) -> dict[str, object]:
    """A request as an OCEL object: its attributes when they took each value."""
    attributes: list[dict[str, object]] = []
    updated = case.queue.updated_at if case.queue is not None else case.opened_at
    for _, key, value in _case_attributes(case):
        if key == "concept:name" or key in _CHANGING:
            continue
        when = case.opened_at if key in _AT_OPENING or key == "opened_at" else updated
        attributes.append(_ocel_value(key, when, value))
    attributes.extend(
        _ocel_value(key, when, value) for key, when, value in case.changes if value is not None
    )
    found: dict[str, object] = {
        "id": case.ticket_code,
        "type": "request",
        "attributes": attributes,
    }
    if case.customer_id is not None:
        found["relationships"] = [
            {"objectId": f"customer:{case.customer_id}", "qualifier": "customer"}
        ]
    return found


def _ocel_value(name: str, when: datetime, value: object) -> dict[str, object]:
    if isinstance(value, datetime):
        value = _iso(value)
    return {"name": name, "time": _iso(when), "value": value}


def _ocel_event(case: Case, step: Step) -> dict[str, object]:
    row = step.row
    relationships = [{"objectId": case.ticket_code, "qualifier": "request"}]
    relationships += [{"objectId": oid, "qualifier": q} for oid, q in _named(row)]
    if case.customer_id is not None:
        customer = f"customer:{case.customer_id}"
        if row.event_type == "Opened":
            relationships.append({"objectId": customer, "qualifier": "customer"})
        if row.actor == customer:
            relationships.append({"objectId": customer, "qualifier": "actor"})
    return {
        "id": f"event:{row.position}",
        "type": row.event_type,
        "time": _iso(row.occurred_at),
        "attributes": [
            {"name": "actor", "value": row.actor},
            {"name": "lifecycle", "value": transition(row.event_type)},
            {"name": "position", "value": row.position},
            {"name": "version", "value": row.version},
            {"name": "recorded_at", "value": _iso(row.recorded_at)},
            {"name": "data", "value": _json(row.data)},
        ],
        "relationships": relationships,
    }


def _named(row: AuditRow) -> list[tuple[str, str]]:
    """(object id, qualifier) of the teams and agents an event names, and its agent actor."""
    data = row.data
    found: list[tuple[str, str]] = []
    if row.event_type in {"Assigned", "Unassigned"} and data.get("team") is not None:
        found.append((f"team:{data['team']}", "team"))
    if row.event_type == "Assigned" and data.get("agent") is not None:
        found.append((f"agent:{data['agent']}", "agent"))
    if row.event_type == "Completed" and data.get("to_team") is not None:
        found.append((f"team:{data['to_team']}", "to_team"))
    if row.actor.startswith("agent:") and len(row.actor) > len("agent:"):
        found.append((row.actor, "actor"))
    return found


# -- output ---------------------------------------------------------------------------------


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


class _Output:
    """Text written to a file in pieces of about ``_FLUSH`` characters."""

    def __init__(self, fp: IO[bytes] | IO[str]) -> None:
        self._emit: Callable[[str], None] = emitter(fp)
        self._pending: list[str] = []
        self._size = 0

    def write(self, text: str) -> None:
        self._pending.append(text)
        self._size += len(text)

    def flush_if_full(self) -> None:
        if self._size >= _FLUSH:
            self.flush()

    def flush(self) -> None:
        self._emit("".join(self._pending))
        self._pending.clear()
        self._size = 0


class _Items:
    """Items of a JSON array written one by one, separated by commas."""

    def __init__(self, out: _Output) -> None:
        self._out = out
        self.count = 0

    def add(self, value: object) -> None:
        self._out.write(("," if self.count else "") + "\n" + _json(value))
        self.count += 1
        self._out.flush_if_full()
