"""``tree_fold``: the level loop every tree-net shares, one batched step per level."""

from __future__ import annotations

from collections.abc import Callable

import ember
from ember_text.trees import Level, TreeBatch


class _PermuteRows(ember.autograd.Function):
    """``rows[order]`` for a permutation ``order``: its gradient is a gather by the inverse
    permutation, where ``index_select``'s must scatter-add (the order is not known to be one)."""

    @staticmethod
    def forward(ctx, rows, order, inverse):
        ctx.inverse = inverse
        return rows.index_select(0, order)

    @staticmethod
    def backward(ctx, grad):
        return grad.index_select(0, ctx.inverse), None, None


def _split(states: tuple, sizes: tuple[int, ...]) -> list:
    """Each state's block cut into the pieces later levels read (views)."""
    if len(sizes) == 1:
        return [(state,) for state in states]
    return [state.split(list(sizes)) for state in states]


def tree_fold(batch: TreeBatch, leaf_states: tuple,
              compose: Callable[[Level, tuple], tuple]) -> tuple:
    """Runs a tree-net bottom-up over a ``TreeBatch``: one ``compose`` call per level.

    Args:
        batch: the trees.
        leaf_states: a tuple of tensors ``(num_leaves, *)`` (e.g. ``(h, c)``), one row per leaf
            in node order.
        compose: ``compose(level, children) -> states``: ``children`` holds, per state, the
            ``(m, *)`` rows of the level's children (parents in order, each parent's children left
            to right; ``level.child_parent`` says whose), and it returns the level's states, a
            tuple of ``(level.size, *)`` tensors in the same layout as ``leaf_states``.

    Returns:
        A tuple of ``(num_nodes, *)`` tensors: every node's states in node order.

    Each state row is copied a fixed number of times whatever the depth: a level's block is split
    into the pieces later levels read (views), a level concatenates the pieces it reads and puts
    them in order with one ``index_select``, and the blocks are concatenated once at the end.
    """
    levels = batch.levels
    if tuple(leaf_states[0].shape[:1]) != (batch.num_leaves,):
        raise ValueError(f"tree_fold: leaf states of shape {tuple(leaf_states[0].shape)} for "
                         f"{batch.num_leaves} leaves (expected ({batch.num_leaves}, ...))")
    blocks = [leaf_states]
    pieces = [_split(leaf_states, levels[0].split_sizes)]  # pieces[j][state][k - j - 1]
    for level in levels[1:]:
        k = level.index
        sources = [j for j in range(k) if levels[j].split_sizes[k - j - 1]]
        children = []
        for s in range(len(leaf_states)):
            parts = [pieces[j][s][k - j - 1] for j in sources]
            rows = parts[0] if len(parts) == 1 else ember.cat(parts)
            children.append(_PermuteRows.apply(rows, level.children, level.children_inverse))
        states = compose(level, tuple(children))
        blocks.append(states)
        pieces.append(_split(states, level.split_sizes))
    if len(blocks) == 1:
        return tuple(leaf_states)
    return tuple(ember.cat([block[s] for block in blocks]) for s in range(len(leaf_states)))
