"""Checks of an array's extremes (index bounds, class targets, probabilities): at once on the
CPU; on a GPU once the values reach the host (``ember.backend.check_extremes``; the cuda side is
in test_cuda_training.py)."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F


def test_a_checked_value_on_the_cpu_raises_at_once():
    from ember.backend import check_extremes

    seen = []

    def failure(low, high):
        seen.append((low, high))
        return ValueError(f"{low}..{high}") if high > 2 else None

    check_extremes(np.array([2, 0, 1]), failure)
    with pytest.raises(ValueError, match="-1..5"):
        check_extremes(np.array([3, -1, 5]), failure)
    assert seen == [(0, 2), (-1, 5)] and all(type(v) is int for pair in seen for v in pair)


def test_class_targets_out_of_range_name_the_target_as_pytorch(device):
    logits = ember.randn(3, 4, device=device)
    with pytest.raises(IndexError, match="Target 5 is out of bounds"):
        F.cross_entropy(logits, ember.tensor([5, 0, 1], device=device))
        ember.cuda.synchronize()
    with pytest.raises(IndexError, match="Target -3 is out of bounds"):
        F.nll_loss(logits, ember.tensor([1, -3, 1], device=device))
        ember.cuda.synchronize()
    ignored = F.cross_entropy(logits, ember.tensor([-100, 2, 1], device=device))
    expected = F.cross_entropy(logits[1:], ember.tensor([2, 1], device=device))
    np.testing.assert_allclose(ignored.item(), expected.item(), rtol=1e-6)


@pytest.mark.parametrize("values", [[float("nan"), 0.5], [1.5, 0.2], [-0.1, 0.2]])
def test_binary_cross_entropy_refuses_what_is_not_a_probability_nan_included(values, device):
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(ember.tensor(values, device=device),
                               ember.tensor([1.0, 0.0], device=device))
        ember.cuda.synchronize()
