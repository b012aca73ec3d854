"""servflow benchmarks: writes, rebuild, queries, growth and concurrency, against baselines.

Run ``python -m benchmarks [--quick] [--json out.json] [--only NAME]``. Every figure is a
ratio against a baseline measured in the same run on the same store, because the machines
this runs on are shared and noisy. Writes and rebuilds are measured on a realistic workload
(many requests in flight, logs in time order) and on the best case (one request at a time,
logs grouped by request); each ratio comes with its spread. See ``docs/performance.md``.
"""
