"""Compression sweeps: many trials of one recipe (each a normal `ovtool run`), a Pareto report, a winner."""
