"""Gradient clipping over many gradients: every ``foreach`` setting against numpy, small and large
gradients of two dtypes, the norms PyTorch accepts, and (on a GPU) no host synchronisation."""

import math

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.utils import clip_grad_norm_, clip_grad_value_

# Small gradients are concatenated for the norm, large ones (over 4096 elements) reduced alone.
SHAPES = [(3, 2), (4,), (), (0,), (70, 70), (5000,)]


def params_with_grads(device, scale=1.0, dtypes=(np.float32, np.float64)):
    rng = np.random.default_rng(0)
    params, grads = [], []
    for number, shape in enumerate(SHAPES):
        dtype = dtypes[number % len(dtypes)]
        grad = np.asarray(rng.standard_normal(shape) * scale, dtype=dtype)
        params.append(nn.Parameter(ember.tensor(np.zeros(shape, dtype), device=device)))
        params[-1].grad = ember.tensor(grad, device=device)
        grads.append(grad)
    return params, grads


def ref_norm(grads, norm_type):
    flat = np.abs(np.concatenate([g.astype(np.float64).ravel() for g in grads]))
    if norm_type == math.inf:
        return flat.max()
    if norm_type == -math.inf:
        return flat.min()
    if norm_type == 0:
        return float(np.count_nonzero(flat))
    return (flat**norm_type).sum() ** (1 / norm_type)


@pytest.mark.parametrize("foreach", [None, True, False])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf, -math.inf, 0.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_every_foreach_matches_numpy(foreach, norm_type, max_norm, device):
    params, grads = params_with_grads(device)
    total = clip_grad_norm_(params, max_norm, norm_type=norm_type, foreach=foreach)
    expected = ref_norm(grads, norm_type)
    assert total.dim() == 0 and total.dtype is ember.float32 and total.device == params[0].device
    np.testing.assert_allclose(total.item(), expected, rtol=1e-5)
    coefficient = min(max_norm / (total.item() + 1e-6), 1.0)
    for p, g in zip(params, grads):
        got = p.grad.cpu().numpy()
        assert got.dtype == g.dtype
        np.testing.assert_allclose(got, g * coefficient, rtol=2e-6, atol=1e-12)


def test_clip_grad_norm_bumps_versions_and_foreach_paths_agree_bit_for_bit():
    results = []
    for foreach in (None, False):
        params, _ = params_with_grads("cpu", scale=3.0)
        clip_grad_norm_(params, 0.5, foreach=foreach)
        assert all(p.grad._version == [1] for p in params)  # modified in place, once
        results.append([p.grad.numpy().copy() for p in params])
    for concatenated, one_by_one in zip(*results):
        np.testing.assert_allclose(concatenated, one_by_one, rtol=1e-6)


def test_clip_grad_norm_not_clipping_leaves_grads_untouched():
    params, grads = params_with_grads("cpu")
    clip_grad_norm_(params, 1e9)
    for p, g in zip(params, grads):
        np.testing.assert_array_equal(p.grad.numpy(), g)


@pytest.mark.parametrize("foreach", [None, False])
def test_clip_grad_value_every_foreach(foreach, device):
    params, grads = params_with_grads(device, scale=3.0)
    params[0].grad = ember.tensor(np.array([[np.nan, 9.0], [-9.0, 0.5], [1.0, -2.0]], np.float32),
                                  device=device)
    grads[0] = params[0].grad.cpu().numpy().copy()
    clip_grad_value_(params, 1.5, foreach=foreach)
    for p, g in zip(params, grads):
        np.testing.assert_array_equal(p.grad.cpu().numpy(), np.clip(g, -1.5, 1.5))


def test_error_if_nonfinite_names_the_norm():
    params, _ = params_with_grads("cpu")
    params[1].grad = ember.tensor([np.inf, 1.0, 2.0, 3.0], dtype=ember.float64)
    with pytest.raises(RuntimeError, match="total norm of order 2.0.*non-finite"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)


@pytest.mark.cuda
def test_cuda_training_step_does_not_synchronise():
    """An Adam step and grad clipping on the GPU never copy a value to the host."""
    if not ember.cuda.is_available():
        pytest.skip("no CUDA GPU")
    import cupyx

    cuda = ember.device("cuda")
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2)).to(cuda)
    for optimizer in (ember.optim.Adam(model.parameters(), lr=1e-2),
                      ember.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)):
        for step in range(3):
            loss = model(ember.randn(8, 4, device=cuda)).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            with cupyx.allow_synchronize(False):
                nn.utils.clip_grad_norm_(model.parameters(), 0.1)
                nn.utils.clip_grad_value_(model.parameters(), 0.05)
                if step:  # the first step of Adam creates its state through the flat path
                    optimizer.step()
            if not step:
                optimizer.step()
