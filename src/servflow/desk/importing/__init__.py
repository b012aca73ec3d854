"""Importing another system's history (CSV or XES, through a declarative mapping)."""

from servflow.desk.importing.importer import Importer, ImportProgress, run_import
from servflow.desk.importing.mapping import ImportMapping, actor_name, load_mapping
from servflow.desk.importing.outcome import ImportOutcome, ImportProblem, problems_of

__all__ = [
    "ImportMapping",
    "ImportOutcome",
    "ImportProblem",
    "ImportProgress",
    "Importer",
    "actor_name",
    "load_mapping",
    "problems_of",
    "run_import",
]
