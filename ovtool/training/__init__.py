"""Fine-tuning on PyTorch with the Hugging Face Trainer: distillation, structured pruning, NNCF QAT/sparsity.

Every module here imports torch/transformers/nncf inside functions only (like ovtool/backends/).
"""
