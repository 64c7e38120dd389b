"""The prune stage: structured (heads/FFN neurons physically removed) or unstructured NNCF sparsity.

Structured: gradient importance on training samples → plan (ratios or per-layer) → slicing, in
`iterations` steps; optional recovery fine-tuning distilled from the unpruned model. Unstructured:
`nncf.prune` masks (magnitude local/global, or regularization-based with NNCF's RBLoss in training).
Both end with the pruned and the original model exported to IR and measured side by side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ovtool.context import Pending, StageContext
from ovtool.errors import UserError
from ovtool.extras import require
from ovtool.recipe.sections.prune import PruneSection
from ovtool.results import Metric, Plot, StageResult, Table
from ovtool.scratch import owned_tempdir
from ovtool.stages.base import Stage

NO_SPEEDUP_NOTE = (
    "unstructured sparsity only sets weights to zero: OpenVINO's dense CPU kernels do the same work, "
    "so it does not make the IR faster (see speedup); it helps only with compression or sparse kernels"
)


def preflight(section: PruneSection, ctx: StageContext) -> None:
    from ovtool.training.distributed import check
    from ovtool.training.models import check_torch_source

    check(section.distributed, "prune")  # first: a missing launcher package is named as such
    require("train", "pruning a model")
    assert section.data is not None and section.data.path is not None
    source = ctx.input.model
    if source is not None and not isinstance(source, Pending):  # an earlier stage's output is checked in run
        check_torch_source(source, "prune")
    if not Path(section.data.path).exists():
        raise UserError(f"prune.data.path: not found: {section.data.path}")
    if section.data.kind == "text":
        from ovtool.data.text import check_text_source

        check_text_source(section.data.path, section.data.format)  # e.g. image files given as text data
    rec = section.recovery
    if rec is not None and rec.training.resume and not Path(rec.training.checkpoint_dir or "").exists():
        raise UserError(f"prune.recovery.training.resume: no checkpoint folder {rec.training.checkpoint_dir}")


def run(section: PruneSection, ctx: StageContext) -> StageResult:
    from ovtool.training.models import check_torch_source

    source = check_torch_source(ctx.input.model_path, "prune")
    from ovtool.training.distributed import launches

    if launches(section.distributed):  # this process owns OUT; the workers it starts do the work
        from ovtool.stages.distributed import launch_stage

        assert section.distributed is not None
        return launch_stage("prune", section, ctx, section.distributed)
    ckpt_dir = section.recovery.training.checkpoint_dir if section.recovery else None
    if ckpt_dir:
        return _run(section, ctx, source, Path(ckpt_dir))
    with owned_tempdir("ovtool-prune-") as tmp:
        return _run(section, ctx, source, Path(tmp))


def _run(section: PruneSection, ctx: StageContext, source: Path, ckpt: Path) -> StageResult:
    from ovtool.training.distributed import start
    from ovtool.training.models import load_classifier
    from ovtool.training.pipeline import prepare

    assert section.data is not None
    settings = section.recovery.training if section.recovery else None
    session = start(section.distributed)  # one process: a no-op
    ckpt = session.shared_dir(ckpt)
    with ctx.step("load model and data"):
        original = load_classifier(source)
        model = load_classifier(source)
        prep = prepare(source, original, section.data, section.max_length,
                       settings.train_samples if settings else None, section.eval_samples, ctx.seed)  # fmt: skip
    if section.method == "structured":
        result = _structured(section, ctx, original, model, prep, ckpt, session)
    else:
        result = _unstructured(section, ctx, original, model, prep, ckpt, session)
    if session.is_main:
        from ovtool.stages.distributed import record_processes

        record_processes(result, session.details(_outcomes(result), settings.batch_size if settings else 0))
    return result


def _outcomes(result: StageResult) -> list[Any]:
    """The training outcomes recorded in details.recovery (the per-rank throughput is in them)."""
    from types import SimpleNamespace

    recovery = result.details.get("recovery")
    items = recovery if isinstance(recovery, list) else [recovery] if recovery else []
    return [SimpleNamespace(**o) for o in items]


def _peer(session: Any) -> StageResult | None:
    """Training is over: ranks other than 0 stop here (rank 0 exports, measures and publishes)."""
    if session.finish():
        return None
    from ovtool.stages.distributed import peer_result

    return peer_result("prune", f"rank {session.ranks.rank}: training done")


def _loss(section: PruneSection, teacher: Any) -> Any:
    from ovtool.training.trainer import DistillLoss

    rec = section.recovery
    assert rec is not None
    return DistillLoss(teacher=teacher if rec.alpha > 0 else None, temperature=rec.temperature, alpha=rec.alpha)


def _structured(section: PruneSection, ctx: StageContext, original: Any, model: Any, prep: Any,
                ckpt: Path, session: Any) -> StageResult:  # fmt: skip
    from ovtool.training import structured as st
    from ovtool.training.distributed import broadcast
    from ovtool.training.export import export_classifier
    from ovtool.training.models import count_parameters, save_torch
    from ovtool.training.pipeline import compare, comparison_columns, importance_batches
    from ovtool.training.plots import layer_bars
    from ovtool.training.trainer import train

    spec = section.structured
    assert spec is not None
    shape0 = st.structure_of(model)
    phases, outcomes = spec.iterations, []
    for phase in range(1, phases + 1):
        with ctx.step(f"gradient importance and pruning {phase}/{phases}"):
            imp = st.measure_importance(model, importance_batches(prep, spec.importance_samples))
            keep_h, keep_f = broadcast(st.plan_keep(imp, spec, shape0, phase / phases))  # same shapes on every rank
            st.prune_layers(model, keep_h, keep_f)
        if section.recovery is not None:
            with ctx.step(f"recovery fine-tuning, distilled from the unpruned model ({phase}/{phases})"), \
                    session.guard():
                outcomes.append(train(model, prep.train_ds, prep.eval_ds, section.recovery.training,
                                      ckpt / f"phase{phase}", ctx.seed, _loss(section, original),
                                      epochs_share=1 / phases))  # fmt: skip
    if (peer := _peer(session)) is not None:
        return peer
    structure = st.structure_of(model)
    with ctx.step("export pruned model to OpenVINO IR"):
        xml = export_classifier(model, prep.tokenizer, ctx.model_dir, prep.splits.label_names)
        save_torch(model, prep.tokenizer, ctx.work_dir / "torch", structure)
    cmp = compare(ctx, original, prep, xml, measure_speed=section.measure_speed, seconds=section.speed_seconds,
                  reference_name="original")  # fmt: skip
    rows = st.layer_table(model, shape0)
    heads_share = 1 - sum(structure["heads"]) / sum(shape0["heads"])
    ffn_share = 1 - sum(structure["ffn"]) / sum(shape0["ffn"])
    p0, p1 = count_parameters(original), count_parameters(model)
    result = StageResult(stage="prune", model_dir=ctx.model_dir)
    result.metrics = cmp.metrics | {
        "heads_pruned": Metric(round(heads_share * 100, 2), "%", "attention heads removed, all layers"),
        "ffn_pruned": Metric(round(ffn_share * 100, 2), "%", "FFN neurons removed, all layers"),
        "parameters": Metric(p1, "parameters", "pruned model"),
        "original_parameters": Metric(p0, "parameters", "unpruned model"),
        "parameters_removed": Metric(round((1 - p1 / p0) * 100, 2), "%", "all tensors, embeddings included"),
    }
    result.gate_values = cmp.gate_values
    result.details = cmp.details | {
        "method": "structured",
        "importance": "gradient (|dL/dmask|), heads L2-normalised per layer (Michel et al. 2019)",
        "global_ranking": spec.global_ranking,
        "structure_before": shape0,
        "structure": structure,
        "recovery": [o.__dict__ for o in outcomes],
        "data_samples": prep.sizes,
        "torch_model": "torch/ (save_pretrained + ovtool_structure.json; load with ovtool prune/distill)",
    }
    result.tables = [
        Table("Original IR vs pruned IR (held-out test split)", comparison_columns(section.measure_speed), cmp.rows),
        Table("Per layer", ["layer", "heads kept", "heads pruned", "FFN kept", "FFN pruned", "parameters"], rows),
    ]
    result.plots = [Plot("Heads and FFN neurons kept per layer", layer_bars(rows, "structured pruning per layer"))]
    speed = f", {cmp.gate_values['speedup']:.2f}x throughput" if "speedup" in cmp.gate_values else ""
    result.summary = (
        f"pruned {heads_share:.0%} of heads and {ffn_share:.0%} of FFN neurons: accuracy "
        f"{cmp.metrics['accuracy'].value:.2f}% (original {cmp.metrics['original_accuracy'].value:.2f}%){speed}"
    )
    return result


def _unstructured(section: PruneSection, ctx: StageContext, original: Any, model: Any, prep: Any,
                  ckpt: Path, session: Any) -> StageResult:  # fmt: skip
    from ovtool.training import unstructured as us
    from ovtool.training.export import export_classifier
    from ovtool.training.pipeline import compare, comparison_columns
    from ovtool.training.plots import bars
    from ovtool.training.trainer import train

    assert section.sparsity is not None
    example = {k: v for k, v in prep.train_ds[:2].items() if k != "labels"}
    with ctx.step(f"nncf.prune ({section.method}, target sparsity {section.sparsity:.0%})"):
        model = us.sparsify(model, section.method, section.sparsity, example)
    outcome = None
    if section.recovery is not None:
        extra = us.regularization_loss(model, section.sparsity) if section.method == "regularization" else None
        with ctx.step("recovery fine-tuning" + (" with NNCF RBLoss" if extra is not None else "")), session.guard():
            outcome = train(model, prep.train_ds, prep.eval_ds, section.recovery.training, ckpt / "recovery",
                            ctx.seed, _loss(section, original), extra_loss=extra,
                mask_lr=section.recovery.mask_learning_rate if extra is not None else None,
                select_best=extra is None)  # fmt: skip
    if (peer := _peer(session)) is not None:
        return peer
    prunable, overall, tensor_rows = us.statistics(model)
    with ctx.step("export sparse model to OpenVINO IR"):
        xml = export_classifier(model, prep.tokenizer, ctx.model_dir, prep.splits.label_names)
        ir_zeros = us.ir_zero_share(xml)
    cmp = compare(ctx, original, prep, xml, measure_speed=section.measure_speed, seconds=section.speed_seconds,
                  reference_name="original")  # fmt: skip
    result = StageResult(stage="prune", model_dir=ctx.model_dir)
    result.metrics = cmp.metrics | {
        "sparsity": Metric(round(prunable * 100, 2), "%", "zeros in the pruned tensors (NNCF statistic)"),
        "sparsity_all_parameters": Metric(round(overall * 100, 2), "%", "zeros among all parameters"),
        "ir_weight_zeros": Metric(round(ir_zeros * 100, 2), "%", "exact zeros among the IR's float weights"),
    }
    result.gate_values = cmp.gate_values
    result.details = cmp.details | {
        "method": section.method,
        "target_sparsity": section.sparsity,
        "ignored": us.IGNORED_PATTERNS,
        "recovery": outcome.__dict__ if outcome else None,
        "data_samples": prep.sizes,
        "speed_note": NO_SPEEDUP_NOTE,
    }
    result.tables = [
        Table("Original IR vs sparse IR (held-out test split)", comparison_columns(section.measure_speed), cmp.rows),
        Table("Sparsity per tensor", ["tensor", "shape", "sparsity"], tensor_rows),
    ]
    result.plots = [Plot("Sparsity per tensor", bars([r[0] for r in tensor_rows], [r[2] for r in tensor_rows],
                                                     "share of zero weights per tensor"))]  # fmt: skip
    result.warnings.append(NO_SPEEDUP_NOTE)
    speed = f", {cmp.gate_values['speedup']:.2f}x throughput (no dense-kernel speedup expected)" \
        if "speedup" in cmp.gate_values else ""  # fmt: skip
    result.summary = (
        f"{section.method}: {prunable:.0%} of prunable weights are zero; accuracy "
        f"{cmp.metrics['accuracy'].value:.2f}% (original {cmp.metrics['original_accuracy'].value:.2f}%){speed}"
    )
    return result


STAGE = Stage(name="prune", section_type=PruneSection, preflight=preflight, run=run, cache="artifact",
              libraries=("torch", "transformers", "tokenizers", "datasets", "nncf", "openvino", "optimum-intel"))
