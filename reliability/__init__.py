"""servflow's reliability suite: real processes killed with SIGKILL, then the log is checked.

``python -m reliability`` runs it and prints (or writes) the table of ``docs/reliability.md``;
``tests/reliability`` runs a bounded, seeded version in CI.
"""
