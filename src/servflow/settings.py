"""Settings files: calendars and SLA policies read from TOML, JSON or YAML.

Reading files is not the domain's job: the domain validates settings data
(``Calendar.from_mapping``, ``SlaPolicy.from_mapping``); this module reads the files and hands
their data over, every failure a ``ConfigurationError`` naming the file. Imported with
``servflow``, it installs itself as the reader behind ``Calendar.from_file`` and
``SlaPolicy.from_file``.

Public holidays come from the ``holidays`` package (``servflow[holidays]``): ``holidays_for``
gives the dates, and a calendar in a settings file may say ``holidays_from`` instead of listing
them. Either way the dates are written into the calendar, so the calendar version adopted keeps
them whatever a later release of the package says.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

from servflow.domain.calendar import Calendar, install_settings_reader, validate_settings
from servflow.domain.policy import SlaPolicy
from servflow.errors import ConfigurationError, shown

__all__ = ["holidays_for", "load_calendar", "load_policy", "read_settings"]

#: The years ``holidays_for`` answers for (the package's own range is wider).
YEARS = range(1900, 2201)
#: The most years one call may ask for.
MAX_YEARS = 200
_YEAR_SPAN = re.compile(r"^\s*(\d{4})\s*-\s*(\d{4})\s*$")


def holidays_for(
    country: str,
    *,
    years: int | Iterable[int],
    subdiv: str | None = None,
    categories: Iterable[str] | None = None,
) -> frozenset[date]:
    """The public holidays of a country (or one of its subdivisions) in ``years``, as dates.

    From the ``holidays`` package (``pip install 'servflow[holidays]'``): ``country`` is an ISO
    3166-1 code (``"ES"``), ``subdiv`` a subdivision code (``"MD"``, Madrid), ``years`` a year
    or several (``range(2026, 2030)``), ``categories`` the package's holiday categories
    (default: public holidays). Give the result to ``Calendar(holidays=...)``: the dates become
    part of the calendar version, so upgrading the package never rewrites history. Anything the
    package does not know (a country, a subdivision, a category), a year outside 1900-2200 or
    more than 200 years is a ``ConfigurationError``.
    """
    wanted = _years(years)
    if not isinstance(country, str) or not country.strip():
        msg = f"holidays_for: country must be an ISO 3166 code such as 'ES', not {shown(country)}"
        raise ConfigurationError(msg)
    if subdiv is not None and (not isinstance(subdiv, str) or not subdiv.strip()):
        msg = f"holidays_for: subdiv must be a subdivision code such as 'MD', not {shown(subdiv)}"
        raise ConfigurationError(msg)
    chosen: tuple[str, ...] | None = None
    if categories is not None:
        chosen = (categories,) if isinstance(categories, str) else tuple(categories)
        if not chosen or not all(isinstance(c, str) and c for c in chosen):
            msg = (
                f"holidays_for: categories must be names such as 'public', not {shown(categories)}"
            )
            raise ConfigurationError(msg)
    try:
        import holidays  # noqa: PLC0415 - an optional extra
    except ImportError:
        msg = "holidays_for needs the holidays package: pip install 'servflow[holidays]'"
        raise ConfigurationError(msg) from None
    where = country.strip().upper() + (f"-{subdiv.strip().upper()}" if subdiv else "")
    try:
        found = holidays.country_holidays(
            country.strip().upper(),
            subdiv=subdiv.strip().upper() if subdiv else None,
            years=wanted,
            categories=chosen,
        )
        return frozenset(day for day in found if day.year in wanted)
    except (NotImplementedError, ValueError, KeyError) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        msg = f"holidays_for: the holidays package has no holidays for {where}: {detail}"
        raise ConfigurationError(msg) from None


def _years(years: object) -> list[int]:
    """``years`` as a sorted list of distinct years in ``YEARS`` (ConfigurationError if not)."""
    if isinstance(years, bool) or not isinstance(years, int | Iterable) or isinstance(years, str):
        msg = (
            "holidays_for: years must be a year or years such as range(2026, 2030), "
            f"not {shown(years)}"
        )
        raise ConfigurationError(msg)
    # An endless iterable is cut short (and refused as too many years).
    given = [years] if isinstance(years, int) else list(itertools.islice(years, MAX_YEARS * 4 + 1))
    if not given or len(given) > MAX_YEARS * 4:
        msg = f"holidays_for: years must name 1 to {MAX_YEARS} years, not {shown(years)}"
        raise ConfigurationError(msg)
    for year in given:
        if isinstance(year, bool) or not isinstance(year, int) or year not in YEARS:
            msg = (
                "holidays_for: each year must be a whole number from 1900 to 2200, "
                f"not {shown(year)}"
            )
            raise ConfigurationError(msg)
    distinct = sorted(set(given))
    if len(distinct) > MAX_YEARS:
        msg = f"holidays_for: at most {MAX_YEARS} years at once, not {len(distinct)}"
        raise ConfigurationError(msg)
    return distinct


def load_calendar(path: str | Path) -> Calendar:
    """A calendar from a ``.toml``, ``.json`` or ``.yaml`` file (ConfigurationError if not)."""
    source = Path(path)
    data = _read_materialised(source, "calendar")
    return validate_settings(Calendar, data, what="calendar", source=source)


def load_policy(path: str | Path) -> SlaPolicy:
    """An SLA policy from a ``.toml``, ``.json`` or ``.yaml`` file (ConfigurationError if not)."""
    source = Path(path)
    data = _read_materialised(source, "SLA policy")
    return validate_settings(SlaPolicy, data, what="SLA policy", source=source)


def read_settings(path: Path, what: str) -> object:
    """Read a TOML, JSON or YAML settings file, translating every failure into ConfigurationError.

    YAML needs PyYAML (``pip install pyyaml``); TOML and JSON need nothing beyond Python.
    """
    suffix = path.suffix.lower()
    if suffix not in {".toml", ".json", ".yaml", ".yml"}:
        msg = f"{what} file {path}: unsupported suffix {suffix!r}, use .toml, .json or .yaml"
        raise ConfigurationError(msg)
    try:
        if suffix == ".toml":
            with path.open("rb") as stream:
                return tomllib.load(stream)
        text = path.read_text(encoding="utf-8")
        if suffix in {".yaml", ".yml"}:
            return _load_yaml(text, path, what=what)
        return json.loads(text)
    except OSError as exc:
        msg = f"cannot read {what} file {path}: {exc.strerror or exc}"
        raise ConfigurationError(msg) from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        msg = f"{what} file {path} is not valid {suffix[1:].upper()}: {exc}"
        raise ConfigurationError(msg) from None


def _load_yaml(text: str, path: Path, *, what: str) -> object:
    try:
        import yaml  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415 - optional
    except ImportError:
        msg = f"{what} file {path}: reading YAML needs PyYAML (pip install pyyaml)"
        raise ConfigurationError(msg) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        msg = f"{what} file {path} is not valid YAML: {exc}"
        raise ConfigurationError(msg) from None


def _read_materialised(path: Path, what: str) -> object:
    """Read a settings file, a calendar's ``holidays_from`` turned into its holiday dates.

    In a calendar file the key is at the top level; in a policy file, in its ``calendar``.
    ``holidays_from`` is a mapping (or a list of them) with ``country``, optional ``subdiv``
    and ``categories``, and ``years``: a list of years or a span such as ``"2026-2029"``.
    """
    data = read_settings(path, what)
    if not isinstance(data, Mapping):
        return data
    if what == "calendar":
        return _materialise(data, path, "")
    calendar = data.get("calendar")
    if isinstance(calendar, Mapping):
        return {**data, "calendar": _materialise(calendar, path, "calendar.")}
    return data


def _materialise(calendar: Mapping[str, object], path: Path, where: str) -> object:
    sources = calendar.get("holidays_from")
    if sources is None:
        return calendar
    setting = f"{where}holidays_from"
    listed = [sources] if isinstance(sources, Mapping) else sources
    if not isinstance(listed, list) or not all(isinstance(s, Mapping) for s in listed):
        msg = f"invalid calendar setting in {path}: {setting}: expected a table (or a list of them)"
        raise ConfigurationError(msg)
    days: set[object] = set()
    given = calendar.get("holidays", [])
    if isinstance(given, list):
        days.update(given)
    for source in listed:
        unknown = sorted(set(source) - {"country", "subdiv", "years", "categories"})
        if unknown:
            msg = (
                f"invalid calendar setting in {path}: {setting}: unknown key(s) "
                f"{', '.join(map(repr, unknown))}; expected country, subdiv, years, categories"
            )
            raise ConfigurationError(msg)
        years = source.get("years")
        if isinstance(years, str) and (span := _YEAR_SPAN.match(years)):
            years = range(int(span.group(1)), int(span.group(2)) + 1)
        try:
            days.update(
                holidays_for(
                    source.get("country"),
                    subdiv=source.get("subdiv"),
                    years=years,
                    categories=source.get("categories"),
                )
            )
        except ConfigurationError as error:
            msg = f"invalid calendar setting in {path}: {setting}: {error}"
            raise ConfigurationError(msg) from None
    rest = {key: value for key, value in calendar.items() if key != "holidays_from"}
    rest["holidays"] = sorted(days, key=str)
    return rest


install_settings_reader(_read_materialised)
