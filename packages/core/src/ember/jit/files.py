"""``ember.jit.save`` / ``ember.jit.load``: a traced module as JSON graphs plus safetensors weights.

One file is a safetensors file whose metadata entry ``ember.jit`` holds the JSON; one folder
holds ``graph.json`` and ``weights.safetensors``. Loading needs no Python class and runs no code
from the file: the JSON is checked field by field (op names must be registered primitives,
attributes plain values, value ids consistent, shapes and dtypes sane, weights present with the
shapes the graph expects) and anything else is a ValueError that says what is wrong and where.
"""

from __future__ import annotations

import inspect
import json
import os

import numpy as np
import safetensors
import safetensors.numpy

from ember.jit import attrs as attr_codec
from ember.jit.graph import Graph, Node, Value
from ember.jit.traced import TracedModule
from ember.nn.parameter import Parameter
from ember.serialization._files import write_file
from ember.tensor.registry import PRIMITIVES
from ember.tensor.tensor import Tensor

FORMAT = "ember.jit"
VERSION = 1
GRAPH_FILE = "graph.json"
WEIGHTS_FILE = "weights.safetensors"
_KINDS = ("input", "parameter", "buffer", "constant", "node")


# ---- writing ----------------------------------------------------------------------------------


def _host(array) -> np.ndarray:
    return np.ascontiguousarray(array.get() if hasattr(array, "get") else array)


def _graph_data(graph: Graph, index: int, tensors: dict) -> dict:
    for node in graph.nodes:
        if node.function is not None:
            raise TypeError(f"jit.save: the graph applies the custom Function {node.op!r}, "
                            "which is not a registered primitive: a file cannot hold its code")
    for vid, array in graph.constants.items():
        tensors[f"constant/{index}/{vid}"] = _host(array)
    *arguments, training = graph.signature
    return {
        "signature": {"inputs": [[list(s), np.dtype(d).name, device]
                                 for s, d, device in arguments], "training": training},
        "values": [[v.kind, v.ref, list(v.shape), v.dtype] for v in graph.values],
        "nodes": [[n.op, {k: attr_codec.encode(a, f"op {n.op!r} attribute {k!r}")
                          for k, a in n.attrs.items()}, n.inputs, n.outputs, n.multi]
                  for n in graph.nodes],
        "inputs": graph.inputs,
        "outputs": graph.outputs,
        "output_spec": graph.output_spec,
        "writes": graph.writes,
    }


def save(module: TracedModule, f) -> None:
    """Writes a traced module to ``f``: one file, or the two files of a folder when ``f`` is an
    existing directory. PyTorch's ``torch.jit.save`` writes a zip of TorchScript code; Ember
    writes data only (JSON and safetensors), so loading can never run code.

    Example:
        >>> traced = ember.jit.trace(ember.nn.Linear(3, 2), ember.randn(1, 3))
        >>> ember.jit.save(traced, "linear.ejit")
    """
    if not isinstance(module, TracedModule):
        raise TypeError(f"jit.save: expected a TracedModule (from ember.jit.trace), got "
                        f"{type(module).__name__}")
    tensors = {}
    buffers = dict(module.named_buffers(remove_duplicate=False))
    kinds = {}
    aliases = {}  # a tied tensor's other names -> its first name
    first = {}
    for name, tensor in module.weights().items():
        if id(tensor) in first:
            aliases[name] = first[id(tensor)]
            continue
        first[id(tensor)] = name
        kinds[name] = "buffer" if name in buffers else "parameter"
        tensors[f"weight/{name}"] = _host(tensor._array)
    data = {"format": FORMAT, "version": VERSION, "training": module.training,
            "weights": kinds, "aliases": aliases,
            "graphs": [_graph_data(c.graph, i, tensors)
                       for i, c in enumerate(module._compiled.values())]}
    text = json.dumps(data)
    path = os.fspath(f)
    if os.path.isdir(path):
        write_file(os.path.join(path, WEIGHTS_FILE), safetensors.numpy.save(tensors))
        write_file(os.path.join(path, GRAPH_FILE), text.encode())
    else:
        write_file(path, safetensors.numpy.save(tensors, metadata={FORMAT: text}))


