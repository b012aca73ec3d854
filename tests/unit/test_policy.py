"""SLA policies: rule selection, target parsing and configuration loading."""

from __future__ import annotations

import json
from datetime import date, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from servflow.desk.sla import checked_policy
from servflow.domain.calendar import Calendar, Weekday
from servflow.domain.policy import SlaPolicy, SlaRule
from servflow.domain.sla import PolicyAdoption, SlaPolicyBook, same_policy
from servflow.errors import ConfigurationError

UTC_24X7 = Calendar.always_open()


def rule(name: str, first_response: str, resolution: str, **selectors: str) -> SlaRule:
    return SlaRule(name=name, first_response=first_response, resolution=resolution, **selectors)


POLICY = SlaPolicy(
    name="acme",
    calendar=UTC_24X7,
    rules=(
        rule("premium urgent", "15m", "2h", priority="urgent", tier="premium"),
        rule("urgent", "1h", "4h", priority="urgent"),
        rule("complaint", "2h", "2d", kind="complaint"),
    ),
)


def test_the_first_matching_rule_wins() -> None:
    # The premium urgent request matches all of the first two rules; the first one wins.
    chosen = POLICY.targets_for(priority="urgent", kind="complaint", tier="premium")
    assert chosen.name == "premium urgent"
    assert POLICY.targets_for(priority="urgent", kind="complaint", tier="standard").name == "urgent"
    assert POLICY.targets_for(priority="low", kind="complaint", tier="premium").name == "complaint"


def test_the_default_applies_when_no_rule_matches_and_before_classification() -> None:
    assert POLICY.targets_for(priority="low", kind="question", tier="standard") is POLICY.default
    assert POLICY.targets_for(priority=None, kind=None, tier=None) is POLICY.default
    assert POLICY.default.first_response == timedelta(hours=8)
    assert POLICY.default.resolution == timedelta(hours=40)


def test_a_rule_without_selectors_matches_everything() -> None:
    catch_all = rule("everything", "1h", "1d")
    assert catch_all.matches(priority=None, kind=None, tier=None)
    assert catch_all.matches(priority="urgent", kind="complaint", tier="premium")


def test_a_rule_selector_needs_a_known_value_to_match() -> None:
    urgent = rule("urgent", "1h", "4h", priority="urgent")
    assert not urgent.matches(priority=None, kind=None, tier=None)


def test_rules_match_string_valued_enums_by_value() -> None:
    class Priority(StrEnum):
        URGENT = "urgent"

    assert POLICY.targets_for(priority=Priority.URGENT, kind=None, tier=None).name == "urgent"


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("4h", timedelta(hours=4)),
        ("30m", timedelta(minutes=30)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("1w", timedelta(weeks=1)),
        ("45s", timedelta(seconds=45)),
        ("PT4H", timedelta(hours=4)),
        ("04:00:00", timedelta(hours=4)),
        ("3600", timedelta(hours=1)),
        (5400, timedelta(hours=1, minutes=30)),
        (timedelta(minutes=5), timedelta(minutes=5)),
    ],
)
def test_targets_accept_short_iso_and_numeric_durations(
    written: str | int | timedelta, meant: timedelta
) -> None:
    assert SlaRule(first_response=written, resolution=written).first_response == meant


@pytest.mark.parametrize("written", ["0s", "-1h", -60, timedelta(0), "-PT1H"])
def test_a_target_must_be_positive(written: str | int | timedelta) -> None:
    with pytest.raises(ValidationError, match="must be a positive duration"):
        SlaRule(first_response=written, resolution="1h")


def test_an_unreadable_target_names_the_accepted_forms() -> None:
    with pytest.raises(ValidationError, match="expected a duration such as '4h'"):
        SlaRule(first_response="four hours", resolution="1h")


def test_the_standard_policy_picks_targets_by_priority_around_the_clock() -> None:
    standard = SlaPolicy.standard()
    assert standard.calendar == Calendar.always_open("UTC")
    targets = {
        priority: (chosen.first_response, chosen.resolution)
        for priority in ("urgent", "high", "normal", "low")
        for chosen in [standard.targets_for(priority=priority, kind=None, tier=None)]
    }
    assert targets == {
        "urgent": (timedelta(hours=1), timedelta(hours=4)),
        "high": (timedelta(hours=4), timedelta(hours=24)),
        "normal": (timedelta(hours=8), timedelta(hours=40)),
        "low": (timedelta(hours=24), timedelta(hours=120)),
    }
    assert standard.targets_for(priority=None, kind=None, tier=None) is standard.default
    assert standard.warn_at == 0.8
    assert standard.deemed_acceptance_after == timedelta(hours=40)


