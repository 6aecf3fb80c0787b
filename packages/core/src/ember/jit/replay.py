"""Running a graph: through autograd (training) or straight on arrays (inference).

``run_autograd`` applies each node's primitive with ``Function.apply``, exactly what eager mode
does, so gradients equal eager ones. ``ArrayProgram`` is the inference path: each node's
``forward`` is called on raw arrays with no Tensor wrapping and no graph recording, and fused
elementwise chains (``ember.jit.fusion``) run as one step.
"""

from __future__ import annotations

import numpy as np

from ember.autograd.function import _Context
from ember.backend import xp_of
from ember.jit.fusion import Chain, find_chains, run_chain
from ember.tensor.registry import PRIMITIVES
from ember.tensor.tensor import Tensor


def structure(spec, values: list):
    """Rebuilds the nested outputs from ``spec`` (see ``tracer._flatten``)."""
    if isinstance(spec, int):
        return values[spec]
    kind = spec["kind"]
    if kind == "none":
        return None
    items = [structure(item, values) for item in spec["items"]]
    if kind == "dict":
        return dict(zip(spec["keys"], items))
    return tuple(items) if kind == "tuple" else items


def run_autograd(graph, inputs: tuple, weights: dict) -> list:
    """The graph's results (Tensors: ``graph.results()``) computed with ``Function.apply``,
    recording autograd."""
    env = [None] * len(graph.values)
    for vid, tensor in zip(graph.inputs, inputs):
        env[vid] = tensor
    for value in graph.values:
        if value.kind in ("parameter", "buffer"):
            env[value.id] = weights[value.ref]
    for vid, array in graph.constants.items():
        env[vid] = Tensor(array)
    for node in graph.nodes:
        out = node.cls.apply(*[env[i] for i in node.inputs], **node.attrs)
        if node.multi:
            for vid, tensor in zip(node.outputs, out):
                env[vid] = tensor
        else:
            env[node.outputs[0]] = out
    return [env[vid] for vid in graph.results()]


class ArrayProgram:
    """The inference form of a graph: a list of ``(forward, attrs, input slots, output slots,
    multi, slots to free)`` steps over a flat list of arrays."""

    def __init__(self, graph, steps: list) -> None:
        self.graph = graph
        self.slots = len(graph.values)
        # Buffer reuse: each step drops the intermediates it reads last, so that their memory
        # goes back to the allocator for the steps after it (the peak is the live set, not the
        # sum of every activation).
        last = {}
        for index, (_, _, ins, _, _) in enumerate(steps):
            for vid in ins:
                last[vid] = index
        kept = set(graph.results()) | {v.id for v in graph.values if v.kind != "node"}
        frees = [[] for _ in steps]
        for vid, index in last.items():
            if vid not in kept:
                frees[index].append(vid)
        self.steps = [(*step, tuple(free)) for step, free in zip(steps, frees)]
        self.weight_slots = [(v.id, v.ref) for v in graph.values
                             if v.kind in ("parameter", "buffer")]

    @classmethod
    def from_graph(cls, graph, fuse: bool = True) -> ArrayProgram:
        """The steps of ``graph``; with ``fuse``, elementwise chains as single steps."""
        ends = {}
        inside = set()
        for nodes in find_chains(graph) if fuse else ():
            ends[id(nodes[-1])] = Chain(nodes, graph)
            inside.update(id(node) for node in nodes[:-1])
        numexpr = _numexpr() if ends else None
        steps = []
        for node in graph.nodes:
            chain = ends.get(id(node))
            if chain is not None:
                steps.append((_chain_forward(chain, numexpr), {}, chain.operands,
                              [chain.output], False))
            elif id(node) not in inside:
                forward = _tensor_forward(node.function) if node.function else \
                    PRIMITIVES[node.op].forward
                steps.append((forward, node.attrs, node.inputs, node.outputs, node.multi))
        return cls(graph, steps)

    def __call__(self, inputs: tuple, weights: dict) -> list:
        env = [None] * self.slots
        graph = self.graph
        for vid, tensor in zip(graph.inputs, inputs):
            env[vid] = tensor._array
        for vid, name in self.weight_slots:
            env[vid] = weights[name]._array
        for vid, array in graph.constants.items():
            env[vid] = array
        ctx = _Context()
        ctx.xp = xp_of(env[graph.inputs[0]]) if graph.inputs else np
        for forward, attrs, ins, outs, multi, free in self.steps:
            out = forward(ctx, *[env[i] for i in ins], **attrs)
            for vid in free:
                env[vid] = None
            if multi:
                for vid, array in zip(outs, out):
                    env[vid] = _array(array)
            else:
                env[outs[0]] = _array(out)
        return [Tensor(env[vid]) for vid in graph.results()]


def _tensor_forward(function):
    """A custom Function (forward on Tensors) as an array step."""
    def forward(ctx, *arrays, **attrs):
        out = function.apply(*[Tensor(a) for a in arrays], **attrs)
        return tuple(t._array for t in out) if out.__class__ is tuple else out._array

    return forward


def _chain_forward(chain, numexpr):
    def forward(ctx, *arrays):
        return run_chain(chain, arrays, numexpr)

    return forward


def _numexpr():
    """numexpr when installed (an optional engine for large fused chains), else None."""
    try:
        import numexpr
    except ImportError:
        return None
    return numexpr


def _array(out):
    """numpy hands back scalars for 0-d results: make them arrays."""
    return np.asarray(out) if isinstance(out, np.generic) else out
