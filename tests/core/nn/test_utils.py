"""nn.utils: gradient clipping and parameter vectors, against numpy."""

import math

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)


def _params_with_grads(device, scale=1.0):
    rng = np.random.default_rng(0)
    params = [nn.Parameter(ember.zeros(*shape, device=device)) for shape in [(3, 2), (4,), ()]]
    grads = [rng.normal(size=p.shape) * scale for p in params]
    for p, g in zip(params, grads):
        p.grad = ember.tensor(g.astype(np.float32), device=device)
    return params, grads


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_numpy(norm_type, max_norm, device):
    params, grads = _params_with_grads(device)
    flat = np.concatenate([g.ravel() for g in grads])
    expected = np.abs(flat).max() if norm_type == math.inf else (
        np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    total = clip_grad_norm_(params, max_norm, norm_type=norm_type)
    assert isinstance(total, ember.Tensor) and total.dim() == 0
    np.testing.assert_allclose(total.item(), expected, rtol=1e-5)
    coefficient = min(max_norm / (expected + 1e-6), 1.0)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.cpu().numpy(), g * coefficient, rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_edge_cases():
    assert clip_grad_norm_([nn.Parameter(ember.zeros(2))], 1.0).item() == 0.0
    p = nn.Parameter(ember.zeros(2))
    p.grad = ember.tensor([float("nan"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)


def test_clip_grad_value(device):
    params, grads = _params_with_grads(device, scale=3.0)
    clip_grad_value_(params, 1.5)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.cpu().numpy(), np.clip(g, -1.5, 1.5), rtol=1e-6)


def test_parameters_vector_round_trip():
    net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = parameters_to_vector(net.parameters())
    assert vec.shape == (11,)
    np.testing.assert_array_equal(vec.detach().numpy()[:6],
                                  net[0].weight.detach().numpy().ravel())
    vector_to_parameters(ember.arange(11.0), net.parameters())
    np.testing.assert_array_equal(net[0].weight.detach().numpy(),
                                  np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(net[1].bias.detach().numpy(), [10.0])
    with pytest.raises(TypeError, match="expected Tensor"):
        vector_to_parameters([1.0], net.parameters())
