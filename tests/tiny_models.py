"""Tiny ONNX models whose output is known in closed form, built with onnx.helper.

``pooled_linear``: GlobalAveragePool -> Flatten -> MatMul(W): the embedding is the per-channel mean
of the input tensor times W, so for any preprocessed input its norm can be computed exactly in NumPy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 8


def fixed_matrix(channels: int, dim: int, seed: int = 0) -> np.ndarray:
    """Positive weights (no cancellation, so float32 inference stays within ~1e-6 of float64)."""
    return (np.random.default_rng(seed).uniform(0.5, 1.5, size=(channels, dim)) / np.sqrt(dim)).astype(np.float32)


def pooled_linear(
    path: Union[str, Path],
    *,
    weights: np.ndarray,
    batch: Union[int, str] = "N",
    size: Sequence[int] = (112, 112),
    layout: str = "NCHW",
    output_norm: bool = False,
    metadata: Optional[dict] = None,
    extra_input: bool = False,
    extra_output: bool = False,
) -> Path:
    """Write the model: input 'image' (layout, batch dim ``batch``), output 'embedding' [batch, D]
    or 'q' [batch] when ``output_norm``."""
    channels, dim = weights.shape
    h, w = size
    shape = [batch, channels, h, w] if layout == "NCHW" else [batch, h, w, channels]
    inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)]
    nodes, first = [], "image"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]))
        first = "nchw"
    nodes += [
        helper.make_node("GlobalAveragePool", [first], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "W"], ["embedding"]),
    ]
    outputs = [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [batch, dim])]
    if output_norm:
        nodes.append(helper.make_node("ReduceL2", ["embedding"], ["q"], axes=[1], keepdims=0))
        outputs = [helper.make_tensor_value_info("q", TensorProto.FLOAT, [batch])]
    if extra_input:
        inputs.append(helper.make_tensor_value_info("other", TensorProto.FLOAT, [batch, 1]))
        nodes.append(helper.make_node("Identity", ["other"], ["other_out"]))
        outputs.append(helper.make_tensor_value_info("other_out", TensorProto.FLOAT, [batch, 1]))
        extra_output = False
    if extra_output:
        nodes.append(helper.make_node("Identity", ["embedding"], ["copy"]))
        outputs.append(helper.make_tensor_value_info("copy", TensorProto.FLOAT, [batch, dim]))
    graph = helper.make_graph(nodes, "tiny", inputs, outputs, [numpy_helper.from_array(weights, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def custom_graph(path: Union[str, Path], inputs, outputs, nodes, initializers=()) -> Path:
    """Write an arbitrary small graph (for I/O validation tests)."""
    graph = helper.make_graph(nodes, "custom", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.save(model, str(path))
    return Path(path)
