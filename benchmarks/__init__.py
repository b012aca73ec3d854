"""servflow benchmarks: writes, rebuild, queries, growth and concurrency, against baselines.

Run ``python -m benchmarks [--quick] [--json out.json] [--only NAME]``. Every figure is a
ratio against a baseline measured in the same run on the same store, because the machines
this runs on are shared and noisy. See ``docs/performance.md``.
"""
