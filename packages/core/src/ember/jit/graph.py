"""The static graph a trace records: values, and nodes that apply primitives to them.

Every value has an integer id and one source: a graph input (by position), a parameter or buffer
(by its name in the module), a constant (an array kept in the graph), or the output of a node.
A node is a registered primitive's name, its static attributes and its input and output ids, in
the order the trace ran them (a valid execution order).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ember.tensor.registry import PRIMITIVES


@dataclass
class Node:
    """``outputs = PRIMITIVES[op].apply(*inputs, **attrs)``; ``multi`` when the op returns a
    tuple (then ``outputs`` has one id per element, in order). A user's custom
    ``ember.autograd.Function`` is not a registered primitive: its class is kept in
    ``function`` (such a graph replays in this process but cannot be saved)."""

    op: str
    attrs: dict
    inputs: list
    outputs: list
    multi: bool = False
    function: type | None = None

    @property
    def cls(self) -> type:
        """The Function class this node applies."""
        return self.function or PRIMITIVES[self.op]


@dataclass
class Value:
    """Where value ``id`` comes from: ``kind`` is input | parameter | buffer | constant | node;
    ``ref`` is the input's position, the parameter's or buffer's name, or the producing node's
    index. ``shape`` and ``dtype`` (a numpy dtype name) are those seen while tracing."""

    id: int
    kind: str
    ref: object
    shape: tuple
    dtype: str


@dataclass
class Graph:
    """A traced program: ``values`` by id, ``nodes`` in execution order, ``inputs`` (value ids
    in argument order), ``outputs`` (value ids) and ``output_spec`` (how the outputs nest:
    a value index, or a list/tuple/dict of specs), ``constants`` (value id -> array), and the
    buffers it ``writes``."""

    values: list = field(default_factory=list)
    nodes: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    output_spec: object = 0
    constants: dict = field(default_factory=dict)
    signature: tuple = ()  # the call signature traced (see ember.jit.traced)
    #: ``[buffer name, value id]``: state the call overwrites in place (batch norm's running
    #: statistics in training), written back after each replay
    writes: list = field(default_factory=list)

    def add_value(self, kind: str, ref, array) -> int:
        value = Value(len(self.values), kind, ref, tuple(array.shape), np.dtype(array.dtype).name)
        self.values.append(value)
        return value.id

    def named(self, kind: str) -> dict:
        """``{name: value id}`` of the parameters (``kind="parameter"``) or buffers."""
        return {v.ref: v.id for v in self.values if v.kind == kind}

    def uses(self) -> dict:
        """``{value id: number of node inputs, graph outputs and buffer writes reading it}``."""
        counts: dict = {}
        for node in self.nodes:
            for vid in node.inputs:
                counts[vid] = counts.get(vid, 0) + 1
        for vid in self.results():
            counts[vid] = counts.get(vid, 0) + 1
        return counts

    def results(self) -> list:
        """The value ids a replay hands out: the outputs, then the values written to buffers."""
        return self.outputs + [vid for _, vid in self.writes]

    # ---- reading a graph ---------------------------------------------------------------

    def _describe(self, vid: int) -> str:
        value = self.values[vid]
        if value.kind == "node":
            return f"%{vid}"
        if value.kind == "input":
            return f"%input{value.ref}"
        if value.kind == "constant":
            return f"%const{vid}"
        return f"%{value.ref}"

    def rows(self) -> list:
        """One row per input, weight, node and output: (opcode, name, target, args, kwargs)."""
        rows = []
        for value in self.values:
            if value.kind in ("input", "parameter", "buffer", "constant"):
                rows.append((value.kind, self._describe(value.id), str(value.ref),
                             f"{list(value.shape)} {value.dtype}", ""))
        for node in self.nodes:
            names = ", ".join(self._describe(v) for v in node.outputs)
            args = ", ".join(self._describe(v) for v in node.inputs)
            attrs = ", ".join(f"{k}={v!r}" for k, v in node.attrs.items())
            rows.append(("call_op", names, node.op, f"({args})", attrs))
        outs = ", ".join(self._describe(v) for v in self.outputs)
        rows.append(("output", "output", "output", f"({outs})", ""))
        return rows

    def print_tabular(self) -> None:
        """Prints the graph as a table (torch.fx's ``Graph.print_tabular`` layout)."""
        print(self.tabular())

    def tabular(self) -> str:
        header = ("opcode", "name", "target", "args", "kwargs")
        rows = [header, *self.rows()]
        widths = [min(60, max(len(row[i]) for row in rows)) for i in range(5)]
        lines = []
        for index, row in enumerate(rows):
            lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
            if index == 0:
                lines.append("  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def to_dot(self, name: str = "graph") -> str:
        """The graph in Graphviz's dot language: one box per node, one ellipse per input,
        weight and constant, edges along the data flow labelled with shapes."""
        lines = [f"digraph {_quote(name)} {{", "  rankdir=TB;"]
        producer = {}
        for value in self.values:
            if value.kind != "node":
                label = _quote(self._describe(value.id))
                lines.append(f"  v{value.id} [shape=ellipse, label={label}];")
                producer[value.id] = f"v{value.id}"
        for index, node in enumerate(self.nodes):
            lines.append(f"  n{index} [shape=box, label={_quote(node.op)}];")
            for vid in node.outputs:
                producer[vid] = f"n{index}"
            for vid in node.inputs:
                shape = "x".join(map(str, self.values[vid].shape))
                lines.append(f"  {producer[vid]} -> n{index} [label={_quote(shape)}];")
        for position, vid in enumerate(self.outputs):
            lines.append(f"  out{position} [shape=ellipse, label=\"output {position}\"];")
            lines.append(f"  {producer[vid]} -> out{position};")
        lines.append("}")
        return "\n".join(lines)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
