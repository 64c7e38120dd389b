"""`ovtool env`: this machine as ovtool sees it — the CPU, the ISA features that decide which precision
pays, library versions and the defaults in force — so a speed figure can be read against its machine.
"""

from __future__ import annotations

from typing import Any

from ovtool.cli.build import Call, command, examples
from ovtool.cli.flags import OUTPUT, PERFORMANCE, Flag

LIBRARIES = ("openvino", "openvino-genai", "openvino-tokenizers", "nncf", "optimum-intel", "optimum", "transformers",
             "torch")  # fmt: skip

FLAGS = (
    Flag(("-d", "--device"), default="CPU", panel=PERFORMANCE, help="The device to describe."),
    Flag("--json", type=bool, default=False, panel=OUTPUT, param="json_out", help="Print JSON to stdout."),
)

EXAMPLES = examples("""
    # the CPU, its ISA features, library versions, defaults in force
    env
    # the same as JSON, for scripts and bug reports
    env --json
""")


def describe(device: str) -> dict[str, Any]:
    """Everything `ovtool env` prints, as plain data."""
    from ovtool.backends.openvino import cpu_caps
    from ovtool.cache.keys import library_versions
    from ovtool.cache.store import cache_root
    from ovtool.tuning import store

    caps = cpu_caps.probe(device)
    found = caps.features
    return {
        "device": device, "name": caps.name, "features": found,
        "int8_dot_product": cpu_caps.int8_dot_product(caps.capabilities),
        "optimization_capabilities": list(caps.optimization_capabilities),
        "cpu_flags": sorted(c for c in caps.capabilities if c.islower()),
        "versions": library_versions(LIBRARIES),
        "defaults": {"inference_precision": caps.default_precision,
                     **cpu_caps.default_properties(device, ("KV_CACHE_PRECISION", "DYNAMIC_QUANTIZATION_GROUP_SIZE",
                                                            "PERFORMANCE_HINT", "NUM_STREAMS",
                                                            "INFERENCE_NUM_THREADS"))},
        "stored_tuning_choices": store.count(), "cache_folder": str(cache_root()),
    }  # fmt: skip


def _body(call: Call) -> None:
    from ovtool import console

    info = describe(call["device"].upper())
    if call["json_out"]:
        console.result_json(info)
        return
    yes = [name for name, ok in info["features"].items() if ok]
    no = [name for name, ok in info["features"].items() if not ok]
    missing = f" (no {', '.join(no)})" if no else ""
    lines = [
        f"device        {info['device']}: {info['name']}",
        f"ISA           {', '.join(yes) or 'none of note'}{missing}",
        f"OpenVINO caps {', '.join(info['optimization_capabilities'])}",
        "int8          " + ("VNNI/AMX dot products: INT8 activations (PTQ) can pay" if info["int8_dot_product"]
                            else "no VNNI/AMX: INT8 activations (PTQ) rarely pay here; weight compression may"),
        "versions      " + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v),
        "defaults      " + ", ".join(f"{k}={v}" for k, v in info["defaults"].items()),
        f"tuning        {info['stored_tuning_choices']} stored choice(s) (`ovtool tune`)",
        f"cache         {info['cache_folder']}",
    ]  # fmt: skip
    for line in lines:
        console.result(line)


env = command("env", FLAGS, examples=EXAMPLES, body=_body)
