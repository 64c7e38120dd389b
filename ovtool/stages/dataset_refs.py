"""`path: "@dataset/..."` in a recipe: later stages of one `ovtool run` read what its dataset stage wrote.

The runner resolves the references in each stage's section (into `StageInput.dataset`'s folder) before
the stage sees it; at preflight that folder is still `pending`, which `exists_or_pending` accounts for.
The same pass turns an earlier ovtool OUT given as a model or a dataset into OUT/model or OUT/dataset
(`resolve_out`, which the runner also applies to the stage's input model): the one place that happens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ovtool import console
from ovtool.context import DatasetOutput
from ovtool.data.crypto import safe_relpath
from ovtool.errors import UserError
from ovtool.ir_folder import OutPart, resolve_out_input
from ovtool.recipe.sections.benchmark import BenchmarkSection
from ovtool.recipe.sections.data import DataSpec
from ovtool.recipe.sections.dataset import DatasetSection
from ovtool.recipe.sections.generate import SpeculativeSection

DATASET_REF = "@dataset"
# Section fields that name a model or a dataset: an ovtool OUT given there means its model/ or dataset/.
OUT_FIELDS: dict[tuple[type, str], OutPart] = {
    (DataSpec, "path"): "dataset",
    (DatasetSection, "path"): "dataset",
    (DatasetSection, "merge_with"): "dataset",
    (BenchmarkSection, "models"): "model",
    (SpeculativeSection, "draft"): "model",
}


def exists_or_pending(path: str | Path, dataset: DatasetOutput | None) -> bool:
    """`path` exists, or lies in this run's dataset output that the dataset stage has not written yet.

    A stage's preflight checks its input paths with this: a resolved `@dataset/...` path is only
    checkable once the dataset stage ran.
    """
    path = Path(path)
    if path.exists():
        return True
    return dataset is not None and dataset.pending and path.is_relative_to(dataset.path)


def resolve_out(value: str, part: OutPart, say: bool = False) -> str:
    """`value`, or OUT/model (OUT/dataset) when it names an ovtool OUT; `say` tells (-v) what it became."""
    resolved = resolve_out_input(value, part)
    if say and resolved != value:
        console.detail(f"{value} is an ovtool output folder: reading its {part} {resolved}")
    return resolved


def resolve_dataset_refs(model: Any, dataset_dir: Path | None, say: bool = False) -> Any:
    """A copy of `model` (the recipe, or any section) where every `path: "@dataset[/sub/path]"` points
    into the dataset stage's output, and every model/dataset field naming an ovtool OUT (OUT_FIELDS)
    points to its model/ or dataset/. For the runner: the loaded recipe (and recipe.yaml) keep what
    the user wrote; only the copy handed to the stage is resolved."""
    from pydantic import BaseModel

    if isinstance(model, BaseModel):
        updates = {}
        for name in type(model).model_fields:
            value = getattr(model, name)
            part = OUT_FIELDS.get((type(model), name))
            if name == "path" and isinstance(value, str) and _is_ref(value):
                updates[name] = _resolve_ref(value, dataset_dir)
            elif part is not None and value:
                resolved = ([resolve_out(v, part, say) for v in value] if isinstance(value, list)
                            else resolve_out(value, part, say))  # fmt: skip
                if resolved != value:
                    updates[name] = resolved
            elif isinstance(value, (BaseModel, list, dict)):
                resolved = resolve_dataset_refs(value, dataset_dir, say)
                if resolved is not value:
                    updates[name] = resolved
        return model.model_copy(update=updates) if updates else model
    if isinstance(model, list):
        items = [resolve_dataset_refs(v, dataset_dir, say) for v in model]
        return items if any(a is not b for a, b in zip(items, model, strict=True)) else model
    if isinstance(model, dict):
        mapped = {k: resolve_dataset_refs(v, dataset_dir, say) for k, v in model.items()}
        return mapped if any(mapped[k] is not model[k] for k in model) else model
    return model


def _is_ref(value: str) -> bool:
    return value == DATASET_REF or value.startswith(DATASET_REF + "/")


def _resolve_ref(value: str, dataset_dir: Path | None) -> str:
    if dataset_dir is None:
        raise UserError(f"{value}: refers to the dataset stage, but this run has no `dataset:` section that "
                        "writes a dataset (convert, split, filter, merge, decrypt, sample)")  # fmt: skip
    sub = value[len(DATASET_REF) :].lstrip("/")
    return str(dataset_dir / safe_relpath(sub, value)) if sub else str(dataset_dir)
