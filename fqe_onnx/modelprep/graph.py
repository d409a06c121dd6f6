"""Torch-free graph edits on ONNX models: a dynamic batch axis, denormal weights flushed, PReLU
rewritten into ops ONNX Runtime runs fast, and the check that an edited model computes what the original did."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ModelError

BATCH_AXIS_NAME = "N"
#: The largest embedding change the speed edits may cause (they are exact: 0 is expected).
OPTIMIZE_TOLERANCE = 1e-6


def name_batch_axis(model: Any) -> None:
    """Name axis 0 of every graph input and output, and drop the intermediate shape annotations, so
    nothing declared pins batch 1. Enough for a graph whose own shape arithmetic reads the batch
    from its input (Shape -> Gather -> Reshape); ``check_batch_equivalence`` then proves it."""
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = BATCH_AXIS_NAME
    del model.graph.value_info[:]


def make_batch_dynamic(model: Any) -> None:
    """``name_batch_axis``, and turn a final Reshape to [1, -1] into [0, -1] (0 copies the batch
    axis). Refuses graphs with their own shape arithmetic, which a constant edit cannot follow."""
    from onnx import numpy_helper

    name_batch_axis(model)
    initializers = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Reshape" and node.input[1] in initializers:
            init = initializers[node.input[1]]
            shape = numpy_helper.to_array(init)
            if shape.ndim == 1 and len(shape) >= 1 and shape[0] == 1:
                fixed = shape.copy()
                fixed[0] = 0
                init.CopyFrom(numpy_helper.from_array(fixed, init.name))
        elif node.op_type in ("Shape", "Expand", "ConstantOfShape", "Tile"):
            raise ModelError(f"cannot safely make the batch dynamic: the graph has a {node.op_type} node")


def denormal_mask(array: np.ndarray) -> np.ndarray:
    """True where a float32 array holds a denormal (zero exponent bits, non-zero mantissa).

    Read from the bits, not by comparing values: a thread with denormals-are-zero set (ONNX Runtime
    can set it) sees every denormal as equal to 0."""
    bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
    return ((bits & 0x7F800000) == 0) & ((bits & 0x007FFFFF) != 0)


def flush_denormals(model: Any) -> int:
    """Set denormal float32 weights to zero; returns how many changed.

    Denormal arithmetic is many times slower on some x86 processors; values this small
    (below 1.2e-38) change no output digit."""
    from onnx import numpy_helper

    changed = 0
    for init in model.graph.initializer:
        array = numpy_helper.to_array(init)
        if array.dtype != np.float32:
            continue
        mask = denormal_mask(array)
        if mask.any():
            array = array.copy()
            array[mask] = 0.0
            init.CopyFrom(numpy_helper.from_array(array, init.name))
            changed += int(mask.sum())
    return changed


def check_batch_equivalence(reference: Any, candidate: Any, input_shape: tuple[int, ...], n: int = 5) -> float:
    """Run ``n`` random inputs one at a time through ``reference`` and as one batch through
    ``candidate`` (models as bytes or paths); returns the largest absolute difference over all outputs."""
    from ..session import create_session

    rng = np.random.default_rng(12345)
    batch = rng.uniform(-1, 1, size=(n,) + tuple(input_shape)).astype(np.float32)
    ref_session, _ = create_session(reference, "cpu")
    cand_session, _ = create_session(candidate, "cpu")
    ref_name, cand_name = ref_session.get_inputs()[0].name, cand_session.get_inputs()[0].name
    singles = [ref_session.run(None, {ref_name: batch[i : i + 1]}) for i in range(n)]
    difference = 0.0
    for position, batched in enumerate(cand_session.run(None, {cand_name: batch})):
        one_by_one = np.concatenate([outputs[position] for outputs in singles])
        if batched.shape != one_by_one.shape:
            raise ModelError(f"batched output {position} has shape {batched.shape}; one at a time, {one_by_one.shape}")
        difference = max(difference, float(np.abs(batched - one_by_one).max()))
    return difference


def rewrite_prelu(model: Any) -> int:
    """Replace every PRelu(x, slope) by operations ONNX Runtime runs fast; returns how many.

    A per-channel slope (shape [C, 1, 1] or [1, C, 1, 1], as convolutional networks have) becomes
    two depthwise 1x1 convolutions: Relu(x) + Conv(Relu(Conv(x, -1)), -slope), i.e.
    Relu(x) - slope * Relu(-x). ONNX Runtime keeps these in its blocked (NCHWc) layout, fusing the
    inner Relu and the final Add into the convolutions, where PRelu and broadcast elementwise ops
    force a layout change before and after every activation. Any other slope becomes
    Relu(x) + slope * Min(x, 0). Both give the same numbers element for element: for x >= 0 the
    added term is a signed zero, for x < 0 the first is 0 and the second is slope * x (negating
    both factors is exact). benchmarks/speed.py measures the gain."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    zero_name = "fqe_onnx_prelu_zero"
    nodes, added, count, needs_zero, folded = [], [], 0, False, set()
    for node in graph.node:
        if node.op_type != "PRelu":
            nodes.append(node)
            continue
        x, slope = node.input
        (y,) = node.output
        prefix = node.name or y
        channel_slopes = _channel_slopes(initializers.get(slope))
        if channel_slopes is not None:
            channels = channel_slopes.size
            minus_one = numpy_helper.from_array(-np.ones((channels, 1, 1, 1), np.float32), f"{prefix}_fqe_minus_one")
            minus_slope = numpy_helper.from_array(
                -channel_slopes.reshape(channels, 1, 1, 1), f"{prefix}_fqe_minus_slope"
            )
            added += [minus_one, minus_slope]
            folded.add(slope)
            depthwise: dict[str, Any] = {"group": channels, "kernel_shape": [1, 1]}
            nodes += [
                helper.make_node("Relu", [x], [f"{y}_positive"], name=f"{prefix}_relu"),
                helper.make_node("Conv", [x, minus_one.name], [f"{y}_negated"], name=f"{prefix}_negate", **depthwise),
                helper.make_node("Relu", [f"{y}_negated"], [f"{y}_negative"], name=f"{prefix}_relu_negated"),
                helper.make_node(
                    "Conv", [f"{y}_negative", minus_slope.name], [f"{y}_scaled"], name=f"{prefix}_scale", **depthwise
                ),
                helper.make_node("Add", [f"{y}_scaled", f"{y}_positive"], [y], name=f"{prefix}_add"),
            ]
        else:
            needs_zero = True
            nodes += [
                helper.make_node("Relu", [x], [f"{y}_positive"], name=f"{prefix}_relu"),
                helper.make_node("Min", [x, zero_name], [f"{y}_negative"], name=f"{prefix}_min"),
                helper.make_node("Mul", [f"{y}_negative", slope], [f"{y}_scaled"], name=f"{prefix}_mul"),
                helper.make_node("Add", [f"{y}_positive", f"{y}_scaled"], [y], name=f"{prefix}_add"),
            ]
        count += 1
    if count:
        del graph.node[:]
        graph.node.extend(nodes)
        graph.initializer.extend(added)
        if needs_zero:
            graph.initializer.append(numpy_helper.from_array(np.array(0.0, dtype=np.float32), zero_name))
        _drop_unused_initializers(graph, folded)  # slopes now inside convolution weights
    return count


