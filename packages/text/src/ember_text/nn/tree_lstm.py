"""Tree-LSTMs (Tai, Socher and Manning, 2015): the binary N-ary cell and the child-sum cell.

Both take a ``TreeBatch`` and ``inputs``: one row per node ``(num_nodes, input_size)`` (internal
rows may be zeros), or one per leaf ``(num_leaves, input_size)`` (leaves come first in node
order), which is the same as zero internal rows and saves their projection. They return per-node
``(h, c)``, each ``(num_nodes, hidden_size)`` in node order. A leaf has no children: its memory is
``i * u``.
"""

from __future__ import annotations

import ember
from ember import nn
from ember_text.nn.fold import tree_fold
from ember_text.trees import Level, TreeBatch


def _check_inputs(name: str, batch: TreeBatch, inputs: ember.Tensor, input_size: int) -> bool:
    """True when ``inputs`` has a row per node, False when a row per leaf; else ValueError."""
    rows = inputs.shape[0] if inputs.ndim == 2 else -1
    if inputs.ndim != 2 or inputs.shape[1] != input_size or rows not in (batch.num_nodes,
                                                                       batch.num_leaves):
        raise ValueError(f"{name}: inputs of shape {tuple(inputs.shape)} (expected "
                         f"({batch.num_nodes}, {input_size}) for every node or "
                         f"({batch.num_leaves}, {input_size}) for the leaves)")
    return rows == batch.num_nodes and batch.num_nodes != batch.num_leaves


def _gate_constants(like: ember.Tensor, hidden: int, blocks: int) -> tuple:
    """(scale, shift), each ``(blocks * H,)``, for ``_activate`` of gates laid out (i, o, u,
    then sigmoid gates): ``tanh`` for the update block ``u``, the logistic function elsewhere."""
    scale = ember.full((blocks * hidden,), 0.5, dtype=like.dtype, device=like.device)
    shift = ember.full((blocks * hidden,), 0.5, dtype=like.dtype, device=like.device)
    scale[2 * hidden:3 * hidden] = 1.0
    shift[2 * hidden:3 * hidden] = 0.0
    return scale, shift


def _activate(gates: ember.Tensor, constants: tuple) -> ember.Tensor:
    """Every gate's activation from one ``tanh``: ``sigmoid(x) = 0.5 * tanh(x / 2) + 0.5``.

    Four ops over the whole gate matrix, each one numpy pass: several times cheaper than
    ``sigmoid`` on the gates plus ``tanh`` on a slice (the gates need no extreme-tail precision).
    """
    scale, shift = constants
    width = gates.shape[1]
    if width != scale.shape[0]:
        scale, shift = scale[:width], shift[:width]
    return (gates * scale).tanh() * scale + shift


def _leaf_cell(gates: ember.Tensor, hidden: int, constants: tuple) -> tuple:
    """(i, o, u) gates (num_leaves, 3H) -> (h, c) with no children: c = i * u."""
    act = _activate(gates, constants)
    c = act[:, :hidden] * act[:, 2 * hidden:3 * hidden]
    return act[:, hidden:2 * hidden] * c.tanh(), c


