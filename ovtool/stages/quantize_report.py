"""What a quantize run reports: metrics, gate values, tables and the summary line, from what was measured.

Kept apart from the stage so the stage reads as the steps it takes (load, compress, measure) and this
module as what the user sees in run.json and report.md.
"""

from __future__ import annotations

from typing import Any

from ovtool.recipe.sections.quantize import QuantizeSection
from ovtool.results import Metric, StageResult, Table


def fill_report(result: StageResult, section: QuantizeSection, io: Any, calib: Any, held: Any, facts: dict[str, Any],
          before: dict[str, Any], after: dict[str, Any]) -> None:  # fmt: skip
    """Metrics, gate values, tables and the summary line from what was measured."""
    measured = result.details["quality"]
    m = result.metrics
    m["size_original_mb"] = Metric(round(before["size_bytes"] / 2**20, 2), "MiB", "original IR (.xml + .bin)")
    m["size_compressed_mb"] = Metric(round(after["size_bytes"] / 2**20, 2), "MiB", "compressed IR (.xml + .bin)")
    m["size_ratio"] = Metric(round(after["size_bytes"] / before["size_bytes"], 4), "x", "compressed / original size")
    headline = []
    rows: list[list[Any]] = []
    if io.kind == "llm":
        p0, p1 = measured["perplexity_original"], measured["perplexity_compressed"]
        inc = (p1 / p0 - 1) * 100
        m["perplexity_original"] = Metric(round(p0, 4), "ppl", f"{len(held)} held-out chunks, f32")
        m["perplexity_compressed"] = Metric(round(p1, 4), "ppl", f"{len(held)} held-out chunks, f32")
        m["perplexity_increase_pct"] = Metric(round(inc, 3), "%", "compressed vs original perplexity")
        result.gate_values["perplexity_increase_pct"] = inc
        rows.append(["perplexity (held-out)", round(p0, 3), round(p1, 3), f"{inc:+.2f}%"])
        headline.append(f"perplexity {p0:.2f} → {p1:.2f} ({inc:+.1f}%)")
        gen = measured.get("generation")
        if gen:
            m["token_match_rate"] = Metric(round(gen["token_match_rate"], 4), "ratio",
                                           "greedy tokens equal to the original's, position by position")  # fmt: skip
            rows.append(["greedy token match rate", 1.0, round(gen["token_match_rate"], 4), ""])
            if gen["embedding_similarity"] is not None:
                m["generation_similarity"] = Metric(round(gen["embedding_similarity"], 4), "cosine",
                                                    "sentence-embedding similarity of the answers")  # fmt: skip
                result.gate_values["similarity"] = gen["embedding_similarity"]
                rows.append(["answer embedding similarity", 1.0, round(gen["embedding_similarity"], 4), ""])
            result.tables.append(Table("Greedy generations (first prompts)", ["prompt", "original", "compressed"],
                                       [[_cell(e["prompt"]), _cell(e["original"]), _cell(e["compressed"])]
                                        for e in gen["examples"]]))
        if "tokens_per_s_original" in measured:
            t0, t1 = measured["tokens_per_s_original"], measured["tokens_per_s_compressed"]
            p0, p1 = measured["tokens_per_s_precisions"]
            m["tokens_per_s_original"] = Metric(round(t0, 2), "tokens/s", f"greedy decode, {p0} precision")
            m["tokens_per_s_compressed"] = Metric(round(t1, 2), "tokens/s", f"greedy decode, {p1} precision")
            m["speedup"] = Metric(round(t1 / t0, 3), "x", "tokens/s compressed / original (same run)")
            result.gate_values["speedup"] = t1 / t0
            headline.append(f"{t1 / t0:.2f}x tokens/s")
    else:
        out = measured["outputs"]
        m["output_similarity"] = Metric(round(out["similarity_mean"], 5), "cosine",
                                        f"mean over {len(held)} held-out samples, f32")  # fmt: skip
        m["output_similarity_min"] = Metric(round(out["similarity_min"], 5), "cosine", "worst held-out sample")
        result.gate_values["similarity"] = out["similarity_mean"]
        rows.append(["output cosine similarity (mean)", 1.0, round(out["similarity_mean"], 5), ""])
        if out["accuracy_original"] is not None:
            a0, a1 = out["accuracy_original"] * 100, out["accuracy_compressed"] * 100
            m["accuracy_original"] = Metric(round(a0, 3), "%", f"{len(held)} held-out samples, f32")
            m["accuracy_compressed"] = Metric(round(a1, 3), "%", f"{len(held)} held-out samples, f32")
            m["accuracy_drop"] = Metric(round(a0 - a1, 3), "points", "original - compressed accuracy")
            m["f1_compressed"] = Metric(round(out["f1_compressed"], 4), "macro F1", "held-out samples")
            result.gate_values["accuracy_drop"] = a0 - a1
            rows.append(["accuracy %", round(a0, 2), round(a1, 2), f"{a1 - a0:+.2f} points"])
            rows.append(["macro F1", round(out["f1_original"], 4), round(out["f1_compressed"], 4), ""])
            headline.append(f"accuracy {a0:.1f}% → {a1:.1f}%")
        else:
            headline.append(f"output similarity {out['similarity_mean']:.4f}")
        if "speed_original" in measured:
            _speed_metrics(result, measured, section.quality.speed_baseline, headline, rows)
    result.tables.append(Table("Quality on held-out samples", ["metric", "original", "compressed", "change"], rows))
    result.tables.append(_precision_table(before, after))
    if facts.get("auto_ignored"):
        result.tables.append(Table("Kept in float: widest activation ranges (ignored_scope.auto)",
                                   ["layer", "type", "min", "max", "range"],
                                   [[r["name"], r["type"], round(r["min"], 3), round(r["max"], 3), round(r["range"], 3)]
                                    for r in facts["auto_ignored"]]))  # fmt: skip
    if "reverted_to_float" in facts:
        result.tables.append(Table("Reverted to float by accuracy control", ["operation"],
                                   [[n] for n in facts["reverted_to_float"]] or [["(none)"]]))  # fmt: skip
    data_rows = []
    for role, sset in (("calibration", calib), ("held-out evaluation", held)):
        if sset is not None:
            info = sset.info
            data_rows.append([role, info.get("path") or "synthetic", info.get("format") or "-",
                              info.get("split") or "-", info.get("samples"), bool(info.get("synthetic"))])  # fmt: skip
    result.tables.append(Table("Data", ["role", "source", "format", "split", "samples", "synthetic"], data_rows))
    synthetic = any(s is not None and s.info.get("synthetic") for s in (calib, held))
    if synthetic:
        result.warnings.append("synthetic (random) data was used as the recipe asked: quality figures are not "
                               "representative of real inputs")  # fmt: skip
    result.details |= {
        **facts,
        "model_kind": io.kind,
        "synthetic_data": synthetic,
        "calibration": _info(calib),
        "evaluation": _info(held),
        "original_ir": {k: before[k] for k in ("weight_precisions", "size_bytes")},
        "compressed_ir": {k: after[k] for k in ("weight_precisions", "size_bytes", "inputs", "outputs")},
    }
    what = section.weights.mode if section.weights is not None else f"{section.mode} PTQ"
    result.summary = f"quantized ({what}): " + ", ".join(headline) + f", size {after['size_bytes'] / 2**20:.1f} MiB"


