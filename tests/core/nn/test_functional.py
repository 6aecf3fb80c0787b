"""nn.functional beyond losses: dropout, embedding, bilinear, the re-exported ops."""

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn import functional as F


def test_reexported_ops_are_the_registered_ones():
    from ember.tensor.registry import OPS

    for name in ("relu", "gelu", "silu", "leaky_relu", "linear", "softplus", "hardtanh"):
        assert getattr(F, name) is OPS[name]
    with pytest.raises(AttributeError):
        F.not_a_function


def test_softmax_implicit_dim_warns():
    x = ember.tensor(np.random.default_rng(0).uniform(size=(2, 3)))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = F.softmax(x)
    np.testing.assert_allclose(out.numpy().sum(1), 1, rtol=1e-6)
    assert F.log_softmax(x, 1, dtype=ember.float64).dtype == ember.float64


def test_dropout_statistics_and_scaling(device):
    x = ember.ones(200, 100, device=device)
    out = F.dropout(x, p=0.3).cpu().numpy()
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
    assert F.dropout(x, 0.3, training=False) is x
    assert not F.dropout(x, 1.0).cpu().numpy().any()
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)


def test_dropout_gradient_uses_the_same_mask():
    x = ember.ones(10, 10, dtype=ember.float64, requires_grad=True)
    out = F.dropout(x, 0.5)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.detach().numpy())


def test_dropout_inplace():
    x = ember.ones(50)
    out = F.dropout(x, 0.5, inplace=True)
    assert np.shares_memory(out.numpy(), x.numpy()) and (x.numpy() == 0).any()


def test_dropout2d_drops_whole_channels(device):
    x = ember.ones(8, 16, 3, 3, device=device)
    out = nn.Dropout2d(0.5)(x).cpu().numpy()
    per_channel = out.reshape(8, 16, 9)
    assert ((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1)).all()
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7


def _zero_pattern(out, shape):
    """Which entries of the (..., rest) mask were dropped, checking each is constant."""
    flat = out.numpy().reshape(*shape, -1)
    assert ((flat == 0).all(-1) | (flat == 2.0).all(-1)).all(), "a draw was not shared"
    return flat[..., 0] == 0


def test_feature_dropout_on_other_ranks_as_pytorch():
    """PyTorch's dropout2d treats any rank as (N, C, *): 3-D as (N, C, L), 2-D elementwise,
    with warnings; dropout1d/3d take unbatched input as (C, *); dropout1d refuses other ranks."""
    ember.manual_seed(0)
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D"):
        dropped = _zero_pattern(F.dropout2d(ember.ones(20, 30, 4)), (20, 30))
    assert 0.3 < dropped.mean() < 0.7
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d, which is deprecated"):
        dropped = _zero_pattern(F.dropout2d(ember.ones(40, 30)), (40, 30))
    assert 0.3 < dropped.mean() < 0.7
    with pytest.warns(UserWarning, match="Received a 5-D input to dropout2d"):
        _zero_pattern(F.dropout2d(ember.ones(10, 20, 2, 2, 2)), (10, 20))
    unbatched = _zero_pattern(F.dropout3d(ember.ones(200, 2, 2, 2)), (200,))
    assert 0.3 < unbatched.mean() < 0.7
    with pytest.warns(UserWarning, match="Received a 3-D input to dropout3d"):
        _zero_pattern(F.dropout3d(ember.ones(200, 3, 2)), (200,))
    _zero_pattern(F.dropout1d(ember.ones(200, 5)), (200,))
    _zero_pattern(F.dropout1d(ember.ones(20, 10, 5)), (20, 10))
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        F.dropout1d(ember.ones(2, 2, 2, 2))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"), pytest.warns(UserWarning):
        F.dropout2d(ember.ones(3))
    assert F.dropout2d(ember.ones(2, 3, 4, 5), training=False).shape == (2, 3, 4, 5)


