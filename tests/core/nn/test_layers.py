"""Every layer of ``ember.nn`` through the shared module harness."""

import numpy as np
import pytest
from module_harness import ModuleCase, check_module

import ember
from ember import nn


def _indices(num, shape):
    def make(rng, dtype):
        return [rng.integers(0, num, size=shape)]
    return make


def _away_from_kinks(*kinks, shape=(2, 3), low=-3.0, high=3.0):
    """Inputs at least 0.05 away from the points where an activation is not differentiable."""
    def make(rng, dtype):
        values = rng.uniform(low, high, size=shape)
        for kink in kinks:
            close = np.abs(values - kink) < 0.05
            values[close] += 0.1
        return [values.astype(dtype)]
    return make


def _activation(name, make, kinks=(), gradgrad=True):
    return ModuleCase(name, make, shapes=[(2, 3)], inputs=_away_from_kinks(*kinks),
                      gradgrad=gradgrad)


CASES = [
    ModuleCase("Identity", lambda: nn.Identity(3, unused=True), shapes=[(2, 3)],
               eval_is_identity=True),
    ModuleCase("Linear", lambda: nn.Linear(3, 4), shapes=[(2, 3)], output_shape=(2, 4),
               gradgrad=True),
    ModuleCase("Linear-3d", lambda: nn.Linear(3, 2), shapes=[(2, 2, 3)], output_shape=(2, 2, 2)),
    ModuleCase("Linear-nobias", lambda: nn.Linear(3, 2, bias=False), shapes=[(4, 3)],
               output_shape=(4, 2)),
    ModuleCase("Bilinear", lambda: nn.Bilinear(3, 2, 4), shapes=[(5, 3), (5, 2)],
               output_shape=(5, 4), gradgrad=True),
    ModuleCase("Flatten", lambda: nn.Flatten(), shapes=[(2, 3, 2)], output_shape=(2, 6)),
    ModuleCase("Flatten-range", lambda: nn.Flatten(0, 1), shapes=[(2, 3, 2)],
               output_shape=(6, 2)),
    ModuleCase("Unflatten", lambda: nn.Unflatten(1, (2, 3)), shapes=[(2, 6)],
               output_shape=(2, 2, 3)),
    ModuleCase("Dropout", lambda: nn.Dropout(0.5), shapes=[(4, 5)], stochastic=True,
               eval_is_identity=True),
    ModuleCase("Dropout2d", lambda: nn.Dropout2d(0.3), shapes=[(2, 3, 2, 2)], stochastic=True,
               eval_is_identity=True),
    ModuleCase("Embedding", lambda: nn.Embedding(6, 3), inputs=_indices(6, (2, 4)),
               output_shape=(2, 4, 3), gradgrad=True),
    ModuleCase("Embedding-padding", lambda: nn.Embedding(6, 3, padding_idx=0),
               inputs=_indices(6, (5,)), output_shape=(5, 3)),
    _activation("ReLU", nn.ReLU, kinks=(0,)),
    _activation("ReLU6", nn.ReLU6, kinks=(0, 6)),
    _activation("LeakyReLU", lambda: nn.LeakyReLU(0.2), kinks=(0,)),
    _activation("ELU", nn.ELU, kinks=(0,)),
    _activation("SELU", nn.SELU, kinks=(0,)),
    _activation("CELU", lambda: nn.CELU(0.7), kinks=(0,)),
    _activation("GELU", nn.GELU),
    _activation("GELU-tanh", lambda: nn.GELU(approximate="tanh")),
    _activation("SiLU", nn.SiLU),
    _activation("Mish", nn.Mish),
    _activation("Softplus", lambda: nn.Softplus(beta=2.0)),
    _activation("Softsign", nn.Softsign, kinks=(0,)),
    _activation("Hardtanh", lambda: nn.Hardtanh(-0.5, 1.5), kinks=(-0.5, 1.5)),
    _activation("Hardsigmoid", nn.Hardsigmoid, kinks=(-3, 3)),
    _activation("Hardswish", nn.Hardswish, kinks=(-3, 3)),
    _activation("LogSigmoid", nn.LogSigmoid),
    _activation("Tanh", nn.Tanh),
    _activation("Sigmoid", nn.Sigmoid),
    _activation("Tanhshrink", nn.Tanhshrink),
    _activation("Threshold", lambda: nn.Threshold(0.1, 20.0), kinks=(0.1,)),
    _activation("Softmax", lambda: nn.Softmax(dim=1)),
    _activation("LogSoftmax", lambda: nn.LogSoftmax(dim=-1)),
    _activation("Softmin", lambda: nn.Softmin(dim=0)),
    ModuleCase("Sequential", lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Dropout(0.2),
                                                   nn.Linear(4, 2)),
               shapes=[(2, 3)], output_shape=(2, 2), stochastic=True),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_layer(case, device):
    check_module(case, device)


@pytest.mark.parametrize("make, reference", [
    (nn.ReLU, lambda x: np.maximum(x, 0)),
    (nn.ReLU6, lambda x: np.clip(x, 0, 6)),
    (lambda: nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.Tanh, np.tanh),
    (nn.Sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    (nn.SiLU, lambda x: x / (1 + np.exp(-x))),
    (nn.Softsign, lambda x: x / (1 + np.abs(x))),
    (nn.Tanhshrink, lambda x: x - np.tanh(x)),
    (lambda: nn.Threshold(0.1, 20.0), lambda x: np.where(x > 0.1, x, 20.0)),
    (lambda: nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    (lambda: nn.Softmin(dim=1), lambda x: np.exp(-x) / np.exp(-x).sum(1, keepdims=True)),
    (lambda: nn.LogSoftmax(dim=1),
     lambda x: x - np.log(np.exp(x).sum(1, keepdims=True))),
])
def test_activation_values(make, reference):
    x = np.random.default_rng(0).uniform(-3, 3, (3, 4))
    out = make()(ember.tensor(x))
    np.testing.assert_allclose(out.numpy(), reference(x), rtol=1e-6, atol=1e-6)


def test_inplace_activation_writes_into_input():
    x = ember.tensor([-1.0, 2.0])
    out = nn.ReLU(inplace=True)(x)
    np.testing.assert_array_equal(x.numpy(), [0.0, 2.0])
    assert out.data is x.data or np.shares_memory(out.numpy(), x.numpy())
