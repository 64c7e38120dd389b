"""Adapters to optimum-intel, transformers, tokenizers and gguf: exporting source models."""
