"""Adapters to OpenVINO: only imported inside functions by the stages that use them."""
