"""scatter_reduce against a loop reference, with PyTorch's gradients; negative indices raise."""

import itertools

import numpy as np
import pytest

import ember

REDUCTIONS = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}


def ref_scatter_reduce(a, dim, index, src, reduce, include_self):
    out = a.copy()
    groups = {}
    for position in np.ndindex(index.shape):
        target = list(position)
        target[dim] = index[position]
        groups.setdefault(tuple(target), []).append(src[position])
    for target, values in groups.items():
        out[target] = REDUCTIONS[reduce](([a[target]] if include_self else []) + values)
    return out


@pytest.mark.parametrize("reduce, include_self, dim",
                         list(itertools.product(REDUCTIONS, [True, False], [0, 1])))
def test_scatter_reduce_matches_reference_and_gradchecks(reduce, include_self, dim, device):
    rng = np.random.default_rng(0)
    a, src = rng.normal(size=(3, 4)), rng.normal(size=(4, 5))  # src larger than the index
    index = rng.integers(0, a.shape[dim], size=(2, 3) if dim == 0 else (3, 3))
    index_t = ember.tensor(index, device=device)
    got = ember.tensor(a, device=device).scatter_reduce(
        dim, index_t, ember.tensor(src, device=device), reduce, include_self=include_self)
    np.testing.assert_allclose(got.cpu().numpy(),
                               ref_scatter_reduce(a, dim, index, src, reduce, include_self),
                               rtol=1e-12)
    inputs = [ember.tensor(a, device=device, requires_grad=True),
              ember.tensor(src, device=device, requires_grad=True)]

    def fn(x, y):
        return x.scatter_reduce(dim, index_t, y, reduce, include_self=include_self)

    assert ember.autograd.gradcheck(fn, inputs)
    assert ember.autograd.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_gradient_with_zeros(include_self):
    a = ember.tensor([2.0, 0.0, 3.0], dtype=ember.float64, requires_grad=True)
    src = ember.tensor([0.0, 5.0, 2.0, 0.0, 4.0], dtype=ember.float64, requires_grad=True)
    index = ember.tensor([0, 0, 1, 2, 2])
    assert ember.autograd.gradcheck(
        lambda x, y: x.scatter_reduce(0, index, y, "prod", include_self=include_self), [a, src])


def test_scatter_reduce_amax_ties_share_the_gradient():
    a = ember.tensor([1.0, 0.0], requires_grad=True)
    src = ember.tensor([1.0, 1.0, -1.0], requires_grad=True)
    a.scatter_reduce(0, ember.tensor([0, 0, 1]), src, "amax").sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [1 / 3, 1.0])
    np.testing.assert_allclose(src.grad.numpy(), [1 / 3, 1 / 3, 0.0])


def test_scatter_reduce_integer_mean_rounds_down_and_in_place_form():
    out = ember.tensor([1, 2, 3]).scatter_reduce(0, ember.tensor([0, 0, 2]),
                                                 ember.tensor([4, 5, 6]), "mean")
    assert out.tolist() == [3, 2, 4]
    x = ember.zeros(3)
    assert x.scatter_reduce_(0, ember.tensor([0, 0]), ember.tensor([1.0, 2.0]), "sum") is x
    assert x.tolist() == [3.0, 0.0, 0.0]


def test_scatter_reduce_bad_arguments():
    x = ember.zeros(3)
    with pytest.raises(RuntimeError, match="reduce argument must be either sum, prod, mean"):
        x.scatter_reduce(0, ember.tensor([0]), ember.ones(1), "max")
    with pytest.raises(RuntimeError, match="index -1 is out of bounds for dimension 0"):
        x.scatter_reduce(0, ember.tensor([-1]), ember.ones(1), "sum")


# ---- negative indices: PyTorch raises where numpy would wrap ------------------------------------


@pytest.mark.parametrize("call", [
    lambda x, i: x.gather(0, i),
    lambda x, i: x.scatter(0, i, ember.ones(1, device=x.device)),
    lambda x, i: x.scatter(0, i, value=1.0),
    lambda x, i: x.scatter_add(0, i, ember.ones(1, device=x.device)),
], ids=["gather", "scatter", "scatter-value", "scatter_add"])
def test_negative_index_in_gather_and_scatter_is_out_of_bounds(call, device):
    # torch: RuntimeError: index -1 is out of bounds for dimension 0 with size 5
    x = ember.arange(5.0, device=device)
    with pytest.raises(RuntimeError, match="index -1 is out of bounds for dimension 0 with size 5"):
        call(x, ember.tensor([-1], device=device))
        ember.cuda.synchronize()  # a GPU reports it late, as PyTorch's device-side asserts


@pytest.mark.parametrize("call", [
    lambda x, i: x.index_select(0, i),
    lambda x, i: x.index_add(0, i, ember.ones(1, device=x.device)),
], ids=["index_select", "index_add"])
def test_negative_index_in_index_select_and_add_is_out_of_range(call, device):
    # torch: IndexError: index out of range in self
    x = ember.arange(5.0, device=device)
    with pytest.raises(IndexError, match="index out of range in self"):
        call(x, ember.tensor([-1], device=device))
        ember.cuda.synchronize()  # a GPU reports it late, as PyTorch's device-side asserts
    with pytest.raises(IndexError, match="index out of range in self"):
        call(x, ember.tensor([5], device=device))
        ember.cuda.synchronize()


def test_index_fill_still_takes_negative_indices_as_pytorch():
    assert ember.zeros(3).index_fill(0, ember.tensor([-1]), 1.0).tolist() == [0.0, 0.0, 1.0]
