"""Binary Tree-LSTM forward + backward, Ember vs PyTorch: by level against node by node.

The workload of issue 8: 32 random binary trees of 20-40 leaves (each split point uniform, as
random parse shapes), embedding 300, hidden 150, forward over every node and backward of the sum
of all hidden states, gradients to the inputs and every weight. Three rows:

- ``by level, ember vs torch node by node``: the headline, Ember's ``ember_text.nn.BinaryTreeLSTM``
  over a ``TreeBatch`` (one step per level for all 32 trees) against PyTorch evaluating the trees
  node by node, as recursive code is usually written (the goal is >= 10x);
- ``by level``: both frameworks batched by level the same way (Ember's cell against the same
  algorithm written for torch: split each level's block into the pieces later levels read, one
  ``cat`` and one ``index_select`` per level);
- ``node by node``: both frameworks recursive, one small op at a time.

Run with the others by ``make bench`` (``-k tree`` selects these), or alone:
``.venv-bench/bin/python benchmarks/bench_text.py [run.py options]``.
"""

from __future__ import annotations

import sys

import numpy as np

import harness
from harness import benchmark, place

TREES, MIN_LEAVES, MAX_LEAVES, EMBEDDING, HIDDEN = 32, 20, 40, 300, 150


def random_trees(seed: int = 0):
    """``TREES`` binary ``ember_text`` trees, split points drawn uniformly, without recursion."""
    from ember_text.trees import Tree

    rng = np.random.default_rng(seed)
    trees = []
    for _ in range(TREES):
        leaves = int(rng.integers(MIN_LEAVES, MAX_LEAVES + 1))
        root = Tree("2")
        stack = [(root, 0, leaves)]
        while stack:
            node, start, stop = stack.pop()
            if stop - start == 1:
                node.children = [f"w{start}"]
                continue
            cut = int(rng.integers(start + 1, stop))
            node.children = [Tree("2"), Tree("2")]
            stack += [(node.children[0], start, cut), (node.children[1], cut, stop)]
        trees.append(root)
    return trees


def _weights(lib, seed: int = 1) -> dict:
    """The cell's weights, ``ember_text``'s names and shapes, as leaf tensors of ``lib``."""
    rng = np.random.default_rng(seed)
    shapes = {"W_iou.weight": (3 * HIDDEN, EMBEDDING), "W_iou.bias": (3 * HIDDEN,),
              "W_f.weight": (2 * HIDDEN, EMBEDDING), "W_f.bias": (2 * HIDDEN,),
              "U.weight": (5 * HIDDEN, 2 * HIDDEN)}
    return {name: place(lib, (0.1 * rng.standard_normal(shape)).astype(np.float32))
            .requires_grad_(True) for name, shape in shapes.items()}


def _inputs(lib, rows: int):
    array = np.random.default_rng(2).standard_normal((rows, EMBEDDING)).astype(np.float32)
    return place(lib, array).requires_grad_(True)


def _cell(lib, w: dict, gates, c_children):
    """One Tree-LSTM update from pre-activation gates (n, 5H) and children's memories (n, 2, H);
    ``c_children`` None for leaves (gates (n, 3H))."""
    act = gates.sigmoid()
    c = act[:, :HIDDEN] * gates[:, 2 * HIDDEN:3 * HIDDEN].tanh()
    if c_children is not None:
        forget = act[:, 3 * HIDDEN:].reshape(-1, 2, HIDDEN)
        c = c + (forget * c_children).sum(1)
    return act[:, HIDDEN:2 * HIDDEN] * c.tanh(), c


def node_by_node(lib):
    """Recursive evaluation, one node at a time (post-order per tree)."""

    F = lib.nn.functional
    trees, w = random_trees(), _weights(lib)
    inputs = _inputs(lib, sum(len(t.leaves()) for t in trees))
    bias = lib.cat([w["W_iou.bias"], w["W_f.bias"]])

    def step():
        hs, leaf = [], 0
        for tree in trees:
            states = {}
            for node in reversed(list(tree.subtrees())):  # children before parents
                if node.is_leaf:
                    gates = F.linear(inputs[leaf:leaf + 1], w["W_iou.weight"], w["W_iou.bias"])
                    leaf += 1
                    states[id(node)] = _cell(lib, w, gates, None)
                    hs.append(states[id(node)][0])
                    continue
                (h_l, c_l), (h_r, c_r) = (states[id(child)] for child in node.children)
                gates = F.linear(lib.cat([h_l, h_r], 1), w["U.weight"]) + bias
                states[id(node)] = _cell(lib, w, gates, lib.stack([c_l, c_r], 1))
                hs.append(states[id(node)][0])
        lib.cat(hs).sum().backward()

    return step


def _torch_by_level(lib):
    """The algorithm of ``ember_text.nn.tree_fold`` with ``lib``'s ops (used for torch)."""
    from ember_text.trees import TreeBatch

    F = lib.nn.functional
    batch, w = TreeBatch(random_trees()), _weights(lib)
    inputs = _inputs(lib, batch.num_leaves)
    bias = lib.cat([w["W_iou.bias"], w["W_f.bias"]])
    plan = [(level.split_sizes, place(lib, level.children.numpy().copy()), level.size,
             [j for j in range(level.index) if batch.levels[j].split_sizes[level.index - j - 1]])
            for level in batch.levels]

    def step():
        gates = F.linear(inputs, w["W_iou.weight"], w["W_iou.bias"])
        states = _cell(lib, w, gates, None)
        blocks, pieces = [states], [[s.split(list(plan[0][0])) for s in states]]
        for k, (sizes, children, size, sources) in enumerate(plan[1:], start=1):
            rows = [lib.cat([pieces[j][s][k - j - 1] for j in sources]).index_select(0, children)
                    for s in range(2)]
            gates = F.linear(rows[0].reshape(size, 2 * HIDDEN), w["U.weight"]) + bias
            states = _cell(lib, w, gates, rows[1].reshape(size, 2, HIDDEN))
            blocks.append(states)
            pieces.append([s.split(list(sizes)) for s in states])
        lib.cat([block[0] for block in blocks]).sum().backward()

    return step


def _ember_by_level(lib):
    """``ember_text.nn.BinaryTreeLSTM`` itself, with the same weights."""
    from ember_text.nn import BinaryTreeLSTM
    from ember_text.trees import TreeBatch

    batch = TreeBatch(random_trees(), device=harness.DEVICE)
    cell = BinaryTreeLSTM(EMBEDDING, HIDDEN)
    cell.load_state_dict({name: t.detach().cpu() for name, t in _weights(lib).items()})
    cell = place(lib, cell)
    inputs = _inputs(lib, batch.num_leaves)

    def step():
        h, _ = cell(batch, inputs)
        h.sum().backward()

    return step


def by_level(lib):
    return _ember_by_level(lib) if lib.__name__ == "ember" else _torch_by_level(lib)


SIZE = f"{TREES} trees of {MIN_LEAVES}-{MAX_LEAVES} leaves, {EMBEDDING}/{HIDDEN}, fwd+bwd"
benchmark(f"Tree-LSTM by level (ember) vs node by node (torch), {SIZE}", unit="batch")(
    lambda lib: by_level(lib) if lib.__name__ == "ember" else node_by_node(lib))
benchmark(f"Tree-LSTM by level, both, {SIZE}", unit="batch")(by_level)
benchmark(f"Tree-LSTM node by node, both, {SIZE}", unit="batch")(node_by_node)


if __name__ == "__main__":
    import run

    run.MODULES = ()  # this module's benchmarks are registered already: run only these
    sys.exit(run.main())