def test_deemed_acceptance_can_be_switched_off() -> None:
    assert (
        SlaPolicy(calendar=UTC_24X7, deemed_acceptance_after=None).deemed_acceptance_after is None
    )
    for off in (False, "never"):
        settings = {"calendar": {"timezone": "UTC"}, "deemed_acceptance_after": off}
        assert SlaPolicy.from_mapping(settings).deemed_acceptance_after is None
    settings = {"calendar": {"timezone": "UTC"}, "deemed_acceptance_after": "3d"}
    assert SlaPolicy.from_mapping(settings).deemed_acceptance_after == timedelta(days=3)


def test_policies_are_frozen_and_hashable() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        POLICY.warn_at = 0.5  # type: ignore[misc]
    assert hash(POLICY) == hash(POLICY.model_copy())


@pytest.mark.parametrize(
    ("settings", "setting"),
    [
        (
            {
                "calendar": {
                    "timezone": "UTC",
                    "hours": {"mon": [["09:00", "13:00"], ["12:00", "14:00"]]},
                }
            },
            "calendar.hours: mon: intervals 09:00-13:00 and 12:00-14:00 overlap",
        ),
        (
            {"calendar": {"timezone": "UTC", "hours": {"caturday": [["09:00", "13:00"]]}}},
            "calendar.hours: unknown weekday 'caturday'",
        ),
        (
            {
                "calendar": {"timezone": "UTC"},
                "rules": [{"priority": "urgent", "first_response": "1h", "resolution": "-4h"}],
            },
            r"rules\[0\].resolution: must be a positive duration, got -4:00:00",
        ),
        (
            {"calendar": {"timezone": "Europe/Atlantis"}},
            "calendar.timezone: unknown IANA time zone 'Europe/Atlantis'",
        ),
        (
            {"calendar": {"timezone": "UTC"}, "warn_at": 1.5},
            "warn_at: Input should be less than or equal to 1",
        ),
        (
            {"calendar": {"timezone": "UTC"}, "warn_at": 0},
            "warn_at: Input should be greater than 0",
        ),
        (
            {"calendar": {"timezone": "UTC"}, "deemed_acceptance_after": "0s"},
            "deemed_acceptance_after: must be a positive duration",
        ),
        (
            {"calendar": {"timezone": "UTC"}, "rules": [{"first_response": "1h"}]},
            r"rules\[0\].resolution: Field required",
        ),
        ({"calendar": {"timezone": "UTC"}, "warn": 0.5}, "warn: Extra inputs are not permitted"),
        ({}, "calendar: Field required"),
    ],
)
def test_bad_policy_settings_raise_a_configuration_error_naming_the_setting(
    settings: dict[str, object], setting: str
) -> None:
    with pytest.raises(ConfigurationError, match=setting) as caught:
        SlaPolicy.from_mapping(settings)
    assert str(caught.value).startswith("invalid SLA policy setting: ")
    assert "\n" not in str(caught.value)
    assert caught.value.code == "configuration_error"


ACME_TOML = """\
name = "acme"
version = 2
warn_at = 0.75
deemed_acceptance_after = "5d"

[calendar]
name = "madrid-office"
version = 3
timezone = "Europe/Madrid"
holidays = ["2026-12-25", 2026-01-06]

[calendar.hours]
mon = [["09:00", "13:00"], ["14:00", "18:00"]]
fri = [[08:00:00, 15:00:00]]

[[rules]]
name = "urgent"
priority = "urgent"
first_response = "1h"
resolution = "4h"

[[rules]]
kind = "complaint"
tier = "premium"
first_response = "PT30M"
resolution = "1d"

[default]
first_response = "1d"
resolution = "1w"
"""


