"""What this CPU can do that decides which precision pays: OpenVINO's view plus the kernel's flags.

Two halves. `features(capabilities)` is pure: it maps a capability set (OpenVINO's
OPTIMIZATION_CAPABILITIES upper-case, /proc/cpuinfo flags lower-case) to the ISA features that matter,
so callers and tests can inject a set. `probe()` asks OpenVINO and reads /proc/cpuinfo for the real
set. `cpu_identity()` is the cheap part (no OpenVINO import): what the tuning store keys choices by.
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# /proc/cpuinfo flags that change which kernels OpenVINO's CPU plugin can use.
RELEVANT_FLAGS = frozenset({
    "avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16",
    "amx_fp16", "avx_ne_convert",
})  # fmt: skip
FEATURES = ("AVX2", "AVX-512", "VNNI", "AMX", "BF16", "FP16")


def features(capabilities: Iterable[str]) -> dict[str, bool]:
    """The ISA features that matter, from a capability set (cpuinfo flags and OpenVINO capabilities)."""
    caps = set(capabilities)
    return {
        "AVX2": "avx2" in caps,
        "AVX-512": "avx512f" in caps,
        "VNNI": bool(caps & {"avx512_vnni", "avx_vnni", "amx_int8"}),  # int8 dot-product instructions
        "AMX": bool(caps & {"amx_tile", "amx_int8", "amx_bf16"}),
        "BF16": "BF16" in caps or bool(caps & {"avx512_bf16", "amx_bf16"}),
        "FP16": "FP16" in caps or bool(caps & {"avx512_fp16", "amx_fp16"}),
    }


def int8_dot_product(capabilities: Iterable[str]) -> bool:
    """VNNI or AMX: without them an INT8 matmul is emulated with wider instructions and rarely pays."""
    found = features(capabilities)
    return found["VNNI"] or found["AMX"]


def supported_precisions(capabilities: Iterable[str]) -> list[str]:
    """INFERENCE_PRECISION_HINT values the CPU runs natively: f32 always, bf16/f16 where it says so."""
    found = features(capabilities)
    return ["f32", *(["bf16"] if found["BF16"] else []), *(["f16"] if found["FP16"] else [])]


def host() -> tuple[str, frozenset[str]] | None:
    """(CPU model, relevant /proc/cpuinfo flags) without importing OpenVINO; None where the kernel does not say."""
    name, flags = _cpuinfo()
    return (name, flags) if flags else None


def _cpuinfo() -> tuple[str, frozenset[str]]:
    path = Path("/proc/cpuinfo")
    lines = path.read_text().splitlines() if path.is_file() else []
    name = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "")
    flags = next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), [])
    return name or platform.processor() or platform.machine(), frozenset(flags) & RELEVANT_FLAGS


@functools.cache
def cpu_identity() -> str:
    """CPU model + the relevant ISA flags, without importing OpenVINO: a tuning store key part."""
    name, flags = _cpuinfo()
    return f"{name} [{' '.join(sorted(flags))}]"


@dataclass(frozen=True)
class CpuCaps:
    """The CPU as OpenVINO names it, its capability set, and the precision OpenVINO runs fp models in."""

    name: str
    capabilities: frozenset[str]
    optimization_capabilities: tuple[str, ...]
    default_precision: str

    @property
    def features(self) -> dict[str, bool]:
        return features(self.capabilities)


def probe(device: str = "CPU") -> CpuCaps:
    """Ask OpenVINO (FULL_DEVICE_NAME, OPTIMIZATION_CAPABILITIES, INFERENCE_PRECISION_HINT) and cpuinfo."""
    import openvino as ov

    from ovtool.backends.openvino.ov_bench import precision_name

    core = ov.Core()
    head = device.split(":")[0].split(".")[0]
    name, flags = _cpuinfo()
    try:
        name = str(core.get_property(head, "FULL_DEVICE_NAME"))
        ov_caps = tuple(str(c) for c in core.get_property(head, "OPTIMIZATION_CAPABILITIES"))
        default = precision_name(core.get_property(head, "INFERENCE_PRECISION_HINT"))
    except RuntimeError:
        ov_caps, default = (), "unknown"
    caps = flags | frozenset(ov_caps) if head == "CPU" else frozenset(ov_caps)
    return CpuCaps(name=name, capabilities=caps, optimization_capabilities=ov_caps, default_precision=default)


def default_properties(device: str, names: Iterable[str]) -> dict[str, str | int]:
    """The device's defaults for `names` (types as short names: u8, f16), skipping any it does not know."""
    import openvino as ov

    from ovtool.backends.openvino.ov_bench import precision_name

    core = ov.Core()
    out: dict[str, str | int] = {}
    for name in names:
        try:
            value = core.get_property(device.split(":")[0].split(".")[0], name)
        except RuntimeError:
            continue
        if isinstance(value, int):
            out[name] = value
        else:  # an element type (u8, f16) or an enum (PerformanceMode.LATENCY → LATENCY)
            out[name] = precision_name(value) if hasattr(value, "get_type_name") else str(value).split(".")[-1]
    return out