def test_embedding_lookup_and_gradient(device):
    weight = ember.tensor(np.arange(12.0).reshape(4, 3), device=device, requires_grad=True)
    idx = ember.tensor([[0, 2], [2, 3]], device=device)
    out = F.embedding(idx, weight)
    np.testing.assert_array_equal(out.detach().cpu().numpy(),
                                  np.arange(12.0).reshape(4, 3)[[[0, 2], [2, 3]]])
    out.sum().backward()
    np.testing.assert_array_equal(weight.grad.cpu().numpy()[:, 0], [1, 0, 2, 1])


def test_embedding_gradient_sums_repeated_rows(device):
    rng = np.random.default_rng(4)
    weight = ember.tensor(rng.normal(size=(6, 5)), device=device, requires_grad=True)
    indices = np.array([[3, 0, 3], [5, 3, 0]], dtype=np.int32)
    upstream = rng.normal(size=(2, 3, 5))
    F.embedding(ember.tensor(indices, device=device), weight).backward(
        ember.tensor(upstream, device=device))
    expected = np.zeros((6, 5))
    for index, row in zip(indices.ravel(), upstream.reshape(-1, 5)):
        expected[index] += row
    np.testing.assert_allclose(weight.grad.cpu().numpy(), expected, rtol=1e-15, atol=1e-15)


def test_embedding_padding_idx_gets_no_gradient():
    emb = nn.Embedding(5, 2, padding_idx=1)
    emb(ember.tensor([1, 1, 2, 4])).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy()[:, 0], [0, 0, 1, 0, 1])


def test_embedding_scale_grad_by_freq_and_gradgrad():
    weight = ember.tensor(np.random.default_rng(0).normal(size=(4, 3)), requires_grad=True)
    idx = ember.tensor([0, 0, 2, 3, 3, 3])
    F.embedding(idx, weight, scale_grad_by_freq=True).sum().backward()
    np.testing.assert_allclose(weight.grad.numpy()[:, 0], [1, 0, 1, 1])

    # The weight gradient is deliberately not the true one here, but it is linear in the
    # upstream gradient: its own backward (double backward) must be that map's adjoint.
    def weight_grad(upstream):
        out = F.embedding(idx, weight, padding_idx=3, scale_grad_by_freq=True)
        return ember.autograd.grad(out, weight, upstream, create_graph=True)[0]

    upstream = ember.tensor(np.random.default_rng(1).normal(size=(6, 3)), requires_grad=True)
    ember.autograd.gradcheck(weight_grad, [upstream])


def test_embedding_max_norm_renormalises_used_rows():
    weight = ember.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    out = F.embedding(ember.tensor([0, 1]), weight, max_norm=1.0)
    norms = np.linalg.norm(weight.numpy(), axis=1)
    np.testing.assert_allclose(norms, [1.0, 0.5, 10.0], rtol=1e-5)
    np.testing.assert_allclose(out.numpy(), weight.numpy()[:2])


def test_embedding_errors_and_from_pretrained():
    weight = ember.ones(3, 2)
    with pytest.raises(IndexError, match="index out of range"):
        F.embedding(ember.tensor([3]), weight)
    with pytest.raises(RuntimeError, match="Long, Int"):
        F.embedding(ember.tensor([0.0]), weight)
    emb = nn.Embedding.from_pretrained(weight)
    assert not emb.weight.requires_grad and emb(ember.tensor([2])).shape == (1, 2)
    assert nn.Embedding.from_pretrained(weight, freeze=False).weight.requires_grad
    assert repr(nn.Embedding(3, 2, padding_idx=0)) == "Embedding(3, 2, padding_idx=0)"


def test_bilinear_matches_einsum():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 4, 2))
    w, bias = rng.normal(size=(5, 3, 2)), rng.normal(size=5)
    out = F.bilinear(*(ember.tensor(v) for v in (a, b, w, bias)))
    np.testing.assert_allclose(out.numpy(), np.einsum("...i,oij,...j->...o", a, w, b) + bias,
                               rtol=1e-5, atol=1e-5)