def test_a_policy_loads_from_a_toml_file_and_round_trips_through_json(tmp_path: Path) -> None:
    toml_path = tmp_path / "acme.toml"
    toml_path.write_text(ACME_TOML, encoding="utf-8")
    policy = SlaPolicy.from_file(toml_path)
    assert policy == SlaPolicy(
        name="acme",
        version=2,
        warn_at=0.75,
        deemed_acceptance_after=timedelta(days=5),
        calendar=Calendar(
            name="madrid-office",
            version=3,
            timezone="Europe/Madrid",
            holidays=[date(2026, 1, 6), date(2026, 12, 25)],
            hours={
                Weekday.MON: [(time(9), time(13)), (time(14), time(18))],
                Weekday.FRI: [(time(8), time(15))],
            },
        ),
        rules=(
            SlaRule(name="urgent", priority="urgent", first_response="1h", resolution="4h"),
            SlaRule(kind="complaint", tier="premium", first_response="30m", resolution="24h"),
        ),
        default=SlaRule(first_response="24h", resolution="168h"),
    )
    json_path = tmp_path / "acme.json"
    json_path.write_text(policy.model_dump_json(indent=2), encoding="utf-8")
    assert SlaPolicy.from_file(json_path) == policy


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("policy.ini", "[calendar]", "unsupported suffix '.ini'"),
        ("policy.toml", "[[rules]\n", "is not valid TOML"),
        ("policy.json", '{"warn_at": }', "is not valid JSON"),
        ("policy.toml", "warn_at = 1.5\n[calendar]\ntimezone = 'UTC'\n", r"policy\.toml: warn_at"),
    ],
)
def test_bad_policy_files_raise_a_configuration_error(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message):
        SlaPolicy.from_file(path)


def test_a_missing_policy_file_raises_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read SLA policy file"):
        SlaPolicy.from_file(tmp_path / "absent.json")


def test_breaches_are_final_unless_a_policy_says_otherwise(tmp_path: Path) -> None:
    assert POLICY.breach_is_final is True
    path = tmp_path / "retroactive.toml"
    path.write_text(
        'name = "acme"\nbreach_is_final = false\n[calendar]\ntimezone = "UTC"\n', encoding="utf-8"
    )
    assert SlaPolicy.from_file(path).breach_is_final is False
    with pytest.raises(ConfigurationError, match="breach_is_final"):
        SlaPolicy.from_mapping({"calendar": {"timezone": "UTC"}, "breach_is_final": "sometimes"})


def test_a_stored_policy_without_the_option_reads_breaches_as_not_final() -> None:
    # Stored before the option existed (PolicyAdopted v1, or a projection's table of policies
    # written then), a policy re-timed breached clocks: it reads False; one stored since says
    # what it said.
    old = POLICY.model_dump(mode="json")
    del old["breach_is_final"]
    adoption = {
        "policy": old,
        "effective_from": "2026-03-02T09:00:00Z",
        "adopted_by": "system",
        "adopted_at": "2026-03-02T09:00:00Z",
        "sequence": 2,
    }
    read = PolicyAdoption.from_stored(json.dumps(adoption))
    assert read.policy.breach_is_final is False
    assert read.policy.model_copy(update={"breach_is_final": True}) == POLICY
    state: dict[str, Any] = {"policy": dict(old), "effective_from": "2026-03-02T09:00:00Z"}
    SlaPolicyBook.PolicyAdopted.upcast_v1_v2(state)
    assert state["policy"]["breach_is_final"] is False
    new = PolicyAdoption(
        policy=POLICY,
        effective_from=read.effective_from,
        adopted_by="system",
        adopted_at=read.adopted_at,
        sequence=2,
    )
    assert PolicyAdoption.from_stored(new.model_dump_json()) == new


def test_a_policy_leaving_the_option_unset_matches_an_adopted_one_differing_only_there() -> None:
    # The desk compares the policy it is given with the adopted one: left unset, the option
    # takes the adopted value (the same definition in code keeps a store's older policy); set
    # explicitly, it is part of the content like any other setting.
    retroactive = POLICY.model_copy(update={"breach_is_final": False})
    unset = SlaPolicy.model_validate(POLICY.model_dump(mode="json", exclude={"breach_is_final"}))
    assert "breach_is_final" not in unset.model_fields_set
    assert same_policy(retroactive, unset)
    assert same_policy(POLICY, unset)
    assert not same_policy(retroactive, POLICY.model_copy(update={"breach_is_final": True}))
    assert not same_policy(retroactive, unset.model_copy(update={"warn_at": 0.5}))
    # The desk validates a policy again before comparing it: what was unset stays so.
    checked = checked_policy(unset, "sla", "ServiceDesk")
    assert checked == unset
    assert "breach_is_final" not in checked.model_fields_set
    explicit = checked_policy(retroactive, "sla", "ServiceDesk")
    assert explicit.breach_is_final is False
    assert "breach_is_final" in explicit.model_fields_set
