"""Adapters to NNCF: only imported inside functions by the stages that use them."""
