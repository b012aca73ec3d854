"""A deterministic simulation of a busy service desk, for demos, docs and load.

The simulated company sells, installs and services home appliances and air conditioning in
Spain. Customers of three tiers reach it through six channels with every kind of need of the
source documents; six teams classify, probe (STAR), act, transfer, wait on customers, report
progress and complete; customers accept, reopen or withdraw; auditors log non-conformities
and team leads correct them.

The pace follows the work: urgent requests are triaged and contacted first, spare parts and
technicians' visits take days, and the final week is a rush in which the desk falls behind.
Measured with :func:`demo_policy` (business hours in Madrid, targets by priority and tier),
most SLAs are met, some are missed, and the simulation ends with some clocks breached and
others at risk.

The package keeps data apart from logic: :mod:`~servflow.demo.catalogue` is the company's world
(customers, teams, texts), :mod:`~servflow.demo.needs` how it handles each kind of need and its
typical cases, :mod:`~servflow.demo.hours` its calendars,
:mod:`~servflow.demo.story` plans one request's life, :mod:`~servflow.demo.simulation` runs
them all, and :mod:`~servflow.demo.summary` counts the result.
"""

from servflow.demo.hours import demo_policy
from servflow.demo.simulation import DEFAULT_START, SimClock, simulate
from servflow.demo.summary import DemoSummary

__all__ = ["DEFAULT_START", "DemoSummary", "SimClock", "demo_policy", "simulate"]
