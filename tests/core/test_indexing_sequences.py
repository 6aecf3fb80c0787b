"""Keys PyTorch accepts beyond tuples of ints, slices and tensors: ranges, lists of bools, numpy
arrays, nested lists and lists of tensors (with PyTorch's legacy "sequence as a tuple" rule).

Expected shapes and values are PyTorch 2.13's for the same keys.
"""

import numpy as np
import pytest

import ember

BASE = np.arange(24.0).reshape(4, 6)
LEGACY = "non-tuple sequence for multidimensional indexing is deprecated"


def _x():
    return ember.tensor(BASE)


@pytest.mark.parametrize("key, reference", [
    (range(2), BASE[[0, 1]]),
    (range(3, 0, -2), BASE[[3, 1]]),
    (range(0), BASE[[]].reshape(0, 6)),
    ((slice(None), range(1, 4)), BASE[:, [1, 2, 3]]),
    ((range(2), range(2)), BASE[[0, 1], [0, 1]]),
    ([True, False, True, False], BASE[[0, 2]]),
    (np.array([0, 2]), BASE[[0, 2]]),
    (np.array([[0, 1], [2, 3]]), BASE[np.array([[0, 1], [2, 3]])]),  # an array is one index
    (np.array([True, False, True, False]), BASE[[0, 2]]),
    (np.int64(1), BASE[1]),
    (([0, 1], [2, 3]), BASE[[0, 1], [2, 3]]),
], ids=["range", "range-step", "range-empty", "range-in-tuple", "tuple-of-ranges", "bool-list",
        "numpy-int", "numpy-2d", "numpy-bool", "numpy-scalar", "tuple-of-lists"])
def test_getitem_matches_pytorch(key, reference):
    np.testing.assert_array_equal(_x()[key].numpy(), reference)


@pytest.mark.parametrize("key, reference", [
    ([[0, 1], [2, 3]], BASE[[0, 1], [2, 3]]),  # read as x[[0, 1], [2, 3]]
    ([0, slice(1, 3)], BASE[0, 1:3]),
    ([ember.tensor(0), ember.tensor(1)], BASE[0, 1]),
    ([None, 0], BASE[None, 0]),
], ids=["nested-list", "list-with-slice", "list-of-tensors", "list-with-none"])
def test_list_holding_sequences_is_read_as_a_tuple_with_pytorchs_warning(key, reference):
    with pytest.warns(UserWarning, match=LEGACY):
        out = _x()[key]
    np.testing.assert_array_equal(out.numpy(), reference)


def test_long_lists_are_index_arrays():
    x = ember.arange(40.0)
    key = [[i] for i in range(32)]  # 32 entries or more: never a tuple
    assert x[key].shape == (32, 1)


def test_range_key_is_differentiable():
    x = ember.tensor(BASE, requires_grad=True)
    x[range(1, 3)].sum().backward()
    expected = np.zeros_like(BASE)
    expected[1:3] = 1
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_setitem_with_ranges_and_sequences():
    x = _x()
    x[range(2)] = 0.0
    x[[False, False, True, False]] = -1.0
    x[:, range(4, 6)] = 9.0
    expected = BASE.copy()
    expected[:2] = 0
    expected[2] = -1
    expected[:, 4:6] = 9
    np.testing.assert_array_equal(x.numpy(), expected)
    with pytest.warns(UserWarning, match=LEGACY):
        x[[[3, 3], [0, 1]]] = 5.0
    assert x[3, :2].tolist() == [5.0, 5.0]


def test_bad_sequences_still_fail_clearly():
    with pytest.raises(IndexError, match=r"index \d is out of bounds for dimension 0 with size 4"):
        _x()[range(5, 8)]
    with pytest.raises(IndexError, match=r"valid indices \(got str\)"):
        _x()["a"]
