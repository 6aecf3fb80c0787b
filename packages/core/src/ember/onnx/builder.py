"""Building an ONNX graph from a traced one: names, nodes, initializers, and one node's view.

``Builder`` collects ONNX nodes and initializers; ``Step`` is what a symbolic (a function of
``ember.onnx.symbolics``) sees for one traced node: its input names, shapes and dtypes, its
attributes, and helpers to emit ONNX nodes and constants.
"""

from __future__ import annotations

import numpy as np

INT64_MAX = np.iinfo(np.int64).max


class UnsupportedOperatorError(RuntimeError):
    """The traced graph holds an op that ``ember.onnx.export`` cannot express in ONNX."""


class Builder:
    def __init__(self, helper, numpy_helper, opset: int) -> None:
        self.helper = helper
        self.numpy_helper = numpy_helper
        self.opset = opset
        self.nodes = []
        self.initializers = []
        self._count = 0

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def emit(self, op_type: str, inputs: list, outputs=1, **attributes) -> list:
        """Adds an ONNX node; ``outputs`` is a count or a list of names. Returns the names."""
        names = outputs if isinstance(outputs, list) else [self.fresh(op_type)
                                                           for _ in range(outputs)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), names,
                                                name=self.fresh(f"{op_type}_node"),
                                                **attributes))
        return names

    def initializer(self, name: str, array) -> str:
        array = np.asarray(array.get() if hasattr(array, "get") else array)
        self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def const(self, array, hint: str = "const") -> str:
        return self.initializer(self.fresh(hint), np.asarray(array))


class Step:
    """One traced node being exported."""

    def __init__(self, builder: Builder, graph, node, index: int, names: dict) -> None:
        self.b = builder
        self.graph = graph
        self.node = node
        self.index = index
        self.attrs = node.attrs
        self.inputs = [names[vid] for vid in node.inputs]
        self.in_values = [graph.values[vid] for vid in node.inputs]
        self.out_values = [graph.values[vid] for vid in node.outputs]
        self.outputs = [names[vid] for vid in node.outputs]

    # ---- facts about the node ---------------------------------------------------------------

    def shape(self, position: int = 0) -> tuple:
        return self.in_values[position].shape

    def dtype(self, position: int = 0) -> np.dtype:
        return np.dtype(self.in_values[position].dtype)

    def is_zero_constant(self, position: int) -> bool:
        """Whether input ``position`` is a constant of zeros (an RNN's default state)."""
        value = self.in_values[position]
        return value.kind == "constant" and not self.graph.constants[value.id].any()

    @property
    def out_dtype(self) -> np.dtype:
        return np.dtype(self.out_values[0].dtype)

    @property
    def out_shape(self) -> tuple:
        return self.out_values[0].shape

    def unsupported(self, why: str):
        raise UnsupportedOperatorError(
            f"onnx.export: node {self.index} (op {self.node.op!r}, attributes {self.attrs}) "
            f"{why}")

    # ---- emitting ---------------------------------------------------------------------------

    def emit(self, op_type: str, inputs: list, outputs=1, **attributes) -> list:
        return self.b.emit(op_type, inputs, outputs, **attributes)

    def finish(self, op_type: str, inputs: list, **attributes) -> None:
        """Emits the node that produces this traced node's outputs."""
        self.b.emit(op_type, inputs, list(self.outputs), **attributes)

    def scalar(self, value, dtype=None) -> str:
        return self.b.const(np.array(value, dtype=dtype or self.out_dtype), "scalar")

    def ints(self, values) -> str:
        return self.b.const(np.array(list(values), dtype=np.int64), "ints")

    def cast(self, name: str, source: np.dtype, target: np.dtype) -> str:
        if np.dtype(source) == np.dtype(target):
            return name
        to = self.b.helper.np_dtype_to_tensor_dtype(np.dtype(target))
        return self.emit("Cast", [name], to=to)[0]

    def inputs_as(self, dtype) -> list:
        """The inputs cast to ``dtype`` where they differ (ONNX does not promote types)."""
        return [self.cast(name, value.dtype, dtype)
                for name, value in zip(self.inputs, self.in_values)]
