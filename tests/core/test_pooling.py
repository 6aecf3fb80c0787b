"""Pooling against direct loops, with PyTorch's padding, ceil_mode and divisor rules."""

import itertools

import numpy as np
import pytest

import ember


def windows(h, kernel, stride, padding, out, dilation=1):
    return [(i * stride - padding, i * stride - padding + dilation * (kernel - 1) + 1)
            for i in range(out)]


def ref_max_pool(x, k, s, p, d, out_hw):
    n, c, h, w = x.shape
    out = np.empty((n, c) + out_hw)
    idx = np.empty((n, c) + out_hw, dtype=np.int64)
    for i, j in itertools.product(range(out_hw[0]), range(out_hw[1])):
        best = np.full((n, c), -np.inf)
        where = np.zeros((n, c), dtype=np.int64)
        for a, b in itertools.product(range(k[0]), range(k[1])):
            r, q = i * s[0] - p[0] + a * d[0], j * s[1] - p[1] + b * d[1]
            if 0 <= r < h and 0 <= q < w:
                v = x[:, :, r, q]
                better = v > best
                best = np.where(better, v, best)
                where = np.where(better, r * w + q, where)
        out[:, :, i, j], idx[:, :, i, j] = best, where
    return out, idx


def ref_avg_pool(x, k, s, p, out_hw, count_include_pad, divisor_override=None):
    n, c, h, w = x.shape
    out = np.empty((n, c) + out_hw)
    for i, j in itertools.product(range(out_hw[0]), range(out_hw[1])):
        r0, q0 = i * s[0] - p[0], j * s[1] - p[1]
        r1, q1 = min(r0 + k[0], h + p[0]), min(q0 + k[1], w + p[1])
        pool_size = (r1 - r0) * (q1 - q0)
        rr0, qq0, rr1, qq1 = max(r0, 0), max(q0, 0), min(r1, h), min(q1, w)
        total = x[:, :, rr0:rr1, qq0:qq1].sum(axis=(2, 3))
        divisor = divisor_override or (pool_size if count_include_pad
                                       else (rr1 - rr0) * (qq1 - qq0))
        out[:, :, i, j] = total / divisor
    return out


MAX_CASES = [
    dict(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False, out=(3, 3)),
    dict(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False, out=(4, 4)),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), dilation=1, ceil_mode=True,
         out=(8, 4)),
    dict(kernel_size=2, stride=1, padding=0, dilation=2, ceil_mode=False, out=(5, 5)),
    dict(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=True, out=(4, 4)),
]


@pytest.mark.parametrize("case", MAX_CASES, ids=str)
def test_max_pool2d_values_indices_and_gradients(case, device):
    case = dict(case)
    out_hw = case.pop("out")
    rng = np.random.default_rng(0)
    x = rng.permutation(2 * 3 * 7 * 7).reshape(2, 3, 7, 7).astype(np.float64)  # no ties
    values, indices = ember.max_pool2d(ember.tensor(x, device=device), return_indices=True,
                                       **case)
    k = ember.ops._windows.pair(case["kernel_size"], "", "")
    s = ember.ops._windows.pair(case["stride"], "", "")
    p = ember.ops._windows.pair(case["padding"], "", "")
    d = ember.ops._windows.pair(case["dilation"], "", "")
    ref_values, ref_indices = ref_max_pool(x, k, s, p, d, out_hw)
    np.testing.assert_array_equal(values.cpu().numpy(), ref_values)
    np.testing.assert_array_equal(indices.cpu().numpy(), ref_indices)
    assert indices.dtype == ember.int64 and not indices.requires_grad
    xt = ember.tensor(x[:1, :2] / 10, device=device, requires_grad=True)
    fn = lambda t: ember.max_pool2d(t, **case)  # noqa: E731
    ember.autograd.gradcheck(fn, (xt,))
    ember.autograd.gradgradcheck(fn, (xt,))


def test_max_pool_overlapping_windows_accumulate_gradient():
    x = ember.tensor([[[[0.0, 5.0, 0.0, 0.0]]]], requires_grad=True)
    ember.max_pool2d(x, (1, 2), stride=1).sum().backward()  # 5 is the max of two windows
    # the last window (0, 0) ties: the first position wins, as in PyTorch
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0.0, 2.0, 1.0, 0.0]]]])


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("kernel, stride, padding, ceil_mode",
                         [(2, 2, 0, False), (3, 2, 1, False), ((3, 2), (2, 1), (1, 1), True),
                          (3, 3, 1, True)])
