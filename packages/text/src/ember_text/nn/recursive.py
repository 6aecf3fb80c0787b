"""Recursive neural nets over binary trees: the plain RecursiveNN and the RNTN (Socher et al.).

Both keep one ``d``-dimensional vector per node: a leaf's is its input row (``inputs`` holds a
row per leaf, or per node with internal rows ignored), a parent's is composed from its two
children's ``[a; b]`` (2d). They return ``(num_nodes, d)`` in node order.
"""

from __future__ import annotations

import math

import ember
from ember import nn
from ember_text.nn.fold import tree_fold
from ember_text.nn.tree_lstm import _check_inputs
from ember_text.trees import Level, TreeBatch


class RecursiveNN(nn.Module):
    """``p = tanh(W [a; b] + bias)`` (Socher et al. 2011).

    Example:
        >>> net = RecursiveNN(4)
        >>> batch = TreeBatch([Tree.fromstring("(1 (2 a) (1 (2 b) (2 c)))")])
        >>> tuple(net(batch, ember.randn(3, 4)).shape)
        (5, 4)
    """

    def __init__(self, input_size: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.W = nn.Linear(2 * input_size, input_size)  # noqa: N815  (the paper's name)

    def pair_term(self, pair: ember.Tensor) -> ember.Tensor:
        """Pre-activation of the parents from their children ``[a; b]`` (n, 2d) -> (n, d)."""
        return self.W(pair)

    def forward(self, batch: TreeBatch, inputs: ember.Tensor) -> ember.Tensor:
        _check_inputs(type(self).__name__, batch, inputs, self.input_size)
        width = 2 * self.input_size

        def compose(level: Level, children: tuple) -> tuple:
            if level.arity != 2:
                raise ValueError(f"{type(self).__name__}: level {level.index} has nodes with "
                                 "other than 2 children (binarize the trees first)")
            return (self.pair_term(children[0].reshape(level.size, width)).tanh(),)

        (states,) = tree_fold(batch, (inputs[:batch.num_leaves],), compose)
        return states

    def extra_repr(self) -> str:
        return f"{self.input_size}"


class RNTN(RecursiveNN):
    """Recursive neural tensor network (Socher et al. 2013):
    ``p_k = tanh([a; b]^T V[:, :, k] [a; b] + (W [a; b] + bias)_k)``, ``V`` of shape (2d, 2d, d).

    Example:
        >>> net = RNTN(4)
        >>> tuple(net.V.shape)
        (8, 8, 4)
    """

    def __init__(self, input_size: int) -> None:
        super().__init__(input_size)
        width = 2 * input_size
        bound = 1.0 / math.sqrt(width) / math.sqrt(width)
        self.V = nn.Parameter(ember.empty(width, width, input_size))  # noqa: N815
        nn.init.uniform_(self.V, -bound, bound)

    def pair_term(self, pair: ember.Tensor) -> ember.Tensor:
        n, width = pair.shape
        # x^T V_k x for every k at once: (n, 2d) @ (2d, 2d * d) -> (n, 2d, d), times x, summed.
        spread = (pair @ self.V.reshape(width, -1)).reshape(n, width, self.input_size)
        return (spread * pair.unsqueeze(2)).sum(1) + self.W(pair)
