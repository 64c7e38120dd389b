"""`ovtool convert`: a source model → OpenVINO IR in OUT/model."""

from __future__ import annotations

from ovtool.cli.build import command, examples
from ovtool.cli.flags import STAGE, Flag

FLAGS = (
    *STAGE,
    Flag("--task", "convert.task", help="Hugging Face task; auto-detected when left out."),
    Flag("--weight-format", "convert.weight_format", choices=("fp32", "fp16", "int8"),
         help="Weight precision of the IR (int8: data-free compression)."),
    Flag("--source-format", "convert.source_format",
         choices=("auto", "hf", "gguf", "onnx", "tflite", "tf", "paddle", "pytorch", "ir"),
         help="Force the source format (detected from -m when left out)."),
    Flag("--trust-remote-code", "convert.trust_remote_code", type=bool, help="Let an HF model run its own code."),
)  # fmt: skip

EXAMPLES = examples("""
    # ONNX detector → IR (fp16 weights)
    convert -m .assets/nudenet/320n.onnx -o runs/nudenet-ir
    # GGUF LLM → stateful fp16 IR with tokenizer IRs
    convert recipes/smollm2-convert.yaml
    # HF encoder → IR with data-free int8 weights
    convert -m .assets/minilm/model -o runs/minilm-ir --task feature-extraction --weight-format int8
""")

convert = command("convert", FLAGS, examples=EXAMPLES)
