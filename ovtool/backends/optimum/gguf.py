"""llama.cpp GGUF → a Hugging Face folder that optimum-intel exports like any other model.

The weights are dequantized by transformers (`from_pretrained(..., gguf_file=...)`), but the tokenizer is
rebuilt here from the GGUF metadata: transformers 5.5's own GGUF tokenizer conversion is wrong for
SmolLM2 (spaces become `<|endoftext|>`, eos becomes `<|im_start|>`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

# tokenizer.ggml.pre (llama.cpp's pre-tokenizer name) → (split regex or None, single digits, ignore_merges).
# None means the GPT-2 regex built into the ByteLevel pre-tokenizer. Regexes as in llama.cpp's llama-vocab.cpp.
_LLAMA3_RE = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)
_QWEN2_RE = _LLAMA3_RE.replace(r"\p{N}{1,3}", r"\p{N}")
_GPT2_PRE: dict[str, tuple[str | None, bool, bool]] = {
    **dict.fromkeys(("gpt2", "mpt", "olmo", "jais"), (None, False, False)),
    **dict.fromkeys(
        ("smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva"), (None, True, False)
    ),
    **dict.fromkeys(("llama-bpe", "smaug-bpe", "falcon3", "dbrx"), (_LLAMA3_RE, False, True)),
    **dict.fromkeys(("qwen2", "stablelm2", "deepseek-r1-qwen"), (_QWEN2_RE, False, False)),
}
_CONTROL, _USER_DEFINED = 3, 4  # tokenizer.ggml.token_type values (llama.cpp's LLAMA_TOKEN_TYPE_*)


def read_gguf_metadata(gguf_path: Path) -> dict[str, object]:
    """Plain-python metadata of a GGUF file (architecture, tokenizer.* keys, context length...).

    Raises ValueError with a one-line message if the file is not a valid GGUF (also when its tensor data is
    cut short), so callers can report bad input (exit 2) before spending a minute loading weights. Parsed
    here with struct: gguf.GGUFReader takes seconds on the ~100k tokenizer strings of a small model.
    """
    import mmap

    gguf_path = Path(gguf_path)
    try:
        with gguf_path.open("rb") as f:
            magic = f.read(4)
            if magic == b"GGUF":
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                    meta = _parse_gguf(data)
    except OSError as exc:
        raise ValueError(f"cannot read GGUF file {gguf_path}: {exc.strerror or exc}") from exc
    except Exception as exc:  # struct.error, KeyError, UnicodeDecodeError, ValueError... on damaged files
        raise ValueError(f"{gguf_path} is a truncated or corrupt GGUF file ({_first_line(exc)})") from exc
    if magic != b"GGUF":
        raise ValueError(f"{gguf_path} is not a GGUF file (it does not start with the GGUF magic bytes)")
    if not isinstance(meta.get("general.architecture"), str):
        raise ValueError(f"{gguf_path} has no general.architecture in its GGUF metadata")
    return meta


_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def _parse_gguf(data: Any) -> dict[str, object]:
    """Key/values of a little-endian GGUF v2/v3 (spec: ggml/docs/gguf.md), after checking the tensor data fits."""
    import struct

    import numpy as np
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    pos = 4

    def skip(n: int) -> int:
        nonlocal pos
        if pos + n > len(data):
            raise ValueError(f"the file ends after {len(data)} bytes, inside its metadata")
        pos += n
        return pos - n

    def take(fmt: str) -> Any:
        return struct.unpack_from(fmt, data, skip(struct.calcsize(fmt)))[0]

    def string() -> str:
        n = take("<Q")
        return data[skip(n) : pos].decode("utf-8")

    def value(kind: int) -> object:
        if kind == 8:
            return string()
        if kind != 9:
            return take(_SCALARS[kind])
        sub, n = take("<I"), take("<Q")
        if sub == 8:
            return [string() for _ in range(n)]
        dtype = np.dtype(_SCALARS[sub])
        return np.frombuffer(data, dtype, n, skip(n * dtype.itemsize)).tolist()

    version = take("<I")
    if version not in (2, 3):
        raise ValueError(f"GGUF version {version} is not supported (2 or 3; big-endian files are not either)")
    n_tensors, n_kv = take("<Q"), take("<Q")
    meta: dict[str, object] = {"GGUF.version": version, "GGUF.tensor_count": n_tensors}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(take("<I"))
    ends = []
    for _ in range(n_tensors):
        string()  # name
        dims = [take("<Q") for _ in range(take("<I"))]
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(take("<I"))]
        ends.append(take("<Q") + int(np.prod(dims)) * type_size // block)
    align = meta.get("general.alignment", 32)
    start = pos + (-pos % align) if isinstance(align, int) and align > 0 else pos
    if start + max(ends, default=0) > len(data):
        raise ValueError(f"tensor data needs {start + max(ends)} bytes, the file has {len(data)}")
    return meta


def build_tokenizer_from_gguf(gguf_path: Path) -> PreTrainedTokenizerFast:
    """Build the tokenizer from the GGUF metadata itself with the `tokenizers` library.

    Uses tokenizer.ggml.model/pre/tokens/merges/scores/token_type, the bos/eos/pad/unk ids and
    tokenizer.chat_template; returns a transformers.PreTrainedTokenizerFast that saves a tokenizer.json
    openvino_tokenizers can convert.
    """
    return _tokenizer_from_metadata(read_gguf_metadata(gguf_path), Path(gguf_path))


def _tokenizer_from_metadata(meta: dict[str, object], gguf_path: Path) -> PreTrainedTokenizerFast:
    from tokenizers import AddedToken, processors
    from transformers import PreTrainedTokenizerFast

    kind = meta.get("tokenizer.ggml.model")
    tokens: list[str] = list(meta.get("tokenizer.ggml.tokens") or [])  # type: ignore[call-overload]
    if not tokens:
        raise ValueError(f"{gguf_path} has no tokenizer.ggml.tokens: cannot build its tokenizer")
    types: list[int] = list(meta.get("tokenizer.ggml.token_type") or [1] * len(tokens))  # type: ignore[call-overload]
    if len(types) != len(tokens):
        raise ValueError(f"{gguf_path}: {len(tokens)} tokens but {len(types)} token types in the GGUF metadata")
    if kind == "gpt2":
        tok = _byte_level_bpe(meta, tokens, gguf_path)
    elif kind == "llama":
        tok = _sentencepiece_bpe(meta, tokens, types)
    else:
        raise ValueError(f"{gguf_path}: tokenizer.ggml.model {kind!r} is not supported (supported: gpt2, llama)")

    # control tokens are special (skipped when decoding); user-defined ones are matched whole but kept as text
    typed = list(zip(tokens, types, strict=True))
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, k in typed if k == _CONTROL])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t, k in typed if k == _USER_DEFINED])

    def special_id(key: str) -> int | None:
        idx = meta.get(f"tokenizer.ggml.{key}_token_id")
        return idx if isinstance(idx, int) and 0 <= idx < len(tokens) else None

    def special(key: str) -> str | None:
        idx = special_id(key)
        return None if idx is None else tokens[idx]

    bos, eos = special("bos"), special("eos")
    add_bos = bool(meta.get("tokenizer.ggml.add_bos_token", kind == "llama")) and bos is not None
    add_eos = bool(meta.get("tokenizer.ggml.add_eos_token", False)) and eos is not None
    if add_bos or add_eos:  # llama.cpp adds these itself; a template post-processor does it in `tokenizers`

        def wrap(seq: str) -> list[str]:
            return [*([bos] if add_bos else []), seq, *([eos] if add_eos else [])]  # type: ignore[list-item]

        added = {t: special_id(k) for t, k, on in ((bos, "bos", add_bos), (eos, "eos", add_eos)) if on}
        tok.post_processor = processors.TemplateProcessing(
            single=wrap("$A"), pair=wrap("$A") + [f"{p}:1" for p in wrap("$B")], special_tokens=list(added.items())
        )

    context = meta.get(f"{meta['general.architecture']}.context_length")
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        unk_token=special("unknown"),
        pad_token=special("padding"),
        chat_template=meta.get("tokenizer.chat_template"),
        model_max_length=context if isinstance(context, int) else 1 << 30,
        clean_up_tokenization_spaces=False,
    )


def _byte_level_bpe(meta: dict[str, object], tokens: list[str], gguf_path: Path) -> Any:
    """GPT-2 style byte-level BPE, pre-tokenized the way llama.cpp does for this tokenizer.ggml.pre."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    pre = str(meta.get("tokenizer.ggml.pre", "gpt2"))
    if pre not in _GPT2_PRE:
        raise ValueError(f"{gguf_path}: tokenizer.ggml.pre {pre!r} is not supported (known: {', '.join(_GPT2_PRE)})")
    regex, single_digits, ignore_merges = _GPT2_PRE[pre]
    merges = [tuple(m.split(" ", 1)) for m in meta.get("tokenizer.ggml.merges") or []]  # type: ignore[attr-defined]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab, merges, ignore_merges=ignore_merges, fuse_unk=False, byte_fallback=False))
    prefix = bool(meta.get("tokenizer.ggml.add_space_prefix", False))
    steps: list[Any] = [pre_tokenizers.Digits(individual_digits=True)] if single_digits else []
    if regex is not None:
        steps.append(pre_tokenizers.Split(Regex(regex), behavior="isolated"))
    steps.append(pre_tokenizers.ByteLevel(add_prefix_space=prefix, use_regex=regex is None))
    tok.pre_tokenizer = pre_tokenizers.Sequence(steps)
    tok.decoder = decoders.ByteLevel()
    return tok


