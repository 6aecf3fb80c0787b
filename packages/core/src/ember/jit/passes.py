"""Graph passes: constant folding, common-subexpression elimination, dead-code removal.

Each rewrites a copy of the graph and keeps its meaning, gradients included (a folded value has
no gradient to lose: it depends on constants only). Random ops (``cls.random``, e.g. dropout's
mask) are never folded or merged: two draws are two values.
"""

from __future__ import annotations

import copy

import numpy as np

from ember.autograd.grad_mode import no_grad
from ember.tensor.registry import PRIMITIVES
from ember.tensor.tensor import Tensor


def _random(node) -> bool:
    """Random ops, and custom Functions (nothing is known of them), are never folded or merged."""
    return node.function is not None or getattr(PRIMITIVES[node.op], "random", False)


def fold_constants(graph) -> None:
    """Evaluates the nodes whose inputs are all constants, once, into constants."""
    kept = []
    for node in graph.nodes:
        if node.inputs and not _random(node) and all(
                graph.values[i].kind == "constant" for i in node.inputs):
            with no_grad():
                out = PRIMITIVES[node.op].apply(*[Tensor(graph.constants[i]) for i in node.inputs],
                                                **node.attrs)
            for vid, tensor in zip(node.outputs, out if node.multi else (out,)):
                graph.values[vid].kind, graph.values[vid].ref = "constant", None
                graph.constants[vid] = tensor._array
        else:
            kept.append(node)
    graph.nodes = kept


def _attrs_key(attrs: dict):
    """A hashable key of ``attrs``, or None when one is not a plain value (an array ...)."""
    def plain(value):
        if value is None or isinstance(value, (bool, int, float, str, slice, np.dtype)):
            return True
        if isinstance(value, (tuple, list)):
            return all(plain(item) for item in value)
        return False

    if not all(plain(value) for value in attrs.values()):
        return None
    return repr(sorted(attrs.items()))


def eliminate_common_subexpressions(graph) -> None:
    """Merges nodes that apply the same op with the same attributes to the same inputs."""
    seen = {}
    alias = {}
    kept = []
    for node in graph.nodes:
        node.inputs = [alias.get(i, i) for i in node.inputs]
        key = None if _random(node) else _attrs_key(node.attrs)
        if key is not None:
            key = (node.op, tuple(node.inputs), key)
            first = seen.get(key)
            if first is not None:
                alias.update(zip(node.outputs, first.outputs))
                continue
            seen[key] = node
        kept.append(node)
    graph.nodes = kept
    graph.outputs = [alias.get(i, i) for i in graph.outputs]
    graph.writes = [[name, alias.get(vid, vid)] for name, vid in graph.writes]


def remove_dead_code(graph) -> None:
    """Drops the nodes none of whose outputs reach a graph output or a buffer write, and unused
    constants."""
    live = set(graph.results())
    kept = []
    for node in reversed(graph.nodes):
        if any(vid in live for vid in node.outputs):
            kept.append(node)
            live.update(node.inputs)
    graph.nodes = kept[::-1]
    graph.constants = {vid: array for vid, array in graph.constants.items() if vid in live}


def renumber_nodes(graph) -> None:
    """Points each node output's value back at its node's index in the rewritten list."""
    for index, node in enumerate(graph.nodes):
        for vid in node.outputs:
            graph.values[vid].ref = index


def optimize(graph):
    """A rewritten copy of ``graph`` with every pass above applied."""
    graph = copy.copy(graph)
    graph.values = [copy.copy(v) for v in graph.values]
    graph.nodes = [copy.copy(n) for n in graph.nodes]
    graph.constants = dict(graph.constants)
    graph.writes = [list(write) for write in graph.writes]
    fold_constants(graph)
    eliminate_common_subexpressions(graph)
    remove_dead_code(graph)
    renumber_nodes(graph)
    return graph
