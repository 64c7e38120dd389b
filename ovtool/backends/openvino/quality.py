"""What compression cost: quality of a compressed IR against its original on held-out samples, and speed.

- classifiers: accuracy and macro F1 (scikit-learn) of both, and the drop;
- encoders, detectors, anything else: cosine similarity of the outputs to the original's;
- LLMs: perplexity over held-out token chunks (one prefill per chunk, exp of the mean next-token
  negative log-likelihood, as HF's perplexity guide computes it), and agreement of greedy generations
  (openvino_genai): token-level match rate and, as who-what-benchmark does, the cosine similarity of
  sentence embeddings of both answers;
- speed: throughput of both, interleaved (AsyncInferQueue, THROUGHPUT hint), or genai decode tokens/s.
Quality comparisons compile with INFERENCE_PRECISION_HINT f32 (the CPU would otherwise use bf16).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def compile_model(xml: Path, precision: str | None, hint: str | None = None) -> Any:
    import openvino as ov

    config: dict[str, Any] = {}
    if precision is not None:
        config["INFERENCE_PRECISION_HINT"] = precision
    if hint is not None:
        config["PERFORMANCE_HINT"] = hint
    return ov.Core().compile_model(str(xml), "CPU", config)


def outputs(compiled: Any, items: list[dict[str, Any]]) -> list[list[Any]]:
    """Every output of every item (copied), with state reset between items for stateful models."""
    request = compiled.create_infer_request()
    results = []
    for item in items:
        if hasattr(request, "reset_state"):
            request.reset_state()
        request.infer(item)
        results.append([request.get_tensor(port).data.copy() for port in compiled.outputs])
    return results


def cosine(a: Any, b: Any) -> float:
    import numpy as np

    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    denom = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y / denom) if denom else float(np.array_equal(x, y))


@dataclass
class OutputComparison:
    similarity_mean: float
    similarity_min: float
    accuracy_original: float | None = None
    accuracy_compressed: float | None = None
    f1_original: float | None = None
    f1_compressed: float | None = None


def compare_outputs(
    reference: list[list[Any]], candidate: list[list[Any]], labels: list[int] | None
) -> OutputComparison:
    """Cosine similarity of all outputs per sample; accuracy/F1 of the first output's argmax with labels."""
    import numpy as np

    sims = [float(np.mean([cosine(r, c) for r, c in zip(ref, cand, strict=True)]))
            for ref, cand in zip(reference, candidate, strict=True)]  # fmt: skip
    result = OutputComparison(float(np.mean(sims)), float(np.min(sims)))
    if labels is not None:
        from sklearn.metrics import accuracy_score, f1_score

        pred_r = [int(np.argmax(r[0].reshape(-1))) for r in reference]
        pred_c = [int(np.argmax(c[0].reshape(-1))) for c in candidate]
        result.accuracy_original = float(accuracy_score(labels, pred_r))
        result.accuracy_compressed = float(accuracy_score(labels, pred_c))
        result.f1_original = float(f1_score(labels, pred_r, average="macro"))
        result.f1_compressed = float(f1_score(labels, pred_c, average="macro"))
    return result


def classification_metric(compiled: Any, items: list[dict[str, Any]], labels: list[int], metric: str) -> float:
    """accuracy or macro F1 of a compiled classifier (the validation function of accuracy control)."""
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score

    preds = [int(np.argmax(out[0].reshape(-1))) for out in outputs(compiled, items)]
    if metric == "accuracy":
        return float(accuracy_score(labels, preds))
    return float(f1_score(labels, preds, average="macro"))


def perplexity(compiled: Any, items: list[dict[str, Any]]) -> float:
    """exp(mean negative log-likelihood of each next token) over every chunk (one prefill each).

    NumPy, not torch: quantizing an LLM IR is a core path that must work without `ovtool[hf]`.
    """
    import numpy as np

    total, count = 0.0, 0
    request = compiled.create_infer_request()
    for item in items:
        if hasattr(request, "reset_state"):
            request.reset_state()
        request.infer(item)
        logits = np.asarray(request.get_tensor("logits").data, dtype=np.float32)[0, :-1].astype(np.float64)
        targets = np.asarray(item["input_ids"])[0, 1:]
        peak = logits.max(axis=-1)
        log_norm = peak + np.log(np.exp(logits - peak[:, None]).sum(axis=-1))  # log-sum-exp per position
        total += float((log_norm - logits[np.arange(len(targets)), targets]).sum())
        count += len(targets)
    return float(np.exp(total / count))


@dataclass
class _Timed:
    queue: Any
    precision: str
    requests: int
    done: int = 0
    seconds: float = 0.0


def _prepare(xml: Path, item: dict[str, Any], precision: str | None = None) -> _Timed:
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(xml))
    if any(port.get_partial_shape().is_dynamic for port in model.inputs):
        model.reshape({name: list(value.shape) for name, value in item.items()})
    config = {"PERFORMANCE_HINT": "THROUGHPUT"} | ({"INFERENCE_PRECISION_HINT": precision} if precision else {})
    compiled = core.compile_model(model, "CPU", config)
    nireq = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    timed = _Timed(ov.AsyncInferQueue(compiled, nireq),
                   compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name(), nireq)  # fmt: skip
    for request in timed.queue:
        for name, value in item.items():
            request.set_tensor(name, ov.Tensor(value))
    for _ in range(nireq):  # warm-up
        timed.queue.start_async()
    timed.queue.wait_all()
    return timed