def _sentencepiece_bpe(meta: dict[str, object], tokens: list[str], types: list[int]) -> Any:
    """SentencePiece BPE (Llama 2, Mistral...): ▁ for spaces, <0xXX> byte fallback, merges from the scores."""
    from tokenizers import Tokenizer, decoders, models, normalizers
    from transformers.convert_slow_tokenizer import generate_merges

    scores: list[float] = list(meta.get("tokenizer.ggml.scores") or [0.0] * len(tokens))  # type: ignore[call-overload]
    vocab = {t: i for i, t in enumerate(tokens)}
    merges = generate_merges(vocab, {t: s for t, s, k in zip(tokens, scores, types, strict=False) if k == 1})
    unk_id = meta.get("tokenizer.ggml.unknown_token_id")
    unk = tokens[unk_id] if isinstance(unk_id, int) and 0 <= unk_id < len(tokens) else None
    tok = Tokenizer(models.BPE(vocab, merges, unk_token=unk, fuse_unk=True, byte_fallback=True))
    prefix = bool(meta.get("tokenizer.ggml.add_space_prefix", True))
    # a Prepend normalizer, not Metaspace: Metaspace skips the dummy prefix when the text starts with a space
    replace = normalizers.Replace(" ", "▁")
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), replace]) if prefix else replace
    steps = [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
    tok.decoder = decoders.Sequence([*steps, decoders.Strip(" ", 1, 0)] if prefix else steps)
    return tok


def gguf_to_hf_folder(gguf_path: Path, out_dir: Path, torch_dtype: str = "float32") -> dict[str, object]:
    """Dequantize GGUF weights into a Hugging Face folder (model, tokenizer, generation config).

    optimum-intel exports only Hugging Face folders; the folder gets the tokenizer built from the GGUF
    metadata and a generation_config whose eos/bos/pad come from the GGUF, so the exported IR stops where
    llama.cpp would. Returns a small info dict for the run report.
    """
    gguf_path, out_dir = Path(gguf_path).resolve(), Path(out_dir)
    meta = read_gguf_metadata(gguf_path)  # before the heavy imports: bad files fail in a second

    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    arch = str(meta["general.architecture"])
    known = {a.replace("_", "") for a in GGUF_SUPPORTED_ARCHITECTURES} - {"general", "tokenizer"}
    if arch.replace("-", "").replace("_", "") not in known:  # GGUF says qwen2moe, transformers qwen2_moe
        raise ValueError(f"{gguf_path}: GGUF architecture {arch!r} is not supported by transformers' GGUF loader")
    tokenizer = _tokenizer_from_metadata(meta, gguf_path)  # before the slow part: fail fast on odd tokenizers
    try:
        model = AutoModelForCausalLM.from_pretrained(
            gguf_path.parent, gguf_file=gguf_path.name, dtype=getattr(torch, torch_dtype)
        )
    except (ValueError, KeyError, NotImplementedError, RuntimeError) as exc:
        raise ValueError(f"{gguf_path}: transformers cannot load this GGUF ({_first_line(exc)})") from exc

    ids = {k: meta.get(f"tokenizer.ggml.{k}_token_id") for k in ("bos", "eos", "padding", "eot", "eom")}
    stops = list(dict.fromkeys(i for i in (ids["eos"], ids["eot"], ids["eom"]) if isinstance(i, int)))
    model.generation_config = GenerationConfig(
        bos_token_id=ids["bos"],
        eos_token_id=stops[0] if len(stops) == 1 else (stops or None),
        pad_token_id=ids["padding"] if ids["padding"] is not None else ids["eos"],
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return {
        "architecture": arch,
        "model_type": model.config.model_type,
        "name": meta.get("general.name"),
        "n_params": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        "tokenizer": f"{meta.get('tokenizer.ggml.model')}/{meta.get('tokenizer.ggml.pre', '-')}",
        "bos_token": tokenizer.bos_token,
        "eos_token": tokenizer.eos_token,
        "pad_token": tokenizer.pad_token,
        "chat_template": bool(tokenizer.chat_template),
        "context_length": meta.get(f"{arch}.context_length"),
    }


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
