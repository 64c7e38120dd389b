"""Static-model timing with OpenVINO: compile with hints, async inference, performance counters.

The measuring loop is benchmark_app's "inference only" method (AsyncInferQueue, inputs set once
per request, each request's own `latency`), so the figures are comparable with benchmark_app's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ovtool.errors import UserError, WorkFailed
from ovtool.library_errors import openvino_message

HINTS = {"throughput": "THROUGHPUT", "latency": "LATENCY", "cumulative_throughput": "CUMULATIVE_THROUGHPUT"}
PRECISION_NAMES = {"f32": "f32", "bf16": "bf16", "f16": "f16"}


@dataclass
class Compiled:
    """A compiled model ready to time, and what OpenVINO chose for it."""

    compiled: Any
    model: Any
    compile_s: float
    precision: str
    nireq: int
    properties: dict[str, Any]
    queue: Any = None
    rotation: list[dict[str, Any]] = field(default_factory=list)
    next_batch: int = 0


@dataclass
class RunStats:
    """Per-inference latencies (ms) and the wall time of the measured inferences."""

    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    iterations: int = 0


def compile_config(
    hint: str, streams: int | None, threads: int | None, precision: str | None, extra: dict[str, Any]
) -> dict[str, Any]:
    """The compile_model properties for the recipe's settings (only what was asked for)."""
    config: dict[str, Any] = {}
    if hint != "none":
        config["PERFORMANCE_HINT"] = HINTS[hint]
    if streams is not None:
        config["NUM_STREAMS"] = streams
    if threads is not None:
        config["INFERENCE_NUM_THREADS"] = threads
    if precision is not None:
        config["INFERENCE_PRECISION_HINT"] = precision
    config.update(extra)
    return config


def read_and_reshape(xml: Path, shapes_for: Any) -> tuple[Any, dict[str, list[int]]]:
    """Read the IR and reshape it to static shapes (`shapes_for(model)` decides them)."""
    import openvino as ov

    from ovtool.backends.openvino.ir_info import read_model

    model = read_model(xml)
    shapes = shapes_for(model)
    if any(port.get_partial_shape().is_dynamic for port in model.inputs):
        try:
            model.reshape({name: ov.PartialShape(dims) for name, dims in shapes.items()})
        except RuntimeError as exc:
            raise UserError(f"{xml}: cannot reshape to {shapes}: {openvino_message(exc)}") from exc
    return model, shapes


def _property(compiled: Any, name: str) -> Any:
    try:
        return compiled.get_property(name)
    except RuntimeError:
        return None


def precision_name(value: Any) -> str:
    """'bf16', 'f32', 'f16' from an ov.Type (or 'unknown' where the device does not say)."""
    if value is None:
        return "unknown"
    name = value.get_type_name() if hasattr(value, "get_type_name") else str(value)
    return PRECISION_NAMES.get(name, name)


VIRTUAL_DEVICES = ("AUTO", "MULTI", "HETERO", "BATCH")


def check_device(device: str) -> None:
    """Every physical device named (GPU, GPU.1, AUTO:GPU,CPU …) exists here; else exit 2 listing them."""
    import openvino as ov

    available = ov.Core().available_devices
    for name in device.replace(":", ",").split(","):
        name = name.strip()
        if not name or name in VIRTUAL_DEVICES:
            continue
        if name not in available and name.split(".")[0] not in {a.split(".")[0] for a in available}:
            raise UserError(f"device {name} is not available here (available: {', '.join(available)})")


def compile_model(model: Any, device: str, config: dict[str, Any], nireq: int | None) -> Compiled:
    """Compile and record what the device actually chose (streams, threads, precision, requests)."""
    import openvino as ov

    core = ov.Core()
    start = time.perf_counter()
    try:
        compiled = core.compile_model(model, device, config)
    except RuntimeError as exc:
        message = openvino_message(exc)
        if "property" in message.lower() or "not supported" in message.lower():
            raise UserError(f"cannot compile for {device} with {config}: {message}") from exc
        raise WorkFailed(f"compile_model failed on {device}: {message}") from exc
    compile_s = time.perf_counter() - start
    optimal = _property(compiled, "OPTIMAL_NUMBER_OF_INFER_REQUESTS") or 1
    properties = {
        name: _json_value(_property(compiled, name))
        for name in ("PERFORMANCE_HINT", "NUM_STREAMS", "INFERENCE_NUM_THREADS", "OPTIMAL_NUMBER_OF_INFER_REQUESTS",
                     "EXECUTION_DEVICES", "ENABLE_CPU_PINNING", "ENABLE_HYPER_THREADING")
    }  # fmt: skip
    precision = precision_name(_property(compiled, "INFERENCE_PRECISION_HINT"))
    devices = properties.get("EXECUTION_DEVICES") or []
    if precision == "unknown" and len(devices) == 1:  # AUTO/MULTI hide it: ask the device that ran
        precision = (
            precision_name(config.get("INFERENCE_PRECISION_HINT"))
            if "INFERENCE_PRECISION_HINT" in config
            else device_default_precision(devices[0])
        )
    return Compiled(
        compiled=compiled,
        model=model,
        compile_s=compile_s,
        precision=precision,
        nireq=nireq or int(optimal),
        properties=properties,
    )


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return str(value)


