"""Building a trained asset folder once, atomically: shared by scripts/finetune_minilm.py and train_lora.py.

A trained asset (the fine-tuned MiniLM, the LoRA adapter) is built in a temporary folder beside its
target and renamed into place only when complete, so an interrupted `make install` never leaves a
half-written asset that a later run would take as done (metrics.json is the marker of a finished one).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def display(path: Path) -> str:
    """`path` relative to the checkout when it is inside it (metrics.json stays the same on every machine)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def build_once(
    target: Path, force: bool, build: Callable[[Path], dict[str, Any]], log: Callable[[str], None]
) -> dict[str, Any]:
    """`build(tmp_dir)` → metrics, then tmp_dir replaces `target`; an existing finished target is kept
    (its metrics.json returned) unless `force`."""
    if (target / "metrics.json").exists() and not force:
        log(f"{target} already trained (metrics.json exists); --force trains again")
        return json.loads((target / "metrics.json").read_text())
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        metrics = build(tmp_dir)
        publish(tmp_dir, target)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    log(f"saved {target}")
    return metrics


def publish(tmp_dir: Path, target: Path) -> None:
    """Replace target with tmp_dir by renames (same filesystem), removing the old copy last."""
    tmp_dir.chmod(0o755)  # mkdtemp (and safetensors) create owner-only modes; assets are shared read-only
    for file in tmp_dir.iterdir():
        file.chmod(0o644)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
    tmp_dir.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
