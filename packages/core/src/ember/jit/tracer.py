"""Recording a graph: run the function once with an observer that sees every primitive op.

Values are recognised by where autograd says they come from. Tracing runs with grad mode on and
the floating inputs made leaves that require grad, so every value computed from an input or a
weight carries a ``grad_fn``: ``(grad_fn, output index)`` names it, even after an in-place op
(autograd rebinds the tensor to the op that wrote it, and the in-place op itself is recorded as
its out-of-place primitive). Values without history (integer indices, results of ops on
constants) are named by the Tensor object and its version counter. A tensor the trace never saw
produced is an input, a parameter or buffer of the module (matched by identity), a tensor that
requires grad captured by a function (kept as a named weight), or else a constant copied into the
graph.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

from ember.autograd.grad_mode import enable_grad
from ember.autograd.observe import Observer, observing
from ember.jit.graph import Graph, Node
from ember.tensor.registry import PRIMITIVES
from ember.tensor.tensor import Tensor


class TracerWarning(UserWarning):
    """The trace may not generalise: a traced value was turned into a Python value, so the
    control flow or shapes that depend on it are frozen as they were while tracing."""


class _Recorder(Observer):
    def __init__(self, graph: Graph, named: dict) -> None:
        self.graph = graph
        self.named = named  # id(tensor) -> (kind, name)
        self.by_history = {}  # (id(grad_fn), output index) -> value id
        self.by_tensor = {}  # id(tensor) -> (value id, its version counter, count when bound)
        self.by_array = {}  # id(array) -> value id of the traced value it holds
        self.keep = []  # the grad_fns, tensors and arrays above, alive: their ids stay unique
        self.captured = {}  # name -> tensor: tensors requiring grad that a function captured

    def bind(self, tensor: Tensor, vid: int) -> None:
        if self.graph.values[vid].kind != "constant":
            self.by_array[id(tensor._array)] = vid
            self.keep.append(tensor._array)
        fn = tensor.grad_fn
        if fn is not None:
            self.by_history[(id(fn), tensor._output_nr)] = vid
            self.keep.append(fn)
        else:
            counter = tensor._share_version()
            self.by_tensor[id(tensor)] = (vid, counter, counter[0])
            self.keep.append(tensor)

    def known(self, tensor: Tensor) -> int | None:
        """The value id of a tensor the trace has seen, else None."""
        fn = tensor.grad_fn
        if fn is not None:
            vid = self.by_history.get((id(fn), tensor._output_nr))
            if vid is not None:
                return vid
        entry = self.by_tensor.get(id(tensor))
        if entry is None:
            return None
        vid, counter, count = entry
        # An op's wrapper may make its output a view after the op ran (a new, shared counter):
        # only a change of the counter seen when binding is a write.
        if tensor._version is counter and counter[0] != count:
            raise RuntimeError(
                f"jit.trace: a tensor of shape {tuple(tensor.shape)} ({tensor.dtype}) was "
                "modified in place by code the trace cannot record (an in-place op on a tensor "
                "without autograd history, or a write through .data or a numpy array); write it "
                "out of place (y = x.add(1) rather than x.add_(1)) so that the trace sees it"
            )
        return vid

    def value_of(self, tensor: Tensor) -> int:
        vid = self.known(tensor)
        if vid is not None:
            return vid
        kind, name = self.named.get(id(tensor), (None, None))
        source = self.by_array.get(id(tensor._array))
        if kind is None and source is not None:
            # A new Tensor over a traced value's array: detach(), .data, detach_() ...
            vid = self.graph.add_value("node", len(self.graph.nodes), tensor._array)
            self.graph.nodes.append(Node("detach", {}, [source], [vid], True))
            self.bind(tensor, vid)
            return vid
        if kind is None and tensor._rg:
            kind, name = "parameter", f"captured_{len(self.captured)}"
            self.captured[name] = tensor
        if kind is None:
            vid = self.graph.add_value("constant", None, tensor._array)
            self.graph.constants[vid] = tensor._array.copy()
        else:
            vid = self.graph.add_value(kind, name, tensor._array)
        self.bind(tensor, vid)
        return vid

    def traced(self, tensor: Tensor) -> bool:
        """Whether ``tensor`` depends on the inputs or weights (not a constant)."""
        if not isinstance(tensor, Tensor):
            return False
        try:
            vid = self.known(tensor)
        except RuntimeError:  # written in place out of sight: it came from a traced value
            return True
        if vid is None:  # a new Tensor over a traced value's array (detach(), .data)
            vid = self.by_array.get(id(tensor._array))
        return vid is not None and self.graph.values[vid].kind != "constant"

    def write(self, target, value) -> None:
        """A buffer overwritten outside any op (batch norm's running statistics): recorded as a
        write of ``value``'s id, and the buffer reads as that value from now on."""
        vid = self.known(value)
        kind, name = self.named.get(id(target), (None, None))
        if vid is None or kind != "buffer":
            warnings.warn(
                f"jit.trace: a tensor of shape {tuple(target.shape)} that is not a buffer of the "
                "traced module was updated in place; the replay will not update it",
                TracerWarning, stacklevel=3)
            return
        self.graph.writes.append([name, vid])
        self.bind(target, vid)

    def op(self, cls, inputs, attrs, run):
        input_ids = [self.value_of(t) for t in inputs]
        out = run()
        multi = out.__class__ is tuple
        graph = self.graph
        output_ids = []
        for tensor in out if multi else (out,):
            if not isinstance(tensor, Tensor):
                raise TypeError(f"jit.trace: {cls.name} returned a {type(tensor).__name__}; "
                                "a traced op must return Tensors")
            vid = graph.add_value("node", len(graph.nodes), tensor._array)
            self.bind(tensor, vid)
            output_ids.append(vid)
        custom = None if PRIMITIVES.get(cls.name) is cls else cls
        graph.nodes.append(Node(cls.name, dict(attrs), input_ids, output_ids, multi, custom))
        return out


# Converting a traced value to Python freezes whatever depends on it: warn where that happens.
_PYTHON_CONVERSIONS = ("__bool__", "__float__", "__int__", "__index__", "item", "tolist",
                       "numpy", "__array__")


@contextmanager
def _warning_on_python_values(recorder: _Recorder):
    originals = {name: Tensor.__dict__[name] for name in _PYTHON_CONVERSIONS}

    def watched(name, original):
        def convert(self, *args):
            if recorder.traced(self):
                warnings.warn(
                    f"jit.trace: converting a traced tensor to a Python value (Tensor.{name}) "
                    "freezes it into the trace: control flow or shapes that depend on it will "
                    "not follow other inputs", TracerWarning, stacklevel=2)
            return original(self, *args)

        return convert

    for name, original in originals.items():
        setattr(Tensor, name, watched(name, original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(Tensor, name, original)


def _leaf_inputs(example_inputs: tuple) -> tuple:
    """Fresh leaves over the inputs' data (floating ones requiring grad: see the module doc)."""
    leaves = []
    for position, value in enumerate(example_inputs):
        if not isinstance(value, Tensor):
            raise TypeError(f"jit.trace: example input {position} must be a Tensor, got "
                            f"{type(value).__name__}")
        leaf = Tensor(value._array)
        leaf._rg = value._array.dtype.kind in "fc"
        leaves.append(leaf)
    return tuple(leaves)


def _flatten(output, recorder: _Recorder, graph: Graph):
    """The output structure as a spec (JSON-friendly), filling ``graph.outputs``."""
    if isinstance(output, Tensor):
        graph.outputs.append(recorder.value_of(output))
        return len(graph.outputs) - 1
    if output is None:
        return {"kind": "none"}
    if isinstance(output, (tuple, list)):
        kind = "tuple" if isinstance(output, tuple) else "list"
        return {"kind": kind, "items": [_flatten(item, recorder, graph) for item in output]}
    if isinstance(output, dict) and all(isinstance(key, str) for key in output):
        return {"kind": "dict", "keys": list(output),
                "items": [_flatten(item, recorder, graph) for item in output.values()]}
    raise TypeError(f"jit.trace: the traced function returned a {type(output).__name__}; only "
                    "Tensors, None and tuples, lists and str-keyed dicts of them can be traced")


def record(fn, example_inputs: tuple, named: dict) -> tuple:
    """Runs ``fn(*example_inputs)`` once and returns (graph, captured tensors by name).

    ``named`` maps ``id(tensor)`` to ``("parameter" | "buffer", name)`` for the module's weights.
    """
    graph = Graph()
    leaves = _leaf_inputs(example_inputs)
    recorder = _Recorder(graph, named)
    for position, leaf in enumerate(leaves):
        vid = graph.add_value("input", position, leaf._array)
        graph.inputs.append(vid)
        recorder.bind(leaf, vid)
    with enable_grad(), observing(recorder), _warning_on_python_values(recorder):
        output = fn(*leaves)
    graph.output_spec = _flatten(output, recorder, graph)
    return graph, recorder.captured
