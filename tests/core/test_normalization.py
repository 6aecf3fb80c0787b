"""batch_norm / layer_norm / group_norm against numpy, with running statistics."""

import numpy as np
import pytest

import ember


def ref_norm(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (2, 3, 4, 5)])
def test_batch_norm_training_updates_running_stats(shape, device):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3 + 1
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = np.zeros(3), np.ones(3)
    running_mean, running_var = ember.tensor(rm, device=device), ember.tensor(rv, device=device)
    out = ember.batch_norm(ember.tensor(x, device=device), running_mean, running_var,
                           ember.tensor(w, device=device), ember.tensor(b, device=device),
                           training=True, momentum=0.2, eps=1e-5)
    axes = (0,) + tuple(range(2, len(shape)))
    cshape = (1, 3) + (1,) * (len(shape) - 2)
    ref = ref_norm(x, axes, 1e-5) * w.reshape(cshape) + b.reshape(cshape)
    np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-10, atol=1e-10)
    count = x.size // 3
    np.testing.assert_allclose(running_mean.cpu().numpy(), 0.8 * rm + 0.2 * x.mean(axis=axes))
    np.testing.assert_allclose(running_var.cpu().numpy(),
                               0.8 * rv + 0.2 * x.var(axis=axes) * count / (count - 1))


def test_batch_norm_eval_uses_running_stats(device):
    x = np.random.default_rng(1).standard_normal((4, 2, 3))
    rm, rv = np.array([0.5, -1.0]), np.array([2.0, 0.5])
    out = ember.batch_norm(ember.tensor(x, device=device), ember.tensor(rm, device=device),
                           ember.tensor(rv, device=device), training=False, eps=1e-3)
    ref = (x - rm.reshape(1, 2, 1)) / np.sqrt(rv.reshape(1, 2, 1) + 1e-3)
    np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-12)


def test_batch_norm_eval_with_weight_and_bias(device):
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((4, 2, 3)), rng.standard_normal(2), rng.standard_normal(2)
    rm = ember.tensor(np.array([0.5, -1.0]), device=device)
    rv = ember.tensor(np.array([2.0, 0.5]), device=device)
    out = ember.batch_norm(ember.tensor(x, device=device), rm, rv, ember.tensor(w, device=device),
                           ember.tensor(b, device=device), training=False, eps=1e-3)
    ref = ((x - np.array([0.5, -1.0]).reshape(1, 2, 1)) / np.sqrt(np.array([2.0, 0.5]) + 1e-3)
           .reshape(1, 2, 1) * w.reshape(1, 2, 1) + b.reshape(1, 2, 1))
    np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-12)
    _check_grads(lambda x, w, b: ember.batch_norm(x, rm, rv, w, b, training=False), x, w, b,
                 device=device)


def _check_grads(fn, *arrays, device):
    tensors = [ember.tensor(a, device=device, requires_grad=True) for a in arrays]
    ember.autograd.gradcheck(fn, tensors)
    ember.autograd.gradgradcheck(fn, tensors)


def test_batch_norm_gradients(device):
    rng = np.random.default_rng(2)

    def fn(x, w, b):
        return ember.batch_norm(x, None, None, w, b, training=True)

    _check_grads(fn, rng.standard_normal((3, 2, 2)), rng.standard_normal(2),
                 rng.standard_normal(2), device=device)


def _batch_norm_results(x, w, b, grad, device):
    x, w, b = (ember.tensor(a, device=device, requires_grad=True) for a in (x, w, b))
    y = ember.batch_norm(x, None, None, w, b, training=True)
    y.backward(ember.tensor(grad, device=device))
    return [t.detach().cpu().numpy().astype(np.float64) for t in (y, x.grad, w.grad, b.grad)]


def test_batch_norm_float32_stays_accurate_with_a_large_mean(device):
    # mean 250 standard deviations from 0: the centering must happen before any squaring
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((16, 4, 8, 8)) * 2 + 500).astype(np.float32)
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    grad = rng.standard_normal(x.shape)
    expected = _batch_norm_results(x.astype(np.float64), w, b, grad, device)
    got = _batch_norm_results(x, w.astype(np.float32), b.astype(np.float32),
                              grad.astype(np.float32), device)
    for ref, value in zip(expected, got):
        assert np.abs(value - ref).max() <= 1e-4 * np.abs(ref).max()


