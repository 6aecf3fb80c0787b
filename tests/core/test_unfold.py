"""Tensor.unfold against numpy's sliding windows (PyTorch's definition), with gradients."""

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck


@pytest.mark.parametrize(("dim", "size", "step"), [(0, 2, 1), (1, 3, 2), (2, 4, 4), (-1, 1, 3)])
def test_unfold_matches_sliding_windows(dim, size, step):
    x = np.arange(5 * 6 * 8, dtype=np.float32).reshape(5, 6, 8)
    expected = np.lib.stride_tricks.sliding_window_view(x, size, axis=dim)
    axis = dim % x.ndim  # the window count stays where the dimension was
    expected = np.take(expected, range(0, expected.shape[axis], step), axis=axis)
    out = ember.tensor(x).unfold(dim, size, step)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)


def test_unfold_patches_as_the_vision_transformer_example():
    # (B, C, H, W) -> (B, H/p, W/p, C, p, p): unfold H then W, as ViT's PatchExtractor does.
    x = ember.arange(2 * 3 * 4 * 4.0).reshape(2, 3, 4, 4)
    patches = x.unfold(2, 2, 2).unfold(3, 2, 2).permute(0, 2, 3, 1, 4, 5)
    assert patches.shape == (2, 2, 2, 3, 2, 2)
    assert ember.equal(patches[1, 0, 1, 2], x[1, 2, 0:2, 2:4])


def test_unfold_gradient_and_errors():
    x = ember.rand(3, 7, dtype=ember.float64, requires_grad=True)
    assert gradcheck(lambda t: t.unfold(1, 3, 2), (x,))  # overlapping windows add up
    assert ember.tensor(3.0).unfold(0, 1, 1).tolist() == [3.0]
    with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 1 is 7 but "
                                           "size is 8"):
        x.unfold(1, 8, 1)
    with pytest.raises(RuntimeError, match="step is 0 but must be > 0"):
        x.unfold(0, 1, 0)