# ---- reading ----------------------------------------------------------------------------------


class _Checker:
    """Raises ValueError naming the file and the place of the first thing that is wrong."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, what: str):
        raise ValueError(f"jit.load: {self.source} is not a valid Ember graph file: {what}")

    def that(self, condition: bool, what: str) -> None:
        if not condition:
            self.fail(what)

    def index(self, value, limit: int, where: str) -> int:
        self.that(type(value) is int and 0 <= value < limit,
                  f"{where} must be an integer in [0, {limit}), got {str(value)[:40]!r}")
        return value

    def shape(self, value, where: str) -> tuple:
        self.that(isinstance(value, list) and len(value) <= 64
                  and all(type(d) is int and 0 <= d < 2**40 for d in value),
                  f"{where} must be a list of non-negative integers, got {str(value)[:60]!r}")
        return tuple(value)

    def dtype(self, value, where: str) -> str:
        self.that(value in attr_codec.DTYPES, f"{where} is not a known dtype: {value!r}")
        return value


def _read_values(check: _Checker, data: list, where: str) -> list:
    check.that(isinstance(data, list), f"{where}.values must be a list")
    values = []
    for vid, entry in enumerate(data):
        here = f"{where}.values[{vid}]"
        check.that(isinstance(entry, list) and len(entry) == 4,
                   f"{here} must be [kind, ref, shape, dtype]")
        kind, ref, shape, dtype = entry
        check.that(kind in _KINDS, f"{here} has unknown kind {str(kind)[:40]!r}")
        if kind in ("parameter", "buffer"):
            check.that(isinstance(ref, str), f"{here}: a {kind} is named by a string")
        elif kind == "constant":
            check.that(ref is None, f"{here}: a constant has no ref")
        else:
            check.that(type(ref) is int and ref >= 0, f"{here}: ref must be an index")
        values.append(Value(vid, kind, ref, check.shape(shape, f"{here} shape"),
                            check.dtype(dtype, f"{here} dtype")))
    return values


def _read_nodes(check: _Checker, data: list, values: list, where: str) -> list:
    check.that(isinstance(data, list), f"{where}.nodes must be a list")
    ready = {v.id for v in values if v.kind != "node"}
    nodes = []
    for index, entry in enumerate(data):
        here = f"{where}.nodes[{index}]"
        check.that(isinstance(entry, list) and len(entry) == 5,
                   f"{here} must be [op, attrs, inputs, outputs, multi]")
        op, encoded, inputs, outputs, multi = entry
        check.that(isinstance(op, str) and op in PRIMITIVES,
                   f"{here}: {str(op)[:60]!r} is not a registered primitive op")
        check.that(isinstance(encoded, dict), f"{here}: attrs must be an object")
        try:
            node_attrs = {str(k): attr_codec.decode(v, f"{here} ({op}) attribute {k!r}")
                          for k, v in encoded.items()}
        except ValueError as error:
            check.fail(str(error))
        check.that(isinstance(inputs, list) and isinstance(outputs, list) and outputs
                   and isinstance(multi, bool) and (multi or len(outputs) == 1),
                   f"{here}: inputs and outputs must be lists of value ids")
        try:  # the op's forward must take these inputs and attributes
            inspect.signature(PRIMITIVES[op].forward).bind(None, *inputs, **node_attrs)
        except TypeError as error:
            check.fail(f"{here}: op {op!r} does not take {len(inputs)} inputs and attributes "
                       f"{sorted(node_attrs)} ({error})")
        for vid in inputs:
            check.index(vid, len(values), f"{here} input")
            check.that(vid in ready, f"{here} reads value {vid} before it is computed")
        for vid in outputs:
            check.index(vid, len(values), f"{here} output")
            value = values[vid]
            check.that(value.kind == "node" and value.ref == index and vid not in ready,
                       f"{here} output {vid} is not a value of this node")
            ready.add(vid)
        nodes.append(Node(op, node_attrs, list(inputs), list(outputs), multi))
    for value in values:
        check.that(value.id in ready, f"{where}: value {value.id} is never computed")
    return nodes


def _read_spec(check: _Checker, spec, outputs: int, where: str, depth: int = 0):
    check.that(depth < 100, f"{where}: output structure nested too deeply")
    if type(spec) is int:
        check.index(spec, outputs, f"{where} output position")
        return
    check.that(isinstance(spec, dict) and spec.get("kind") in ("none", "tuple", "list", "dict"),
               f"{where}: bad output structure {str(spec)[:60]!r}")
    if spec["kind"] == "none":
        return
    items = spec.get("items")
    check.that(isinstance(items, list), f"{where}: output structure without items")
    if spec["kind"] == "dict":
        keys = spec.get("keys")
        check.that(isinstance(keys, list) and len(keys) == len(items)
                   and all(isinstance(k, str) for k in keys), f"{where}: bad output dict keys")
    for item in items:
        _read_spec(check, item, outputs, where, depth + 1)


def _read_signature(check: _Checker, data, where: str) -> tuple:
    check.that(isinstance(data, dict) and isinstance(data.get("inputs"), list)
               and isinstance(data.get("training"), bool), f"{where}: bad signature")
    signature = []
    for position, entry in enumerate(data["inputs"]):
        here = f"{where} input {position}"
        check.that(isinstance(entry, list) and len(entry) == 3 and isinstance(entry[2], str),
                   f"{here} must be [shape, dtype, device]")
        signature.append((check.shape(entry[0], here), np.dtype(check.dtype(entry[1], here)),
                          entry[2]))
    return (*signature, data["training"])


def _read_graph(check: _Checker, data, index: int, tensors: dict, kinds: dict) -> Graph:
    where = f"graphs[{index}]"
    check.that(isinstance(data, dict), f"{where} must be an object")
    values = _read_values(check, data.get("values"), where)
    graph = Graph(values=values)
    graph.nodes = _read_nodes(check, data.get("nodes"), values, where)
    inputs, outputs = data.get("inputs"), data.get("outputs")
    check.that(isinstance(inputs, list) and isinstance(outputs, list),
               f"{where}: inputs and outputs must be lists")
    for position, vid in enumerate(inputs):
        check.index(vid, len(values), f"{where} input")
        check.that(values[vid].kind == "input" and values[vid].ref == position,
                   f"{where}: input {position} is not value {vid}")
    check.that(len(inputs) == sum(v.kind == "input" for v in values),
               f"{where}: an input value is missing from inputs")
    for vid in outputs:
        check.index(vid, len(values), f"{where} output")
    graph.inputs, graph.outputs = list(inputs), list(outputs)
    writes = data.get("writes", [])
    check.that(isinstance(writes, list), f"{where}: writes must be a list")
    for write in writes:
        check.that(isinstance(write, list) and len(write) == 2 and isinstance(write[0], str)
                   and kinds.get(write[0]) == "buffer",
                   f"{where}: a write must be [buffer name, value id], got {str(write)[:60]}")
        value = values[check.index(write[1], len(values), f"{where} write value")]
        check.that(value.shape == tensors[f"weight/{write[0]}"].shape,
                   f"{where}: the write to {write[0]!r} has shape {value.shape}")
    graph.writes = [list(write) for write in writes]
    _read_spec(check, data.get("output_spec"), len(outputs), where)
    graph.output_spec = data["output_spec"]
    graph.signature = _read_signature(check, data.get("signature"), where)
    check.that(len(graph.signature) - 1 == len(inputs),
               f"{where}: the signature has {len(graph.signature) - 1} inputs, the graph "
               f"{len(inputs)}")
    for value in values:
        if value.kind == "constant":
            array = tensors.get(f"constant/{index}/{value.id}")
            check.that(array is not None, f"{where}: constant {value.id} has no tensor")
            _check_array(check, array, value, f"{where} constant {value.id}")
            graph.constants[value.id] = array
        elif value.kind in ("parameter", "buffer"):
            check.that(kinds.get(value.ref) == value.kind,
                       f"{where}: {value.kind} {value.ref!r} is not among the file's weights")
            _check_array(check, tensors[f"weight/{value.ref}"], value,
                         f"{where} {value.kind} {value.ref!r}")
    return graph


def _check_array(check: _Checker, array, value: Value, where: str) -> None:
    check.that(array.shape == value.shape and array.dtype.name == value.dtype,
               f"{where}: stored as {array.shape} {array.dtype}, the graph expects "
               f"{value.shape} {value.dtype}")


def _read_files(path: str) -> tuple:
    """(JSON text, {name: array}) from a file or a folder; ValueError for foreign files."""
    if os.path.isdir(path):
        graph_path = os.path.join(path, GRAPH_FILE)
        with open(graph_path, "rb") as file:
            text = file.read().decode("utf-8", errors="replace")
        return text, _read_tensors(os.path.join(path, WEIGHTS_FILE))[1]
    metadata, tensors = _read_tensors(path)
    if FORMAT not in metadata:
        raise ValueError(f"jit.load: {path} is a safetensors file without an Ember graph (not "
                         "written by ember.jit.save)")
    return metadata[FORMAT], tensors


def _read_tensors(path: str) -> tuple:
    try:
        with safetensors.safe_open(path, framework="numpy") as file:
            metadata = file.metadata() or {}
            tensors = {name: file.get_tensor(name) for name in file.keys()}
    except (safetensors.SafetensorError, OSError, ValueError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"jit.load: {path} is not a graph file written by ember.jit.save "
                         f"(unreadable safetensors data: {error})") from None
    return metadata, tensors


def load(f) -> TracedModule:
    """Reads a module written by ``ember.jit.save``: no class is needed and nothing in the file
    is executed. A malformed, truncated or foreign file raises ValueError saying what is wrong.
    The loaded module cannot trace again: a call with an input signature it was not saved with
    raises. (PyTorch's ``map_location`` is not offered: the graphs were traced for one device.)
    """
    path = os.fspath(f)
    text, tensors = _read_files(path)
    check = _Checker(path)
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        check.fail(f"the graph is not valid JSON, or nested too deeply ({error})")
    check.that(isinstance(data, dict) and data.get("format") == FORMAT,
               f"the JSON is not an {FORMAT} graph")
    check.that(data.get("version") == VERSION,
               f"format version {str(data.get('version'))[:20]!r}; this Ember reads {VERSION}")
    kinds = data.get("weights")
    check.that(isinstance(kinds, dict) and all(
        isinstance(k, str) and v in ("parameter", "buffer") for k, v in kinds.items()),
        "weights must map names to 'parameter' or 'buffer'")
    for name in kinds:
        check.that(f"weight/{name}" in tensors, f"weight {name!r} is missing")
        check.that(all(part.isidentifier() or part.isdigit() for part in name.split(".")),
                   f"weight name {name!r} is not a dotted module path")
    graphs = data.get("graphs")
    check.that(isinstance(graphs, list) and graphs, "graphs must be a non-empty list")
    check.that(isinstance(data.get("training"), bool), "training must be a boolean")
    try:
        graphs = [_read_graph(check, g, i, tensors, kinds) for i, g in enumerate(graphs)]
    except RecursionError:
        check.fail("an attribute or the output structure is nested too deeply")
    aliases = data.get("aliases", {})
    check.that(isinstance(aliases, dict) and all(
        isinstance(k, str) and k not in kinds and v in kinds for k, v in aliases.items()),
        "aliases must map new weight names to the names of stored weights")
    weights = {}
    for name, kind in kinds.items():
        array = tensors[f"weight/{name}"]
        tensor = Parameter(Tensor(array)) if kind == "parameter" and array.dtype.kind == "f" \
            else Tensor(array)
        weights[name] = (kind if kind == "buffer" or isinstance(tensor, Parameter) else "buffer",
                         tensor)
    for name, target in aliases.items():
        check.that(all(part.isidentifier() or part.isdigit() for part in name.split(".")),
                   f"weight name {name!r} is not a dotted module path")
        weights[name] = weights[target]
    module = TracedModule(None, weights, training=data["training"])
    for graph in graphs:
        module._add(graph)
    return module
