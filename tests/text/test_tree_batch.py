"""TreeBatch bookkeeping: node order, levels, children, roots, labels, leaf tokens."""

import numpy as np
import pytest

from ember_text.trees import IGNORE_INDEX, Tree, TreeBatch, parse_trees

TREES = [
    "(1 (2 a) (1 (2 b) (2 c)))",
    "(3 (2 not) (4 (3 very) (4 (4 good) (2 x))))",
    "(2 lonely)",
    "(S (A p) (B q) (C (D r) (E s)))",
]


def _batch():
    return TreeBatch(list(parse_trees("\n".join(TREES))))


def test_sizes_and_roots():
    batch = _batch()
    trees = list(parse_trees("\n".join(TREES)))
    assert batch.num_trees == len(batch) == 4
    assert batch.num_nodes == sum(len(t) for t in trees)
    assert batch.num_leaves == sum(len(t.leaves()) for t in trees)
    assert batch.num_levels == max(t.height() for t in trees)
    roots = batch.roots.tolist()
    assert [batch.tree_nodes(i).tolist()[0] for i in range(4)] == roots
    assert batch.labels[batch.roots].tolist() == [1, 3, 2, IGNORE_INDEX]


def test_node_order_invariants():
    batch = _batch()
    trees = list(parse_trees("\n".join(TREES)))
    position_of = {}
    for i, tree in enumerate(trees):
        for node, position in zip(tree.subtrees(), batch.tree_nodes(i).tolist()):
            position_of[id(node)] = (node, position)
    assert sorted(p for _, p in position_of.values()) == list(range(batch.num_nodes))
    # leaves first, in the words list; each parent after its children; labels follow nodes
    labels = batch.labels.tolist()
    for node, position in position_of.values():
        if node.is_leaf:
            assert position < batch.num_leaves and batch.words[position] == node.children[0]
        else:
            assert position >= batch.num_leaves
        expected = int(node.label) if node.label.isdigit() else IGNORE_INDEX
        assert labels[position] == expected
        for child in filter(lambda c: isinstance(c, Tree), node.children):
            assert position_of[id(child)][1] < position
    # the levels tile the positions in order
    bounds = [(level.start, level.stop) for level in batch.levels]
    assert bounds[0][0] == 0 and bounds[-1][1] == batch.num_nodes
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))


def test_children_per_level():
    batch = _batch()
    trees = list(parse_trees("\n".join(TREES)))
    children_of = {}
    for i, tree in enumerate(trees):
        positions = dict(zip(map(id, tree.subtrees()), batch.tree_nodes(i).tolist()))
        for node in tree.subtrees():
            children_of[positions[id(node)]] = [positions[id(c)] for c in node.children
                                                if isinstance(c, Tree)]
    for level in batch.levels[1:]:
        got = {}
        for child, parent in zip(level.child_positions.tolist(), level.child_parent.tolist()):
            got.setdefault(level.start + parent, []).append(child)
        assert got == {p: children_of[p] for p in range(level.start, level.stop)}
        counts = {len(c) for c in got.values()}
        assert level.arity == (counts.pop() if len(counts) == 1 else None)


def test_split_sizes_and_piece_rows():
    """Level k's rows are the nodes whose parent is on level k, in position order."""
    batch = _batch()
    parent_level = np.full(batch.num_nodes, batch.num_levels)
    for level in batch.levels[1:]:
        parent_level[level.child_positions.numpy()] = level.index
    for level in batch.levels:
        sizes = np.bincount(parent_level[level.start:level.stop] - level.index - 1,
                            minlength=batch.num_levels - level.index)
        assert level.split_sizes == tuple(sizes.tolist())
        assert np.all(np.diff(parent_level[level.start:level.stop]) >= 0)
    for level in batch.levels[1:]:
        readable = np.flatnonzero(parent_level == level.index)
        assert readable[level.children.numpy()].tolist() == level.child_positions.tolist()


def test_leaf_tokens_and_label_map():
    batch = TreeBatch([Tree.fromstring("(1 (2 a) (3 b))")], label_map={"1": 0, "2": 5, "3": 1}.get)
    assert batch.labels.tolist() == [5, 1, 0]
    assert batch.leaf_tokens({"a": 7, "b": 9}).tolist() == [7, 9]


def test_errors():
    with pytest.raises(ValueError, match="no trees"):
        TreeBatch([])
    with pytest.raises(IndexError, match="tree 3 out of range"):
        TreeBatch([Tree.fromstring("(1 a)")]).tree_nodes(3)
