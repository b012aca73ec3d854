"""What the command line needs before the engine loads: the schema check, the rebuild's limit.

Light to import (no store, no projection): ``servflow --help`` and the options' checks use it.
"""

from __future__ import annotations

import re

from servflow.errors import ConfigurationError, shown

__all__ = ["MAX_WORKERS", "postgres_schema"]

#: The most processes a rebuild may ask for (``servflow.desk.rebuild``): one per share, so
#: ``servflow.projections.shares.MAX_SHARES`` (not imported here: too heavy for ``--help``).
MAX_WORKERS = 16

_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def postgres_schema(schema: object) -> str | None:
    """``schema`` if it is a lower-case identifier (None: ``public``), else ConfigurationError.

    ``eventsourcing`` names the schema unquoted in places (PostgreSQL folds those to lower
    case), so a schema with capitals, blanks or quotes would open and then fail every command.
    """
    if schema is None or schema == "":
        return None
    if not isinstance(schema, str) or not _SCHEMA.fullmatch(schema) or schema.startswith("pg_"):
        msg = (
            f"schema {shown(schema)} must be a lower-case PostgreSQL identifier: a letter or _, "
            "then letters, digits or _, at most 63 in all, not starting with pg_"
        )
        raise ConfigurationError(msg)
    return schema
