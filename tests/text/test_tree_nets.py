"""Tree-nets: batched by level == tree by tree == a node-by-node reference; gradchecks."""

import numpy as np
import pytest

import ember
from ember_text.nn import RNTN, BinaryTreeLSTM, ChildSumTreeLSTM, RecursiveNN
from ember_text.trees import Tree, TreeBatch, parse_trees

BINARY = list(parse_trees("""
(1 (2 a) (1 (2 b) (2 c)))
(3 (2 not) (4 (3 very) (4 (4 good) (2 x))))
(2 lonely)
(3 (3 (2 (2 p) (2 q)) (2 (2 r) (2 s))) (2 t))
"""))
NARY = BINARY + list(parse_trees("(S (A p) (B q) (C (D r) (E s) (F t) (G u)))\n(U (V (W w)))"))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _weights(module):
    return {name: p.detach().numpy().astype(np.float64) for name, p in module.named_parameters()}


def reference(cell, tree, x):
    """Node by node in numpy, recursively over ``tree``: {id(node): state rows}; ``x`` maps a
    node to its input row."""
    w = _weights(cell)
    hidden = getattr(cell, "hidden_size", cell.input_size)
    states = {}
    for node in reversed(list(tree.subtrees())):
        kids = [states[id(c)] for c in node.children if isinstance(c, Tree)]
        inp = x[id(node)]
        if isinstance(cell, BinaryTreeLSTM):
            g = np.concatenate([w["W_iou.weight"] @ inp + w["W_iou.bias"],
                                w["W_f.weight"] @ inp + w["W_f.bias"]])
            if kids:
                g = g + w["U.weight"] @ np.concatenate([kids[0][0], kids[1][0]])
            i, o = _sigmoid(g[:hidden]), _sigmoid(g[hidden:2 * hidden])
            u = np.tanh(g[2 * hidden:3 * hidden])
            c = i * u + sum(_sigmoid(g[(3 + k) * hidden:(4 + k) * hidden]) * kid[1]
                            for k, kid in enumerate(kids))
            states[id(node)] = (o * np.tanh(c), c)
        elif isinstance(cell, ChildSumTreeLSTM):
            h_sum = sum((kid[0] for kid in kids), np.zeros(hidden))
            g = w["W_iou.weight"] @ inp + w["W_iou.bias"] + w["U_iou.weight"] @ h_sum
            c = _sigmoid(g[:hidden]) * np.tanh(g[2 * hidden:])
            for kid in kids:
                f = _sigmoid(w["W_f.weight"] @ inp + w["W_f.bias"] + w["U_f.weight"] @ kid[0])
                c = c + f * kid[1]
            states[id(node)] = (_sigmoid(g[hidden:2 * hidden]) * np.tanh(c), c)
        elif not kids:
            states[id(node)] = (inp,)
        else:
            pair = np.concatenate([kids[0][0], kids[1][0]])
            z = w["W.weight"] @ pair + w["W.bias"]
            if isinstance(cell, RNTN):
                z = z + np.einsum("i,ijk,j->k", pair, w["V"], pair)
            states[id(node)] = (np.tanh(z),)
    return states


CELLS = {
    "binary": (lambda: BinaryTreeLSTM(3, 4), BINARY),
    "childsum": (lambda: ChildSumTreeLSTM(3, 4), NARY),
    "rntn": (lambda: RNTN(3), BINARY),
    "recursive": (lambda: RecursiveNN(3), BINARY),
}


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("every_node", [True, False])
def test_batched_equals_tree_by_tree_and_reference(name, every_node):
    make, trees = CELLS[name]
    cell = make().double()
    batch = TreeBatch(trees)
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((batch.num_nodes, cell.input_size))
    is_leaf = np.arange(batch.num_nodes) < batch.num_leaves
    if not every_node or isinstance(cell, RecursiveNN):  # internal rows zero (or ignored)
        inputs[~is_leaf] = 0
    rows = inputs if every_node else inputs[:batch.num_leaves]
    batched = [s.detach().numpy() for s in _as_tuple(cell(batch, ember.tensor(rows)))]
    for i, tree in enumerate(trees):
        positions = batch.tree_nodes(i).numpy()
        alone = TreeBatch([tree])
        own = inputs[positions][np.argsort(alone.tree_nodes(0).numpy())]
        own_rows = own if every_node else own[:alone.num_leaves]
        single = [s.detach().numpy() for s in _as_tuple(cell(alone, ember.tensor(own_rows)))]
        inputs_by_node = dict(zip(map(id, tree.subtrees()), inputs[positions]))
        expected = reference(cell, tree, inputs_by_node)
        for k, node in enumerate(tree.subtrees()):
            for s in range(len(batched)):
                got = batched[s][positions[k]]
                np.testing.assert_allclose(got, single[s][alone.tree_nodes(0).numpy()[k]],
                                           rtol=1e-10, atol=1e-12)
                np.testing.assert_allclose(got, expected[id(node)][s], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", CELLS)
def test_gradcheck(name):
    """With respect to the inputs and every parameter (gradcheck perturbs them in place)."""
    make, trees = CELLS[name]
    cell = make().double()
    batch = TreeBatch(trees[:2] + trees[-2:])
    inputs = ember.randn(batch.num_nodes, cell.input_size, dtype=ember.float64,
                         requires_grad=True)

    def run(inputs, *parameters):
        return _as_tuple(cell(batch, inputs))

    assert ember.autograd.gradcheck(run, (inputs, *cell.parameters()))


@pytest.mark.parametrize("name", CELLS)
def test_on_device_matches_cpu(name, device):
    make, trees = CELLS[name]
    cell = make()
    batch = TreeBatch(trees)
    inputs = ember.randn(batch.num_leaves, cell.input_size)
    expected = [s.detach().numpy() for s in _as_tuple(cell(batch, inputs))]
    moved = TreeBatch(trees, device=device)
    got = _as_tuple(cell.to(device)(moved, inputs.to(device)))
    for g, e in zip(got, expected):
        assert g.device == device
        np.testing.assert_allclose(g.detach().cpu().numpy(), e, rtol=1e-5, atol=1e-6)


def test_deep_chain_no_recursion_and_linear_cost():
    """A left-branching tree 600 levels deep: forward and backward run (no recursion), and the
    batch with a shallow tree beside it gives the deep tree the same states."""
    depth = 600
    text = "(1 " * depth + "(2 w0)" + "".join(f" (2 w{i + 1}))" for i in range(depth))
    deep = Tree.fromstring(text)
    cell = BinaryTreeLSTM(3, 4)
    batch = TreeBatch([deep, BINARY[0]])
    assert batch.num_levels == depth + 1
    inputs = ember.randn(batch.num_leaves, 3, requires_grad=True)
    h, c = cell(batch, inputs)
    h[batch.roots].sum().backward()
    assert np.isfinite(inputs.grad.numpy()).all() and np.abs(inputs.grad.numpy()).sum() > 0
    alone = TreeBatch([deep])
    rows = inputs.detach()[batch.tree_nodes(0)[-len(deep.leaves()):]]  # leaves in pre-order
    order = np.argsort(alone.tree_nodes(0).numpy()[-len(deep.leaves()):])
    h_alone, _ = cell(alone, rows[ember.tensor(order)])
    np.testing.assert_allclose(h_alone[alone.roots].detach().numpy(),
                               h[batch.roots[:1]].detach().numpy(), rtol=1e-5, atol=1e-6)
