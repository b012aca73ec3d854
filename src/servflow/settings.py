"""Settings files: calendars and SLA policies read from TOML, JSON or YAML.

Reading files is not the domain's job: the domain validates settings data
(``Calendar.from_mapping``, ``SlaPolicy.from_mapping``); this module reads the files and hands
their data over, every failure a ``ConfigurationError`` naming the file. Imported with
``servflow``, it installs itself as the reader behind ``Calendar.from_file`` and
``SlaPolicy.from_file``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from servflow.domain.calendar import Calendar, install_settings_reader, validate_settings
from servflow.domain.policy import SlaPolicy
from servflow.errors import ConfigurationError

__all__ = ["load_calendar", "load_policy", "read_settings"]


def load_calendar(path: str | Path) -> Calendar:
    """A calendar from a ``.toml``, ``.json`` or ``.yaml`` file (ConfigurationError if not)."""
    source = Path(path)
    data = read_settings(source, "calendar")
    return validate_settings(Calendar, data, what="calendar", source=source)


def load_policy(path: str | Path) -> SlaPolicy:
    """An SLA policy from a ``.toml``, ``.json`` or ``.yaml`` file (ConfigurationError if not)."""
    source = Path(path)
    data = read_settings(source, "SLA policy")
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


install_settings_reader(read_settings)
