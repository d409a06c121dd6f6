"""A small graph builder: unique names, constants as initializers, nodes that return their outputs.

Steps are plain functions ``step(g, *input_names) -> output names``; ``g.branch()`` gives a builder for
an If branch that shares the parent's names and initializers (a subgraph may read outer values).
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Sequence, Union, overload

import numpy as np

#: One opset for the whole bundle: GridSample needs 16; 18 is run by onnxruntime-node and -web 1.30.
OPSET = 18
IR_VERSION = 8

Names = Union[str, list[str]]


class Graph:
    """Collects nodes and initializers; every name it hands out is unique within the model."""

    def __init__(self, parent: Optional["Graph"] = None) -> None:
        self.nodes: list[Any] = []
        #: this graph's own initializers: the root's constants, or the weights of a network inlined into
        #: this branch (ONNX Runtime's layout transforms only see a subgraph's own initializers)
        self.initializers: list[Any] = []
        self._root: Graph = parent._root if parent is not None else self
        if parent is None:
            self._count = 0

    def name(self, hint: str) -> str:
        """A fresh value name based on ``hint``."""
        root = self._root
        root._count += 1
        return f"{hint}_{root._count}"

    def const(self, value: Any, dtype: Any = np.float32, hint: str = "c") -> str:
        """An initializer holding ``value`` as ``dtype``; returns its name."""
        from onnx import numpy_helper

        name = self.name(hint)
        self._root.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    @overload
    def op(
        self, op_type: str, inputs: Sequence[str], outputs: Literal[1] = 1, hint: Optional[str] = None, **attrs: Any
    ) -> str: ...

    @overload
    def op(
        self, op_type: str, inputs: Sequence[str], outputs: int, hint: Optional[str] = None, **attrs: Any
    ) -> list[str]: ...

    def op(
        self, op_type: str, inputs: Sequence[str], outputs: int = 1, hint: Optional[str] = None, **attrs: Any
    ) -> Names:
        """Add one node; returns its output name, or a list of names when ``outputs`` > 1."""
        from onnx import helper

        names = [self.name(hint or op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=self.name("n_" + op_type), **attrs))
        return names[0] if outputs == 1 else names

    def branch(self) -> "Graph":
        """A builder for an If branch: its own node list and initializers, the model's names and constants."""
        return Graph(parent=self)

    def subgraph(self, name: str, outputs: Sequence[str], inputs: Sequence[tuple[str, Any]] = ()) -> Any:
        """This branch's nodes as a GraphProto with ``outputs`` (types left to inference); ``inputs``
        are (name, numpy dtype) scalars, for a Loop body (iteration number, condition, carried values)."""
        from onnx import helper

        # A branch output must be made by one of its own nodes (not an outer value or initializer).
        own = [self.op("Identity", [o], hint=f"{name}_out") for o in outputs]
        values = [helper.make_empty_tensor_value_info(o) for o in own]
        given = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(np.dtype(t)), []) for n, t in inputs]
        return helper.make_graph(self.nodes, name, given, values, initializer=self.initializers)

    def model(self, inputs: Sequence[Any], outputs: Sequence[Any], name: str = "fqe_onnx_bundle") -> Any:
        """The ModelProto of the root graph with the given ValueInfo inputs and outputs."""
        from onnx import helper

        graph = helper.make_graph(self.nodes, name, list(inputs), list(outputs), initializer=self._root.initializers)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)

    # -- shorthands for the ops every step uses --------------------------------------------------

    def cast(self, x: str, to: Any) -> str:
        from onnx import helper

        return self.op("Cast", [x], to=helper.np_dtype_to_tensor_dtype(np.dtype(to)))

    def shape_dims(self, x: str, start: int, end: int) -> str:
        """int64 [end - start]: dimensions start..end-1 of x."""
        return self.op("Shape", [x], start=start, end=end)


def run_piece(build: Any, inputs: dict[str, np.ndarray], n_outputs: int = 1) -> list[np.ndarray]:
    """Build a one-step model around ``build(g, *input_names)`` and run it in ONNX Runtime on
    ``inputs`` (name -> array); for the unit tests that put each step beside its Python function."""
    import onnxruntime as ort
    from onnx import helper

    g = Graph()
    names = list(inputs)
    out = build(g, *names)
    out = [out] if isinstance(out, str) else list(out)
    values_in = [
        helper.make_tensor_value_info(
            n, helper.np_dtype_to_tensor_dtype(a.dtype), [f"{n}_{k}" for k in range(a.ndim)]
        )  # dynamic, as in the bundle
        for n, a in inputs.items()
    ]
    values_out = [helper.make_empty_tensor_value_info(o) for o in out]
    model = g.model(values_in, values_out, name="piece")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)
