"""F.unfold / F.fold, nn.Unfold / nn.Fold and conv_transpose1d / nn.ConvTranspose1d against
loops over their definitions, with gradchecks."""

import numpy as np
import pytest
from module_harness import ModuleCase, check_module

import ember
import ember.nn.functional as F
from ember import nn
from harness import OpCase, check_op


def _blocks(size, kernel, stride, padding, dilation):
    return [(s + 2 * p - d * (k - 1) - 1) // st + 1
            for s, k, st, p, d in zip(size, kernel, stride, padding, dilation)]


def unfold_loop(x, kernel, dilation=(1, 1), padding=(0, 0), stride=(1, 1)):
    n, c, h, w = x.shape
    (kh, kw), (ph, pw) = kernel, padding
    bh, bw = _blocks((h, w), kernel, stride, padding, dilation)
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    padded[:, :, ph:ph + h, pw:pw + w] = x
    out = np.zeros((n, c * kh * kw, bh * bw))
    for ch, i, j, bi, bj in np.ndindex(c, kh, kw, bh, bw):
        row, col = bi * stride[0] + i * dilation[0], bj * stride[1] + j * dilation[1]
        out[:, (ch * kh + i) * kw + j, bi * bw + bj] = padded[:, ch, row, col]
    return out


def fold_loop(cols, size, kernel, dilation=(1, 1), padding=(0, 0), stride=(1, 1)):
    n, rows, _ = cols.shape
    (kh, kw), (ph, pw) = kernel, padding
    c = rows // (kh * kw)
    bh, bw = _blocks(size, kernel, stride, padding, dilation)
    out = np.zeros((n, c, size[0] + 2 * ph, size[1] + 2 * pw))
    for ch, i, j, bi, bj in np.ndindex(c, kh, kw, bh, bw):
        row, col = bi * stride[0] + i * dilation[0], bj * stride[1] + j * dilation[1]
        out[:, ch, row, col] += cols[:, (ch * kh + i) * kw + j, bi * bw + bj]
    return out[:, :, ph:ph + size[0], pw:pw + size[1]]


