"""The trained torch model → OpenVINO IR in a folder loadable by OVModelForSequenceClassification.

optimum-intel's `export_from_model` traces the in-memory model (pruned shapes and NNCF fake-quantize
hooks included: under tracing NNCF emits torch fake-quantize ops that become FakeQuantize, so the IR
is INT8). `ov.convert_model` on the HF module fails while tracing the SDPA mask (ASSETS.md), hence
optimum. The HF tokenizer files and the openvino_tokenizers IR are written beside the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ovtool.ir_folder import IRFolder


def export_classifier(model: Any, tokenizer: Any, out_dir: Path, label_names: list[str]) -> Path:
    """Write openvino_model.xml/.bin, config.json (with the label names), tokenizer files and tokenizer IR."""
    from optimum.exporters.openvino import export_from_model
    from optimum.exporters.openvino.convert import export_tokenizer

    model.eval()
    model.config.id2label = dict(enumerate(label_names))
    model.config.label2id = {n: i for i, n in enumerate(label_names)}
    out_dir.mkdir(parents=True, exist_ok=True)
    export_from_model(model, str(out_dir), task="text-classification", preprocessors=[tokenizer])
    tokenizer.save_pretrained(str(out_dir))
    try:
        export_tokenizer(tokenizer, out_dir, task="text-classification")
    except (RuntimeError, ValueError, OSError, ImportError) as exc:  # a convenience: the HF files are there
        from ovtool import console

        console.warn(f"tokenizer IR not written ({type(exc).__name__}: {exc})")
    return IRFolder.at(out_dir).xml
