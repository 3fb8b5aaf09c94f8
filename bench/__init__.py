"""Benchmarks of aqi-stream, side by side with the naive approach of the original project.

    make bench                  # or: kafka/with-kafka.sh .venv/bin/python -m bench.run

run.py runs every figure against the local broker and the WAQI simulator and writes
bench/results.json (every run's raw figures) and bench/RESULTS.md (the tables).

Modules: run (the command line and the order of things), harness (what every figure shares:
the run's settings, the broker's config, producer.py and consumer.py started the same way),
processes (the simulator and the real scripts as subprocesses, with their CPU time and peak
memory), topics (unique topic and group names, creating, counting, deleting), stats (median,
min, max, percentiles), one module per figure (cycle_throughput, latency,
consumer_throughput, quota_efficiency; the cost figure comes from the cycle runs), profiles
(py-spy and tracemalloc evidence when a target is missed; memory_trace runs the producer
under tracemalloc), machine (what ran it), report (RESULTS.md), and baseline_naive (the
original project's approach).
"""
