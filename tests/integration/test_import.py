"""Importing another system's history: the BPI 2013 sample, bad data, re-runs, XES, the CLI.

``tests/fixtures/bpi2013-sample.csv.gz`` is every 25th request of the BPI Challenge 2013
incident log of Volvo IT (303 requests, 2,634 rows; 4TU.ResearchData, CC BY 4.0). The whole log
goes through ``servflow import`` in ``test_import_bpi.py``.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from test_import_fixture import MAPPING as FIXTURE_MAPPING

from conftest import DeskFactory, view_rows
from servflow import (
    ConfigurationError,
    ImportMapping,
    ImportOutcome,
    ImportSourceError,
    ServiceDesk,
    Status,
    load_mapping,
)
from servflow.desk.importing import problems_of

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "fixtures" / "bpi2013-sample.csv.gz"
BPI_MAPPING = ROOT / "examples" / "import" / "bpi2013.toml"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
HEADER = ("case", "time", "status", "owner", "team")

#: A small mapping for hand-written files: one state column, owners, teams (the stored
#: fixture's, and a few more states).
SMALL: dict[str, object] = {
    **FIXTURE_MAPPING,
    "states": {
        **FIXTURE_MAPPING["states"],  # type: ignore[dict-item]
        "vendor": "hold:vendor",
        "withdrawn": "cancel",
        "noise": "ignore",
    },
}


def head(desk: ServiceDesk) -> int:
    """The position of the newest event in the store's log."""
    return max(status.head for status in desk.projection_status())


def accounted(outcome: ImportOutcome) -> int:
    """The rows an outcome accounts for, each in exactly one way."""
    row_problems = sum(
        n
        for reason, n in outcome.problems.items()
        if reason not in {"changed_in_source", "not_imported", "conflict"}
    )
    return (
        outcome.rows_recorded
        + sum(outcome.unchanged_rows.values())
        + row_problems
        + outcome.rows_already
        + outcome.rows_left_out
    )


