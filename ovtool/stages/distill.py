"""The distill stage: teacher → student with the HF Trainer; with `structured` and `qat` it is JPQD.

Flow: load teacher + canonical splits → student (path, derived layers, or a copy of the teacher) →
[structured pruning in `iterations` steps, each followed by part of the training] → [NNCF QAT] →
distillation training → IR in OUT/model → teacher IR vs student IR on the held-out test split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ovtool.context import Pending, StageContext
from ovtool.errors import UserError
from ovtool.extras import require
from ovtool.recipe.sections.distill import DistillSection
from ovtool.results import Metric, Plot, StageResult, Table
from ovtool.scratch import owned_tempdir
from ovtool.stages.base import Stage


def preflight(section: DistillSection, ctx: StageContext) -> None:
    from ovtool.training.distributed import check
    from ovtool.training.models import check_torch_source

    check(section.distributed, "distill")  # first: a missing launcher package is named as such
    require("train", "distilling a model")
    model = ctx.input.model
    if model is not None and not isinstance(model, Pending):  # an earlier stage's output is checked in run
        source = check_torch_source(model, "distill")
        if section.student.layers is not None or section.student.layer_ids is not None:
            import json

            from ovtool.training.models import student_layer_ids

            total = json.loads((source / "config.json").read_text()).get("num_hidden_layers", 0)
            student_layer_ids(total, section.student.layers, section.student.layer_ids)
    if section.student.path is not None:
        check_torch_source(section.student.path, "distill.student.path")
    assert section.data is not None and section.data.path is not None
    if not Path(section.data.path).exists():
        raise UserError(f"distill.data.path: not found: {section.data.path}")
    if section.data.kind == "text":
        from ovtool.data.text import check_text_source

        check_text_source(section.data.path, section.data.format)  # e.g. image files given as text data
    if section.training.resume and not Path(section.training.checkpoint_dir or "").exists():
        raise UserError(f"distill.training.resume: no checkpoint folder {section.training.checkpoint_dir}")


def run(section: DistillSection, ctx: StageContext) -> StageResult:
    from ovtool.training.models import check_torch_source

    assert section.data is not None
    source = check_torch_source(ctx.input.model_path, "distill")
    from ovtool.training.distributed import launches

    if launches(section.distributed):  # this process owns OUT; the workers it starts do the work
        from ovtool.stages.distributed import launch_stage

        assert section.distributed is not None
        return launch_stage("distill", section, ctx, section.distributed)
    if section.training.checkpoint_dir:
        return _run(section, ctx, source, Path(section.training.checkpoint_dir))
    with owned_tempdir("ovtool-distill-") as tmp:
        return _run(section, ctx, source, Path(tmp))


def _student(section: DistillSection, teacher: Any) -> tuple[Any, list[int], str]:
    """The student, the teacher layer each student layer maps to, and how it was made."""
    import copy

    from ovtool.training.models import derive_student, encoder_layers, load_classifier, student_layer_ids

    total = len(encoder_layers(teacher))
    spec = section.student
    if spec.path is not None:
        student = load_classifier(Path(spec.path))
        if student.config.vocab_size != teacher.config.vocab_size:
            raise UserError("distill.student.path: the student's vocabulary differs from the teacher's tokenizer")
        if student.config.num_labels != teacher.config.num_labels:
            student = load_classifier(Path(spec.path), num_labels=teacher.config.num_labels)
        n = len(encoder_layers(student))
        return student, student_layer_ids(total, n, None), f"loaded from {spec.path}"
    if spec.layers is not None or spec.layer_ids is not None:
        keep = student_layer_ids(total, spec.layers, spec.layer_ids)
        return derive_student(teacher, keep), keep, f"teacher layers {keep} of {total}"
    return copy.deepcopy(teacher), list(range(total)), "a copy of the teacher"


def _run(section: DistillSection, ctx: StageContext, source: Path, ckpt: Path) -> StageResult:
    from ovtool.training import structured as st
    from ovtool.training.distributed import broadcast, start
    from ovtool.training.export import export_classifier
    from ovtool.training.models import load_classifier, save_torch
    from ovtool.training.pipeline import compare, importance_batches, prepare
    from ovtool.training.trainer import DistillLoss, train

    assert section.data is not None
    settings = section.training
    session = start(section.distributed)  # one process: a no-op
    ckpt = session.shared_dir(ckpt)
    with ctx.step("load teacher, data and student"):
        teacher = load_classifier(source)
        prep = prepare(source, teacher, section.data, settings.max_length, settings.train_samples,
                       settings.eval_samples, ctx.seed)  # fmt: skip
        student, layer_map, origin = _student(section, teacher)
    original = st.structure_of(student)
    loss = DistillLoss(teacher=teacher, temperature=section.temperature, alpha=section.alpha,
                       hidden_weight=section.hidden_weight, layer_map=layer_map)  # fmt: skip
    if section.hidden_weight > 0 and student.config.hidden_size != teacher.config.hidden_size:
        raise UserError("distill.hidden_weight needs the same hidden size in student and teacher")
    phases = section.structured.iterations if section.structured else 1
    outcomes = []
    for phase in range(1, phases + 1):
        if section.structured is not None:
            with ctx.step(f"structured pruning {phase}/{phases}: gradient importance, remove heads/neurons"):
                imp = st.measure_importance(student, importance_batches(prep, section.structured.importance_samples))
                # rank 0's plan on every rank: DDP needs the same shapes everywhere
                keep_h, keep_f = broadcast(st.plan_keep(imp, section.structured, original, phase / phases))
                st.prune_layers(student, keep_h, keep_f)
        if phase == phases and section.qat is not None:
            with ctx.step("NNCF: insert fake quantizers (calibrated on training samples)"):
                from ovtool.training.data import batches
                from ovtool.training.qat import quantize_for_training

                n = min(section.qat.calibration_samples, len(prep.train_ds))
                student = quantize_for_training(student, batches(prep.train_ds.select(range(n)), 1), section.qat)
        name = "distillation training" + (" with QAT" if phase == phases and section.qat else "")
        with ctx.step(f"{name} (phase {phase}/{phases})" if phases > 1 else name), session.guard():
            outcomes.append(train(student, prep.train_ds, prep.eval_ds, settings, ckpt / f"phase{phase}",
                                  ctx.seed, loss, epochs_share=1 / phases))  # fmt: skip
    if not session.finish():  # ranks other than 0 stop here: rank 0 exports, measures and publishes
        from ovtool.stages.distributed import peer_result

        return peer_result("distill", f"rank {session.ranks.rank}: training done")
    with ctx.step("export student to OpenVINO IR"):
        xml = export_classifier(student, prep.tokenizer, ctx.model_dir, prep.splits.label_names)
        structure = st.structure_of(student)
        if section.qat is None:
            save_torch(student, prep.tokenizer, ctx.work_dir / "torch", structure)
    cmp = compare(ctx, teacher, prep, xml, measure_speed=section.measure_speed, seconds=section.speed_seconds,
                  reference_name="teacher")  # fmt: skip
    from ovtool.stages.distributed import record_processes

    result = _result(section, ctx, cmp, outcomes, (teacher, student), (original, structure), origin, prep)
    record_processes(result, session.details(outcomes, settings.batch_size))
    return result


def _result(
    section: DistillSection,
    ctx: StageContext,
    cmp: Any,
    outcomes: list[Any],
    models: tuple[Any, Any],
    shapes: tuple[dict[str, list[int]], dict[str, list[int]]],
    origin: str,
    prep: Any,
) -> StageResult:
    from ovtool.training import structured as st
    from ovtool.training.models import count_parameters
    from ovtool.training.pipeline import comparison_columns
    from ovtool.training.plots import curve, layer_bars

    teacher, student = models
    original, structure = shapes
    mode = "jpqd" if section.structured and section.qat else ("qat" if section.qat else "distill")
    result = StageResult(stage="distill", model_dir=ctx.model_dir)
    t_params, s_params = count_parameters(teacher), count_parameters(student)
    result.metrics = cmp.metrics | {
        "teacher_parameters": Metric(t_params, "parameters", "teacher, all tensors"),
        "student_parameters": Metric(s_params, "parameters", "student after pruning (QAT adds quantizer scales)"),
        "training_steps": Metric(sum(o.steps for o in outcomes), "steps", "optimizer steps, all phases"),
    }
    if outcomes[-1].best_eval_accuracy is not None:
        result.metrics["validation_accuracy"] = Metric(
            round(outcomes[-1].best_eval_accuracy * 100, 2), "%", "best torch checkpoint on the validation split"
        )
    result.gate_values = cmp.gate_values
    heads_total, heads_kept = sum(original["heads"]), sum(structure["heads"])
    ffn_total, ffn_kept = sum(original["ffn"]), sum(structure["ffn"])
    result.details = cmp.details | {
        "mode": mode,
        "student": origin,
        "loss": {"temperature": section.temperature, "alpha": section.alpha, "hidden_weight": section.hidden_weight},
        "data": {
            "path": section.data.path if section.data else None,
            "labels": prep.splits.label_names,
            "samples": prep.sizes,
            "split": "canonical 0.8/0.1/0.1 stratified, seed 0",
        },
        "structure": structure,
        "heads_pruned_share": round(1 - heads_kept / heads_total, 4),
        "ffn_pruned_share": round(1 - ffn_kept / ffn_total, 4),
        "qat": None if section.qat is None else _qat_details(section),
        "training": [o.__dict__ for o in outcomes],
        "torch_model": None if section.qat else "torch/ (save_pretrained + ovtool_structure.json)",
    }
    result.tables = [Table("Teacher IR vs student IR (held-out test split)", comparison_columns(section.measure_speed),
                           cmp.rows)]  # fmt: skip
    if section.structured is not None:
        rows = st.layer_table(student, original)
        result.tables.append(Table("Per layer", ["layer", "heads kept", "heads pruned", "FFN kept", "FFN pruned",
                                                 "parameters"], rows))  # fmt: skip
        png = layer_bars(rows, f"{mode}: per-layer structure")
        result.plots.append(Plot("Heads and FFN neurons kept per layer", png))
    history = [h for o in outcomes for h in o.eval_history]
    if len(history) > 1:
        result.plots.append(Plot("Validation accuracy during training", curve(history, "validation accuracy")))
    acc = cmp.metrics["accuracy"].value
    speed = f", {cmp.gate_values['speedup']:.2f}x teacher throughput" if "speedup" in cmp.gate_values else ""
    result.summary = (
        f"{mode}: student accuracy {acc:.2f}% (teacher {cmp.metrics['teacher_accuracy'].value:.2f}%){speed}, "
        f"IR {cmp.metrics['compression_rate'].value:.2f}x smaller → model/openvino_model.xml"
    )
    return result


def _qat_details(section: DistillSection) -> dict[str, Any]:
    assert section.qat is not None
    return {
        "preset": section.qat.preset,
        "calibration_samples": section.qat.calibration_samples,
        "stripped": False,
        "note": "exported with NNCF quantizers in place (they trace to FakeQuantize); nncf.strip needs torchao",
    }


STAGE = Stage(name="distill", section_type=DistillSection, preflight=preflight, run=run, cache="artifact",
              libraries=("torch", "transformers", "tokenizers", "datasets", "nncf", "openvino", "optimum-intel"))
