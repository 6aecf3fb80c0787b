"""nn.init: gains, fans, distributions (loose statistical bounds), in-place semantics."""

import math

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn import init


def _values(tensor):
    return tensor.detach().cpu().numpy().astype(np.float64)


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "big")


def test_fans():
    assert init._calculate_fan_in_and_fan_out(ember.empty(4, 3)) == (3, 4)
    assert init._calculate_fan_in_and_fan_out(ember.empty(8, 2, 3, 3)) == (18, 72)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(ember.empty(3))


def test_uniform_normal_constant(device):
    t = ember.empty(200, 100, device=device)
    assert init.uniform_(t, -2.0, 3.0) is t
    v = _values(t)
    assert v.min() >= -2.0 and v.max() < 3.0 and abs(v.mean() - 0.5) < 0.05
    init.normal_(t, 1.0, 2.0)
    v = _values(t)
    assert abs(v.mean() - 1.0) < 0.05 and abs(v.std() - 2.0) < 0.05
    init.constant_(t, 0.25)
    assert (_values(t) == 0.25).all()
    assert (_values(init.ones_(t)) == 1).all() and (_values(init.zeros_(t)) == 0).all()


def test_trunc_normal(device):
    t = init.trunc_normal_(ember.empty(20000, device=device), mean=0.5, std=1.0, a=-0.5, b=1.0)
    v = _values(t)
    assert v.min() >= -0.5 and v.max() <= 1.0
    # N(0.5, 1) truncated to [-0.5, 1.0] has mean 0.5 + (phi(-1) - phi(0.5)) / (Phi(.5) - Phi(-1))
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    expected = 0.5 + (phi(-1.0) - phi(0.5)) / (cdf(0.5) - cdf(-1.0))
    assert abs(v.mean() - expected) < 0.02


@pytest.mark.parametrize("fn, std", [
    (lambda t: init.xavier_uniform_(t, gain=2.0), 2.0 * math.sqrt(2 / (300 + 200))),
    (lambda t: init.xavier_normal_(t), math.sqrt(2 / (300 + 200))),
    (lambda t: init.kaiming_uniform_(t, nonlinearity="relu"), math.sqrt(2 / 300)),
    (lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
     math.sqrt(2 / 200)),
    (lambda t: init.kaiming_normal_(t, a=0.2), math.sqrt(2 / 1.04 / 300)),
])
def test_scaled_initialisers(fn, std, device):
    t = ember.empty(200, 300, device=device)
    v = _values(fn(t))
    assert abs(v.std() / std - 1) < 0.03 and abs(v.mean()) < 0.01
    with pytest.raises(ValueError, match="Mode"):
        init.kaiming_uniform_(t, mode="fan_middle")


def test_orthogonal_eye_dirac(device):
    for shape in [(6, 4), (4, 6), (3, 2, 2)]:
        t = init.orthogonal_(ember.empty(*shape, device=device), gain=2.0)
        m = _values(t).reshape(shape[0], -1)
        product = m @ m.T if shape[0] <= m.shape[1] else m.T @ m
        np.testing.assert_allclose(product, 4.0 * np.eye(len(product)), atol=1e-5)
    np.testing.assert_array_equal(_values(init.eye_(ember.empty(2, 3, device=device))),
                                  np.eye(2, 3))
    d = _values(init.dirac_(ember.empty(2, 3, 3, device=device)))
    assert d.sum() == 2 and d[0, 0, 1] == 1 and d[1, 1, 1] == 1
    with pytest.raises(ValueError):
        init.eye_(ember.empty(3))


def test_generator_and_seed_make_init_reproducible():
    a, b = ember.empty(5), ember.empty(5)
    init.normal_(a, generator=ember.Generator().manual_seed(3))
    init.normal_(b, generator=ember.Generator().manual_seed(3))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    ember.manual_seed(7)
    first = nn.Linear(3, 3).weight.detach().numpy().copy()
    ember.manual_seed(7)
    np.testing.assert_array_equal(nn.Linear(3, 3).weight.detach().numpy(), first)


def test_init_works_on_parameters_and_bumps_version():
    p = nn.Parameter(ember.zeros(3, 3))
    square = p * p  # saves p at its current version
    init.ones_(p)
    assert p.requires_grad and (p.detach().numpy() == 1).all()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        square.sum().backward()


def test_linear_and_embedding_default_init():
    fc = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = _values(fc.weight), _values(fc.bias)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound  # U(-bound, bound)
    emb = nn.Embedding(500, 40, padding_idx=3)
    v = _values(emb.weight)
    assert (v[3] == 0).all() and abs(v.std() - 1) < 0.03