def test_avg_pool2d(kernel, stride, padding, ceil_mode, count_include_pad, device):
    x = np.random.default_rng(1).standard_normal((2, 2, 7, 6))
    got = ember.avg_pool2d(ember.tensor(x, device=device), kernel, stride, padding, ceil_mode,
                           count_include_pad)
    pair = ember.ops._windows.pair
    k, s, p = pair(kernel, "", ""), pair(stride, "", ""), pair(padding, "", "")
    ref = ref_avg_pool(x, k, s, p, tuple(got.shape[2:]), count_include_pad)
    np.testing.assert_allclose(got.cpu().numpy(), ref, rtol=1e-12)
    xt = ember.tensor(x[:1, :1], device=device, requires_grad=True)
    fn = lambda t: ember.avg_pool2d(t, kernel, stride, padding, ceil_mode,  # noqa: E731
                                    count_include_pad)
    ember.autograd.gradcheck(fn, (xt,))
    ember.autograd.gradgradcheck(fn, (xt,))


def test_avg_pool_divisor_override():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    got = ember.avg_pool2d(ember.tensor(x), 2, divisor_override=3).numpy()
    np.testing.assert_allclose(got, ref_avg_pool(x, (2, 2), (2, 2), (0, 0), (2, 2), True, 3))


@pytest.mark.parametrize("size, out", [((6, 6), (1, 1)), ((7, 5), (3, 2)), ((5, 7), (5, 7)),
                                       ((6, 4), (None, 3))])
def test_adaptive_pools(size, out, device):
    x = np.random.default_rng(2).standard_normal((2, 3) + size)
    oh, ow = (size[0] if out[0] is None else out[0]), out[1]
    bins = lambda n, o: [((i * n) // o, -(-((i + 1) * n) // o)) for i in range(o)]  # noqa: E731
    ref_avg = np.empty((2, 3, oh, ow))
    ref_max = np.empty((2, 3, oh, ow))
    for i, (a, b) in enumerate(bins(size[0], oh)):
        for j, (c, d) in enumerate(bins(size[1], ow)):
            ref_avg[:, :, i, j] = x[:, :, a:b, c:d].mean(axis=(2, 3))
            ref_max[:, :, i, j] = x[:, :, a:b, c:d].max(axis=(2, 3))
    xt = ember.tensor(x, device=device, requires_grad=True)
    np.testing.assert_allclose(ember.adaptive_avg_pool2d(xt, out).detach().cpu().numpy(),
                               ref_avg, rtol=1e-12)
    np.testing.assert_allclose(ember.adaptive_max_pool2d(xt, out).detach().cpu().numpy(),
                               ref_max, rtol=1e-12)
    small = ember.tensor(x[:1, :1], device=device, requires_grad=True)
    for fn in (lambda t: ember.adaptive_avg_pool2d(t, out),
               lambda t: ember.adaptive_max_pool2d(t, out)):
        ember.autograd.gradcheck(fn, (small,))
        ember.autograd.gradgradcheck(fn, (small,))


def test_pool1d_and_errors(device):
    x = np.random.default_rng(3).standard_normal((2, 3, 9))
    got = ember.max_pool1d(ember.tensor(x, device=device), 3, 2)
    ref = np.stack([x[:, :, i:i + 3].max(axis=2) for i in range(0, 7, 2)], axis=2)
    np.testing.assert_allclose(got.cpu().numpy(), ref)
    got = ember.avg_pool1d(ember.tensor(x, device=device), 2)
    np.testing.assert_allclose(got.cpu().numpy(), (x[:, :, 0:8:2] + x[:, :, 1:9:2]) / 2)
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        ember.max_pool2d(ember.zeros(1, 1, 4, 4), 2, padding=2)
    with pytest.raises(RuntimeError, match="expected 3-D"):
        ember.max_pool2d(ember.zeros(4, 4), 2)


@pytest.mark.parametrize("channels_first", [False, True])
def test_max_pool_ties_and_nan_route_the_gradient_to_the_first_maximum(channels_first,
                                                                         device):
    # windows (2x2, stride 2): all-zero ties (as after a ReLU), a tie at 3, a NaN, plain
    x = np.array([[0.0, 0.0, 3.0, 1.0],
                  [0.0, 0.0, 2.0, 3.0],
                  [1.0, np.nan, 4.0, 5.0],
                  [np.nan, 0.0, 6.0, 2.0]]).reshape(1, 1, 4, 4).repeat(2, axis=1)
    if channels_first:
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    t = ember.tensor(x, device=device, requires_grad=True)
    values, indices = ember.max_pool2d(t, 2, return_indices=True)
    np.testing.assert_array_equal(values.detach().cpu().numpy()[0, 0], [[0.0, 3.0], [np.nan, 6.0]])
    np.testing.assert_array_equal(indices.cpu().numpy()[0, 0], [[0, 2], [9, 14]])
    values.backward(ember.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
                                 .repeat(2, axis=1), device=device))
    expected = np.zeros((4, 4))
    expected[0, 0], expected[0, 2], expected[2, 1], expected[3, 2] = 1, 2, 3, 4
    np.testing.assert_array_equal(t.grad.cpu().numpy()[0, 0], expected)
    np.testing.assert_array_equal(t.grad.cpu().numpy()[0, 1], expected)


@pytest.mark.parametrize("kernel, stride", [(2, 2), ((2, 3), (2, 3)), (2, 3)])
def test_max_pool_gradient_of_tiling_and_gapped_windows(kernel, stride, device):
    # (2, 2) and (2, 3) windows tile the 6x6 input (every position written by exactly one
    # tap); stride 3 > kernel 2 leaves positions in no window, which must get 0
    rng = np.random.default_rng(5)
    x = rng.permutation(2 * 3 * 6 * 6).reshape(2, 3, 6, 6).astype(np.float32)
    t = ember.tensor(x, device=device, requires_grad=True)
    values, indices = ember.max_pool2d(t, kernel, stride, return_indices=True)
    grad = rng.standard_normal(values.shape).astype(np.float32)
    values.backward(ember.tensor(grad, device=device))
    expected = np.zeros((2, 3, 36), np.float32)
    np.put_along_axis(expected, indices.cpu().numpy().reshape(2, 3, -1), grad.reshape(2, 3, -1),
                      axis=2)
    np.testing.assert_array_equal(t.grad.cpu().numpy(), expected.reshape(x.shape))


def test_max_pool_gradient_keeps_infinite_and_nan_gradients_where_they_belong(device):
    x = ember.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], device=device, requires_grad=True)
    ember.max_pool2d(x, 2).backward(ember.tensor([[[[np.inf]]]], device=device))
    np.testing.assert_array_equal(x.grad.cpu().numpy()[0, 0], [[0.0, 0.0], [0.0, np.inf]])


