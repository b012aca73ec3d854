"""The application layer: ``ServiceDesk``, a thin facade over one small service per job.

``facade`` is what users call; the services behind it each keep one job (the write path,
ticket codes, the stores underneath, SLA questions, the audit trail, KPIs).
"""

from servflow.desk.facade import ProjectionMode, Ref, ServiceDesk, TimeSource

__all__ = ["ProjectionMode", "Ref", "ServiceDesk", "TimeSource"]
