"""Post-processing folded into the IR: last token, TopK, Softmax on one output (issue #16 §3).

An application that needs the next-token candidates or a class ranking then receives K values
instead of the whole [batch, sequence, vocabulary] logits tensor. Built with OpenVINO's
PrePostProcessor (`ppp.output(name).postprocess().custom(...)`) from opset ops:

- `last_token`: Gather(index -1, axis 1) of a rank-3 [batch, sequence, vocab] output → [batch, vocab];
- `topk: K`: TopK(K, last axis, max, sorted by value). Two outputs instead of one Concat (the GPT-2
  demo's form): `<name>_topk_values` (f32) and `<name>_topk_indices` (i64, the token/class ids; the
  model's last output). A Concat would turn the ids into floats and make every application split them again;
- `softmax`: Softmax over the last axis — over the K values when `topk` is set (a distribution over
  the top K that sums to 1, as the GPT-2 demo), otherwise over the whole vocabulary/class axis.

Without `topk` the output keeps its name (its content changes as report.md says). Input names and
every other output are left as they are.
"""

from __future__ import annotations

from typing import Any, Protocol

from ovtool.backends.openvino.ir_info import port_table
from ovtool.errors import UserError


class PostprocessOptions(Protocol):
    """What `convert.postprocess` holds (ovtool.recipe.sections.convert.PostprocessSpec)."""

    output: str | None
    last_token: bool
    topk: int | None
    softmax: bool


def _names(port: Any) -> set[str]:
    return set(port.get_names())


def target_output(model: Any, name: str | None) -> Any:
    """The output to post-process: `name`, else the one called `logits`, else the first one."""
    outputs = list(model.outputs)
    if name is None:
        return next((o for o in outputs if "logits" in _names(o)), outputs[0])
    port = next((o for o in outputs if name in _names(o)), None)
    if port is None:
        known = ", ".join(sorted(n for o in outputs for n in _names(o))[:12])
        raise UserError(f"convert.postprocess.output: the model has no output {name!r} (outputs: {known})")
    return port


def check(model: Any, spec: PostprocessOptions) -> Any:
    """Reasons the post-processing cannot apply to `model` (exit 2, one line); returns the target output."""
    if hasattr(model, "get_sinks") and model.get_sinks():
        raise UserError("convert.postprocess: the IR is stateful (KV cache inside), its logits are read by "
                        "openvino_genai pipelines; export with stateful: false (--disable-stateful)")  # fmt: skip
    port = target_output(model, spec.output)
    shape = port.get_partial_shape()
    name = port.get_any_name()
    if spec.last_token and (shape.rank.is_dynamic or shape.rank.get_length() != 3):
        raise UserError(f"convert.postprocess.last_token needs a [batch, sequence, vocab] output; {name!r} "
                        f"has shape {shape}: leave out last_token")  # fmt: skip
    if spec.topk is not None and shape.rank.is_static and shape.rank.get_length() > 0:
        last = shape[shape.rank.get_length() - 1]
        if last.is_static and spec.topk > last.get_length():
            raise UserError(f"convert.postprocess.topk {spec.topk} is more than the {last.get_length()} values on "
                            f"the last axis of {name!r} {shape}")  # fmt: skip
    return port


def apply(model: Any, spec: PostprocessOptions) -> tuple[Any, dict[str, Any]]:
    """`model` with the post-processing in its graph, and what was done (for run.json)."""
    import numpy as np
    from openvino import opset13 as ops
    from openvino.preprocess import PrePostProcessor

    port = check(model, spec)
    name = port.get_any_name()
    before = str(port.get_partial_shape())
    index = list(model.outputs).index(port)
    topk_node: dict[str, Any] = {}

    def custom(node: Any) -> Any:
        out = node
        if spec.last_token:
            out = ops.gather(out, ops.constant(np.array(-1, np.int64)), ops.constant(np.array(1, np.int64))).output(0)
        if spec.topk is not None:
            topk = ops.topk(out, ops.constant(np.array(spec.topk, np.int64)), axis=-1, mode="max", sort="value",
                            index_element_type="i64")  # fmt: skip
            topk_node["node"] = topk
            out = topk.output(0)
        if spec.softmax:
            out = ops.softmax(out, -1).output(0)
        return out

    ppp = PrePostProcessor(model)
    ppp.output(name).postprocess().custom(custom)
    built = ppp.build()
    new = [built.output(index)]
    if spec.topk is not None:  # the indices come last: the model (and its rt_info) is kept, not rebuilt
        built.output(index).get_tensor().set_names({f"{name}_topk_values"})
        indices = ops.result(topk_node["node"].output(1))
        indices.output(0).get_tensor().set_names({f"{name}_topk_indices"})
        built.add_results([indices])
        new.append(built.outputs[-1])
    done = {
        "output": name,
        "shape_before": before,
        "last_token": spec.last_token,
        "topk": spec.topk,
        "softmax": spec.softmax,
        "outputs": [port_table([o])[0] for o in new],
        "tool": "openvino.preprocess.PrePostProcessor custom (Gather, TopK, Softmax)",
    }
    return built, done
