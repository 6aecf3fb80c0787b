"""Sparse COO tensors: construction, to_dense / to_sparse / coalesce, ``sparse.mm`` with the
gradients a graph network needs, and a GCN layer's training step (PyTorch's results as reference).
"""

import numpy as np
import pytest

import ember
from ember import nn
from ember.autograd import gradcheck

INDICES = [[0, 1, 1, 2, 0], [1, 0, 2, 2, 1]]  # (0, 1) twice: an uncoalesced tensor
VALUES = [1.0, 2.0, 3.0, 4.0, 5.0]
DENSE = np.array([[0.0, 6.0, 0.0], [2.0, 0.0, 3.0], [0.0, 0.0, 4.0]])


def _sparse(**kwargs):
    return ember.sparse_coo_tensor(INDICES, VALUES, (3, 3), **kwargs)


def test_construction_and_metadata():
    a = _sparse()
    assert a.is_sparse and a.shape == (3, 3) and a.size(1) == 3 and a.dim() == 2
    assert a.dtype == ember.float32 and a.device == ember.device("cpu") and a._nnz() == 5
    assert not a.is_coalesced() and a.sparse_dim() == 2 and a.dense_dim() == 0
    assert ember.sparse_coo_tensor([[0, 2]], [1, 2]).shape == (3,)  # size inferred
    assert ember.sparse_coo_tensor(INDICES, VALUES, (3, 3), dtype=ember.float64).dtype == \
        ember.float64
    assert not ember.zeros(2).is_sparse


def test_to_dense_adds_duplicates():
    np.testing.assert_array_equal(_sparse().to_dense().numpy(), DENSE)


def test_coalesce_sorts_and_sums():
    a = _sparse().coalesce()
    assert a.is_coalesced()
    assert a.indices().tolist() == [[0, 1, 1, 2], [1, 0, 2, 2]]
    assert a.values().tolist() == [6.0, 2.0, 3.0, 4.0]
    np.testing.assert_array_equal(a.to_dense().numpy(), DENSE)


def test_indices_need_coalescing_as_in_pytorch():
    with pytest.raises(RuntimeError, match="Cannot get indices on an uncoalesced tensor"):
        _sparse().indices()
    assert _sparse()._indices().tolist() == INDICES and _sparse()._values().tolist() == VALUES


def test_to_sparse_round_trip():
    a = ember.tensor(DENSE).to_sparse()
    assert a.is_coalesced() and a.indices().tolist() == [[0, 1, 1, 2], [1, 0, 2, 2]]
    np.testing.assert_array_equal(a.to_dense().numpy(), DENSE)
    np.testing.assert_array_equal(a.t().to_dense().numpy(), DENSE.T)


def test_mm_and_spmm_match_the_dense_product():
    dense = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    expected = DENSE @ dense  # PyTorch: tensor([[12., 18.], [12., 17.], [16., 20.]])
    for product in (ember.sparse.mm(_sparse(), ember.tensor(dense)),
                    ember.spmm(_sparse(), ember.tensor(dense)), _sparse() @ ember.tensor(dense),
                    ember.mm(_sparse(), ember.tensor(dense)),
                    ember.matmul(_sparse(), ember.tensor(dense))):
        np.testing.assert_allclose(product.numpy(), expected)
    np.testing.assert_allclose((_sparse() @ ember.ones(3)).numpy(), DENSE.sum(1))


def test_mm_gradients_reach_dense_and_values():
    values = ember.tensor(VALUES, dtype=ember.float64, requires_grad=True)
    dense = ember.randn(3, 2, dtype=ember.float64, requires_grad=True)
    indices = ember.tensor(INDICES)
    assert gradcheck(lambda v, d: ember.sparse.mm(ember.sparse_coo_tensor(indices, v, (3, 3)), d),
                     (values, dense))
    assert gradcheck(lambda v: ember.sparse_coo_tensor(indices, v, (3, 3)).coalesce()
                     .to_dense(), (values,))


def test_sparse_grad_of_a_leaf():
    a = _sparse(requires_grad=True)
    (a @ ember.ones(3, 1)).sum().backward()
    assert a.grad.is_sparse and a.grad._values().tolist() == [1.0] * 5
    assert a.grad._indices().tolist() == INDICES


