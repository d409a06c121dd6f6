"""Torch-free graph edits on ONNX models: a dynamic batch axis, denormal weights flushed, PReLU
rewritten into elementwise ops, and the check that an edited model computes what the original did."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ModelError

BATCH_AXIS_NAME = "N"


def make_batch_dynamic(model: Any) -> None:
    """Name axis 0 of every graph input and output, and turn a final Reshape to [1, -1] into [0, -1]
    (0 copies the batch axis). Intermediate shape annotations are dropped so nothing pins batch 1."""
    from onnx import numpy_helper

    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = BATCH_AXIS_NAME
    del model.graph.value_info[:]
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
    ``candidate`` (models as bytes or paths); returns the largest absolute difference."""
    from ..session import create_session

    rng = np.random.default_rng(12345)
    batch = rng.uniform(-1, 1, size=(n,) + tuple(input_shape)).astype(np.float32)
    ref_session, _ = create_session(reference, "cpu")
    cand_session, _ = create_session(candidate, "cpu")
    ref_name, cand_name = ref_session.get_inputs()[0].name, cand_session.get_inputs()[0].name
    one_by_one = np.concatenate([ref_session.run(None, {ref_name: batch[i : i + 1]})[0] for i in range(n)])
    batched = cand_session.run(None, {cand_name: batch})[0]
    if batched.shape != one_by_one.shape:
        raise ModelError(f"batched output shape {batched.shape} differs from one-at-a-time {one_by_one.shape}")
    return float(np.abs(batched - one_by_one).max())


def rewrite_prelu(model: Any) -> int:
    """Replace every PRelu(x, slope) by Relu(x) + slope * Min(x, 0); returns how many.

    The same numbers, element for element (for x >= 0: x + slope * 0; for x < 0: 0 + slope * x),
    but ONNX Runtime 1.27 and later run PRelu several times slower than these elementwise ops on
    x86 (benchmarks/speed.py measures it)."""
    from onnx import helper, numpy_helper

    graph = model.graph
    zero_name = "fqe_onnx_prelu_zero"
    nodes, count = [], 0
    for node in graph.node:
        if node.op_type != "PRelu":
            nodes.append(node)
            continue
        x, slope = node.input
        (y,) = node.output
        nodes += [
            helper.make_node("Relu", [x], [f"{y}_positive"], name=f"{node.name or y}_relu"),
            helper.make_node("Min", [x, zero_name], [f"{y}_negative"], name=f"{node.name or y}_min"),
            helper.make_node("Mul", [f"{y}_negative", slope], [f"{y}_scaled"], name=f"{node.name or y}_mul"),
            helper.make_node("Add", [f"{y}_positive", f"{y}_scaled"], [y], name=f"{node.name or y}_add"),
        ]
        count += 1
    if count:
        del graph.node[:]
        graph.node.extend(nodes)
        graph.initializer.append(numpy_helper.from_array(np.array(0.0, dtype=np.float32), zero_name))
    return count


def optimize(model: Any) -> dict[str, int]:
    """The runtime-independent speed edits (``fqe-onnx contract --optimize``): denormal weights
    flushed and PReLU rewritten. Returns what changed."""
    return {"denormal weights flushed": flush_denormals(model), "PRelu nodes rewritten": rewrite_prelu(model)}
