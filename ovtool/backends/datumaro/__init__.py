"""Adapters to Datumaro: only imported inside functions by the stages that use them."""
