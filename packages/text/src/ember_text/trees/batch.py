"""``TreeBatch``: many trees of any shapes linearised so a tree-net runs one op per level.

Node order (stable, documented; every position below refers to it):

1. Nodes are grouped by *level*: ``height - 1``, so every leaf node is on level 0 and comes first,
   and a parent is on a higher level than each of its children.
2. Within a level, nodes are grouped by the level of their parent, lowest first; roots (no
   parent) come last in their level.
3. Then by tree (the order of ``trees``), then by pre-order position within the tree.

Rule 2 is what makes a tree-net cheap: the states a level computes form one block, and the rows
each later level reads from that block are one contiguous piece of it. A cell splits each block
into its pieces once (views), and level ``k`` concatenates the pieces it reads (one ``cat``) and
puts them in (parent, child) order (one ``index_select``): no state is copied more than a fixed
number of times, however deep the trees. ``tree_fold`` in ``ember_text.nn`` runs that loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import ember
from ember_text.trees.tree import Tree

#: the label of nodes whose label is not an integer: cross_entropy's default ignore_index
IGNORE_INDEX = -100


@dataclass(frozen=True)
class Level:
    """The nodes of one level and where their children are.

    Attributes:
        start, stop: this level's nodes are positions ``start`` to ``stop - 1``.
        split_sizes: how this level's block of states splits into the pieces read by each later
            level (``level + 1`` up to the last), then the roots: ``num_levels - level`` sizes.
        children: ``(m,)`` LongTensor: for each child, parents in order and each parent's
            children left to right, its row in the concatenation of the pieces this level reads
            (empty on level 0).
        children_inverse: ``(m,)`` LongTensor: the inverse permutation of ``children`` (every
            row a level reads is one of its nodes' children, exactly once).
        child_positions: ``(m,)`` LongTensor: the same children as node positions.
        child_parent: ``(m,)`` LongTensor: the index (0 to ``stop - start - 1``) of each child's
            parent within this level, non-decreasing.
        arity: the number of children every node of this level has, or None when it varies.
    """

    index: int
    start: int
    stop: int
    split_sizes: tuple[int, ...]
    children: ember.Tensor
    children_inverse: ember.Tensor
    child_positions: ember.Tensor
    child_parent: ember.Tensor
    arity: int | None

    @property
    def size(self) -> int:
        return self.stop - self.start


def _flatten(tree: Tree):
    """Per node in pre-order: parent (-1 for the root), height, label, word, child slot."""
    nodes = list(tree.subtrees())
    index = {id(node): i for i, node in enumerate(nodes)}
    parent = np.full(len(nodes), -1, dtype=np.int64)
    slot = np.zeros(len(nodes), dtype=np.int64)
    for i, node in enumerate(nodes):
        k = 0
        for child in node.children:
            if isinstance(child, Tree):
                parent[index[id(child)]] = i
                slot[index[id(child)]] = k
                k += 1
    height = np.ones(len(nodes), dtype=np.int64)
    for i in range(len(nodes) - 1, 0, -1):  # pre-order: children come after their parent
        p = parent[i]
        if height[i] + 1 > height[p]:
            height[p] = height[i] + 1
    return nodes, parent, height, slot


def _label_id(label: str) -> int:
    try:
        return int(label)
    except ValueError:
        return IGNORE_INDEX


class TreeBatch:
    """A minibatch of trees in the node order this module documents.

    Args:
        trees: the trees (any shapes, any number of children per node).
        device: where the index tensors live.
        label_map: maps a node's label to its class id; default ``int(label)``, and
            ``IGNORE_INDEX`` (-100) for labels that are not integers.

    Attributes:
        num_nodes, num_leaves, num_trees, num_levels: sizes.
        levels: one ``Level`` per height, leaves first.
        roots: ``(num_trees,)`` LongTensor: the position of each tree's root.
        labels: ``(num_nodes,)`` LongTensor: each node's class id.
        tree_index: ``(num_nodes,)`` LongTensor: the tree each node belongs to.
        words: the token of each leaf node (its tokens joined by a space), in node order.

    Example (``b`` and ``c`` come first: their parent is on level 1, ``a``'s on level 2):
        >>> batch = TreeBatch([Tree.fromstring("(1 (2 a) (1 (2 b) (2 c)))")])
        >>> batch.num_nodes, batch.num_leaves, batch.roots.tolist(), batch.words
        (5, 3, [4], ['b', 'c', 'a'])
    """

    def __init__(self, trees: Sequence[Tree], device=None, label_map=None) -> None:
        trees = list(trees)
        if not trees:
            raise ValueError("TreeBatch: no trees (expected at least one)")
        to_label = label_map if label_map is not None else _label_id
        parents, heights, slots, labels, words, leaf_flags = [], [], [], [], [], []
        offsets = [0]
        for tree in trees:
            nodes, parent, height, slot = _flatten(tree)
            parents.append(np.where(parent >= 0, parent + offsets[-1], -1))
            heights.append(height)
            slots.append(slot)
            labels.extend(to_label(node.label) for node in nodes)
            words.extend(" ".join(node.children) if node.is_leaf else None for node in nodes)
            leaf_flags.extend(node.is_leaf for node in nodes)
            offsets.append(offsets[-1] + len(nodes))
        parent = np.concatenate(parents)
        level = np.concatenate(heights) - 1
        slot = np.concatenate(slots)
        num_nodes = offsets[-1]
        num_levels = int(level.max()) + 1
        tree = np.repeat(np.arange(len(trees)), np.diff(offsets))
        preorder = np.arange(num_nodes)
        is_root = parent < 0
        parent_level = np.where(is_root, num_levels, level[np.maximum(parent, 0)])

        order = np.lexsort((preorder, tree, parent_level, level))  # position -> pre-order node
        position = np.empty(num_nodes, dtype=np.int64)
        position[order] = np.arange(num_nodes)
        self._device = device
        self._offsets = np.asarray(offsets)
        self._position = position
        self.num_nodes = num_nodes
        self.num_trees = len(trees)
        self.num_levels = num_levels
        self.num_leaves = int(np.count_nonzero(level == 0))
        self.roots = self._long(position[is_root.nonzero()[0]])
        self.labels = self._long(np.asarray(labels, dtype=np.int64)[order])
        self.tree_index = self._long(tree[order])
        self.words = [words[i] for i in order[:self.num_leaves]]
        self.levels = self._levels(order, position, parent, level, parent_level, slot)

    def _long(self, array: np.ndarray) -> ember.Tensor:
        return ember.tensor(np.ascontiguousarray(array, dtype=np.int64), device=self._device)

    def _levels(self, order, position, parent, level, parent_level, slot) -> list[Level]:
        num_levels = self.num_levels
        level_sorted = level[order]
        bounds = np.searchsorted(level_sorted, np.arange(num_levels + 1))
        # The rows each level k reads: nodes whose parent is on level k, in position order; a
        # node's rank among them is its row in level k's concatenated pieces.
        consumer = parent_level[order]
        rank = np.empty(self.num_nodes, dtype=np.int64)  # by position
        for k in range(1, num_levels + 1):
            members = (consumer == k).nonzero()[0]
            rank[members] = np.arange(members.size)
        # Children by (parent position, slot): sort all non-root nodes once.
        child = (parent >= 0).nonzero()[0]
        parent_position = position[parent[child]]
        child = child[np.lexsort((slot[child], parent_position))]
        parent_position = position[parent[child]]
        child_bounds = np.searchsorted(parent_position, bounds)
        levels = []
        for k in range(num_levels):
            start, stop = int(bounds[k]), int(bounds[k + 1])
            later = consumer[start:stop]
            split_sizes = tuple(np.bincount(later - k - 1, minlength=num_levels - k).tolist())
            mine = child[child_bounds[k]:child_bounds[k + 1]]
            child_positions = position[mine]
            child_parent = position[parent[mine]] - start
            counts = np.bincount(child_parent, minlength=stop - start)
            arity = int(counts[0]) if k and (counts == counts[0]).all() else None
            rows = rank[child_positions]
            inverse = np.empty_like(rows)
            inverse[rows] = np.arange(rows.size)
            levels.append(Level(k, start, stop, split_sizes, self._long(rows), self._long(inverse),
                                self._long(child_positions), self._long(child_parent), arity))
        return levels

    def tree_nodes(self, i: int) -> ember.Tensor:
        """``(len(trees[i]),)`` LongTensor: the positions of tree ``i``'s nodes in pre-order."""
        if not 0 <= i < self.num_trees:
            raise IndexError(f"TreeBatch.tree_nodes: tree {i} out of range for "
                             f"{self.num_trees} trees")
        return self._long(self._position[self._offsets[i]:self._offsets[i + 1]])

    def leaf_tokens(self, vocab) -> ember.Tensor:
        """``(num_leaves,)`` LongTensor: each leaf's token id in ``vocab`` (``vocab[word]``)."""
        return self._long(np.asarray([vocab[word] for word in self.words], dtype=np.int64))

    def __len__(self) -> int:
        return self.num_trees

    def __repr__(self) -> str:
        return (f"TreeBatch(trees={self.num_trees}, nodes={self.num_nodes}, "
                f"leaves={self.num_leaves}, levels={self.num_levels})")