@pytest.mark.parametrize("channels_first", [False, True])
@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (2, 3, 1), (3, 2, 1)])
def test_max_pool_over_several_sample_blocks(kernel, stride, padding, channels_first):
    # 24 samples of 51 KB: the CPU pools them in blocks of _BLOCK_BYTES (the last one shorter);
    # a NaN in a later block only, ties in another
    rng = np.random.default_rng(7)
    x = rng.permutation(24 * 4 * 40 * 40).reshape(24, 4, 40, 40).astype(np.float64)
    x[17, 2, 5, 6] = np.nan
    x[21, 1, :4, :4] = 0.0
    assert x[:1].nbytes * 2 < ember.ops.pooling._BLOCK_BYTES < x.nbytes
    if channels_first:
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    t = ember.tensor(x, requires_grad=True)
    values, indices = ember.max_pool2d(t, kernel, stride, padding, return_indices=True)
    k, s, p = (kernel, kernel), (stride, stride), (padding, padding)
    ref_values, ref_indices = ref_max_pool(np.nan_to_num(x, nan=np.inf), k, s, p, (1, 1),
                                           tuple(values.shape[2:]))
    ref_values[np.isinf(ref_values)] = np.nan  # the NaN's window (no other inf in x)
    np.testing.assert_array_equal(values.detach().numpy(), ref_values)
    np.testing.assert_array_equal(indices.numpy(), ref_indices)
    grad = rng.standard_normal(values.shape)
    values.backward(ember.tensor(grad))
    expected = np.zeros((24, 4, 1600))
    np.add.at(expected, (np.arange(24)[:, None, None], np.arange(4)[None, :, None],
                         ref_indices.reshape(24, 4, -1)), grad.reshape(24, 4, -1))
    np.testing.assert_array_equal(t.grad.numpy(), expected.reshape(x.shape))
