"""Public holiday calendars from the ``holidays`` package, written into the calendar version."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from servflow import Calendar, ConfigurationError, SlaPolicy, holidays_for
from servflow.demo.hours import MADRID_HOLIDAYS

WEEK = {day: [("09:00", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri")}


def test_madrid_2026_has_the_regional_days_a_hand_typed_calendar_missed() -> None:
    # The demo's first calendar listed national days only and missed Madrid's Monday holidays
    # of 2 November (All Saints' moved) and 7 December (Constitution Day moved).
    days = holidays_for("ES", subdiv="MD", years=2026)
    assert {date(2026, 11, 2), date(2026, 12, 7), date(2026, 5, 2)} <= days
    assert date(2026, 10, 12) in days
    assert all(day.year == 2026 for day in days)
    national = holidays_for("ES", years=2026)
    assert date(2026, 5, 2) not in national  # Madrid Day is Madrid's


def test_years_may_be_a_range_or_a_list_and_each_year_is_its_own() -> None:
    both = holidays_for("es", subdiv="md", years=range(2026, 2028))
    assert both == holidays_for("ES", subdiv="MD", years=[2027, 2026, 2026])
    assert both == holidays_for("ES", subdiv="MD", years=2026) | holidays_for(
        "ES", subdiv="MD", years=2027
    )


def test_the_demo_calendar_holds_what_the_package_lists() -> None:
    assert holidays_for("ES", subdiv="MD", years=range(2026, 2028)) == MADRID_HOLIDAYS


def test_the_dates_are_part_of_the_calendar_version() -> None:
    # Upgrading the package cannot rewrite history: the calendar stores the dates themselves.
    calendar = Calendar(
        name="madrid",
        timezone="Europe/Madrid",
        hours=WEEK,
        holidays=holidays_for("ES", subdiv="MD", years=2026),
    )
    stored = calendar.model_dump(mode="json")
    assert "2026-11-02" in stored["holidays"]
    assert Calendar.model_validate(stored) == calendar
    # Friday 30 Oct 17:00 + 2 business hours: Monday 2 Nov is closed, so Tuesday 10:00.
    start = datetime(2026, 10, 30, 16, 0, tzinfo=UTC)  # 17:00 in Madrid
    assert calendar.add(start, timedelta(hours=2)) == datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"country": "XX", "years": 2026}, "no holidays for XX"),
        ({"country": "ES", "subdiv": "ZZ", "years": 2026}, "no holidays for ES-ZZ"),
        ({"country": "", "years": 2026}, "country must be"),
        ({"country": 34, "years": 2026}, "country must be"),
        ({"country": "ES", "subdiv": 5, "years": 2026}, "subdiv must be"),
        ({"country": "ES", "years": 1899}, "from 1900 to 2200"),
        ({"country": "ES", "years": [2026, "2027"]}, "from 1900 to 2200"),
        ({"country": "ES", "years": True}, "years must be"),
        ({"country": "ES", "years": "2026"}, "years must be"),
        ({"country": "ES", "years": []}, "1 to 200 years"),
        ({"country": "ES", "years": range(1900, 2150)}, "at most 200 years"),
        ({"country": "ES", "years": 2026, "categories": ["nonsense"]}, "no holidays for ES"),
        ({"country": "ES", "years": 2026, "categories": [""]}, "categories must be"),
    ],
)
def test_what_the_package_cannot_answer_is_a_configuration_error(
    arguments: dict[str, object], says: str
) -> None:
    with pytest.raises(ConfigurationError, match=says):
        holidays_for(**arguments)  # type: ignore[arg-type]


def test_an_endless_iterable_of_years_is_refused_not_read_for_ever() -> None:
    import itertools  # noqa: PLC0415

    with pytest.raises(ConfigurationError, match="years"):
        holidays_for("ES", years=itertools.count(2000))


def test_without_the_package_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "holidays", None)  # import holidays -> ImportError
    with pytest.raises(ConfigurationError, match=r"pip install 'servflow\[holidays\]'"):
        holidays_for("ES", years=2026)


CALENDAR_TOML = """
name = "madrid-office"
timezone = "Europe/Madrid"
holidays = ["2026-12-24"]
holidays_from = { country = "ES", subdiv = "MD", years = "2026-2027" }

[hours]
mon = [["09:00", "18:00"]]
"""


def test_a_calendar_file_may_name_its_holidays_by_country(tmp_path: Path) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text(CALENDAR_TOML, encoding="utf-8")
    calendar = Calendar.from_file(path)
    expected = holidays_for("ES", subdiv="MD", years=range(2026, 2028)) | {date(2026, 12, 24)}
    assert calendar.holidays == expected


def test_a_policy_file_may_too_and_several_sources_add_up(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(
        """{"name": "p", "calendar": {"timezone": "Europe/Madrid",
            "hours": {"mon": [["09:00", "18:00"]]},
            "holidays_from": [{"country": "ES", "subdiv": "MD", "years": [2026]},
                              {"country": "PT", "years": [2026]}]},
            "default": {"first_response": "PT2H", "resolution": "PT8H"}}""",
        encoding="utf-8",
    )
    policy = SlaPolicy.from_file(path)
    expected = holidays_for("ES", subdiv="MD", years=2026) | holidays_for("PT", years=2026)
    assert policy.calendar.holidays == expected


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ('holidays_from = { country = "ES", year = 2026 }', "unknown key"),
        ('holidays_from = { country = "XX", years = [2026] }', "no holidays for XX"),
        ('holidays_from = "ES"', "expected a table"),
        ('holidays_from = { country = "ES", years = "2026 to 2027" }', "years must be"),
    ],
)
def test_a_bad_holidays_from_names_the_file_and_the_setting(
    tmp_path: Path, setting: str, says: str
) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text(f'timezone = "Europe/Madrid"\n{setting}\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=says) as raised:
        Calendar.from_file(path)
    assert str(path) in str(raised.value)
    assert "holidays_from" in str(raised.value)
