"""Real datasets for the dataset tests, prepared once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ASSETS, run_cli

VOC_SAMPLE = ASSETS / "voc_sample" / "data_dataset_voc"
FASHION_MNIST = ASSETS / "fashion_mnist"


def voc_with_imagesets(dest: Path) -> Path:
    """labelme's VOC sample plus the ImageSets/Main list VOC requires (labelme does not write it)."""
    shutil.copytree(VOC_SAMPLE, dest)
    (dest / "ImageSets" / "Main").mkdir(parents=True)
    ids = sorted(p.stem for p in (dest / "Annotations").glob("*.xml"))
    (dest / "ImageSets" / "Main" / "default.txt").write_text("\n".join(ids) + "\n")
    return dest


@pytest.fixture(scope="session")
def voc_dir(tmp_path_factory: pytest.TempPathFactory, assets: Path) -> Path:
    """The labelme sample as a valid VOC dataset: ImageSets list added, and labelme's empty
    <difficult/>/<truncated/> (which Datumaro 1.13 rejects) written as 0."""
    dest = voc_with_imagesets(tmp_path_factory.mktemp("voc") / "voc")
    for xml in (dest / "Annotations").glob("*.xml"):
        text = xml.read_text().replace("<difficult/>", "<difficult>0</difficult>")
        xml.write_text(text.replace("<truncated/>", "<truncated>0</truncated>"))
    return dest


@pytest.fixture(scope="session")
def fmnist_imagenet(tmp_path_factory: pytest.TempPathFactory, assets: Path) -> Path:
    """500 Fashion-MNIST images → ImageNet folders per subset, stratified 0.8/0.2 (the published OUT)."""
    out = tmp_path_factory.mktemp("fmnist") / "out"
    proc = run_cli("dataset", "convert", FASHION_MNIST, "-f", "mnist", "--to", "imagenet_with_subset_dirs",
                   "--limit", "500", "--ratio", "train=0.8", "--ratio", "val=0.2", "--label-map", "0=tshirt_top",
                   "--label-map", "9=ankle_boot", "--image-ext", ".png", "-o", out)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out
