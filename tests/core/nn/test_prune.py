"""nn.utils.prune: which entries each method masks (against numpy), the orig/mask/hook layout
and state_dict keys of PyTorch, repeated pruning, remove, and PyTorch's amount errors."""

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.utils import prune


def _numpy(t):
    return t.detach().numpy()


def _smallest(values, count):
    """A mask with zeros at the ``count`` entries of smallest magnitude (no ties here)."""
    mask = np.ones(values.size)
    mask[np.argsort(np.abs(values).ravel())[:count]] = 0
    return mask.reshape(values.shape)


@pytest.mark.parametrize("amount,count", [(0.3, 2), (0.5, 4), (3, 3), (0, 0), (1.0, 8)])
def test_l1_unstructured_masks_the_smallest_magnitudes(amount, count):
    layer = nn.Linear(4, 2)
    weight = _numpy(layer.weight).copy()
    assert prune.l1_unstructured(layer, "weight", amount) is layer
    expected = _smallest(weight, count)  # round(0.3 * 8) = 2, as PyTorch
    np.testing.assert_array_equal(_numpy(layer.weight_mask), expected)
    np.testing.assert_array_equal(_numpy(layer.weight), weight * expected)
    assert sorted(layer.state_dict()) == ["bias", "weight_mask", "weight_orig"]
    assert [name for name, _ in layer.named_parameters()] == ["bias", "weight_orig"]
    assert prune.is_pruned(layer) and prune.is_pruned(nn.Sequential(layer))


def test_the_hook_applies_the_mask_before_each_forward_and_to_the_gradient():
    layer = prune.l1_unstructured(nn.Linear(3, 2).double(), "weight", amount=3)
    mask = _numpy(layer.weight_mask)
    with ember.no_grad():
        layer.weight_orig.add_(1.0)
    x = ember.randn(5, 3, dtype=ember.float64)
    out = layer(x)
    expected = x.numpy() @ (_numpy(layer.weight_orig) * mask).T + _numpy(layer.bias)
    np.testing.assert_allclose(_numpy(out), expected)
    out.sum().backward()
    np.testing.assert_allclose(_numpy(layer.weight_orig.grad),
                               mask * x.numpy().sum(0)[None, :].repeat(2, 0))


def test_pruning_again_prunes_among_the_kept_entries_and_remove_makes_it_permanent():
    layer = nn.Linear(5, 2)
    weight = _numpy(layer.weight).copy()
    prune.l1_unstructured(layer, "weight", amount=3)
    prune.l1_unstructured(layer, "weight", amount=0.5)  # round(0.5 * 7 kept) = 4 more
    np.testing.assert_array_equal(_numpy(layer.weight_mask), _smallest(weight, 7))
    hooks = [hook for hook, _ in layer._forward_pre_hooks.values()]
    assert len(hooks) == 1 and isinstance(hooks[0], prune.PruningContainer)
    orig = layer.weight_orig
    prune.remove(layer, "weight")
    assert layer.weight is orig and isinstance(layer.weight, nn.Parameter)
    np.testing.assert_array_equal(_numpy(layer.weight), weight * _smallest(weight, 7))
    assert sorted(layer.state_dict()) == ["bias", "weight"] and not prune.is_pruned(layer)


def test_random_unstructured_and_custom_from_mask():
    ember.manual_seed(0)
    layer = prune.random_unstructured(nn.Linear(10, 10), "weight", amount=0.25)
    assert _numpy(layer.weight_mask).sum() == 75
    other = prune.random_unstructured(nn.Linear(10, 10), "weight", amount=0.25)
    assert not np.array_equal(_numpy(other.weight_mask), _numpy(layer.weight_mask))
    mask = ember.tensor([[1.0, 0.0], [0.0, 1.0]])
    custom = prune.custom_from_mask(nn.Linear(2, 2), "weight", mask)
    np.testing.assert_array_equal(_numpy(custom.weight_mask), mask.numpy())
    kept = prune.identity(nn.Linear(2, 2), "bias")
    np.testing.assert_array_equal(_numpy(kept.bias_mask), [1.0, 1.0])