def write_csv(path: Path, rows: Sequence[Sequence[str]], *, header: Sequence[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def histories(desk: ServiceDesk) -> dict[str, list[tuple[str, datetime, str]]]:
    """Each imported request's events (type, time, actor), by external reference."""
    found: dict[str, list[tuple[str, datetime, str]]] = {}
    for row in desk.queue(status=list(Status), limit=1000).rows:
        request = desk.get(row.request_id)
        assert request.external is not None
        found[str(request.external)] = [
            (entry.event_type, entry.occurred_at, entry.actor)
            for entry in desk.history(row.request_id)
            if entry.event_type != "HistoryImported"
        ]
    return found


# -- the BPI sample, on every store -----------------------------------------------------------


def test_the_bpi_sample_imports_every_case_whole_and_a_second_run_appends_nothing(
    make_desk: DeskFactory, tmp_path: Path
) -> None:
    desk = make_desk(clock=lambda: NOW)
    outcome = desk.import_events(SAMPLE, BPI_MAPPING, report=tmp_path / "report.jsonl")
    assert (outcome.rows, outcome.cases, outcome.opened) == (2_634, 303, 303)
    assert outcome.clean == 303
    assert outcome.problems == outcome.refusals == {}
    assert accounted(outcome) == outcome.rows
    # Every event the outcome counts is in the log: the cases' commands and one mark each,
    # beside the claim of each case's external reference.
    assert outcome.events == sum(outcome.commands.values()) + outcome.opened
    assert head(desk) == outcome.events + outcome.opened
    assert (tmp_path / "report.jsonl").read_text() == ""
    # Every kind of step was needed, and the closures kept the source's own time.
    for command in ("hold", "resume", "unassign", "close", "reopen", "act"):
        assert outcome.commands[command] > 0, command
    closed = desk.queue(status="closed", limit=500).rows
    assert closed
    assert all(row.updated_at < datetime(2013, 1, 1, tzinfo=UTC) for row in closed)
    # The views caught up after the rows were written, and equal a rebuild.
    assert desk.queue(status=list(Status), limit=1000).total == 303
    before = view_rows(desk)
    desk.rebuild_projections()
    assert view_rows(desk) == before

    again = desk.import_events(SAMPLE, BPI_MAPPING)
    assert (again.opened, again.resumed, again.unchanged, again.events) == (0, 0, 303, 0)
    assert again.rows_already == 2_634
    assert accounted(again) == again.rows
    assert head(desk) == outcome.events + outcome.opened

    # Breach listings leave imported history out unless asked, and still list live work.
    assert desk.breaches(at=NOW) == desk.at_risk(at=NOW) == []
    imported = desk.breaches(at=NOW, include_imported=True)
    assert imported
    assert {a.policy for a in imported} == {"standard"}
    live = desk.open(
        customer="acme",
        channel="email",
        kind="report",
        stage="sale",
        symptom="Down",
        actor="agent:ana",
        occurred_at=NOW - timedelta(days=30),
    )
    assert [a.ticket_code for a in desk.breaches(at=NOW)] == [live.ticket_code] * 2
    # Queues show imported requests unless asked for the live work only; as of a past
    # instant too (the same fold).
    assert [r.ticket_code for r in desk.queue(include_imported=False).rows] == [live.ticket_code]
    everything = desk.queue(limit=500).rows
    assert {r.imported for r in everything} == {True, False}
    past = datetime(2012, 6, 1, tzinfo=UTC)
    assert desk.queue_as_of(past, include_imported=False, limit=5).rows == ()
    assert all(r.imported for r in desk.queue_as_of(past, limit=5).rows)

    # Imported requests say so: named by their case, with the rows they took.
    request = desk.get("ext:bpi:1-364285768")
    assert request.imported_rows > 0
    assert request.external_source == "bpi"
    assert request.opened_at.year == 2010
    assert request.recorded_at == NOW


def test_a_dry_run_counts_what_an_import_would_do_and_writes_nothing(tmp_path: Path) -> None:
    with ServiceDesk.sqlite(str(tmp_path / "s.db"), clock=lambda: NOW) as desk:
        dry = desk.import_events(SAMPLE, BPI_MAPPING, dry_run=True)
        assert dry.dry_run
        assert dry.opened == 303
        assert head(desk) == 0
        assert desk.queue(status=list(Status), limit=10).total == 0
        real = desk.import_events(SAMPLE, BPI_MAPPING)
        assert real.model_dump(exclude={"dry_run", "seconds", "views_seconds"}) == dry.model_dump(
            exclude={"dry_run", "seconds", "views_seconds"}
        )
        # The ticket codes a dry run looked at were not taken: the first request is SR-000001.
        assert desk.get("SR-000001").external_ref is not None


# -- bad data is reported, never dropped or fixed -----------------------------------------------


def test_rows_that_cannot_be_imported_are_reported_by_case_and_reason(
    make_desk: DeskFactory, tmp_path: Path
) -> None:
    desk = make_desk(clock=lambda: NOW)
    desk.register_team("field", name="Field service", actor="supervisor:sue")
    rows = [
        ("A1", "2024-05-06T09:00:00+02:00", "new", "", "field"),
        ("A1", "2024-05-06T09:30:00+02:00", "working", "Ana Belén", "field"),
        ("A1", "2024-05-06T09:30:00+02:00", "working", "Ana Belén", "field"),  # duplicate
        ("A1", "2024-05-06T09:10:00+02:00", "waiting", "Ana Belén", "field"),  # backwards
        ("A1", "yesterday", "resolved", "Ana Belén", "field"),  # unreadable time
        ("A1", "2024-05-06T11:00:00+02:00", "escalated", "Ana Belén", "field"),  # unknown state
        ("A1", "2024-05-06T12:00:00+02:00", "resolved", "Ana Belén", "field"),
        ("", "2024-05-06T12:00:00+02:00", "resolved", "x", "field"),  # no case
        ("B2", "2024-05-07 08:00:00", "new", "", "field"),  # naive: Madrid time
        ("B2", "2024-05-07T09:00:00+02:00", "working", "Luis", "nowhere"),  # unknown team
        ("B2", "2024-05-07T10:00:00+02:00", "closed", "Luis", "field"),
    ]
    source = write_csv(tmp_path / "old.csv", rows)
    report = tmp_path / "report.jsonl"
    outcome = desk.import_events(source, SMALL, report=report)
    assert outcome.problems == {
        "duplicate": 1,
        "time_backwards": 1,
        "unreadable": 2,
        "unknown_state": 1,
        "refused": 1,
    }
    assert outcome.refusals == {"unknown_team assign from classified": 1}
    assert (outcome.cases, outcome.opened, outcome.clean) == (2, 2, 0)
    assert accounted(outcome) == outcome.rows == len(rows)
    problems = list(problems_of(report.read_text().splitlines()))
    assert sorted((p.case or "", p.row, p.reason) for p in problems) == sorted(
        [
            ("A1", 3, "duplicate"),
            ("A1", 4, "time_backwards"),
            ("A1", 5, "unreadable"),
            ("A1", 6, "unknown_state"),
            ("", 8, "unreadable"),
            ("B2", 10, "refused"),
        ]
    )
    refused = next(p for p in problems if p.reason == "refused")
    assert (refused.code, refused.command, refused.state) == ("unknown_team", "assign", "working")
    # What was taken: the times as the source gave them (a naive one in the source's zone),
    # resources as actors, the last row's closure by ``system``.
    a1 = desk.get("ext:old:A1")
    assert a1.status is Status.COMPLETED
    assert a1.agent == "ana-belén"
    assert a1.completed_at == datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
    b2 = desk.get("ext:old:B2")
    assert b2.opened_at == datetime(2024, 5, 7, 6, 0, tzinfo=UTC)
    assert b2.status is Status.CLOSED
    assert [e.actor for e in desk.history(b2)][-2:] == ["system", "integration:old"]
    # A re-run appends nothing and reports again only the row no case can remember (it
    # names none); the rest were taken, reported, into their case's mark.
    again = desk.import_events(source, SMALL, report=report)
    assert again.events == 0
    assert again.problems == {"unreadable": 1}
    assert [p.row for p in problems_of(report.read_text().splitlines())] == [8]


def test_a_case_changed_in_the_source_or_a_live_request_s_reference_is_left_out(
    make_desk: DeskFactory, tmp_path: Path
) -> None:
    desk = make_desk(clock=lambda: NOW)
    rows = [
        ("C1", "2024-01-02T09:00:00Z", "new", "", "desk"),
        ("C1", "2024-01-02T10:00:00Z", "working", "eva", "desk"),
        ("C2", "2024-01-02T09:00:00Z", "new", "", "desk"),
    ]
    desk.import_events(write_csv(tmp_path / "one.csv", rows), SMALL)
    desk.open(
        customer="acme",
        channel="email",
        kind="report",
        stage="post_sale",
        symptom="Live",
        actor="agent:ana",
        external_ref="C3",
        external_source="old",
    )
    changed = [
        ("C1", "2024-01-02T09:00:00Z", "new", "", "desk"),
        ("C1", "2024-01-02T10:00:00Z", "working", "eve", "desk"),  # rewritten in the source
        ("C2", "2024-01-02T09:00:00Z", "new", "", "desk"),
        ("C2", "2024-01-02T11:00:00Z", "working", "eva", "desk"),  # new: appended
        ("C3", "2024-01-02T09:00:00Z", "new", "", "desk"),
    ]
    report = tmp_path / "report.jsonl"
    outcome = desk.import_events(write_csv(tmp_path / "two.csv", changed), SMALL, report=report)
    assert outcome.problems == {"changed_in_source": 1, "not_imported": 1}
    assert (outcome.resumed, outcome.skipped, outcome.rows_left_out) == (1, 2, 3)
    assert accounted(outcome) == outcome.rows
    assert {(p.case, p.reason) for p in problems_of(report.read_text().splitlines())} == {
        ("C1", "changed_in_source"),
        ("C3", "not_imported"),
    }
    assert desk.get("ext:old:C1").agent == "eva"
    assert desk.get("ext:old:C2").agent == "eva"
    assert desk.get("ext:old:C2").imported_rows == 2


# -- resuming --------------------------------------------------------------------------------


class StoppedError(Exception):
    """Raised from the progress callback: the import stops there, as a killed one would."""


def test_an_interrupted_import_resumes_and_ends_as_one_that_was_not(tmp_path: Path) -> None:
    with ServiceDesk(clock=lambda: NOW) as whole:
        whole.import_events(SAMPLE, BPI_MAPPING)
        expected = histories(whole)

    calls = 0

    def stop_at_the_second_report(_done: int, _total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise StoppedError

    with ServiceDesk.sqlite(str(tmp_path / "r.db"), clock=lambda: NOW) as desk:
        with pytest.raises(StoppedError):
            desk.import_events(SAMPLE, BPI_MAPPING, progress=stop_at_the_second_report)
        written = len(desk.queue(status=list(Status), limit=1000).rows)
        assert 0 < written < 303
        rest = desk.import_events(SAMPLE, BPI_MAPPING)
        assert (rest.unchanged, rest.opened) == (written, 303 - written)
        assert histories(desk) == expected


def test_a_longer_file_appends_only_its_new_rows(tmp_path: Path) -> None:
    with gzip.open(SAMPLE, "rt", encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    header, body = lines[0], lines[1:]
    # The first half of each case's rows, then the whole file.
    half: list[list[str]] = []
    seen: dict[str, int] = {}
    total = Counter(row[0] for row in body)
    for row in body:
        seen[row[0]] = seen.get(row[0], 0) + 1
        if seen[row[0]] <= total[row[0]] // 2:
            half.append(row)
    first = write_csv(tmp_path / "half.csv", half, header=header)
    with ServiceDesk(clock=lambda: NOW) as whole:
        whole.import_events(SAMPLE, BPI_MAPPING)
        expected = histories(whole)
    with ServiceDesk(clock=lambda: NOW) as desk:
        desk.import_events(first, BPI_MAPPING)
        outcome = desk.import_events(SAMPLE, BPI_MAPPING)
        assert outcome.rows_already == len(half)
        assert outcome.resumed + outcome.opened == 303
        # Each request resumed where its first half left it and ends as a one-shot import's.
        assert histories(desk) == expected


# -- XES ---------------------------------------------------------------------------------------


def xes_of(csv_path: Path) -> str:
    """The BPI sample as XES, the way the challenge published it: a trace per request,
    ``concept:name`` the status, ``lifecycle:transition`` the sub-status."""
    with gzip.open(csv_path, "rt", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = io.StringIO()
    out.write(
        '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0" xmlns="http://www.xes-standard.org/">\n'
    )
    out.write(
        '<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>\n'
    )
    out.write('<global scope="event"><string key="source" value="bpi2013"/></global>\n')
    case = None
    for row in rows:
        if row["SR Number"] != case:
            if case is not None:
                out.write("</trace>\n")
            case = row["SR Number"]
            out.write(f'<trace><string key="concept:name" value={quoteattr(case)}/>\n')
            out.write(f'<string key="Product" value={quoteattr(row["Product"])}/>\n')
            out.write(f'<string key="Country" value={quoteattr(row["Country"])}/>\n')
        out.write("<event>")
        out.write(f'<string key="concept:name" value={quoteattr(row["Status"])}/>')
        out.write(f'<string key="lifecycle:transition" value={quoteattr(row["Sub Status"])}/>')
        out.write(f'<date key="time:timestamp" value={quoteattr(row["Change Date+Time"])}/>')
        out.write(f'<string key="org:resource" value={quoteattr(row["Owner First Name"])}/>')
        if row["Involved ST"]:
            out.write(f'<string key="org:group" value={quoteattr(row["Involved ST"])}/>')
        out.write(f'<string key="impact" value={quoteattr(row["SR Latest Impact"])}/>')
        out.write("</event>\n")
    out.write("</trace>\n</log>\n")
    return out.getvalue()


def test_an_xes_log_imports_as_its_csv_twin_does(tmp_path: Path) -> None:
    xes = tmp_path / "bpi.xes.gz"
    xes.write_bytes(gzip.compress(xes_of(SAMPLE).encode()))
    data = load_mapping(BPI_MAPPING).model_dump(mode="json")
    data["source"]["format"] = None
    data["fields"] = {
        # The trace's concept:name is the case; the event's own, the status.
        "case": "case:concept:name",
        "time": "time:timestamp",
        "state": ["concept:name", "lifecycle:transition"],
        "resource": "org:resource",
        "team": "org:group",
        "priority": "impact",
    }
    with ServiceDesk(clock=lambda: NOW) as desk:
        from_csv = desk.import_events(SAMPLE, BPI_MAPPING)
        expected = histories(desk)
    with ServiceDesk(clock=lambda: NOW) as desk:
        from_xes = desk.import_events(xes, data)
        assert histories(desk) == expected
    same = {"rows", "cases", "opened", "clean", "events", "commands", "unchanged_rows"}
    assert from_xes.model_dump(include=same) == from_csv.model_dump(include=same)
    assert from_csv.clean == 303


# -- mappings and files that cannot be used ------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"states": {"new": "escalate"}}, "states.new"),
        ({"source": {"name": "old", "timezone": "Mars/Olympus"}}, "unknown IANA time zone"),
        ({"states": {}}, "states"),
        ({"fields": {"case": "case"}}, "fields.time"),
        ({"defaults": {"symptom": "Case {case"}}, "not a template"),
        ({"actors": {"importer": "robot"}}, "actors.importer"),
    ],
)
def test_a_mapping_that_cannot_be_used_is_refused_naming_the_key(
    change: dict[str, object], says: str
) -> None:
    data = {**SMALL, **change}
    with pytest.raises(ConfigurationError, match=says.replace(".", r"\.")):
        ImportMapping.of(data)


def test_a_file_that_cannot_be_read_is_refused_and_nothing_is_imported(tmp_path: Path) -> None:
    with ServiceDesk(clock=lambda: NOW) as desk:
        with pytest.raises(ImportSourceError, match="cannot read"):
            desk.import_events(tmp_path / "missing.csv", SMALL)
        wrong = write_csv(
            tmp_path / "wrong.csv",
            [("A", "2024-01-01T00:00:00Z", "new")],
            header=("id", "time", "status"),
        )
        with pytest.raises(ImportSourceError, match=r"'case' \(fields\.case\)"):
            desk.import_events(wrong, SMALL)
        broken = tmp_path / "broken.xes"
        broken.write_text("<log><trace><event></trace></log>")
        with pytest.raises(ImportSourceError, match="not XES"):
            desk.import_events(broken, SMALL)
        bomb = tmp_path / "bomb.xes"
        bomb.write_text('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa">]><log>&a;</log>')
        with pytest.raises(ImportSourceError, match="not XES"):
            desk.import_events(bomb, SMALL)
        with pytest.raises(ConfigurationError):
            desk.import_events(SAMPLE, tmp_path / "no-mapping.toml")
        assert head(desk) == 0
