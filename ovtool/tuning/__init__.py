"""Settings measured on this machine: which precision, KV-cache precision, dynamic-quantization group size,
hint and streams run a given model fastest here without changing its output (issue #14).

- `select.py`  the pure choice over measured rows (fastest that passes the quality guard).
- `store.py`   where choices live: one JSON file per (model content, CPU + ISA, OpenVINO, device) key.
- `search.py`  which candidates to try and in what order; the timing itself is in backends/.

Policy and storage only; `ovtool tune` and `ovtool.stages.precision` are the callers. See docs/tune.md.
"""