def _speed_metrics(result: StageResult, measured: dict[str, Any], baseline: str, headline: list[str],
                   rows: list[list[Any]]) -> None:  # fmt: skip
    """Throughput of the compressed IR against the original at the default precision and, where that is not
    f32, at f32 too: on CPUs with AMX/AVX512-BF16 the fp IR runs bf16 by default, nearly as fast as INT8."""
    m = result.metrics
    s0, s1 = measured["speed_original"], measured["speed_compressed"]
    f32 = measured.get("speed_original_f32")
    m["throughput_original"] = Metric(round(s0["fps"], 2), "inferences/s", f"{s0['precision']}, THROUGHPUT")
    m["throughput_compressed"] = Metric(round(s1["fps"], 2), "inferences/s", f"{s1['precision']}, THROUGHPUT")
    m["speedup_vs_default"] = Metric(round(s1["fps"] / s0["fps"], 3), "x",
                                     f"compressed / original, both at the default ({s0['precision']})")  # fmt: skip
    rows.append([f"throughput, inferences/s ({s0['precision']})", round(s0["fps"], 1), round(s1["fps"], 1),
                 f"{s1['fps'] / s0['fps']:.2f}x"])  # fmt: skip
    base = s0
    if f32 is not None:
        m["throughput_original_f32"] = Metric(round(f32["fps"], 2), "inferences/s", "original at f32, THROUGHPUT")
        m["speedup_vs_f32"] = Metric(round(s1["fps"] / f32["fps"], 3), "x",
                                     f"compressed ({s1['precision']}) / original executed in f32")  # fmt: skip
        rows.append(["throughput, inferences/s (original at f32)", round(f32["fps"], 1), round(s1["fps"], 1),
                     f"{s1['fps'] / f32['fps']:.2f}x"])  # fmt: skip
        if baseline == "f32":
            base = f32
    speedup = s1["fps"] / base["fps"]
    m["speedup"] = Metric(round(speedup, 3), "x", f"throughput compressed / original at {base['precision']} "
                          "(quality.speed_baseline; gate min_speedup)")  # fmt: skip
    result.gate_values["speedup"] = speedup
    others = "" if f32 is None else f" ({s1['fps'] / s0['fps']:.2f}x vs {s0['precision']}, " \
        f"{s1['fps'] / f32['fps']:.2f}x vs f32)"  # fmt: skip
    headline.append(f"{speedup:.2f}x throughput{others}")


def _cell(text: str) -> str:
    """Generated text on one table row (line breaks shown as ⏎, pipes escaped)."""
    return text.replace("\n", " ⏎ ").replace("|", "\\|").strip()


def _info(sset: Any) -> dict[str, Any] | None:
    if sset is None:
        return None
    return {k: v for k, v in sset.info.items() if k != "token_chunks"}


def _precision_table(before: dict[str, Any], after: dict[str, Any]) -> Table:
    kinds = list(dict.fromkeys([*after["weight_precisions"], *before["weight_precisions"]]))
    total_b = max(before["weight_elements"], 1)
    total_a = max(after["weight_elements"], 1)
    rows = [[k, f"{before['weight_precisions'].get(k, 0) / total_b:.1%}",
             f"{after['weight_precisions'].get(k, 0) / total_a:.1%}"] for k in kinds]  # fmt: skip
    return Table("Weight precisions (share of weight elements)", ["element type", "original", "compressed"], rows)