def _drop_unused_initializers(graph: Any, candidates: set[str]) -> None:
    """Remove the ``candidates`` that no top-level node reads and the graph does not output (ONNX
    Runtime warns about each unused initializer every time it loads the model). Only names this
    module stopped using are candidates: a subgraph may read any other initializer implicitly."""
    used = {name for node in graph.node for name in node.input} | {out.name for out in graph.output}
    kept = [init for init in graph.initializer if init.name in used or init.name not in candidates]
    if len(kept) != len(graph.initializer):
        del graph.initializer[:]
        graph.initializer.extend(kept)


def _channel_slopes(initializer: Any) -> np.ndarray | None:
    """The slopes as a float32 vector when a PRelu's slope is a per-channel constant of shape
    [C, 1, 1] or [1, C, 1, 1] (it then applies to axis 1 of an NCHW tensor); otherwise None."""
    if initializer is None:
        return None
    from onnx import numpy_helper

    slopes = numpy_helper.to_array(initializer)
    shape = tuple(slopes.shape)
    if (
        slopes.dtype != np.float32
        or shape[-2:] != (1, 1)
        or len(shape) not in (3, 4)
        or (len(shape) == 4 and shape[0] != 1)
    ):
        return None
    return slopes.reshape(-1)


def optimize(model: Any) -> dict[str, int]:
    """The runtime-independent speed edits (``fqe-onnx contract --optimize``): denormal weights
    flushed and PReLU rewritten. Returns what changed."""
    return {"denormal weights flushed": flush_denormals(model), "PRelu nodes rewritten": rewrite_prelu(model)}
