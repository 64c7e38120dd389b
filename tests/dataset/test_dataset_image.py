"""`ovtool dataset` on real image datasets: labelme's VOC sample and Fashion-MNIST."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.dataset.conftest import FASHION_MNIST, VOC_SAMPLE, voc_with_imagesets

DATUM = Path(sys.executable).with_name("datum")


def stage(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())["stages"][0]


def files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


def assert_same_dataset(ours: Path, theirs: Path) -> None:
    """Same files; JSON compared as data (Datumaro writes label attributes in set order), the rest as bytes."""
    a, b = files(ours), files(theirs)
    assert sorted(a) == sorted(b)
    for rel in a:
        if rel.endswith(".json"):
            assert json.loads(a[rel].read_text()) == json.loads(b[rel].read_text()), rel
        else:
            assert a[rel].read_bytes() == b[rel].read_bytes(), rel


@pytest.mark.slow
def test_voc_coco_yolo_voc_equals_datum_convert(voc_dir: Path, tmp_path: Path) -> None:
    chain = [("voc", "coco"), ("coco", "yolo"), ("yolo", "voc")]
    ours_src, datum_src = voc_dir, voc_dir
    for src_fmt, dst_fmt in chain:
        out = tmp_path / f"ours-{dst_fmt}"
        proc = run_cli("dataset", "convert", ours_src, "-f", src_fmt, "--to", dst_fmt, "-o", out, "--json")
        assert proc.returncode == 0, proc.stderr[-2000:]
        record = json.loads(proc.stdout)
        assert record["stages"][0]["details"]["items_out"] == 3
        theirs = tmp_path / f"datum-{dst_fmt}"
        done = subprocess.run([str(DATUM), "convert", "-i", str(datum_src), "-if", src_fmt, "-f", dst_fmt,
                               "-o", str(theirs), "--", "--save-media"], capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert_same_dataset(out / "dataset", theirs)
        ours_src, datum_src = out / "dataset", theirs
    # the boxes survived the round trip: 9 objects, 6 of them persons
    xml = "".join(p.read_text() for p in (ours_src / "Annotations").glob("*.xml"))
    assert xml.count("<object>") == 9 and xml.count("<name>person</name>") == 6


def test_detect_says_why_voc_was_rejected() -> None:
    proc = run_cli("dataset", "detect", VOC_SAMPLE, "--json")
    assert proc.returncode == 0, proc.stderr
    details = json.loads(proc.stdout)["stages"][0]["details"]
    assert details["detected"] == []
    assert "ImageSets/Main/*.txt" in details["rejected"]["voc"]["message"]
    # brats needs nibabel for any .gz; its absence must not break detection of other formats
    fm = run_cli("dataset", "detect", FASHION_MNIST, "--json")
    assert fm.returncode == 0, fm.stderr
    fm_details = json.loads(fm.stdout)["stages"][0]["details"]
    assert fm_details["format"] == "mnist"


def test_detect_prefers_the_format_family(voc_dir: Path) -> None:
    proc = run_cli("dataset", "detect", voc_dir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "detected: voc, voc_classification, voc_detection (reads as voc)"


def test_one_imagenet_subset_folder_reads_with_its_subset(tmp_path: Path) -> None:
    """val/<label>/… matches imagenet and imagenet_with_subset_dirs; read as plain imagenet, "val" would
    become a label and a prefix of every label (what `dataset filter -e "/item[subset='val']"` writes)."""
    root = tmp_path / "val-only"
    for label, image in (("person", "2011_000003.jpg"), ("bus", "2011_000006.jpg"), ("bus", "2011_000025.jpg")):
        (root / "val" / label).mkdir(parents=True, exist_ok=True)
        shutil.copy(VOC_SAMPLE / "JPEGImages" / image, root / "val" / label / image)
    detect = run_cli("dataset", "detect", root)
    assert detect.returncode == 0, detect.stderr
    assert detect.stdout.splitlines()[0] == "detected: imagenet, imagenet_with_subset_dirs (reads as " \
                                            "imagenet_with_subset_dirs)"  # fmt: skip
    out = tmp_path / "stats"
    proc = run_cli("dataset", "stats", root, "-o", out)
    assert proc.returncode == 0, proc.stderr
    details = stage(out)["details"]
    assert details["format"] == "imagenet_with_subset_dirs"
    assert details["items_per_subset"] == {"val": 3}
    assert details["annotations_per_label"] == {"bus": 2, "person": 1}


def test_labelme_empty_difficult_field_names_the_file(tmp_path: Path, assets: Path) -> None:
    """The raw labelme sample has <difficult/> (empty), which Datumaro refuses: exit 2 naming the XML."""
    raw = voc_with_imagesets(tmp_path / "raw")
    out = tmp_path / "out"
    proc = run_cli("dataset", "convert", raw, "--to", "coco", "-o", out)
    assert proc.returncode == 2
    assert "Annotations/2011_000003.xml" in proc.stderr and "difficult" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


def test_corrupt_json_annotation_names_the_file(voc_dir: Path, tmp_path: Path) -> None:
    coco = tmp_path / "coco"
    assert run_cli("dataset", "convert", voc_dir, "--to", "coco", "-o", coco).returncode == 0
    broken = coco / "dataset" / "annotations" / "instances_default.json"
    broken.write_text(broken.read_text()[:200])
    proc = run_cli("dataset", "stats", coco / "dataset", "-f", "coco_instances", "-o", tmp_path / "stats")
    assert proc.returncode == 2
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("error: ") and "annotations/instances_default.json" in error
    assert "Traceback" not in proc.stderr and not (tmp_path / "stats").exists()


def test_fashion_mnist_to_imagenet_stratified(fmnist_imagenet: Path) -> None:
    details = stage(fmnist_imagenet)["details"]
    assert details["format"] == "mnist" and details["items_in"] == 70000
    assert details["subsets"] == {"train": 400, "val": 100}
    root = fmnist_imagenet / "dataset"
    counts = Counter((p.parts[-3], p.parts[-2]) for p in root.rglob("*.png"))
    assert sum(counts.values()) == 500
    labels = {label for _, label in counts}
    assert {"tshirt_top", "ankle_boot"} <= labels and "0" not in labels and len(labels) == 10
    for label in labels:  # every label keeps its share in each subset (within one image)
        total = counts[("train", label)] + counts[("val", label)]
        assert abs(counts[("train", label)] - 0.8 * total) <= 1, (label, counts)
    # Datumaro reads the result back as ImageNet-with-subsets
    import datumaro as dm

    back = dm.Dataset.import_from(str(root), "imagenet_with_subset_dirs")
    assert len(back) == 500 and sorted(back.subsets()) == ["train", "val"]


def test_stats_writes_counts_and_plots(voc_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "stats"
    proc = run_cli("dataset", "stats", voc_dir, "-o", out)
    assert proc.returncode == 0, proc.stderr
    result = stage(out)
    assert result["metrics"]["items"]["value"] == 3
    assert result["metrics"]["annotations"]["value"] == 9
    assert result["details"]["annotations_per_label"] == {"person": 6, "bus": 2, "car": 1}
    assert result["details"]["image_sizes"]["count"] == 3
    assert result["details"]["box_sizes"]["count"] == 9
    assert (out / "report.html").read_text().count("<img src='data:image/png;base64,") == 3
    assert "| person | 2 | 6 |" in (out / "report.md").read_text()
    assert not list(Path.cwd().glob("statistics*.json"))  # unlike `datum stats`, nothing in the cwd


def test_stats_needs_out(voc_dir: Path) -> None:
    proc = run_cli("dataset", "stats", voc_dir)
    assert proc.returncode == 2 and "-o OUT" in proc.stderr


def test_validate_errors_exit_3_and_are_reported(voc_dir: Path, tmp_path: Path, fmnist_imagenet: Path) -> None:
    out = tmp_path / "validate"
    proc = run_cli("dataset", "validate", voc_dir, "-o", out)
    assert proc.returncode == 3, proc.stderr
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "gate_failed"
    details = record["stages"][0]["details"]
    assert details["task"] == "detection" and details["summary"]["errors"] > 0
    assert "UndefinedAttribute" in (out / "report.md").read_text()
    clean = run_cli("dataset", "validate", fmnist_imagenet / "dataset", "--json")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["stages"][0]["details"]["summary"]["errors"] == 0


@pytest.mark.slow
def test_filter_split_merge(voc_dir: Path, fmnist_imagenet: Path, tmp_path: Path) -> None:
    persons = tmp_path / "persons"
    proc = run_cli("dataset", "filter", voc_dir, "-e", "/item/annotation[label='person']", "--annotations",
                   "--remove-empty", "-o", persons)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    xml = "".join(p.read_text() for p in (persons / "dataset" / "Annotations").glob("*.xml"))
    assert xml.count("<object>") == 6 and "<name>bus</name>" not in xml
    parts = []
    for subset in ("train", "val"):
        part = tmp_path / subset
        proc = run_cli("dataset", "filter", fmnist_imagenet / "dataset", "-e", f"/item[subset='{subset}']", "-o", part)
        assert proc.returncode == 0, proc.stderr
        parts.append(part / "dataset")
    assert stage(tmp_path / "val")["details"]["items_out"] == 100
    merged = tmp_path / "merged"
    # one subset folder alone matches imagenet too; -f names the format for both inputs
    proc = run_cli("dataset", "merge", *parts, "-f", "imagenet_with_subset_dirs", "-o", merged)
    assert proc.returncode == 0, proc.stderr
    assert stage(merged)["details"]["subsets"] == {"train": 400, "val": 100}
    resplit = tmp_path / "resplit"
    proc = run_cli("dataset", "split", merged / "dataset", "--ratio", "a=0.5", "--ratio", "b=0.5", "--random",
                   "--seed", "3", "-o", resplit)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert stage(resplit)["details"]["subsets"] == {"a": 250, "b": 250}


def test_archive_input_is_extracted(voc_dir: Path, tmp_path: Path) -> None:
    archive = shutil.make_archive(str(tmp_path / "voc"), "gztar", voc_dir.parent, voc_dir.name)
    out = tmp_path / "out"
    proc = run_cli("dataset", "convert", archive, "--to", "yolo", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert len(list((out / "dataset" / "obj_train_data").glob("*.txt"))) == 3


def test_archive_errors_name_the_archive(tmp_path: Path, assets: Path) -> None:
    """Not the scratch folder it was extracted into (gone by the time the user reads the message)."""
    text = tmp_path / "bbc"
    (text / "tech").mkdir(parents=True)
    for src in sorted((assets / "bbcnews" / "data" / "tech").glob("*.txt"))[:2]:
        shutil.copy(src, text / "tech" / src.name)
    archive = shutil.make_archive(str(tmp_path / "bbc"), "gztar", tmp_path, "bbc")
    proc = run_cli("dataset", "stats", archive, "-o", tmp_path / "out")
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {archive} holds text data: pass --kind text (kind: text) to read it as text"]
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.yaml").write_text("a: 1\n")
    junk = shutil.make_archive(str(tmp_path / "junk"), "zip", tmp_path, "junk")
    proc = run_cli("dataset", "convert", junk, "--to", "coco", "-o", tmp_path / "out")
    assert proc.returncode == 2 and "ovtool-archive-" not in proc.stderr, proc.stderr
    assert f"error: {junk}: no dataset format detected: run `ovtool dataset detect {junk}`" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_archive_member_escaping_is_refused(kind: str, tmp_path: Path) -> None:
    archive = tmp_path / f"evil.{kind}"
    if kind == "tar":
        with tarfile.open(archive, "w") as tf:
            info = tarfile.TarInfo("data/../../escaped.txt")
            info.size = 1
            import io

            tf.addfile(info, io.BytesIO(b"x"))
    else:
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("data/a.txt", "ok")
            zf.writestr("../escaped.txt", "x")
    out = tmp_path / "out"
    proc = run_cli("dataset", "stats", archive, "-o", out)
    assert proc.returncode == 2
    assert "escaped.txt" in proc.stderr and "outside" in proc.stderr
    assert not out.exists() and not (tmp_path.parent / "escaped.txt").exists()


@pytest.mark.slow
def test_bad_inputs_exit_2(voc_dir: Path, tmp_path: Path) -> None:
    cases = [
        (("convert", voc_dir, "-o", tmp_path / "a"), "output_format"),
        (("convert", voc_dir, "--to", "nosuch", "-o", tmp_path / "b"), "nosuch"),
        (("convert", tmp_path / "missing", "--to", "coco", "-o", tmp_path / "c"), "not found"),
        (("convert", voc_dir, "-f", "nosuch", "--to", "coco", "-o", tmp_path / "d"), "nosuch"),
        (("convert", voc_dir, "--to", "coco", "--label-map", "nolabel=x", "-o", tmp_path / "e"), "nolabel"),
        (("split", voc_dir, "--ratio", "train=0.7", "-o", tmp_path / "f"), "sum to 1"),
        (("split", voc_dir, "--ratio", "a=0.5", "--ratio", "b=0.5", "-o", tmp_path / "g"), "stratified"),
        (("filter", voc_dir, "-e", "/item[", "-o", tmp_path / "h"), "XPath"),
    ]
    for args, needle in cases:
        proc = run_cli("dataset", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert needle in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert not any((tmp_path / n).exists() for n in "abcdefgh")


def test_dry_run_does_nothing(voc_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("dataset", "convert", voc_dir, "--to", "coco", "-o", out, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "verb: convert" in proc.stdout and "output_format: coco" in proc.stdout
    assert not out.exists()


def test_datumaro_root_logger_warnings_show_with_v_only(voc_dir: Path, tmp_path: Path) -> None:
    """Datumaro's `logging.warning` lines (a COCO folder with several tasks) are not printed between ovtool's."""
    coco = tmp_path / "coco"
    assert run_cli("dataset", "convert", voc_dir, "--to", "coco", "-o", coco).returncode == 0
    quiet = run_cli("dataset", "stats", coco / "dataset", "-o", tmp_path / "stats")
    assert quiet.returncode == 0, quiet.stderr
    assert "WARNING:root" not in quiet.stderr and "Multiple COCO tasks" not in quiet.stderr
    verbose = run_cli("dataset", "stats", coco / "dataset", "-o", tmp_path / "stats", "--overwrite", "-v")
    assert verbose.returncode == 0, verbose.stderr
    assert "library log: warning: Multiple COCO tasks are detected" in verbose.stderr
    assert "WARNING:root" not in verbose.stderr
