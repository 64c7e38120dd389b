"""Adapters to OpenVINO GenAI (openvino_genai): only imported inside functions by the stages that use them."""