def conv_transpose1d_loop(x, w, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    n, c_in, length = x.shape
    per_group_out, k = w.shape[1], w.shape[2]
    full = (length - 1) * stride + dilation * (k - 1) + 1 + output_padding
    out = np.zeros((n, per_group_out * groups, full))
    per_group_in = c_in // groups
    for ci, i, o, t in np.ndindex(c_in, length, per_group_out, k):
        g = ci // per_group_in
        out[:, g * per_group_out + o, i * stride + t * dilation] += x[:, ci, i] * w[ci, o, t]
    return out[:, :, padding:full - padding]


UNFOLD = dict(kernel_size=(2, 3), dilation=(1, 2), padding=(1, 0), stride=(2, 1))
GEOMETRY = ((2, 3), (1, 2), (1, 0), (2, 1))


CASES = [
    OpCase("unfold", fn=lambda x: F.unfold(x, **UNFOLD), shapes=[(2, 2, 4, 6)],
           ref=lambda x: unfold_loop(x, *GEOMETRY), id="unfold"),
    OpCase("unfold", fn=lambda x: F.unfold(x, 2), shapes=[(2, 3, 3)],
           ref=lambda x: unfold_loop(x[None], (2, 2))[0], id="unfold-unbatched"),
    OpCase("fold", fn=lambda x: F.fold(x, (4, 6), **UNFOLD), shapes=[(2, 12, 6)],
           ref=lambda x: fold_loop(x, (4, 6), *GEOMETRY), id="fold"),
    OpCase("fold", fn=lambda x: F.fold(x, (5, 4), kernel_size=2, stride=2), shapes=[(4, 4)],
           ref=lambda x: fold_loop(x[None], (5, 4), (2, 2), stride=(2, 2))[0],
           id="fold-unbatched-uncovered-row"),
    OpCase("conv_transpose1d", fn=lambda x, w: ember.conv_transpose1d(
               x, w, stride=3, padding=1, output_padding=1, groups=2, dilation=2),
           arity=2, shapes=[((2, 4, 3), (4, 1, 2))],
           ref=lambda x, w: conv_transpose1d_loop(x, w, 3, 1, 1, 2, 2), id="conv_transpose1d"),
    OpCase("conv_transpose1d", fn=lambda x, w: ember.conv_transpose1d(x, w),
           arity=2, shapes=[((3, 4), (3, 2, 3))],
           ref=lambda x, w: conv_transpose1d_loop(x[None], w)[0], id="conv_transpose1d-unbatched"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_ops(case, device):
    check_op(case, device)


def test_fold_is_the_adjoint_of_unfold():
    rng = np.random.default_rng(1)
    x, cols = rng.normal(size=(2, 3, 5, 7)), rng.normal(size=(2, 3 * 6, 2 * 7))
    args = dict(kernel_size=(2, 3), stride=(2, 1), padding=(0, 1))
    left = (F.unfold(ember.tensor(x), **args).numpy() * cols).sum()
    right = (x * F.fold(ember.tensor(cols), (5, 7), **args).numpy()).sum()
    assert abs(left - right) < 1e-10


MODULES = [
    ModuleCase("Unfold", lambda: nn.Unfold(kernel_size=2, padding=1), shapes=[(1, 2, 2, 3)],
               output_shape=(1, 8, 12)),
    ModuleCase("Fold", lambda: nn.Fold(output_size=(3, 3), kernel_size=2), shapes=[(1, 8, 4)],
               output_shape=(1, 2, 3, 3)),
    ModuleCase("ConvTranspose1d", lambda: nn.ConvTranspose1d(4, 2, 3, stride=2, groups=2),
               shapes=[(2, 4, 3)], output_shape=(2, 2, 7)),
]


@pytest.mark.parametrize("case", MODULES, ids=str)
def test_modules(case, device):
    check_module(case, device)


def test_conv_transpose1d_module_output_size_and_weight_shape():
    layer = nn.ConvTranspose1d(3, 6, 4, stride=3, padding=1, bias=False)
    assert tuple(layer.weight.shape) == (3, 6, 4)
    assert layer(ember.zeros(1, 3, 5)).shape == (1, 6, 14)
    assert layer(ember.zeros(1, 3, 5), output_size=[16]).shape == (1, 6, 16)
    with pytest.raises(ValueError, match="ConvTranspose1d: requested an output size"):
        layer(ember.zeros(1, 3, 5), output_size=[17])
    with pytest.raises(ValueError, match="zeros"):
        nn.ConvTranspose1d(3, 6, 4, padding_mode="reflect")
    x = np.random.default_rng(0).normal(size=(1, 3, 5))
    np.testing.assert_allclose(
        layer.double()(ember.tensor(x)).detach().numpy(),
        conv_transpose1d_loop(x, layer.weight.detach().numpy(), 3, 1), atol=1e-12)


@pytest.mark.parametrize("call,words", [
    (lambda: F.unfold(ember.zeros(2, 3), 2), "unfold: Input Error: Only 3D or 4D"),
    (lambda: F.unfold(ember.zeros(1, 1, 3, 3), 0), "kernel_size must be greater than zero"),
    (lambda: F.unfold(ember.zeros(1, 1, 3, 3), 2, stride=0), "stride must be greater than zero"),
    (lambda: F.fold(ember.zeros(1, 5, 4), (3, 3), 2), "divisible by the product of kernel_size"),
    (lambda: F.fold(ember.zeros(1, 4, 5), (3, 3), 2), "sliding blocks 2 * 2 = 4"),
    (lambda: F.fold(ember.zeros(4), (3, 3), 2), "fold: Input Error"),
    (lambda: ember.conv_transpose1d(ember.zeros(1, 3, 4), ember.zeros(2, 1, 2)),
     "conv_transpose1d: input of shape (1, 3, 4) has 3 channels"),
    (lambda: ember.conv_transpose1d(ember.zeros(1, 3, 4), ember.zeros(3, 1, 2), stride=0),
     "conv_transpose1d: stride must be greater than zero"),
])
def test_errors_name_the_op(call, words):
    with pytest.raises(RuntimeError) as info:
        call()
    assert words in str(info.value)
