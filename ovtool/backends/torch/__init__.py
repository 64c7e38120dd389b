"""Adapters to PyTorch: only imported inside functions by the stages that use them."""