def _round(timed: _Timed, seconds: float) -> None:
    counter = [0]
    timed.queue.set_callback(lambda *_: counter.__setitem__(0, counter[0] + 1))
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        timed.queue.start_async()
    timed.queue.wait_all()
    timed.seconds += time.perf_counter() - start
    timed.done += counter[0]


def throughput_pair(
    xmls: list[Path], item: dict[str, Any], seconds: float, rounds: int = 6, precisions: list[str | None] | None = None
) -> list[dict[str, Any]]:
    """Inferences/s of each IR (THROUGHPUT hint; precision per IR, None = the CPU's default), `seconds` each.

    Measured interleaved — short rounds A, B, A, B… — so a change of load on the machine hits both
    alike. Dynamic inputs are fixed to the sample's shape first (as benchmark_app -shape does).
    """
    timed = [_prepare(xml, item, p) for xml, p in zip(xmls, precisions or [None] * len(xmls), strict=True)]
    for _ in range(rounds):
        for target in timed:
            _round(target, seconds / rounds)
    return [{"fps": t.done / t.seconds, "precision": t.precision, "requests": t.requests} for t in timed]


@dataclass
class GenerationAgreement:
    token_match_rate: float
    exact_match_rate: float
    embedding_similarity: float | None
    examples: list[dict[str, str]]


def generation_agreement(
    original_dir: Path, compressed_dir: Path, prompts: list[str], max_new_tokens: int, embedding_model: str | None
) -> GenerationAgreement:
    """Greedy answers of both models (openvino_genai, f32) to held-out prompts, compared token by token."""
    answers: dict[str, list[str]] = {}
    tokens: dict[str, list[list[int]]] = {}
    for label, folder in (("original", original_dir), ("compressed", compressed_dir)):
        answers[label], tokens[label], _ = _generate(folder, prompts, max_new_tokens, "f32")
    matches, total, exact = 0, 0, 0
    for a, b in zip(tokens["original"], tokens["compressed"], strict=True):
        length = max(len(a), len(b))
        matches += sum(1 for x, y in zip(a, b, strict=False) if x == y)
        total += length
        exact += int(a == b)
    similarity = None
    if embedding_model is not None:
        import numpy as np

        both = embed(embedding_model, answers["original"] + answers["compressed"])
        emb_a, emb_b = both[: len(prompts)], both[len(prompts) :]
        similarity = float(np.mean(np.sum(emb_a * emb_b, axis=1)))
    examples = [{"prompt": p, "original": a, "compressed": b}
                for p, a, b in zip(prompts, answers["original"], answers["compressed"], strict=True)][:3]  # fmt: skip
    return GenerationAgreement(matches / max(total, 1), exact / max(len(prompts), 1), similarity, examples)


def _generate(
    folder: Path, prompts: list[str], max_new_tokens: int, precision: str | None
) -> tuple[list[str], list[list[int]], float]:
    """Greedy generation with a fixed token budget; mean tokens/s of the decode phase."""
    import openvino_genai as genai

    config_kw = {"INFERENCE_PRECISION_HINT": precision} if precision else {}
    pipe = genai.LLMPipeline(str(folder), "CPU", **config_kw)
    config = genai.GenerationConfig(max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens, do_sample=False)
    tokenizer = pipe.get_tokenizer()
    texts, ids, rates = [], [], []
    for prompt in prompts:
        encoded = tokenizer.encode(prompt)
        result = pipe.generate(encoded, config)
        out = [int(t) for t in result.tokens[0]]
        ids.append(out)
        texts.append(tokenizer.decode(out))
        rates.append(result.perf_metrics.get_throughput().mean)
    del pipe
    return texts, ids, sum(rates) / max(len(rates), 1)


def embed(model_dir: str, texts: list[str]) -> Any:
    """Mean-pooled, L2-normalised sentence embeddings (the sentence-transformers recipe) via transformers."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir)
    with torch.no_grad():
        enc = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        hidden = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=1).numpy()


def llm_tokens_per_s_pair(
    folders: list[Path], prompts: list[str], max_new_tokens: int, precisions: list[str | None]
) -> list[float]:
    """Decode tokens/s of greedy generation per model at the given precision (None: the CPU's default).

    Both pipelines are loaded and prompts alternate between them, so load changes hit both alike.
    """
    import openvino_genai as genai

    pipes = [genai.LLMPipeline(str(folder), "CPU", **({"INFERENCE_PRECISION_HINT": p} if p else {}))
             for folder, p in zip(folders, precisions, strict=True)]  # fmt: skip
    config = genai.GenerationConfig(max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens, do_sample=False)
    rates: list[list[float]] = [[] for _ in pipes]
    for prompt in prompts:
        for pipe, got in zip(pipes, rates, strict=True):
            result = pipe.generate(pipe.get_tokenizer().encode(prompt), config)
            got.append(result.perf_metrics.get_throughput().mean)
    return [sum(r) / len(r) for r in rates]