def test_batch_norm_of_a_batch_in_several_blocks(device):
    # 11 samples of 32 KB: the CPU works through them in blocks of 8 and 3
    rng = np.random.default_rng(10)
    x = rng.standard_normal((11, 4, 32, 32)) * 2 - 1
    w, b, grad = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(x.shape)
    axes, shape = (0, 2, 3), (1, 4, 1, 1)
    x_hat = ref_norm(x, axes, 1e-5)
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
    grad_x = w.reshape(shape) * inv_std * (grad - grad.mean(axis=axes, keepdims=True)
                                           - x_hat * (grad * x_hat).mean(axis=axes, keepdims=True))
    expected = [x_hat * w.reshape(shape) + b.reshape(shape), grad_x,
                (grad * x_hat).sum(axis=axes), grad.sum(axis=axes)]
    for ref, value in zip(expected, _batch_norm_results(x, w, b, grad, device)):
        np.testing.assert_allclose(value, ref, rtol=1e-10, atol=1e-10)


def test_batch_norm_of_channels_last_memory(device):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 3, 5, 6)) + 1
    w, b, grad = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(x.shape)
    channels_last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    for ref, value in zip(_batch_norm_results(x, w, b, grad, device),
                          _batch_norm_results(channels_last, w, b, grad, device)):
        np.testing.assert_allclose(value, ref, rtol=1e-12, atol=1e-12)


def test_batch_norm_gpu_layout_on_numpy_arrays(monkeypatch):
    """The GPU's layout (rows (N, C, S) and per-channel values (C, 1) broadcast, not repeated),
    taken here with numpy arrays, gives the CPU layout's results and running statistics."""
    from ember.ops import normalization

    rng = np.random.default_rng(12)
    x = rng.standard_normal((5, 3, 4, 6)) + 1
    w, b, grad = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(x.shape)

    def results():
        running = [ember.zeros(3, dtype=ember.float64), ember.ones(3, dtype=ember.float64)]
        xt, wt, bt = (ember.tensor(a, requires_grad=True) for a in (x, w, b))
        out = ember.nn.functional.batch_norm(xt, *running, wt, bt, training=True)
        out.backward(ember.tensor(grad))
        return [t.numpy() for t in (out.detach(), xt.grad, wt.grad, bt.grad, *running)]

    expected = results()
    monkeypatch.setattr(normalization, "np", None)  # every array module now takes the GPU's
    for ref, value in zip(expected, results()):
        np.testing.assert_allclose(value, ref, rtol=1e-12, atol=1e-12)


def test_layer_norm(device):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4))
    w, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    out = ember.layer_norm(ember.tensor(x, device=device), (3, 4),
                           ember.tensor(w, device=device), ember.tensor(b, device=device))
    np.testing.assert_allclose(out.cpu().numpy(), ref_norm(x, (1, 2), 1e-5) * w + b,
                               rtol=1e-10, atol=1e-10)
    _check_grads(lambda x, w, b: ember.layer_norm(x, 4, w, b), rng.standard_normal((2, 4)),
                 rng.standard_normal(4), rng.standard_normal(4), device=device)
    with pytest.raises(RuntimeError, match="normalized_shape"):
        ember.layer_norm(ember.zeros(2, 3), (4,))


def test_group_norm(device):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 6, 3))
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    out = ember.group_norm(ember.tensor(x, device=device), 3, ember.tensor(w, device=device),
                           ember.tensor(b, device=device))
    ref = ref_norm(x.reshape(2, 3, 6), (2,), 1e-5).reshape(2, 6, 3)
    ref = ref * w.reshape(1, 6, 1) + b.reshape(1, 6, 1)
    np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-10, atol=1e-10)
    _check_grads(lambda x, w, b: ember.group_norm(x, 2, w, b), rng.standard_normal((2, 4, 2)),
                 rng.standard_normal(4), rng.standard_normal(4), device=device)
    with pytest.raises(RuntimeError, match="divisible"):
        ember.group_norm(ember.zeros(2, 5, 3), 2)