def prepare(target: Compiled, batches: list[dict[str, Any]]) -> float:
    """Create the request queue, set inputs on every request, run the first inference; its ms.

    With more batches than requests (real data), the batches rotate through the requests as the
    run goes (zero-copy tensors set before each start, benchmark_app's "full" mode).
    """
    import openvino as ov

    tensors = [{name: ov.Tensor(array) for name, array in batch.items()} for batch in batches]
    queue = ov.AsyncInferQueue(target.compiled, target.nireq)
    for i, request in enumerate(queue):
        request.set_tensors(tensors[i % len(tensors)])
    target.queue = queue
    target.rotation = tensors if len(tensors) > len(queue) else []
    target.next_batch = len(queue)
    request = queue[0]
    start = time.perf_counter()
    request.infer()
    return (time.perf_counter() - start) * 1000


def output_sizes(target: Compiled) -> list[dict[str, Any]]:
    """Every output's name, shape, element type and bytes per inference (what the application receives).

    From the compiled model's output ports (static after the reshape to the benchmark's input shape);
    an output whose shape depends on the data (dynamic even then) is read from the first inference's
    tensor, so call this after `prepare`.
    """
    rows = []
    for i, port in enumerate(target.compiled.outputs):
        partial = port.get_partial_shape()
        shape = list(partial.to_shape()) if partial.is_static else list(target.queue[0].get_output_tensor(i).shape)
        count = 1
        for dim in shape:
            count *= int(dim)
        element = port.get_element_type()
        rows.append({
            "name": port.get_any_name() if port.get_names() else f"#{i}",
            "shape": [int(d) for d in shape],
            "type": element.get_type_name(),
            "bytes": (count * element.bitwidth + 7) // 8,
        })  # fmt: skip
    return rows


def _start(target: Compiled) -> int:
    """Start the next idle request (with the next real-data batch when rotating); its id."""
    queue = target.queue
    idle = queue.get_idle_request_id()
    if target.rotation:
        queue[idle].set_tensors(target.rotation[target.next_batch % len(target.rotation)])
        target.next_batch += 1
    queue.start_async()
    return idle


def warm_up(target: Compiled, count: int) -> None:
    queue = target.queue
    for _ in range(count):
        _start(target)
    queue.wait_all()


def run_async(target: Compiled, seconds: float | None, iterations: int | None) -> RunStats:
    """Keep every request busy until the time or iteration budget is spent (benchmark_app's loop)."""
    queue = target.queue
    nireq = len(queue)
    stats = RunStats()
    in_flight: set[int] = set()
    start = time.perf_counter()
    elapsed = 0.0
    count = 0
    while (iterations and count < iterations) or (seconds and elapsed < seconds) or (count % nireq):
        idle = queue.get_idle_request_id()
        if idle in in_flight:
            stats.latencies_ms.append(queue[idle].latency)
        else:
            in_flight.add(idle)
        _start(target)
        count += 1
        elapsed = time.perf_counter() - start
    queue.wait_all()
    stats.seconds = time.perf_counter() - start
    stats.latencies_ms.extend(queue[i].latency for i in in_flight)
    stats.iterations = count
    return stats


def profile(
    model: Any, device: str, config: dict[str, Any], batch: dict[str, Any], runs: int, graph_path: Path
) -> list[dict[str, Any]]:
    """Per-operation time from performance counters (a separate compile: counters cost time)."""
    import openvino as ov

    compiled = ov.Core().compile_model(model, device, {**config, "PERF_COUNT": True})
    request = compiled.create_infer_request()
    totals: dict[str, dict[str, Any]] = {}
    for _ in range(runs):
        request.infer(batch)
        for info in request.profiling_info:
            if info.status != info.Status.EXECUTED:
                continue
            entry = totals.setdefault(
                info.node_name, {"node": info.node_name, "type": info.node_type, "exec_type": info.exec_type,
                                 "time_us": 0.0}
            )  # fmt: skip
            entry["time_us"] += info.real_time.total_seconds() * 1e6
    graph_path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(compiled.get_runtime_model(), str(graph_path), compress_to_fp16=False)
    ops = sorted(totals.values(), key=lambda e: e["time_us"], reverse=True)
    total = sum(e["time_us"] for e in ops) or 1.0
    for entry in ops:
        entry["time_us"] = round(entry["time_us"] / runs, 2)
        entry["share"] = round(entry["time_us"] * runs / total, 4)
    return ops


def device_name(device: str) -> str:
    """The device's full name (CPU model) as OpenVINO reports it."""
    import openvino as ov

    core = ov.Core()
    head = device.split(":")[0].split(".")[0]
    try:
        return str(core.get_property(head, "FULL_DEVICE_NAME"))
    except RuntimeError:
        return device


def openvino_version() -> str:
    import openvino as ov

    return str(ov.get_version())


def device_default_precision(device: str) -> str:
    import openvino as ov

    try:
        return precision_name(ov.Core().get_property(device, "INFERENCE_PRECISION_HINT"))
    except RuntimeError:
        return "unknown"