def test_global_unstructured_chooses_across_parameters():
    first, second = nn.Linear(3, 3), nn.Linear(2, 2)
    prune.l1_unstructured(second, "weight", amount=1)  # already pruned: its zero stays
    values = np.concatenate([_numpy(first.weight).ravel(), _numpy(second.weight).ravel()])
    kept_before = np.concatenate([np.ones(9), _numpy(second.weight_mask).ravel()])
    prune.global_unstructured([(first, "weight"), (second, "weight")],
                              pruning_method=prune.L1Unstructured, amount=4)
    expected = kept_before.copy()
    candidates = np.flatnonzero(kept_before)
    expected[candidates[np.argsort(np.abs(values[candidates]))[:4]]] = 0
    got = np.concatenate([_numpy(first.weight_mask).ravel(), _numpy(second.weight_mask).ravel()])
    np.testing.assert_array_equal(got, expected)


def test_importance_scores_choose_instead_of_magnitudes():
    layer = nn.Linear(2, 2)
    scores = ember.tensor([[4.0, 1.0], [3.0, 2.0]])
    prune.l1_unstructured(layer, "weight", amount=2, importance_scores=scores)
    np.testing.assert_array_equal(_numpy(layer.weight_mask), [[1, 0], [1, 0]])


@pytest.mark.parametrize("n,dim", [(2, 0), (1, 1), (float("inf"), -1)])
def test_ln_structured_prunes_the_channels_of_smallest_norm(n, dim):
    conv = nn.Conv2d(3, 4, 2)
    weight = _numpy(conv.weight).copy()
    prune.ln_structured(conv, "weight", amount=0.5, n=n, dim=dim)
    axis = dim % 4
    moved = np.moveaxis(np.abs(weight), axis, 0).reshape(weight.shape[axis], -1)
    norms = moved.max(1) if n == float("inf") else (moved ** n).sum(1) ** (1 / n)
    count = round(0.5 * weight.shape[axis])
    kept = np.ones(weight.shape[axis])
    kept[np.argsort(norms)[:count]] = 0
    shape = [1, 1, 1, 1]
    shape[axis] = -1
    expected = np.broadcast_to(kept.reshape(shape), weight.shape)
    np.testing.assert_array_equal(_numpy(conv.weight_mask), expected)
    np.testing.assert_array_equal(_numpy(conv.weight), weight * expected)


def test_structured_pruning_again_prunes_among_the_kept_channels():
    layer = nn.Linear(3, 5)
    weight = _numpy(layer.weight).copy()
    prune.ln_structured(layer, "weight", amount=2, n=2, dim=0)
    prune.ln_structured(layer, "weight", amount=1, n=2, dim=0)
    kept = np.ones(5)
    kept[np.argsort(np.linalg.norm(weight, axis=1))[:3]] = 0
    np.testing.assert_array_equal(_numpy(layer.weight_mask), kept[:, None].repeat(3, 1))
    ember.manual_seed(0)
    random = prune.random_structured(nn.Linear(6, 4), "weight", amount=0.5, dim=1)
    columns = _numpy(random.weight_mask).sum(0)
    assert sorted(columns) == [0, 0, 0, 4, 4, 4]


@pytest.mark.parametrize("call,error,words", [
    (lambda: prune.ln_structured(nn.Linear(2, 2), "bias", 1, n=2, dim=0), ValueError,
     "Structured pruning can only be applied to multidimensional tensors"),
    (lambda: prune.ln_structured(nn.Linear(2, 2), "weight", 1, n=2, dim=2), IndexError,
     "Invalid index 2 for tensor of size (2, 2)"),
    (lambda: prune.l1_unstructured(nn.Linear(2, 2), "weight", -1), ValueError,
     "amount=-1 should either be a float in the range [0, 1] or a non-negative integer"),
    (lambda: prune.l1_unstructured(nn.Linear(2, 2), "weight", 1.5), ValueError, "amount=1.5"),
    (lambda: prune.l1_unstructured(nn.Linear(2, 2), "weight", "half"), TypeError,
     "Invalid type for amount"),
    (lambda: prune.l1_unstructured(nn.Linear(2, 2), "weight", 5), ValueError,
     "amount=5 should be smaller than the number of parameters to prune=4"),
    (lambda: prune.remove(nn.Linear(2, 2), "weight"), ValueError,
     "has to be pruned before pruning can be removed"),
])
def test_errors_as_pytorch(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)
