"""The application layer: ``ServiceDesk``, a thin facade over one small service per job.

``facade`` is what users call; the services behind it each keep one job (the write path,
ticket codes, the stores underneath, SLA questions, the audit trail, KPIs).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from servflow.desk.facade import ProjectionMode, Ref, ServiceDesk, TimeSource

_NAMES = frozenset({"ProjectionMode", "Ref", "ServiceDesk", "TimeSource"})


def __getattr__(name: str) -> Any:  # noqa: ANN401 - the facade's names
    """The facade's names, imported on first use: ``servflow.desk.<module>`` stays light."""
    if name not in _NAMES:
        msg = f"module 'servflow.desk' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(import_module("servflow.desk.facade"), name)
    globals()[name] = value
    return value


__all__ = ["ProjectionMode", "Ref", "ServiceDesk", "TimeSource"]