class BinaryTreeLSTM(nn.Module):
    """The N-ary Tree-LSTM for N = 2: each child has its own forget gate and weights.

    Gates per node: input ``i``, output ``o``, update ``u`` (from the node's input: ``W_iou``)
    and forget ``f_l``, ``f_r`` (``W_f``), plus ``U [h_l; h_r]`` from the children's states.
    Every internal node must have exactly two children (see ``ember_text.trees.binarize``).

    Example:
        >>> cell = BinaryTreeLSTM(4, 3)
        >>> batch = TreeBatch([Tree.fromstring("(1 (2 a) (1 (2 b) (2 c)))")])
        >>> h, c = cell(batch, ember.randn(batch.num_leaves, 4))
        >>> tuple(h.shape)
        (5, 3)
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        # The forget gates' input weights apart: with leaf-only inputs they get no gradient at
        # all (rather than zeros that weight decay under Adagrad would drive into denormals).
        self.W_iou = nn.Linear(input_size, 3 * hidden_size)  # noqa: N815  (the paper's names)
        self.W_f = nn.Linear(input_size, 2 * hidden_size)  # noqa: N815
        self.U = nn.Linear(2 * hidden_size, 5 * hidden_size, bias=False)  # noqa: N815

    def forward(self, batch: TreeBatch, inputs: ember.Tensor) -> tuple:
        hidden = self.hidden_size
        every_node = _check_inputs("BinaryTreeLSTM", batch, inputs, self.input_size)
        iou_x = self.W_iou(inputs)
        constants = _gate_constants(iou_x, hidden, 5)
        if every_node:  # (num_nodes, 5H): each level adds a slice
            own = ember.cat([iou_x, self.W_f(inputs)], dim=1)
        else:
            own = ember.cat([self.W_iou.bias, self.W_f.bias])

        def compose(level: Level, children: tuple) -> tuple:
            if level.arity != 2:
                raise ValueError(f"BinaryTreeLSTM: level {level.index} has nodes with other than "
                                 "2 children (binarize the trees first)")
            h_children, c_children = children
            n = level.size
            gates = self.U(h_children.reshape(n, 2 * hidden))
            act = _activate(gates + (own[level.start:level.stop] if every_node else own),
                            constants)
            forget = act[:, 3 * hidden:].reshape(n, 2, hidden)
            c = (act[:, :hidden] * act[:, 2 * hidden:3 * hidden]
                 + (forget * c_children.reshape(n, 2, hidden)).sum(1))
            return act[:, hidden:2 * hidden] * c.tanh(), c

        leaves = _leaf_cell(iou_x[:batch.num_leaves], hidden, constants)
        return tree_fold(batch, leaves, compose)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class ChildSumTreeLSTM(nn.Module):
    """The child-sum Tree-LSTM: any number of children, summed; one forget gate per child.

    ``h~ = sum_k h_k``; ``i, o, u`` from the node's input and ``h~``; ``f_k`` from the input and
    ``h_k``; ``c = i * u + sum_k f_k * c_k``; ``h = o * tanh(c)``.

    Example:
        >>> cell = ChildSumTreeLSTM(4, 3)
        >>> batch = TreeBatch([Tree.fromstring("(S (A a) (B b) (C c))")])
        >>> h, c = cell(batch, ember.randn(batch.num_nodes, 4))
        >>> tuple(c.shape)
        (4, 3)
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.W_iou = nn.Linear(input_size, 3 * hidden_size)  # noqa: N815
        self.U_iou = nn.Linear(hidden_size, 3 * hidden_size, bias=False)  # noqa: N815
        self.W_f = nn.Linear(input_size, hidden_size)  # noqa: N815
        self.U_f = nn.Linear(hidden_size, hidden_size, bias=False)  # noqa: N815

    def forward(self, batch: TreeBatch, inputs: ember.Tensor) -> tuple:
        hidden = self.hidden_size
        every_node = _check_inputs("ChildSumTreeLSTM", batch, inputs, self.input_size)
        iou_x = self.W_iou(inputs)
        forget_x = self.W_f(inputs) if every_node else self.W_f.bias
        constants = _gate_constants(iou_x, hidden, 3)

        def child_sum(level: Level, rows: ember.Tensor) -> ember.Tensor:
            if level.arity is not None:  # uniform: a reshape and a sum, no scatter
                return rows.reshape(level.size, level.arity, hidden).sum(1)
            zeros = ember.zeros(level.size, hidden, dtype=rows.dtype, device=rows.device)
            return zeros.index_add(0, level.child_parent, rows)

        def compose(level: Level, children: tuple) -> tuple:
            h_children, c_children = children
            iou = self.U_iou(child_sum(level, h_children))
            own = forget_x
            if every_node:
                iou = iou + iou_x[level.start:level.stop]
                own = forget_x[level.start:level.stop].index_select(0, level.child_parent)
            else:
                iou = iou + self.W_iou.bias
            forget = ((self.U_f(h_children) + own) * 0.5).tanh() * 0.5 + 0.5  # sigmoid
            act = _activate(iou, constants)
            c = act[:, :hidden] * act[:, 2 * hidden:] + child_sum(level, forget * c_children)
            return act[:, hidden:2 * hidden] * c.tanh(), c

        return tree_fold(batch, _leaf_cell(iou_x[:batch.num_leaves], hidden, constants), compose)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"
