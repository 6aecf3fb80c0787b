"""A traced ``ember.jit`` graph as TensorBoard's GraphDef protobuf (tensorboardX's classes).

TensorBoard's graph tab groups nodes by ``/`` in their names: weights keep their module path
(``layer1/0/conv1/weight``), ops are named ``op_<index>`` under the scope of the first weight
they read (so a layer's ops sit in its box), inputs ``input/<i>`` and outputs ``output/<i>``.
Every node carries its output shapes (``_output_shapes``) and, for ops, their attributes.
"""

from __future__ import annotations


def _shape_proto(tensor_shape_pb2, shape: tuple):
    return tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=int(size)) for size in shape])


def graph_def(graph):
    """The GraphDef of an ``ember.jit.Graph``."""
    from tensorboardX.proto import (
        attr_value_pb2,
        graph_pb2,
        node_def_pb2,
        tensor_shape_pb2,
        versions_pb2,
    )

    def attrs(shapes, dtype: str, extra: str = ""):
        shape_list = attr_value_pb2.AttrValue.ListValue(
            shape=[_shape_proto(tensor_shape_pb2, shape) for shape in shapes])
        values = {"_output_shapes": attr_value_pb2.AttrValue(list=shape_list),
                  "dtype": attr_value_pb2.AttrValue(s=dtype.encode())}
        if extra:
            values["attr"] = attr_value_pb2.AttrValue(s=extra.encode())
        return values

    names = {}
    nodes = []
    for value in graph.values:
        if value.kind == "node":
            continue
        if value.kind == "input":
            name = f"input/{value.ref}"
        elif value.kind == "constant":
            name = f"constant/{value.id}"
        else:
            name = str(value.ref).replace(".", "/")
        names[value.id] = name
        nodes.append(node_def_pb2.NodeDef(name=name, op=value.kind,
                                          attr=attrs([value.shape], value.dtype)))
    for index, node in enumerate(graph.nodes):
        weights = [names[v] for v in node.inputs if graph.values[v].kind in ("parameter",
                                                                             "buffer")]
        scope = weights[0].rsplit("/", 1)[0] + "/" if weights and "/" in weights[0] else ""
        name = f"{scope}{node.op}_{index}"
        for position, vid in enumerate(node.outputs):
            names[vid] = name if position == 0 else f"{name}:{position}"
        out_values = [graph.values[v] for v in node.outputs]
        detail = ", ".join(f"{k}={v!r}" for k, v in node.attrs.items())
        nodes.append(node_def_pb2.NodeDef(
            name=name, op=node.op, input=[names[v].split(":")[0] for v in node.inputs],
            attr=attrs([v.shape for v in out_values], out_values[0].dtype, detail)))
    for position, vid in enumerate(graph.outputs):
        value = graph.values[vid]
        nodes.append(node_def_pb2.NodeDef(name=f"output/{position}", op="output",
                                          input=[names[vid].split(":")[0]],
                                          attr=attrs([value.shape], value.dtype)))
    return graph_pb2.GraphDef(node=nodes, versions=versions_pb2.VersionDef(producer=22))


def example_inputs(input_to_model) -> tuple:
    """``add_graph``'s ``input_to_model`` (a Tensor, a tuple or list of them) as a tuple."""
    if input_to_model is None:
        return ()
    if isinstance(input_to_model, (tuple, list)):
        return tuple(input_to_model)
    return (input_to_model,)

