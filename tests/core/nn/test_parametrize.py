"""nn.utils.parametrize, parametrizations.weight_norm / spectral_norm and F.normalize against
numpy, with PyTorch's state_dict keys."""

import numpy as np
import pytest
from module_harness import ModuleCase, check_module

import ember
import ember.nn.functional as F
from ember import nn
from ember.nn.utils import parametrizations, parametrize


def _numpy(t):
    return t.detach().numpy()


class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).mT

    def right_inverse(self, a):
        return a.triu()


class Double(nn.Module):
    calls = 0

    def forward(self, x):
        Double.calls += 1
        return 2 * x


def test_register_makes_a_property_and_remove_restores_the_class():
    layer = nn.Linear(3, 3)
    before = _numpy(layer.weight)
    parametrize.register_parametrization(layer, "weight", Symmetric())
    assert type(layer).__name__ == "ParametrizedLinear" and isinstance(layer, nn.Linear)
    assert parametrize.type_before_parametrizations(layer) is nn.Linear
    assert parametrize.is_parametrized(layer) and parametrize.is_parametrized(layer, "weight")
    assert not parametrize.is_parametrized(layer, "bias")
    weight = _numpy(layer.weight)
    np.testing.assert_allclose(weight, np.triu(before) + np.triu(before, 1).T)
    assert list(layer.state_dict()) == ["bias", "parametrizations.weight.original"]
    x = ember.randn(2, 3)
    np.testing.assert_allclose(_numpy(layer(x)), x.numpy() @ weight.T + _numpy(layer.bias),
                               rtol=1e-5)
    layer(x).sum().backward()  # the gradient reaches the original
    assert layer.parametrizations.weight.original.grad is not None
    symmetric = np.array([[1.0, 2, 3], [2, 4, 5], [3, 5, 6]], np.float32)
    layer.weight = ember.tensor(symmetric)  # through right_inverse
    np.testing.assert_array_equal(_numpy(layer.weight), symmetric)
    parametrize.remove_parametrizations(layer, "weight")
    assert type(layer) is nn.Linear and isinstance(layer.weight, nn.Parameter)
    np.testing.assert_array_equal(_numpy(layer.weight), symmetric)
    assert list(layer.state_dict()) == ["bias", "weight"]


def test_chained_parametrizations_and_cache():
    layer = nn.Linear(2, 2)
    original = _numpy(layer.weight)
    parametrize.register_parametrization(layer, "weight", Double())
    parametrize.register_parametrization(layer, "weight", Double())
    np.testing.assert_allclose(_numpy(layer.weight), 4 * original)
    Double.calls = 0
    with parametrize.cached():
        layer.weight, layer.weight
    assert Double.calls == 2  # one evaluation of the two-step chain
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    np.testing.assert_allclose(_numpy(layer.weight), original)


def test_parametrize_errors():
    class Shrink(nn.Module):
        def forward(self, x):
            return x[:1]

    with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
        parametrize.register_parametrization(nn.Linear(2, 2), "kernel", Double())
    with pytest.raises(ValueError, match="may not change the dtype or shape"):
        parametrize.register_parametrization(nn.Linear(2, 2), "weight", Shrink())
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        parametrize.remove_parametrizations(nn.Linear(2, 2), "weight")
    layer = parametrize.register_parametrization(nn.Linear(2, 2), "weight", Double())
    with pytest.raises(RuntimeError, match="Double does not implement right_inverse"):
        layer.weight = ember.zeros(2, 2)


def _norm_except(v, dim):
    if dim is None:
        return np.sqrt((v * v).sum())
    others = tuple(d for d in range(v.ndim) if d != dim % v.ndim)
    return np.sqrt((v * v).sum(axis=others, keepdims=True))


