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


def _split(states: tuple, level: Level) -> dict:
    """``{k: pieces}``: per later level ``k`` that reads rows of this level's block, the piece
    of each state it reads (views; empty pieces are not made, so a deep batch stays linear)."""
    wanted = [(level.index + 1 + i, n) for i, n in enumerate(level.split_sizes) if n]
    if len(wanted) == 1:
        return {wanted[0][0]: states}
    cuts = [state.split([n for _, n in wanted]) for state in states]
    return {k: tuple(cut[i] for cut in cuts) for i, (k, _) in enumerate(wanted)}


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
    them in order with one row permutation, and the blocks are concatenated once at the end.
    """
    levels = batch.levels
    if tuple(leaf_states[0].shape[:1]) != (batch.num_leaves,):
        raise ValueError(f"tree_fold: leaf states of shape {tuple(leaf_states[0].shape)} for "
                         f"{batch.num_leaves} leaves (expected ({batch.num_leaves}, ...))")
    blocks = [leaf_states]
    pieces = [_split(leaf_states, levels[0])]  # pieces[j][k][state]: what level k reads of j's
    for level in levels[1:]:
        k = level.index
        sources = [block[k] for block in pieces if k in block]
        children = []
        for s in range(len(leaf_states)):
            parts = [source[s] for source in sources]
            rows = parts[0] if len(parts) == 1 else ember.cat(parts)
            children.append(_PermuteRows.apply(rows, level.children, level.children_inverse))
        states = compose(level, tuple(children))
        blocks.append(states)
        pieces.append(_split(states, level))
    if len(blocks) == 1:
        return tuple(leaf_states)
    return tuple(ember.cat([block[s] for block in blocks]) for s in range(len(leaf_states)))
