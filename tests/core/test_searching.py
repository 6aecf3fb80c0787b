"""searchsorted, bucketize, unique, unique_consecutive, histc, bincount against numpy."""

import numpy as np
import pytest

import ember


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_matches_numpy(right, device):
    rng = np.random.default_rng(0)
    boundaries = np.sort(rng.integers(0, 10, size=8)).astype(np.float32)
    values = rng.integers(-1, 12, size=(3, 4)).astype(np.float32)
    got = ember.searchsorted(ember.tensor(boundaries, device=device),
                             ember.tensor(values, device=device), right=right)
    side = "right" if right else "left"
    assert got.dtype == ember.int64 and got.device == device
    np.testing.assert_array_equal(got.cpu().numpy(), np.searchsorted(boundaries, values, side=side))


def test_searchsorted_per_row_side_sorter_and_scalars():
    sequence = ember.tensor([[1, 3, 5, 7, 9], [2, 4, 6, 8, 10]])
    values = ember.tensor([[3, 6, 9], [3, 6, 9]])
    assert ember.searchsorted(sequence, values).tolist() == [[1, 3, 4], [1, 2, 4]]
    assert ember.searchsorted(sequence, values, side="right").tolist() == [[2, 3, 5], [1, 3, 4]]
    unsorted = ember.tensor([5, 1, 3])
    sorter = ember.argsort(unsorted)
    assert ember.searchsorted(unsorted, ember.tensor([2, 4]), sorter=sorter).tolist() == [1, 2]
    result = ember.searchsorted(ember.tensor([1, 3, 5]), 3, right=True, out_int32=True)
    assert result.shape == () and result.item() == 2 and result.dtype == ember.int32


def test_searchsorted_bad_arguments_raise_as_pytorch():
    sequence = ember.tensor([[1, 2], [3, 4]])
    with pytest.raises(RuntimeError, match="first N-1 dimensions"):
        ember.searchsorted(sequence, ember.tensor([[1], [2], [3]]))
    with pytest.raises(RuntimeError, match="side and right can't be set to opposites"):
        ember.searchsorted(ember.tensor([1, 2]), ember.tensor([1]), right=True, side="left")
    with pytest.raises(RuntimeError, match="scalar only when boundaries tensor dimension is 1"):
        ember.searchsorted(sequence, 1)


def test_bucketize_is_searchsorted_on_boundaries():
    boundaries = ember.tensor([1, 3, 5, 7, 9])
    values = ember.tensor([[3, 6, 9], [3, 6, 9]])
    assert ember.bucketize(values, boundaries).tolist() == [[1, 3, 4], [1, 3, 4]]
    assert values.bucketize(boundaries, right=True).tolist() == [[2, 3, 5], [2, 3, 5]]
    with pytest.raises(RuntimeError, match="boundaries tensor must be 1 dimension"):
        ember.bucketize(values, values)


def test_unique_flat_matches_numpy(device):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 5, size=(4, 6))
    values, inverse, counts = ember.unique(ember.tensor(a, device=device), return_inverse=True,
                                           return_counts=True)
    expected = np.unique(a, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(values.cpu().numpy(), expected[0])
    np.testing.assert_array_equal(inverse.cpu().numpy(), expected[1].reshape(a.shape))
    np.testing.assert_array_equal(counts.cpu().numpy(), expected[2])
    assert inverse.dtype == ember.int64 and counts.dtype == ember.int64
    assert isinstance(ember.tensor(a).unique(), ember.Tensor)
    assert len(ember.tensor(a).unique(return_counts=True)) == 2


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unique_slices_along_dim_match_numpy(dim):
    rng = np.random.default_rng(2)
    a = rng.integers(0, 2, size=(5, 3, 4))
    values, inverse, counts = ember.tensor(a).unique(dim=dim, return_inverse=True,
                                                     return_counts=True)
    expected = np.unique(a, axis=dim, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(values.numpy(), expected[0])
    np.testing.assert_array_equal(inverse.numpy(), expected[1].reshape(-1))
    np.testing.assert_array_equal(counts.numpy(), expected[2])


def test_unique_keeps_every_nan_and_has_no_gradient():
    x = ember.tensor([1.0, float("nan"), 1.0, float("nan")], requires_grad=True)
    values = ember.unique(x)
    assert values.shape == (3,) and not values.requires_grad and values.numpy()[0] == 1.0


def test_unique_consecutive():
    x = ember.tensor([1, 1, 2, 2, 3, 1, 1, 2])
    values, inverse, counts = ember.unique_consecutive(x, return_inverse=True, return_counts=True)
    assert values.tolist() == [1, 2, 3, 1, 2]
    assert inverse.tolist() == [0, 0, 1, 1, 2, 3, 3, 4]
    assert counts.tolist() == [2, 2, 1, 2, 1]
    rows = ember.tensor([[1, 2], [1, 2], [0, 0], [1, 2]])
    assert rows.unique_consecutive(dim=0).tolist() == [[1, 2], [0, 0], [1, 2]]
    assert ember.unique_consecutive(ember.tensor([], dtype=ember.int64)).shape == (0,)


def test_histc_matches_pytorch_binning():
    x = ember.tensor([1.0, 2.0, 1.0, 2.9999, 3.0, -1.0, 4.0])
    assert ember.histc(x, bins=4, min=0, max=3).tolist() == [0.0, 2.0, 1.0, 2.0]
    data = ember.tensor([1.0, 2.0, 3.0])  # min == max: the data's range
    assert data.histc(bins=2).tolist() == [1.0, 2.0]
    assert ember.histc(ember.tensor([2.0, 2.0]), bins=2).tolist() == [0.0, 2.0]
    rng = np.random.default_rng(3)
    values = rng.normal(size=1000)
    expected, _ = np.histogram(values, bins=10, range=(-1.5, 2.0))
    got = ember.histc(ember.tensor(values), bins=10, min=-1.5, max=2.0).numpy()
    np.testing.assert_allclose(got, expected)
    with pytest.raises(RuntimeError, match="bins must be > 0"):
        ember.histc(x, bins=0)
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        ember.histc(x, min=2, max=1)
    with pytest.raises(RuntimeError, match="floating point"):
        ember.histc(ember.tensor([1, 2]))


def test_bincount_matches_numpy(device):
    rng = np.random.default_rng(4)
    a = rng.integers(0, 6, size=20)
    weights = rng.normal(size=20)
    x = ember.tensor(a, device=device)
    np.testing.assert_array_equal((ember.bincount(x)).cpu().numpy(), np.bincount(a))
    np.testing.assert_allclose((x.bincount(ember.tensor(weights, device=device))).cpu().numpy(),
                               np.bincount(a, weights))
    assert ember.bincount(x, minlength=10).shape == (10,)
    assert ember.bincount(x).dtype == ember.int64
    assert ember.bincount(ember.tensor([], dtype=ember.int64)).shape == (0,)


def test_bincount_rejects_bad_inputs():
    with pytest.raises(RuntimeError, match="non-negative"):
        ember.bincount(ember.tensor([1, -1]))
    with pytest.raises(RuntimeError, match="1-d non-negative integral"):
        ember.bincount(ember.tensor([[1]]))
    with pytest.raises(RuntimeError, match="same length as input"):
        ember.bincount(ember.tensor([1, 2]), ember.ones(3))