@pytest.mark.parametrize("make,dim,g_shape", [
    (lambda: nn.Linear(4, 3), 0, (3, 1)),
    (lambda: nn.Conv2d(2, 3, 2), 0, (3, 1, 1, 1)),
    (lambda: nn.Conv2d(2, 3, 2), 1, (1, 2, 1, 1)),
    (lambda: nn.Conv2d(2, 3, 2), -3, (1, 2, 1, 1)),
    (lambda: nn.Linear(4, 3), None, ()),
])
def test_weight_norm(make, dim, g_shape):
    layer = make().double()
    v0 = _numpy(layer.weight)
    parametrizations.weight_norm(layer, dim=dim)
    keys = [k for k in layer.state_dict() if "parametrizations" in k]
    assert keys == ["parametrizations.weight.original0", "parametrizations.weight.original1"]
    g, v = layer.parametrizations.weight.original0, layer.parametrizations.weight.original1
    assert tuple(g.shape) == g_shape and isinstance(g, nn.Parameter)
    np.testing.assert_allclose(_numpy(g), _norm_except(v0, dim), rtol=1e-12)
    np.testing.assert_allclose(_numpy(layer.weight), v0, rtol=1e-12)  # unchanged at first
    with ember.no_grad():
        g.mul_(3.0)
        v.add_(0.5)
    expected = _numpy(g) * (_numpy(v) / _norm_except(_numpy(v), dim))
    np.testing.assert_allclose(_numpy(layer.weight), expected, rtol=1e-12)


def _power_method_converged(layer, steps=60):
    layer.train()
    for _ in range(steps):
        layer.parametrizations.weight[0](layer.parametrizations.weight.original)


@pytest.mark.parametrize("make,dim", [
    (lambda: nn.Linear(5, 4), 0), (lambda: nn.Conv2d(2, 3, 2), 0),
    (lambda: nn.ConvTranspose2d(3, 2, 2), 1),
])
def test_spectral_norm_divides_by_the_largest_singular_value(make, dim):
    ember.manual_seed(0)
    layer = parametrizations.spectral_norm(make().double())
    assert layer.parametrizations.weight[0].dim == dim
    _power_method_converged(layer)
    original = _numpy(layer.parametrizations.weight.original)
    matrix = np.moveaxis(original, dim, 0).reshape(original.shape[dim], -1)
    sigma = np.linalg.svd(matrix, compute_uv=False)[0]
    layer.eval()
    np.testing.assert_allclose(_numpy(layer.weight), original / sigma, rtol=1e-8)
    assert sorted(k for k in layer.state_dict() if "parametrizations" in k) == [
        "parametrizations.weight.0._u", "parametrizations.weight.0._v",
        "parametrizations.weight.original"]


def test_spectral_norm_updates_u_only_in_training_and_1d_weights_are_normalized():
    layer = parametrizations.spectral_norm(nn.Linear(3, 3))
    u = layer.parametrizations.weight[0]._u
    before = _numpy(u).copy()
    layer.eval()
    layer(ember.randn(1, 3))
    np.testing.assert_array_equal(_numpy(u), before)
    with ember.no_grad():
        layer.parametrizations.weight.original.mul_(ember.randn(3, 3))
    layer.train()
    layer(ember.randn(1, 3))
    assert not np.array_equal(_numpy(u), before)
    bias_normed = parametrizations.spectral_norm(nn.Linear(3, 4), name="bias")
    bias = _numpy(bias_normed.parametrizations.bias.original)
    np.testing.assert_allclose(_numpy(bias_normed.bias), bias / np.linalg.norm(bias), rtol=1e-6)
    with pytest.raises(ValueError, match="n_power_iterations=0"):
        parametrizations.spectral_norm(nn.Linear(3, 3), n_power_iterations=0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        parametrizations.spectral_norm(nn.Linear(3, 3), dim=2)


MODULES = [
    ModuleCase("weight_norm-Linear", lambda: parametrizations.weight_norm(nn.Linear(3, 2)),
               shapes=[(2, 3)], output_shape=(2, 2), gradgrad=True),
    ModuleCase("spectral_norm-Linear", lambda: parametrizations.spectral_norm(nn.Linear(3, 2)),
               shapes=[(2, 3)], output_shape=(2, 2), stochastic=True),
]


@pytest.mark.parametrize("case", MODULES, ids=str)
def test_parametrized_modules(case, device):
    check_module(case, device)


def test_normalize_matches_numpy():
    x = np.random.default_rng(0).normal(size=(3, 4))
    for p, dim in ((2.0, 1), (1.0, 0), (3.0, -1)):
        norm = (np.abs(x) ** p).sum(axis=dim, keepdims=True) ** (1 / p)
        np.testing.assert_allclose(F.normalize(ember.tensor(x), p=p, dim=dim).numpy(), x / norm)
    np.testing.assert_array_equal(F.normalize(ember.zeros(2, 3)).numpy(), np.zeros((2, 3)))
    ember.autograd.gradcheck(lambda t: F.normalize(t, dim=0),
                             [ember.tensor(x, requires_grad=True)])
