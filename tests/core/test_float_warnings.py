"""Floating-point edge results come without numpy's RuntimeWarnings, as in PyTorch.

PyTorch returns IEEE results silently: log(0) = -inf, 0/0 = nan, exp(1000) = inf, sqrt(-1) = nan.
"""

import math
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.backend import hide_float_warnings


@pytest.fixture(autouse=True)
def as_after_import_ember():
    """pytest collected this module inside warnings.catch_warnings(), which dropped the filter
    `import ember` installed; each test starts from the filters a script would have."""
    hide_float_warnings()


def _no_warnings(fn):
    with warnings.catch_warnings(record=True) as caught:  # the filters stay as Ember set them
        result = fn()
    assert [str(w.message) for w in caught] == []
    return result


CASES = {
    "log(0)": (lambda z, o: ember.log(z), -math.inf),
    "0/0": (lambda z, o: z / z, math.nan),
    "1/0": (lambda z, o: o / z, math.inf),
    "exp(1000)": (lambda z, o: ember.exp(o * 1000), math.inf),
    "sqrt(-1)": (lambda z, o: ember.sqrt(-o), math.nan),
    "pow(0, -1)": (lambda z, o: z ** -1.0, math.inf),
    "log1p(-1)": (lambda z, o: ember.log1p(-o), -math.inf),
    "inf - inf": (lambda z, o: o / z - o / z, math.nan),
    "inf * 0": (lambda z, o: (o / z) * z, math.nan),
    "float32 overflow": (lambda z, o: (o * 3e38) * 10, math.inf),
    "acos(2)": (lambda z, o: ember.acos(o * 2), math.nan),
}


@pytest.mark.parametrize("name", list(CASES))
def test_edge_values_give_ieee_results_silently(name):
    fn, expected = CASES[name]
    zeros, ones = ember.zeros(3), ember.ones(3)
    result = _no_warnings(lambda: fn(zeros, ones))
    np.testing.assert_array_equal(result.numpy(), np.full(3, expected, dtype=np.float32))


def test_backward_through_edge_values_is_silent():
    x = ember.zeros(2, requires_grad=True)
    _no_warnings(lambda: ember.log(x).sum().backward())
    assert x.grad.tolist() == [math.inf, math.inf]
    y = ember.zeros(2, requires_grad=True)
    _no_warnings(lambda: ember.sqrt(y).sum().backward())
    assert y.grad.tolist() == [math.inf, math.inf]


def test_losses_at_their_edges_are_silent():
    loss = _no_warnings(lambda: F.binary_cross_entropy(ember.tensor([0.0, 1.0]),
                                                      ember.tensor([1.0, 0.0])))
    assert loss.item() == 100.0  # PyTorch clamps log at -100
    logits = ember.zeros(2, 3)
    target = ember.tensor([-100, -100])
    assert math.isnan(_no_warnings(lambda: F.cross_entropy(logits, target)).item())


def test_warnings_of_the_users_own_numpy_code_still_show():
    with warnings.catch_warnings(record=True) as caught:
        np.log(np.zeros(1))
    assert any("divide by zero" in str(w.message) for w in caught)


def test_explicit_filters_win():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ember.log(ember.zeros(1))
    assert any("divide by zero" in str(w.message) for w in caught)


def test_a_script_sees_no_warnings_and_backward_restores_a_dropped_filter():
    script = textwrap.dedent("""
        import warnings
        with warnings.catch_warnings():  # as pytest's collection: drops import-time filters
            import ember
        x = ember.zeros(2, requires_grad=True)
        ember.log(x).sum().backward()  # the backward puts the filter back ...
        print(ember.log(ember.zeros(1)).item(), (ember.zeros(1) / 0).item())  # ... for later ops
    """)
    result = subprocess.run([sys.executable, "-c", script],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["-inf", "nan"]
    warned = [line for line in result.stderr.splitlines() if "RuntimeWarning" in line]
    assert len(warned) == 1 and "ember/ops" in warned[0]  # only the forward log before backward
