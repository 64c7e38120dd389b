"""LoRA adapters for openvino_genai pipelines: read, check against the IR, and build the AdapterConfig.

openvino_genai applies PEFT LoRA adapters (safetensors) to an LLM IR at pipeline build time, without
re-exporting it, but it checks little: tensors whose names match no MatMul of the model are skipped
with a warning on stderr (an adapter for another model runs as the base model), names without the
`base_model.model.` prefix are skipped silently, and wrong shapes fail inside the CPU plugin with a
message that names neither the file nor the layer. So every adapter is checked here first, from its
safetensors header and the IR's XML only (no torch, no model build): names, dtypes, ranks and the
shape of every MatMul it adapts.

openvino_genai also ignores the adapter's own scale (PEFT multiplies B·A by lora_alpha / r, read from
adapter_config.json): the alpha passed to it is the whole multiplier. ovtool passes ALPHA × that scale,
so ALPHA 1.0 is the adapter as it was trained.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ovtool.errors import UserError

ADAPTER_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"
PREFIX = "base_model.model."  # what openvino_genai's LLMPipeline strips from PEFT tensor names
DTYPES = frozenset({"F32", "F16", "BF16"})  # the safetensors types openvino_genai reads
_A = re.compile(r"^(.*)[_.]lora[_.](?:A|down)\.weight$")
_B = re.compile(r"^(.*)[_.]lora[_.](?:B|up)\.weight$")
MAX_HEADER = 100 * 2**20


@dataclass(frozen=True)
class Tensor:
    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class AdapterFile:
    """A LoRA adapter file as read from disk: its LoRA pairs per module and its PEFT scale."""

    path: Path
    sha256: str
    modules: dict[str, tuple[Tensor, Tensor]]  # module name (prefix removed) → (A, B)
    rank: int
    scale: float  # lora_alpha / r from adapter_config.json; 1.0 without one
    scale_source: str


@dataclass(frozen=True)
class AppliedAdapter:
    """An adapter checked against a model, with the alpha the user asked for."""

    file: AdapterFile
    alpha: float

    @property
    def genai_alpha(self) -> float:
        """The multiplier openvino_genai applies to B·A."""
        return self.alpha * self.file.scale

    def record(self) -> dict[str, Any]:
        f = self.file
        return {"path": str(f.path), "sha256": f.sha256, "alpha": self.alpha, "scale": f.scale,
                "scale_source": f.scale_source, "effective_alpha": self.genai_alpha, "rank": f.rank,
                "modules": len(f.modules)}  # fmt: skip


def adapter_path(path_text: str) -> Path:
    """The .safetensors file: the path itself, or adapter_model.safetensors in a PEFT adapter folder."""
    path = Path(path_text)
    if path.is_dir():
        path = path / ADAPTER_FILE
    if not path.is_file():
        raise UserError(f"adapter {path_text}: not found (give a PEFT adapter folder or its {ADAPTER_FILE})")
    return path


def read_header(path: Path) -> dict[str, Tensor]:
    """Tensor names, dtypes and shapes from a safetensors header (8-byte length + JSON), data bounds checked."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else 0
        if length <= 1 or length > min(MAX_HEADER, size - 8):
            raise UserError(f"adapter {path}: not a safetensors file (no valid header)")
        raw = fh.read(length)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"adapter {path}: not a safetensors file (its header is not JSON)") from exc
    if not isinstance(header, dict):
        raise UserError(f"adapter {path}: not a safetensors file (its header is not a JSON object)")
    tensors: dict[str, Tensor] = {}
    data_size = size - 8 - length
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (start, end) = info["dtype"], tuple(int(d) for d in info["shape"]), info["data_offsets"]
        except (TypeError, KeyError, ValueError) as exc:
            raise UserError(f"adapter {path}: not a safetensors file (bad entry for {name})") from exc
        if not 0 <= start <= end <= data_size:
            raise UserError(f"adapter {path}: truncated safetensors file ({name} lies past its end)")
        tensors[name] = Tensor(str(dtype), shape)
    if not tensors:
        raise UserError(f"adapter {path}: the safetensors file holds no tensors")
    return tensors


