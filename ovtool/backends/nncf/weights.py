"""Data-free INT8 weight compression of an IR (what `--weight-format int8` means)."""

from __future__ import annotations

from pathlib import Path


def compress_int8_in_place(xml: Path) -> None:
    """nncf.compress_weights(INT8_ASYM) on the IR at `xml`, saved back in place."""
    import nncf
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(xml))
    compressed = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    tmp = xml.with_name(xml.stem + ".int8.xml")
    ov.save_model(compressed, str(tmp), compress_to_fp16=False)
    del model, compressed
    tmp.replace(xml)
    tmp.with_suffix(".bin").replace(xml.with_suffix(".bin"))