def test_errors_name_shapes():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(3x3 and "
                                           r"2x2\)"):
        ember.sparse.mm(_sparse(), ember.ones(2, 2))
    with pytest.raises(RuntimeError, match="same dtype and device, but got ember.float32 on cpu "
                                           "and ember.float64 on cpu"):
        ember.sparse.mm(_sparse(), ember.ones(3, 2, dtype=ember.float64))
    with pytest.raises(RuntimeError, match=r"indices out of bounds for size \(2, 2\)"):
        ember.sparse_coo_tensor(INDICES, VALUES, (2, 2))
    with pytest.raises(RuntimeError, match="one value per index column"):
        ember.sparse_coo_tensor(INDICES, [1.0], (3, 3))
    with pytest.raises(TypeError, match="add: unsupported operand type SparseTensor"):
        ember.add(_sparse(), ember.ones(3, 3))  # dense ops take dense tensors (to_dense())


def test_legacy_sparse_constructor():
    a = ember.sparse.FloatTensor(ember.tensor(INDICES), ember.tensor(VALUES), (3, 3))
    assert a.dtype == ember.float32 and a.shape == (3, 3)


class GraphConvolution(nn.Module):
    """Kipf & Welling's layer as the public GCN program writes it: ``adj @ (x W) + b``."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(ember.empty(in_features, out_features))
        self.bias = nn.Parameter(ember.zeros(out_features))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, x, adj):
        return ember.spmm(adj, x @ self.weight) + self.bias


def test_gcn_training_step_learns_on_a_graph():
    # Two 4-node cliques joined by one edge; the label is the clique. Row-normalised adjacency.
    ember.manual_seed(0)
    edges = [(i, j) for group in (range(4), range(4, 8)) for i in group for j in group]
    edges += [(3, 4), (4, 3)]
    rows, cols = zip(*edges)
    degree = np.bincount(rows, minlength=8)
    adj = ember.sparse_coo_tensor([rows, cols], [1.0 / degree[r] for r in rows], (8, 8))
    features = ember.randn(8, 5)
    labels = ember.tensor([0] * 4 + [1] * 4)
    layer1, layer2 = GraphConvolution(5, 8), GraphConvolution(8, 2)
    optimizer = ember.optim.Adam([*layer1.parameters(), *layer2.parameters()], lr=0.05)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        hidden = ember.relu(layer1(features, adj))
        loss = nn.functional.cross_entropy(layer2(hidden, adj), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert layer1.weight.grad is not None and losses[-1] < losses[0] / 5
    assert (layer2(ember.relu(layer1(features, adj)), adj).argmax(1) == labels).all()


def test_dense_plus_sparse_is_dense_with_promoted_dtype():
    # GAT's adjacency: torch.eye(V) + sparse_coo_tensor(edges, ones, (V, V), dtype=int64) is a
    # dense float32 tensor in PyTorch (duplicate entries add up).
    edges = ember.tensor([[0, 1, 1], [1, 2, 2]])
    adj = ember.sparse_coo_tensor(edges, ember.ones(3), (3, 3), dtype=ember.int64)
    out = ember.eye(3) + adj
    assert isinstance(out, ember.Tensor) and out.dtype == ember.float32
    np.testing.assert_array_equal(out.numpy(), [[1, 1, 0], [0, 1, 2], [0, 0, 1]])
    assert ember.equal(adj + ember.eye(3), out)


def test_sparse_plus_sparse_and_gradients():
    i = ember.tensor([[0, 1], [1, 0]])
    values = ember.tensor([2.0, 3.0], dtype=ember.float64, requires_grad=True)
    a = ember.sparse_coo_tensor(i, values, (2, 2))
    both = a + a
    assert isinstance(both, ember.sparse.SparseTensor)
    np.testing.assert_array_equal(both.to_dense().detach().numpy(), [[0, 4], [6, 0]])
    dense = ember.rand(2, 2, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda v, d: ember.sparse_coo_tensor(i, v, (2, 2)) + d,
                                    (values, dense))
    with pytest.raises(RuntimeError, match=r"add: expected .* same size, but got \(2, 2\) and "
                                           r"\(3, 3\)"):
        a + ember.eye(3)
