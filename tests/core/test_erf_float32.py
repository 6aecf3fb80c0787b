"""erf and the normal CDF at float32 precision (the fast path of erf and exact GELU on the CPU).

PyTorch's float32 erf (Sleef) is within about 1 ulp; Ember's rational approximation is within
8 ulp of the result (under 5e-7 absolute), checked here against math.erf on a dense grid.
"""

import math

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.ops.elementwise import normal_cdf

GRID = np.concatenate([
    np.linspace(-6.0, 6.0, 400_001, dtype=np.float32),
    np.geomspace(1e-38, 1.0, 20_001, dtype=np.float32),
    -np.geomspace(1e-38, 1.0, 20_001, dtype=np.float32),
    np.array([0.0, -0.0, 1e-45, 4.0, 3.9999998, 10.0, 1e30], dtype=np.float32),
])


def _ulps(got, exact):
    """|got - exact| in ulps of the float32 nearest to ``exact``."""
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    spacing = np.maximum(spacing, np.finfo(np.float32).smallest_subnormal)
    return np.abs(got.astype(np.float64) - exact) / spacing


@pytest.fixture(scope="module")
def exact_erf():
    return np.array([math.erf(float(v)) for v in GRID])


def test_float32_erf_is_within_8_ulp_of_math_erf(exact_erf):
    got = ember.erf(ember.tensor(GRID)).numpy()
    assert got.dtype == np.float32
    errors = _ulps(got, exact_erf)
    assert errors.max() <= 8, f"{errors.max():.1f} ulp at x = {GRID[errors.argmax()]!r}"
    small = np.abs(GRID) < 0.5  # relative precision near 0, where erf(x) ~ 2x / sqrt(pi)
    assert errors[small].max() <= 4
    assert np.abs(got.astype(np.float64) - exact_erf).max() < 5e-7


def test_float32_erf_special_values():
    x = ember.tensor([0.0, -0.0, math.inf, -math.inf, math.nan, 1e-45])
    got = ember.erf(x).numpy()
    assert got[:4].tolist() == [0.0, 0.0, 1.0, -1.0] and math.copysign(1, got[1]) == -1
    assert math.isnan(got[4]) and got[5] > 0


def test_float16_erf_follows(exact_erf):
    half = GRID[::50].astype(np.float16)
    got = ember.erf(ember.tensor(half)).numpy()
    exact = np.array([math.erf(float(v)) for v in half])
    assert got.dtype == np.float16 and np.abs(got - exact).max() <= 1e-3


def test_float64_erf_keeps_1e_15():
    x = np.linspace(-6.0, 6.0, 20_001)
    got = ember.erf(ember.tensor(x)).numpy()
    exact = np.array([math.erf(v) for v in x])
    assert np.abs(got - exact).max() <= 1e-15


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_cdf_keeps_relative_precision(dtype):
    x = np.linspace(-12.0, 8.0, 100_001).astype(dtype)
    exact = np.array([0.5 * math.erfc(-float(v) / math.sqrt(2)) for v in x])
    got = normal_cdf(np, x)
    assert got.dtype == dtype
    tolerance = 2e-6 if dtype == np.float32 else 1e-15
    # Rounding x / sqrt(2) moves Phi(x) by about x^2 times its relative error: allow for that.
    slack = 1 + x.astype(np.float64) ** 2
    assert (np.abs(got - exact) / exact / slack).max() <= tolerance


def test_exact_gelu_float32_matches_the_float64_reference():
    x = np.linspace(-8.0, 8.0, 10_001).astype(np.float32)
    got = F.gelu(ember.tensor(x)).numpy()
    exact = F.gelu(ember.tensor(x.astype(np.float64))).numpy()
    np.testing.assert_allclose(got, exact, rtol=2e-6 * (1 + x.astype(np.float64) ** 2).max(),
                               atol=1e-37)
    tensor = ember.tensor(x, requires_grad=True)
    F.gelu(tensor).sum().backward()
    wide = ember.tensor(x.astype(np.float64), requires_grad=True)
    F.gelu(wide).sum().backward()
    np.testing.assert_allclose(tensor.grad.numpy(), wide.grad.numpy(), rtol=1e-4, atol=1e-6)
