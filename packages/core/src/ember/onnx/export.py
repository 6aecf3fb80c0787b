"""``ember.onnx.export``: trace the model, then write each primitive as ONNX nodes."""

from __future__ import annotations

import os

import numpy as np

from ember.jit.passes import optimize
from ember.jit.traced import trace_graph
from ember.nn.modules.module import Module
from ember.onnx.builder import Builder, Step, UnsupportedOperatorError
from ember.onnx.symbolics import SYMBOLICS


def _import_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise ImportError("ember.onnx.export needs the onnx package: pip install "
                          "'ember[onnx]' (onnx and onnxruntime)") from None
    return onnx, helper, numpy_helper


def _traced_graph(model, args: tuple):
    """The optimised graph of ``model(*args)`` in evaluation mode (PyTorch's default
    ``training=TrainingMode.EVAL``), the model's mode restored afterwards."""
    if not isinstance(model, Module):
        graph, weights = trace_graph(model, args)
        return optimize(graph), weights
    training = model.training
    model.eval()
    try:
        graph, weights = trace_graph(model, args)
        return optimize(graph), weights
    finally:
        model.train(training)


def _names(given, count: int, prefix: str, what: str) -> list:
    names = list(given or [])
    if len(names) > count or len(set(names)) != len(names):
        raise ValueError(f"onnx.export: {what} {names} must be distinct and at most {count}")
    return names + [f"{prefix}_{i}" for i in range(len(names), count)]


def _dynamic(dynamic_axes, names: list) -> dict:
    """``{value name: {axis: dim name}}`` from PyTorch's ``dynamic_axes`` forms."""
    result = {}
    for name, axes in (dynamic_axes or {}).items():
        if name not in names:
            raise ValueError(f"onnx.export: dynamic_axes names {name!r}, which is neither an "
                             f"input nor an output name ({names})")
        if isinstance(axes, dict):
            result[name] = {int(axis): str(dim) for axis, dim in axes.items()}
        else:
            result[name] = {int(axis): f"{name}_dynamic_axes_{axis}" for axis in axes}
    return result


def _follow_inputs(dynamic: dict, graph, input_names: list, output_names: list) -> None:
    """Output axes without a given name whose traced size is that of a dynamic input axis are
    declared with that axis's name (a batch axis flows through); only a declaration."""
    sizes = {}
    for vid, name in zip(graph.inputs, input_names):
        for axis, dim in dynamic.get(name, {}).items():
            sizes.setdefault(graph.values[vid].shape[axis], dim)
    if not sizes:
        return
    for vid, name in zip(graph.outputs, output_names):
        if name not in dynamic:
            dynamic[name] = {axis: sizes[size] for axis, size in enumerate(graph.values[vid].shape)
                             if size in sizes}


def _value_info(helper, name: str, value, dynamic: dict):
    dims = [dynamic.get(name, {}).get(axis, size) for axis, size in enumerate(value.shape)]
    return helper.make_tensor_value_info(
        name, helper.np_dtype_to_tensor_dtype(np.dtype(value.dtype)), dims)


def _build(graph, weights: dict, builder: Builder, input_names: list,
           output_names: list) -> dict:
    """ONNX names for the graph's values; weights and constants become initializers."""
    names = {}
    for vid, name in zip(graph.inputs, input_names):
        names[vid] = name
    for value in graph.values:
        if value.kind in ("parameter", "buffer"):
            names[value.id] = builder.initializer(value.ref, weights[value.ref][1]._array)
    for vid, array in graph.constants.items():
        names[vid] = builder.initializer(f"constant_{vid}", array)
    produced = {vid for node in graph.nodes for vid in node.outputs}
    for vid, name in zip(graph.outputs, output_names):
        if vid in produced and vid not in names:
            names[vid] = name
    for node in graph.nodes:
        for vid in node.outputs:
            names.setdefault(vid, f"value_{vid}")
    return names


def export(model, args, f, input_names=None, output_names=None, dynamic_axes=None,
           opset_version: int = 17, verbose: bool = False) -> None:
    """Writes ``model`` (a Module or a function of Tensors) as an ONNX model to ``f``.

    The model is traced on ``args`` in evaluation mode (so dropout is off and batch norm uses
    its running statistics), the graph optimised, and each primitive written as ONNX nodes of
    ``opset_version`` (17 or newer). The model is checked with ``onnx.checker`` before it is
    written. An op without an ONNX form raises ``UnsupportedOperatorError`` naming it and its
    node.

    Args:
        model: a ``nn.Module`` or a function of Tensors.
        args: a Tensor or a tuple of Tensors, the example inputs.
        f: a path or a binary file object.
        input_names, output_names: names of the graph's inputs and outputs, in order
            (``input_0`` ..., ``output_0`` ... for the rest).
        dynamic_axes: ``{name: [axis, ...]}`` or ``{name: {axis: "dim name"}}``: axes whose
            size is left open (a dynamic batch axis). Shape-dependent values the trace froze
            (a constant holding the batch size) stay frozen.
        opset_version: the ONNX opset, 17 to 21.
        verbose: print the exported graph.

    Example:
        >>> ember.onnx.export(ember.nn.Linear(3, 2), ember.randn(1, 3), "linear.onnx",
        ...                   input_names=["x"], dynamic_axes={"x": [0]})
    """
    onnx, helper, numpy_helper = _import_onnx()
    if not 17 <= opset_version <= 21:
        raise ValueError(f"onnx.export: opset_version {opset_version} is not supported "
                         "(17 to 21)")
    args = args if isinstance(args, tuple) else (args,)
    graph, weights = _traced_graph(model, args)
    input_names = _names(input_names, len(graph.inputs), "input", "input_names")
    output_names = _names(output_names, len(graph.outputs), "output", "output_names")
    dynamic = _dynamic(dynamic_axes, input_names + output_names)
    builder = Builder(helper, numpy_helper, opset_version)
    names = _build(graph, weights, builder, input_names, output_names)
    for index, node in enumerate(graph.nodes):
        symbolic = None if node.function is not None else SYMBOLICS.get(node.op)
        step = Step(builder, graph, node, index, names)
        if symbolic is None:
            step.unsupported("has no ONNX form in ember.onnx (unsupported operator)")
        symbolic(step)
    for vid, name in zip(graph.outputs, output_names):
        if names[vid] != name:
            builder.emit("Identity", [names[vid]], [name])
    used = {name for node in builder.nodes for name in node.input} | set(output_names)
    builder.initializers = [i for i in builder.initializers if i.name in used]
    _follow_inputs(dynamic, graph, input_names, output_names)
    onnx_graph = helper.make_graph(
        builder.nodes, "ember",
        [_value_info(helper, name, graph.values[vid], dynamic)
         for vid, name in zip(graph.inputs, input_names)],
        [_value_info(helper, name, graph.values[vid], dynamic)
         for vid, name in zip(graph.outputs, output_names)],
        initializer=builder.initializers)
    model_proto = helper.make_model(onnx_graph, producer_name="ember",
                                    opset_imports=[helper.make_opsetid("", opset_version)])
    model_proto.ir_version = min(model_proto.ir_version, 9 if opset_version < 21 else 10)
    onnx.checker.check_model(model_proto)
    if verbose:
        print(helper.printable_graph(model_proto.graph))
    data = model_proto.SerializeToString()
    if hasattr(f, "write"):
        f.write(data)
    else:
        with open(os.fspath(f), "wb") as file:
            file.write(data)


__all__ = ["UnsupportedOperatorError", "export"]
