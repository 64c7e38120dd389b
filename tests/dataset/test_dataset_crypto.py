"""encrypt/decrypt: byte-identical round trip, the key never written by ovtool, wrong keys, reading in place."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from ovtool.data.crypto import KeySource
from ovtool.errors import UserError
from tests.conftest import run_cli


def all_text(*roots: Path) -> str:
    """Every byte ovtool wrote under these folders, decoded leniently, for a substring search."""
    return "".join(p.read_bytes().decode("latin-1") for root in roots for p in root.rglob("*") if p.is_file())


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_round_trip_is_byte_identical_and_key_is_never_written(voc_dir: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "voc.key"
    enc, dec = tmp_path / "enc", tmp_path / "dec"
    first = run_cli("dataset", "encrypt", voc_dir, "--key-file", key_file, "-o", enc, "--json")
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) == 44
    manifest = json.loads((enc / "dataset" / "ovtool-encrypted.json").read_text())
    assert manifest["format"] == "ovtool-encrypted-dataset" and manifest["files"] == len(tree(voc_dir))
    # no plaintext names or content in the encrypted folder
    blob_text = all_text(enc / "dataset")
    assert "2011_000003" not in blob_text and "<annotation>" not in blob_text
    second = run_cli("dataset", "decrypt", enc / "dataset", "--key-file", key_file, "-o", dec, "--json")
    assert second.returncode == 0, second.stderr
    assert tree(dec / "dataset") == tree(voc_dir)
    details = json.loads((enc / "run.json").read_text())["stages"][0]["details"]
    assert details["key_created"] is True and details["key_source"] == f"key file {key_file}"
    for text in (all_text(enc, dec), first.stdout + first.stderr, second.stdout + second.stderr):
        assert key not in text
    # the key from an environment variable works the same, and is not written either
    env_out = tmp_path / "env"
    third = run_cli("dataset", "decrypt", enc / "dataset", "--key-env", "DS_KEY", "-o", env_out,
                    env={"DS_KEY": key})  # fmt: skip
    assert third.returncode == 0, third.stderr
    assert tree(env_out / "dataset") == tree(voc_dir) and key not in all_text(env_out)


def test_wrong_key_exits_2(voc_dir: Path, tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    enc = tmp_path / "enc"
    assert run_cli("dataset", "encrypt", voc_dir, "--key-file", tmp_path / "k", "-o", enc).returncode == 0
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(Fernet.generate_key())
    out = tmp_path / "out"
    proc = run_cli("dataset", "decrypt", enc / "dataset", "--key-file", wrong, "-o", out)
    assert proc.returncode == 2
    assert "wrong key" in proc.stderr and str(wrong) in proc.stderr and not out.exists()
    garbage = run_cli("dataset", "decrypt", enc / "dataset", "--key-env", "DS_KEY", "-o", out, env={"DS_KEY": "x"})
    assert garbage.returncode == 2 and "Fernet key" in garbage.stderr
    unset = run_cli("dataset", "decrypt", enc / "dataset", "--key-env", "OVTOOL_NO_SUCH_VAR", "-o", out)
    assert unset.returncode == 2 and "OVTOOL_NO_SUCH_VAR" in unset.stderr


def test_key_file_inside_out_is_refused(voc_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("dataset", "encrypt", voc_dir, "--key-file", out / "k.key", "-o", out)
    assert proc.returncode == 2 and "inside OUT" in proc.stderr and not out.exists()


@pytest.mark.slow
def test_encrypted_dataset_is_read_in_place(voc_dir: Path, fmnist_imagenet: Path, tmp_path: Path) -> None:
    """stats/convert read an encrypted dataset with the key; no plaintext left behind on disk."""
    key_file = tmp_path / "k.key"
    for name, src in (("voc", voc_dir), ("fm", fmnist_imagenet / "dataset")):
        assert run_cli("dataset", "encrypt", src, "--key-file", key_file, "-o", tmp_path / name).returncode == 0
    stats = tmp_path / "voc-stats"
    proc = run_cli("dataset", "stats", tmp_path / "voc" / "dataset", "--key-file", key_file, "-o", stats)
    assert proc.returncode == 0, proc.stderr
    details = json.loads((stats / "run.json").read_text())["stages"][0]["details"]
    assert details["format"] == "voc" and details["annotations_per_label"]["person"] == 6
    converted = tmp_path / "fm-val"
    proc = run_cli("dataset", "filter", tmp_path / "fm" / "dataset", "--key-file", key_file, "-e",
                   "/item[subset='val']", "--to", "imagenet", "-o", converted)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(list((converted / "dataset").rglob("*.png"))) == 100
    assert not list(Path("/dev/shm").glob("ovtool-plain-*"))
    missing_key = run_cli("dataset", "stats", tmp_path / "voc" / "dataset", "-o", tmp_path / "nokey")
    assert missing_key.returncode == 2 and "encrypted" in missing_key.stderr


def test_classification_folders_decrypt_in_memory(fmnist_imagenet: Path, tmp_path: Path) -> None:
    import datumaro as dm

    from ovtool.backends.datumaro.encrypted import open_datumaro
    from ovtool.data.crypto import encrypt_folder, load_or_create_key

    source = KeySource(file=tmp_path / "k.key")
    key, created = load_or_create_key(source)
    assert created
    encrypt_folder(fmnist_imagenet / "dataset", tmp_path / "enc", key, dataset_format="imagenet_with_subset_dirs")
    plain = dm.Dataset.import_from(str(fmnist_imagenet / "dataset"), "imagenet_with_subset_dirs")
    with open_datumaro(tmp_path / "enc", source) as (dataset, fmt):
        assert fmt == "imagenet_with_subset_dirs"
        assert {k: len(v) for k, v in dataset.subsets().items()} == {"train": 400, "val": 100}
        ours = {(it.subset, it.id): it for it in dataset}
        for item in list(plain)[:20]:
            mine = ours[(item.subset, item.id)]
            assert (mine.media.data == item.media.data).all()
            assert dataset.categories()[dm.AnnotationType.label][mine.annotations[0].label].name == \
                plain.categories()[dm.AnnotationType.label][item.annotations[0].label].name


def test_tampered_blob_is_a_user_error(voc_dir: Path, tmp_path: Path) -> None:
    from ovtool.data.crypto import decrypt_folder, encrypt_folder, load_or_create_key

    source = KeySource(file=tmp_path / "k.key")
    key, _ = load_or_create_key(source)
    encrypt_folder(voc_dir, tmp_path / "enc", key, dataset_format="voc")
    blob = next((tmp_path / "enc" / "blobs").iterdir())
    data = bytearray(blob.read_bytes())
    data[60] = ord("A") if data[60] != ord("A") else ord("B")
    blob.write_bytes(bytes(data))
    with pytest.raises(UserError, match="damaged"):
        decrypt_folder(tmp_path / "enc", tmp_path / "dec", key, source)


def test_encrypted_text_dataset_is_read_without_naming_its_kind(tmp_path: Path, assets: Path) -> None:
    """The --help example `dataset stats ENCRYPTED --key-file K` works for text data: encrypt records no
    image format for it, so a reader with the key sees text files and reads them as text."""
    data = tmp_path / "bbc"
    for label in ("sports", "tech"):
        (data / label).mkdir(parents=True)
        for src in sorted((assets / "bbcnews" / "data" / label).glob("*.txt"))[:3]:
            (data / label / src.name).write_bytes(src.read_bytes())
    key_file = tmp_path / "bbc.key"
    assert run_cli("dataset", "encrypt", data, "--key-file", key_file, "-o", tmp_path / "enc").returncode == 0
    stats = tmp_path / "stats"
    proc = run_cli("dataset", "stats", tmp_path / "enc" / "dataset", "--key-file", key_file, "-o", stats)
    assert proc.returncode == 0, proc.stderr
    details = json.loads((stats / "run.json").read_text())["stages"][0]["details"]
    assert details["kind"] == "text" and details["samples"] == 6 and details["labels"] == ["sports", "tech"]