def _peft_scale(folder: Path, rank: int, path: Path) -> tuple[float, str]:
    """PEFT's scale of B·A from adapter_config.json beside the file (what openvino_genai does not read)."""
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        return 1.0, f"no {CONFIG_FILE}: ALPHA multiplies B·A as stored"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"adapter {path}: {config_path} is not JSON") from exc
    if not isinstance(config, dict):
        raise UserError(f"adapter {path}: {config_path} is not a JSON object")
    kind = config.get("peft_type", "LORA")
    if kind != "LORA":
        raise UserError(f"adapter {path}: peft_type {kind} — only LoRA adapters apply at generation")
    unsupported = [k for k in ("use_dora", "rank_pattern", "alpha_pattern") if config.get(k)]
    if unsupported:
        raise UserError(f"adapter {path}: {', '.join(unsupported)} in {CONFIG_FILE} is not supported by "
                        "openvino_genai (plain LoRA with one rank and alpha only)")  # fmt: skip
    r, lora_alpha = config.get("r"), config.get("lora_alpha")
    if not isinstance(r, int) or not isinstance(lora_alpha, int | float):
        raise UserError(f"adapter {path}: {config_path} lacks a numeric r / lora_alpha")
    if r != rank:
        raise UserError(f"adapter {path}: {CONFIG_FILE} says r={r} but the LoRA matrices have rank {rank}")
    if config.get("use_rslora"):
        return float(lora_alpha) / math.sqrt(r), f"{CONFIG_FILE}: lora_alpha {lora_alpha} / sqrt(r {r}) (rsLoRA)"
    return float(lora_alpha) / r, f"{CONFIG_FILE}: lora_alpha {lora_alpha} / r {r}"


