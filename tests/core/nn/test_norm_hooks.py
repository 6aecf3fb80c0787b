"""The hook-based nn.utils.weight_norm / spectral_norm (PyTorch's older API): their keys,
values against numpy, gradients, removal and errors."""

import numpy as np
import pytest
from module_harness import ModuleCase, check_module

import ember
from ember import nn


def _numpy(t):
    return t.detach().numpy()


@pytest.mark.parametrize("dim,g_shape", [(0, (3, 1)), (1, (1, 4)), (None, ())])
def test_weight_norm_parameters_and_value(dim, g_shape):
    layer = nn.Linear(4, 3).double()
    weight = _numpy(layer.weight).copy()
    nn.utils.weight_norm(layer, dim=dim)
    assert [name for name, _ in layer.named_parameters()] == ["bias", "weight_g", "weight_v"]
    assert sorted(layer.state_dict()) == ["bias", "weight_g", "weight_v"]
    assert tuple(layer.weight_g.shape) == g_shape
    np.testing.assert_allclose(_numpy(layer.weight), weight, rtol=1e-12)
    with ember.no_grad():
        layer.weight_g.mul_(2.0)
        layer.weight_v.add_(0.3)
    v = _numpy(layer.weight_v)
    norm = np.sqrt((v * v).sum()) if dim is None else \
        np.sqrt((v * v).sum(axis=1 - dim, keepdims=True))
    x = ember.randn(2, 4, dtype=ember.float64)
    expected = x.numpy() @ (_numpy(layer.weight_g) * v / norm).T + _numpy(layer.bias)
    np.testing.assert_allclose(_numpy(layer(x)), expected, rtol=1e-10)  # the hook recomputes
    nn.utils.remove_weight_norm(layer)
    assert sorted(layer.state_dict()) == ["bias", "weight"]
    assert isinstance(layer.weight, nn.Parameter)
    np.testing.assert_allclose(_numpy(layer(x)), expected, rtol=1e-10)


def test_spectral_norm_keys_power_iteration_and_remove():
    ember.manual_seed(0)
    layer = nn.utils.spectral_norm(nn.Linear(5, 4).double())
    assert sorted(layer.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    x = ember.randn(3, 5, dtype=ember.float64)
    for _ in range(60):
        layer(x)
    sigma = np.linalg.svd(_numpy(layer.weight_orig), compute_uv=False)[0]
    layer.eval()
    u_before = _numpy(layer.weight_u).copy()
    out = layer(x)
    np.testing.assert_array_equal(_numpy(layer.weight_u), u_before)  # no step in eval
    np.testing.assert_allclose(_numpy(layer.weight), _numpy(layer.weight_orig) / sigma,
                               rtol=1e-8)
    nn.utils.remove_spectral_norm(layer)
    assert sorted(layer.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(_numpy(layer(x)), _numpy(out), rtol=1e-10)


def test_spectral_norm_of_a_transposed_convolution_uses_dim_1():
    ember.manual_seed(1)
    layer = nn.utils.spectral_norm(nn.ConvTranspose2d(3, 2, 2).double())
    assert tuple(layer.weight_u.shape) == (2,) and tuple(layer.weight_v.shape) == (12,)
    for _ in range(60):
        layer(ember.zeros(1, 3, 2, 2, dtype=ember.float64))
    orig = _numpy(layer.weight_orig)
    sigma = np.linalg.svd(np.moveaxis(orig, 1, 0).reshape(2, -1), compute_uv=False)[0]
    np.testing.assert_allclose(_numpy(layer.weight), orig / sigma, rtol=1e-8)


MODULES = [
    ModuleCase("weight_norm-Conv1d", lambda: nn.utils.weight_norm(nn.Conv1d(2, 3, 2)),
               shapes=[(1, 2, 4)], output_shape=(1, 3, 3), gradgrad=True),
    ModuleCase("spectral_norm-Linear", lambda: nn.utils.spectral_norm(nn.Linear(3, 2)),
               shapes=[(2, 3)], output_shape=(2, 2), stochastic=True),
]


@pytest.mark.parametrize("case", MODULES, ids=str)
def test_hooked_modules(case, device):
    check_module(case, device)


def test_errors_as_pytorch():
    layer = nn.utils.weight_norm(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
        nn.utils.weight_norm(layer)
    with pytest.raises(ValueError, match="weight_norm of 'bias' not found"):
        nn.utils.remove_weight_norm(layer, "bias")
    normed = nn.utils.spectral_norm(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        nn.utils.spectral_norm(normed)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        nn.utils.remove_spectral_norm(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="n_power_iterations=0"):
        nn.utils.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
