"""ovtool: one recipe from a source model to a gated, reproducible, measured OpenVINO IR."""

__version__ = "0.1.0"