def read_adapter(path_text: str) -> AdapterFile:
    """Read and check an adapter on its own: safetensors, PEFT LoRA names, A/B pairs of one rank, dtypes."""
    path = adapter_path(path_text)
    tensors = read_header(path)
    pairs: dict[str, dict[str, Tensor]] = {}
    for name, tensor in tensors.items():
        match_a, match_b = _A.match(name), _B.match(name)
        match = match_a or match_b
        if match is None:
            raise UserError(f"adapter {path}: tensor {name} is not a LoRA A/B matrix (only plain LoRA adapters "
                            "apply at generation)")  # fmt: skip
        if not name.startswith(PREFIX):
            raise UserError(f"adapter {path}: tensor {name} lacks the PEFT prefix {PREFIX!r} "
                            "(openvino_genai would skip it silently)")  # fmt: skip
        if tensor.dtype not in DTYPES:
            raise UserError(f"adapter {path}: tensor {name} is {tensor.dtype}; openvino_genai reads F32/F16/BF16")
        if len(tensor.shape) != 2:
            raise UserError(f"adapter {path}: tensor {name} has shape {list(tensor.shape)}, not a 2-D matrix")
        pairs.setdefault(match.group(1)[len(PREFIX) :], {})["A" if match_a else "B"] = tensor
    modules: dict[str, tuple[Tensor, Tensor]] = {}
    ranks = set()
    for module, pair in sorted(pairs.items()):
        if set(pair) != {"A", "B"}:
            raise UserError(f"adapter {path}: {module} has lora_{'A' if 'A' in pair else 'B'} without "
                            f"lora_{'B' if 'A' in pair else 'A'}")  # fmt: skip
        a, b = pair["A"], pair["B"]
        if a.shape[0] != b.shape[1]:
            raise UserError(f"adapter {path}: {module} has lora_A of rank {a.shape[0]} but lora_B of rank "
                            f"{b.shape[1]}")  # fmt: skip
        ranks.add(a.shape[0])
        modules[module] = (a, b)
    if len(ranks) > 1:
        raise UserError(f"adapter {path}: modules have different ranks {sorted(ranks)} (one rank expected)")
    rank = ranks.pop()
    scale, source = _peft_scale(path.parent, rank, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return AdapterFile(path, digest, modules, rank, scale, source)


def ir_matmuls(xml: Path) -> dict[str, tuple[int, int]]:
    """MatMul name → (input features, output features) of its weight, from the IR's XML (no model build)."""
    import xml.etree.ElementTree as ET

    out: dict[str, tuple[int, int]] = {}
    for layer in ET.parse(xml).getroot().iter("layer"):
        if layer.get("type") != "MatMul":
            continue
        data = layer.find("data")
        ports = layer.findall("input/port")
        if len(ports) < 2:
            continue
        dims = [int(d.text or "0") for d in ports[1].findall("dim")]
        if len(dims) != 2:
            continue
        transpose_b = data is not None and data.get("transpose_b") == "true"
        # as openvino_genai's deduce_input_output_dims: input = dims[transpose_b], output = dims[!transpose_b]
        out[layer.get("name", "")] = (dims[int(transpose_b)], dims[int(not transpose_b)])
    return out


def check_against_ir(adapter: AdapterFile, matmuls: dict[str, tuple[int, int]], xml: Path) -> None:
    """Every module of the adapter names MatMuls of this model whose weight shapes fit A and B."""
    for module, (a, b) in adapter.modules.items():
        underscored = module.replace(".", "_")  # openvino_genai also tries the name with dots as underscores
        found = [(n, dims) for n, dims in matmuls.items() if module in n or underscored in n.replace(".", "_")]
        if not found:
            raise UserError(f"adapter {adapter.path}: {module} is not a MatMul of {xml.parent} "
                            "(an adapter for another model?)")  # fmt: skip
        for name, (features_in, features_out) in found:
            if a.shape[1] != features_in or b.shape[0] != features_out:
                raise UserError(
                    f"adapter {adapter.path}: {module} has lora_A {list(a.shape)} / lora_B {list(b.shape)} but "
                    f"{name} maps {features_in} → {features_out} features (an adapter for another model?)"
                )


def check_adapters(items: Sequence[tuple[str, float]], xml: Path | None) -> list[AppliedAdapter]:
    """Read every (path, alpha) and, when the IR is known, check it against the IR's MatMuls."""
    applied = [AppliedAdapter(read_adapter(path), alpha) for path, alpha in items]
    if xml is not None and applied:
        matmuls = ir_matmuls(xml)
        for item in applied:
            check_against_ir(item.file, matmuls, xml)
    return applied


def adapter_config(adapters: Sequence[AppliedAdapter]) -> Any:
    """openvino_genai.AdapterConfig blending the adapters (None for none): pass as `adapters=` to the pipeline.

    MODE_STATIC: the adapters are constants of the compiled model. ovtool never switches adapters or
    alphas on a built pipeline, and the default (MODE_DYNAMIC on CPU: LoRA matrices as state variables,
    switchable per request) cost ~25 % TPOT on SmolLM2 against ~0 % for static (docs/generate.md).
    MODE_FUSE is as fast but refuses weight-compressed (INT4/INT8) IRs; static works on any IR.
    """
    if not adapters:
        return None
    import openvino_genai as ov_genai

    config = ov_genai.AdapterConfig(ov_genai.AdapterConfig.Mode.MODE_STATIC)
    for item in adapters:
        config.add(ov_genai.Adapter(str(item.file.path)), item.genai_alpha)
    return config


def prompt_logprobs(model_dir: Path, device: str, props: dict[str, Any], adapters: Sequence[AppliedAdapter],
                    blocks: Sequence[Sequence[int]]) -> list[list[float]]:  # fmt: skip
    """Log-probability of every token of each block given the tokens before it (the first has none).

    openvino_genai's own scoring: a ContinuousBatchingPipeline built with the same `adapters=` as
    generate, asked for one token with `echo` and `logprobs` — it then returns the prompt tokens'
    log-probabilities too (LLMPipeline returns only a sum over generated tokens). Perplexity =
    exp(-mean) over the blocks.
    """
    import numpy as np
    import openvino as ov
    import openvino_genai as ov_genai

    scheduler = ov_genai.SchedulerConfig()
    scheduler.cache_size = 1
    properties = dict(props)
    config = adapter_config(adapters)
    if config is not None:
        properties["adapters"] = config
    pipe = ov_genai.ContinuousBatchingPipeline(str(model_dir), scheduler, device, properties)
    gen = ov_genai.GenerationConfig()
    gen.max_new_tokens, gen.echo, gen.logprobs, gen.do_sample = 1, True, 1, False
    gen.adapters = config  # per request, as LLMPipeline's own generation config carries them
    # generate() is what loads adapter tensors into the model's state in openvino_genai's dynamic mode
    # (add_request/step alone does not: the scores came out as the base model's); harmless in static mode.
    pipe.generate([ov.Tensor(np.asarray([blocks[0][:2]], dtype=np.int64))], [gen])
    out: list[list[float]] = []
    for block in blocks:
        ids = ov.Tensor(np.asarray([block], dtype=np.int64))
        handle = pipe.add_request(len(out), ids, gen)
        while pipe.has_non_finished_requests():
            pipe.step()
        output = handle.read_all()[0]
        out.append([float(v) for v in output.generated_log_probs[1 : len(block)]])
    return out
