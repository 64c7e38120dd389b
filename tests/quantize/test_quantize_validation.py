"""Invalid option combinations and bad data fail at validation (exit 2, one line, nothing published)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import BBC_DIR, NUDENET_ONNX, SHAKESPEARE_DIR, run_cli
from tests.quantize.conftest import VOC_IMAGES


def write_recipe(tmp_path: Path, quantize: dict, model: str | Path = NUDENET_ONNX) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"model": str(model), "output": str(tmp_path / "out"), "quantize": quantize}))
    return path


def assert_usage_error(proc, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr[-2000:])
    assert message.startswith("error:")


@pytest.mark.parametrize(
    ("weights", "calibration", "needles"),
    [
        ({"mode": "int4_asym", "awq": True}, None, ["awq", "calibration"]),
        ({"mode": "int4_sym", "scale_estimation": True}, None, ["scale_estimation", "calibration"]),
        ({"mode": "int4_sym", "gptq": True, "lora_correction": True}, "x", ["gptq and lora_correction"]),
        ({"mode": "int4_sym", "ratio": 1.5}, None, ["ratio must be in (0, 1]"]),
        ({"mode": "int4_sym", "ratio": 0}, None, ["ratio must be in (0, 1]"]),
        ({"mode": "int8_asym", "group_size": 64}, None, ["int8_asym", "group_size"]),
        ({"mode": "int8_sym", "ratio": 0.5}, None, ["ratio"]),
        ({"mode": "mxfp4", "awq": True}, "x", ["awq", "mxfp4"]),
        ({"mode": "int4_sym", "group_size": 0}, None, ["group_size"]),
        ({"mode": "int4_sym", "ignored_scope": {"auto": {"top_k": 2}}}, None, ["auto"]),
    ],
)
def test_invalid_weight_options_are_recipe_errors(tmp_path: Path, weights: dict, calibration: str | None,
                                                 needles: list[str]) -> None:  # fmt: skip
    """In-process (the same validation `--dry-run` runs); one case goes through the real CLI below."""
    from ovtool.errors import RecipeError
    from ovtool.recipe.loader import load_recipe

    section: dict = {"weights": weights}
    if calibration:
        section["calibration"] = {"path": str(SHAKESPEARE_DIR), "format": "txt-files"}
    with pytest.raises(RecipeError) as info:
        load_recipe(write_recipe(tmp_path, section))
    for needle in needles:
        assert needle in str(info.value)


def test_awq_without_data_fails_in_seconds_through_the_cli(tmp_path: Path) -> None:
    start = time.perf_counter()
    proc = run_cli("quantize", write_recipe(tmp_path, {"weights": {"mode": "int4_asym", "awq": True}}), "--dry-run")
    assert_usage_error(proc, "awq", "quantize.calibration")
    assert time.perf_counter() - start < 30
    assert not (tmp_path / "out").exists()


def test_data_free_weights_without_evaluation_data_fail_at_dry_run(tmp_path: Path) -> None:
    """The quality report needs held-out data: said by --dry-run, not after the conversion."""
    proc = run_cli("quantize", "-m", NUDENET_ONNX, "-o", tmp_path / "out", "--weights", "int8_asym", "--dry-run")
    assert_usage_error(proc, "quantize.evaluation", "--evaluation")
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_ptq_without_calibration_data_names_the_fix(tmp_path: Path) -> None:
    proc = run_cli("quantize", "-m", NUDENET_ONNX, "-o", tmp_path / "out", "--dry-run")
    assert_usage_error(proc, "quantize.calibration")


def test_ptq_options_mixed_with_weights_are_rejected(tmp_path: Path) -> None:
    proc = run_cli("quantize", write_recipe(tmp_path, {"weights": {"mode": "int8_asym"}, "preset": "mixed"}),
                   "--dry-run")  # fmt: skip
    assert_usage_error(proc, "preset", "post-training quantization")


def test_flags_map_to_the_recipe_and_combinations_are_checked(tmp_path: Path) -> None:
    proc = run_cli("quantize", "-m", NUDENET_ONNX, "-o", tmp_path / "out", "--weights", "int4_sym", "--awq",
                   "--dry-run")  # fmt: skip
    assert_usage_error(proc, "awq", "calibration")
    proc = run_cli("quantize", "-m", NUDENET_ONNX, "-o", tmp_path / "out", "--weights", "int4_sym",
                   "--group-size", "32", "--ratio", "0.5", "--evaluation", VOC_IMAGES, "--data-kind", "image",
                   "--dry-run")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    resolved = yaml.safe_load(proc.stdout)["quantize"]["weights"]
    assert resolved == {**resolved, "mode": "int4_sym", "group_size": 32, "ratio": 0.5}


def test_group_size_that_does_not_divide_channels_fails_before_loading(tmp_path: Path, tiny_matmul_ir: Path) -> None:
    recipe = write_recipe(tmp_path, {"weights": {"mode": "int4_sym", "group_size": 64},
                                     "evaluation": {"synthetic": True}}, tiny_matmul_ir)  # fmt: skip
    proc = run_cli("quantize", recipe, "--dry-run")
    assert_usage_error(proc, "group_size 64", "[80, 96]", "group_size_fallback")
    proc = run_cli("quantize", recipe, "--dry-run", "--set", "quantize.weights.group_size=16")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("quantize", recipe, "--dry-run", "--set", "quantize.weights.group_size_fallback=adjust")
    assert proc.returncode == 0, proc.stderr


def test_empty_dataset_is_a_usage_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    recipe = write_recipe(tmp_path, {"calibration": {"path": str(empty)}})
    proc = run_cli("quantize", recipe, "--dry-run")
    assert_usage_error(proc, "empty.txt", "no samples")


def test_wrong_field_name_is_a_usage_error(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps({"content": f"sample {i}"}) for i in range(5)) + "\n")
    recipe = write_recipe(tmp_path, {"calibration": {"path": str(data), "text_field": "body"}})
    proc = run_cli("quantize", recipe, "--dry-run")
    assert_usage_error(proc, "'body'", "content")


def test_missing_image_folder_and_unknown_format_are_usage_errors(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, {"calibration": {"kind": "image", "path": str(tmp_path / "nope")}})
    assert_usage_error(run_cli("quantize", recipe, "--dry-run"), "not found")
    images = tmp_path / "images"  # beside OUT, not holding it (OUT inside an input is refused)
    images.mkdir()
    recipe = write_recipe(tmp_path, {"calibration": {"kind": "image", "path": str(images), "format": "vocc"}})
    assert_usage_error(run_cli("quantize", recipe, "--dry-run"), "vocc")


def test_fewer_samples_than_subset_size_warns(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, {"calibration": {"path": str(BBC_DIR), "split": "train", "samples": 20},
                                     "subset_size": 100})  # fmt: skip
    proc = run_cli("quantize", recipe, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "warning" in proc.stderr and "20" in proc.stderr and "subset size 100" in proc.stderr


@pytest.mark.parametrize(
    ("section", "needle"),
    [
        ({"calibration": {"path": "x.txt", "synthetic": True}}, "either path or synthetic"),
        ({"calibration": {"kind": "text", "path": "x.txt", "preprocess": {"resize": 224}}}, "preprocess"),
        ({"calibration": {"kind": "image", "path": "x", "text_field": "t"}}, "text_field"),
        ({"calibration": {}}, "path is required"),
        ({"calibration": {"path": "x", "kind": "image", "preprocess": {"letterbox": True, "resize": 320}}},
         "letterbox"),
        ({"calibration": {"path": "x.txt"}, "smooth_quant_alpha": 2}, "smooth_quant_alpha"),
        ({"calibration": {"path": "x.txt"}, "mode": "fp8_e4m3", "preset": "mixed"}, "preset"),
        ({"calibration": {"path": "x.txt"}, "accuracy_control": {"metric": "accuracy", "max_drop": 0.01},
          "ignored_scope": {"auto": {"top_k": 2}}}, "not both"),
    ],
)  # fmt: skip
def test_data_and_ptq_combinations(tmp_path: Path, section: dict, needle: str) -> None:
    from ovtool.errors import RecipeError
    from ovtool.recipe.loader import load_recipe

    with pytest.raises(RecipeError) as info:
        load_recipe(write_recipe(tmp_path, section))
    assert needle in str(info.value)


def test_resolved_recipe_of_a_weights_run_validates_again(tmp_path: Path) -> None:
    """OUT/recipe.yaml has every default filled in; it must still be a valid weights recipe."""
    from ovtool.recipe.loader import load_recipe

    loaded = load_recipe(write_recipe(tmp_path, {"weights": {"mode": "int8_asym"}}))
    again = tmp_path / "again.yaml"
    again.write_text(loaded.resolved_yaml())
    assert load_recipe(again).recipe.quantize.weights.mode == "int8_asym"  # type: ignore[union-attr]
