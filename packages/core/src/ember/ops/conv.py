"""2-D convolution by im2col + one matrix product, and its two adjoints.

Three primitives close under differentiation (so double backward works):
``conv2d(x, w)``, ``conv2d_input_grad(g, w)`` (the adjoint in x: transposed convolution) and
``conv2d_weight_grad(x, g)`` (the adjoint in w). Each is linear in both arguments and each
one's gradients are the other two. Groups are a batch dimension of the matrix product.
1-D convolutions and ConvTranspose2d are expressed through the same primitives.
"""

from __future__ import annotations

from ember.autograd.function import Function
from ember.backend import grouped_matmul
from ember.ops._windows import output_size, padded, pair, tap
from ember.ops.op import op, primitive
from ember.tensor.tensor import Tensor


def _im2col(xp, x, kernel, stride, padding, dilation, out_hw):
    """Columns (C, kh, kw, N, Ho, Wo): every kernel tap's view of the padded input."""
    n, c, h, w = x.shape
    kh, kw = kernel
    if kernel == (1, 1) and stride == (1, 1) and padding == (0, 0):
        return x.transpose(1, 0, 2, 3)[:, None, None]  # a 1x1 convolution reads x as it is
    channels_first = padded(xp, x, padding, (0, 0), 0).transpose(1, 0, 2, 3)
    cols = xp.empty((c, kh, kw, n) + tuple(out_hw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = tap(i, j, stride, dilation, out_hw)
            cols[:, i, j] = channels_first[:, :, rows, columns]
    return cols


def _col2im(xp, cols, x_shape, kernel, stride, padding, dilation):
    """The adjoint of ``_im2col``: sums every tap's columns back into an input-shaped array."""
    n, c, h, w = x_shape
    (kh, kw), (ph, pw) = kernel, padding
    out_hw = cols.shape[4:]
    total = xp.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = tap(i, j, stride, dilation, out_hw)
            total[:, :, rows, columns] += cols[:, i, j]
    return total[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)


def _conv_forward(xp, x, weight, geometry):
    """y (N, O, Ho, Wo) = W (G, O/G, Cg*kh*kw) @ cols (G, Cg*kh*kw, N*Ho*Wo); returns (y, cols).

    y is laid out (O, N, Ho, Wo) in memory: the next convolution's im2col reads it channels
    first without a copy, and numpy's elementwise ops in between keep that layout.
    """
    stride, padding, dilation, groups = geometry
    n, c, h, w = x.shape
    out_channels, _, kh, kw = weight.shape
    ho = output_size(h, kh, stride[0], padding[0], dilation[0])
    wo = output_size(w, kw, stride[1], padding[1], dilation[1])
    cols = _im2col(xp, x, (kh, kw), stride, padding, dilation, (ho, wo))
    cols = cols.reshape(groups, -1, n * ho * wo)
    out = grouped_matmul(weight.reshape(groups, out_channels // groups, -1), cols)
    return out.reshape(out_channels, n, ho, wo).transpose(1, 0, 2, 3), cols


_KEPT_COLUMNS = 1 << 25  # elements of im2col columns a conv keeps for backward (128 MB float32)


def _input_grad(xp, grad, weight, x_shape, geometry):
    """dL/dx of the convolution: W^T @ grad, folded back by col2im."""
    stride, padding, dilation, groups = geometry
    n, o, ho, wo = grad.shape
    _, cg, kh, kw = weight.shape
    g = grad.transpose(1, 0, 2, 3).reshape(groups, o // groups, n * ho * wo)
    w = weight.reshape(groups, o // groups, cg * kh * kw)
    cols = grouped_matmul(w.transpose(0, 2, 1), g).reshape(groups * cg, kh, kw, n, ho, wo)
    return _col2im(xp, cols, x_shape, (kh, kw), stride, padding, dilation)


def _weight_grad(xp, x, grad, w_shape, geometry, cols=None):
    """dL/dw of the convolution: grad @ cols^T (``cols`` from the forward, or rebuilt)."""
    stride, padding, dilation, groups = geometry
    n, o, ho, wo = grad.shape
    _, cg, kh, kw = w_shape
    if cols is None:
        cols = _im2col(xp, x, (kh, kw), stride, padding, dilation, (ho, wo))
    cols = cols.reshape(groups, cg * kh * kw, n * ho * wo)
    g = grad.transpose(1, 0, 2, 3).reshape(groups, o // groups, n * ho * wo)
    return grouped_matmul(g, cols.transpose(0, 2, 1)).reshape(w_shape)


@primitive("conv2d")
class Conv2d(Function):
    """Cross-correlation of x (N, C, H, W) with w (O, C/groups, kh, kw)."""

    @staticmethod
    def forward(ctx, x, weight, geometry):
        out, cols = _conv_forward(ctx.xp, x, weight, geometry)
        # Keeping the columns saves rebuilding them for the weight gradient, unless too large.
        ctx.save_for_backward(x, weight, cols if cols.size <= _KEPT_COLUMNS else None)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight, _ = ctx.saved_tensors
        geometry = ctx.attrs["geometry"]
        needs = ctx.needs_input_grad
        grad_x = ConvInputGrad.apply(grad, weight, x_shape=x.shape, geometry=geometry) \
            if needs[0] else None
        grad_w = ConvWeightGrad.apply(x, grad, w_shape=weight.shape, geometry=geometry) \
            if needs[1] else None
        return grad_x, grad_w

    @staticmethod
    def backward_arrays(ctx, grad):
        x, weight, cols = ctx.saved_arrays
        geometry = ctx.attrs["geometry"]
        needs = ctx.needs_input_grad
        xp = ctx.xp
        grad_x = _input_grad(xp, grad, weight, x.shape, geometry) if needs[0] else None
        grad_w = _weight_grad(xp, x, grad, weight.shape, geometry, cols) if needs[1] else None
        return grad_x, grad_w


@primitive("conv2d_input_grad")
class ConvInputGrad(Function):
    """The adjoint of conv2d in its input: a transposed convolution of g with w."""

    @staticmethod
    def forward(ctx, grad, weight, x_shape, geometry):
        ctx.save_for_backward(grad, weight)
        return _input_grad(ctx.xp, grad, weight, x_shape, geometry)

    @staticmethod
    def backward(ctx, grad_x):
        grad, weight = ctx.saved_tensors
        geometry = ctx.attrs["geometry"]
        needs = ctx.needs_input_grad
        d_grad = Conv2d.apply(grad_x, weight, geometry=geometry) if needs[0] else None
        d_weight = ConvWeightGrad.apply(grad_x, grad, w_shape=weight.shape, geometry=geometry) \
            if needs[1] else None
        return d_grad, d_weight


@primitive("conv2d_weight_grad")
class ConvWeightGrad(Function):
    """The adjoint of conv2d in its weight: correlation of x with g."""

    @staticmethod
    def forward(ctx, x, grad, w_shape, geometry):
        ctx.save_for_backward(x, grad)
        return _weight_grad(ctx.xp, x, grad, w_shape, geometry)

    @staticmethod
    def backward(ctx, grad_w):
        x, grad = ctx.saved_tensors
        geometry = ctx.attrs["geometry"]
        needs = ctx.needs_input_grad
        d_x = ConvInputGrad.apply(grad, grad_w, x_shape=x.shape, geometry=geometry) \
            if needs[0] else None
        d_grad = Conv2d.apply(x, grad_w, geometry=geometry) if needs[1] else None
        return d_x, d_grad


def _check(op_name, x: Tensor, weight: Tensor, dims: int, groups: int, transposed=False):
    if x.ndim not in (dims + 1, dims + 2):
        raise RuntimeError(
            f"{op_name}: expected {dims + 1}-D (unbatched) or {dims + 2}-D (batched) input, got "
            f"input of shape {tuple(x.shape)}"
        )
    if weight.ndim != dims + 2:
        raise RuntimeError(
            f"{op_name}: expected a {dims + 2}-D weight, got weight of shape {tuple(weight.shape)}"
        )
    channels = x.shape[-dims - 1]
    expected = weight.shape[0] if transposed else weight.shape[1] * groups
    if channels != expected:
        raise RuntimeError(
            f"{op_name}: input of shape {tuple(x.shape)} has {channels} channels but weight of "
            f"shape {tuple(weight.shape)} with groups={groups} expects {expected}"
        )
    count = weight.shape[1] * groups if transposed else weight.shape[0]
    if count % groups:
        raise RuntimeError(f"{op_name}: output channels {count} not divisible by groups={groups}")
    if x.data.dtype != weight.data.dtype:
        raise RuntimeError(
            f"{op_name}: input ({x.dtype}) and weight ({weight.dtype}) must have the same dtype"
        )


def _same_padding(kernel, dilation):
    """PyTorch's padding='same' for stride 1: total (d*(k-1)); odd totals need an extra pad."""
    pads = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        pads.append((total // 2, total - total // 2))
    return pads


def _add_bias(out: Tensor, bias, dims: int) -> Tensor:
    if bias is None:
        return out
    return out + bias.reshape((-1,) + (1,) * dims)


@op("conv2d")
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    Args:
        input: (N, C, H, W) or (C, H, W).
        weight: (O, C / groups, kh, kw).
        padding: int, pair, ``'valid'`` or ``'same'`` (stride 1 only).

    Example:
        >>> ember.conv2d(ember.ones(1, 1, 3, 3), ember.ones(1, 1, 2, 2)).shape
        (1, 1, 2, 2)
    """
    _check("conv2d", input, weight, 2, groups)
    unbatched = input.ndim == 3
    if unbatched:
        input = input.unsqueeze(0)
    stride = pair(stride, "stride", "conv2d")
    dilation = pair(dilation, "dilation", "conv2d")
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError("conv2d: padding='same' is not supported for strided "
                                 "convolutions")
            (top, bottom), (left, right) = _same_padding(weight.shape[2:], dilation)
            if top != bottom or left != right:
                input = _pad_extra(input, bottom - top, right - left)
            padding = (top, left)
        else:
            raise ValueError(f"conv2d: invalid padding string {padding!r}, expected 'valid' or "
                             "'same'")
    padding = pair(padding, "padding", "conv2d")
    h, w = input.shape[2] + 2 * padding[0], input.shape[3] + 2 * padding[1]
    if h < dilation[0] * (weight.shape[2] - 1) + 1 or w < dilation[1] * (weight.shape[3] - 1) + 1:
        raise RuntimeError(
            f"conv2d: calculated padded input size per channel: ({h} x {w}). Kernel size: "
            f"({weight.shape[2]} x {weight.shape[3]}). Kernel size can't be greater than actual "
            "input size"
        )
    out = Conv2d.apply(input, weight, geometry=(stride, padding, dilation, groups))
    out = _add_bias(out, bias, 2)
    return out.squeeze(0) if unbatched else out


def _pad_extra(input: Tensor, extra_h: int, extra_w: int) -> Tensor:
    """Zero rows/columns at the bottom/right: the odd part of 'same' padding."""
    from ember.tensor.registry import lookup

    return lookup("pad")(input, (0, extra_w, 0, extra_h))


@op("conv1d")
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation: input (N, C, L) or (C, L), weight (O, C / groups, k)."""
    _check("conv1d", input, weight, 1, groups)
    if not isinstance(padding, str):
        padding = (0, padding if isinstance(padding, int) else padding[0])
    stride = (1, stride if isinstance(stride, int) else stride[0])
    dilation = (1, dilation if isinstance(dilation, int) else dilation[0])
    out = conv2d(input.unsqueeze(-2), weight.unsqueeze(-2), None, stride, padding, dilation,
                 groups)
    return _add_bias(out.squeeze(-2), bias, 1)


@op("conv_transpose2d")
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 2-D convolution (the gradient of conv2d in its input).

    Args:
        input: (N, C_in, H, W).
        weight: (C_in, C_out / groups, kh, kw), as in PyTorch.
    """
    _check("conv_transpose2d", input, weight, 2, groups, transposed=True)
    unbatched = input.ndim == 3
    if unbatched:
        input = input.unsqueeze(0)
    stride = pair(stride, "stride", "conv_transpose2d")
    padding = pair(padding, "padding", "conv_transpose2d")
    output_padding = pair(output_padding, "output_padding", "conv_transpose2d")
    dilation = pair(dilation, "dilation", "conv_transpose2d")
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= s and op_ >= d:
            raise RuntimeError(
                "conv_transpose2d: output padding must be smaller than either stride or "
                f"dilation, got output_padding={output_padding}, stride={stride}, "
                f"dilation={dilation}"
            )
    n, _, h, w = input.shape
    c_out = weight.shape[1] * groups
    kh, kw = weight.shape[2], weight.shape[3]
    out_h = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    out_w = (w - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    out = ConvInputGrad.apply(input, weight, x_shape=(n, c_out, out_h, out_w),
                              geometry=(stride, padding, dilation, groups))
    out = _add_bias(out, bias, 2)
    return out.squeeze(0) if unbatched else out
