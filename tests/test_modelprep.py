"""The torch-free graph edits: a PRelu rewrite must compute exactly what PRelu computes."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from fqe_onnx.modelprep.graph import optimize, rewrite_prelu
from fqe_onnx.session import create_session
from tiny_models import IR_VERSION, OPSET


def prelu_model(input_shape: list, slope: np.ndarray, conv_channels: int = 0) -> onnx.ModelProto:
    """x -> PRelu(x, slope) -> y, with an optional 1x1 convolution in front (as in a real network)."""
    nodes, inits = [], [numpy_helper.from_array(slope.astype(np.float32), "slope")]
    source = "x"
    if conv_channels:
        weight = np.random.default_rng(1).normal(size=(conv_channels, input_shape[1], 1, 1)).astype(np.float32)
        inits.append(numpy_helper.from_array(weight, "w"))
        nodes.append(helper.make_node("Conv", ["x", "w"], ["c"]))
        source = "c"
    nodes.append(helper.make_node("PRelu", [source, "slope"], ["y"], name="act"))
    out_shape = [input_shape[0], conv_channels or input_shape[1]] + list(input_shape[2:])
    graph = helper.make_graph(
        nodes,
        "prelu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        inits,
    )
    # the IR version pinned as in tiny_models: onnx's newest default is more than older runtimes load
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)


def outputs(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session, _ = create_session(model.SerializeToString(), "cpu")
    return session.run(None, {"x": x})[0]


def hard_inputs(shape: tuple) -> np.ndarray:
    """Normal values with zeros of both signs, tiny and huge magnitudes mixed in."""
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32) * 3
    flat = x.reshape(-1)
    flat[::7] = 0.0
    flat[1::7] = -0.0
    flat[2::11] = 1e-30
    flat[3::13] = -3e30
    return x


@pytest.mark.parametrize("slope_shape", [(8, 1, 1), (1, 8, 1, 1)])
def test_per_channel_prelu_becomes_exact_depthwise_convolutions(slope_shape):
    # slopes below 0, between 0 and 1, exactly 0 and 1, and above 1: every case of PRelu's sign logic
    slope = np.array([-1.35, -0.2, 0.0, 0.1, 0.25, 1.0, 1.23, 7.5], np.float32).reshape(slope_shape)
    original = prelu_model([2, 8, 5, 6], slope)
    rewritten = prelu_model([2, 8, 5, 6], slope)
    assert rewrite_prelu(rewritten) == 1
    ops = [n.op_type for n in rewritten.graph.node]
    assert "PRelu" not in ops and ops.count("Conv") == 2 and "Min" not in ops
    assert {i.name for i in rewritten.graph.initializer} == {
        "act_fqe_minus_one",
        "act_fqe_minus_slope",
    }  # no stale slope
    x = hard_inputs((2, 8, 5, 6))
    expected = outputs(original, x)
    got = outputs(rewritten, x)
    assert np.array_equal(got, expected)
    assert np.array_equal(expected, np.where(x < 0, slope.reshape(1, 8, 1, 1) * x, x))  # PRelu's definition


def test_prelu_after_a_convolution_stays_exact():
    slope = np.linspace(-1.2, 1.3, 16, dtype=np.float32).reshape(16, 1, 1)
    original = prelu_model([3, 4, 9, 9], slope, conv_channels=16)
    rewritten = prelu_model([3, 4, 9, 9], slope, conv_channels=16)
    assert optimize(rewritten)["PRelu nodes rewritten"] == 1
    x = hard_inputs((3, 4, 9, 9)).clip(-10, 10)
    assert np.array_equal(outputs(rewritten, x), outputs(original, x))


@pytest.mark.parametrize("input_shape,slope", [([2, 6], np.linspace(-1, 2, 6)), ([2, 6, 4, 4], np.array([0.3]))])
def test_other_slopes_use_elementwise_ops_and_stay_exact(input_shape, slope):
    original = prelu_model(input_shape, slope)
    rewritten = prelu_model(input_shape, slope)
    assert rewrite_prelu(rewritten) == 1
    ops = [n.op_type for n in rewritten.graph.node]
    assert ops == ["Relu", "Min", "Mul", "Add"]
    x = hard_inputs(tuple(input_shape))
    assert np.array_equal(outputs(rewritten, x), outputs(original, x))


def test_a_model_without_prelu_is_left_alone():
    model = prelu_model([1, 2, 3, 3], np.ones((2, 1, 1)))
    del model.graph.node[:]
    model.graph.node.append(helper.make_node("Relu", ["x"], ["y"]))
    before = model.SerializeToString()
    assert rewrite_prelu(model) == 0
    assert model.SerializeToString() == before
