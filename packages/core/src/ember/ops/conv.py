"""2-D convolution by im2col + matrix products, and its two adjoints.

Three primitives close under differentiation (so double backward works):
``conv2d(x, w[, b])``, ``conv2d_input_grad(g, w)`` (the adjoint in x: transposed convolution) and
``conv2d_weight_grad(x, g)`` (the adjoint in w). Each is linear in both arguments and each
one's gradients are the other two. Groups are a batch dimension of the matrix product.
1-D convolutions and ConvTranspose2d are expressed through the same primitives.

On the CPU the batch is processed a few images at a time, so that one chunk's columns stay in
cache between being written and being multiplied (memory bandwidth, not arithmetic, bounds a
whole-batch im2col). Three column layouts, chosen by measurement on ResNet-20 and LeNet-5
(``ops/_conv_columns.py`` plans them):

- row-flat by kernel rows (stride 1, few output channels: the product is then cheap next to
  building its columns; and 1x1 kernels): the padded input is one flat row per channel, one
  shifted copy of it per kernel column, and each kernel row's columns are that copy's view
  shifted by whole padded rows; one product per kernel row, over every padded position, the
  results at padding positions discarded;
- batch innermost by kernel rows (other stride-1 convolutions): each chunk is padded into
  (C, Hp, Wp, images) and copied once per kernel column, every row cut to the output's width;
  kernel row i's columns are that copy's view from padded row i on: one product per kernel
  row, summed, over exactly the output positions;
- strided: every tap's window is one axis of a strided view of the padded input.

The input gradient of a stride-1 convolution is a stride-1 convolution too (of the output
gradient with the flipped kernel), which replaces the scatter-add of col2im by the same copies;
where that convolution would have far fewer outputs than inputs, banded products over a few
input columns at a time take its place. Those, 1x1 kernels with a stride and col2im for other
strided layers are in ``ops/_conv_input_grads.py``.

A single input channel at stride 1 on small images (LeNet-5's first layer) takes full tap
columns image by image instead (``ops/_conv_single_channel.py``): with K = kh * kw in one product
they are not thin.

All of this is for the CPU's caches. On a GPU (cupy arrays) ``ops/_conv_whole_batch.py`` takes
every entry point instead: one im2col kernel over the whole batch and one cuBLAS product each,
since there the count of kernel launches, not the cache, bounds a step.
"""

from __future__ import annotations

import math

import numpy as np

from ember.autograd.function import Function
from ember.backend import grouped_matmul
from ember.ops._conv_columns import ColumnPlan
from ember.ops._conv_input_grads import scattered_input_grad
from ember.ops._conv_single_channel import (
    single_channel_fits,
    single_channel_forward,
    single_channel_weight_grad,
)
from ember.ops._conv_whole_batch import (
    whole_batch_both_grads,
    whole_batch_forward,
    whole_batch_input_grad,
    whole_batch_weight_grad,
)
from ember.ops._windows import pair
from ember.ops.op import op, primitive
from ember.ops.reduction import Sum
from ember.tensor.tensor import Tensor


def _conv_forward(xp, x, weight, geometry, bias=None, each_chunk=None):
    """y (N, O, Ho, Wo) from columns (G, Cg*kh*kw, ...) and W (G, O/G, Cg*kh*kw), chunk by chunk,
    plus ``bias`` (O,) when given.

    Each chunk's product is taken transposed, columns^T @ W^T (images*rows*width, O/G), one per
    kernel row at stride 1, summed: BLAS runs a tall product with the few output channels as
    its short side faster than the flat one with them as its rows (ResNet-20's 3x3 layers
    8-13%; its 32- and 64-channel layers by kernel rows 2-5%, LeNet-5's second conv within
    noise). Row-flat columns by kernel rows are the exception: W @ columns, whose (O/G,
    positions) rows copy into the result in runs of Wo (ResNet-20's 16-channel layers forward
    3.8 -> 3.4 ms, measured). The chunks are written through a transposed view into a contiguous
    (N, O, Ho, Wo) result, as PyTorch's: programs flatten conv outputs with ``view``
    (``x.view(-1, 320)``), which another layout would refuse. The bias is added to each chunk
    of the result as it is written (``_write``), not by a separate op.
    ``each_chunk(first, end, parts)``, when given, also sees every chunk's column matrices.
    """
    if xp is not np:  # a GPU: the whole batch in a few launches (ops/_conv_whole_batch.py)
        return whole_batch_forward(xp, x, weight, geometry, bias)
    if each_chunk is None and single_channel_fits(x.shape, weight.shape, geometry):
        return single_channel_forward(xp, x, weight, geometry, bias)
    plan = ColumnPlan(xp, x.shape, weight.shape, geometry)
    source = plan.source(xp, x)
    groups, per_group = plan.groups, plan.o // plan.groups
    rows_first = plan.flat and plan.parts > 1  # W @ columns, see above
    w_parts = plan.weight_parts(xp, weight)
    if rows_first:
        w_parts = xp.ascontiguousarray(w_parts.transpose(0, 1, 3, 2))
    cols_scratch = plan.columns_scratch(xp, x.dtype)
    product_scratch = plan.scratch(xp, "conv.product", plan.o, x.dtype)
    partial_scratch = plan.scratch(xp, "conv.partial", plan.o, x.dtype) if plan.parts > 1 \
        else None
    out = xp.empty((plan.n, plan.o, plan.ho, plan.wo), dtype=x.dtype)
    by_group = out.reshape(plan.n, groups, per_group, plan.ho, plan.wo)
    bias = None if bias is None else bias.reshape(groups, per_group, 1, 1)
    for first, end in plan.chunks():
        parts = [plan.grouped(cols) for cols in plan.columns(xp, source, first, end, cols_scratch)]
        positions = parts[0].shape[2]
        shape = (groups, per_group, positions) if rows_first else (groups, positions, per_group)
        product = product_scratch[:plan.o * positions].reshape(shape)
        partial = None if partial_scratch is None else partial_scratch[:product.size].reshape(
            shape)
        if rows_first:
            _sum_of_products(w_parts, parts, product, partial)
            _write(xp, by_group[first:end], plan.kept(product[..., None], end - first)[
                ..., 0].transpose(2, 0, 1, 3, 4), bias)
        else:
            _sum_of_products([cols.transpose(0, 2, 1) for cols in parts], w_parts, product,
                             partial)
            _write(xp, by_group[first:end], plan.kept(product, end - first).transpose(
                1, 0, 4, 2, 3), bias)
        if each_chunk is not None:
            each_chunk(first, end, parts)
    return out


def _write(xp, out, values, bias):
    """out[...] = values (+ bias, broadcast).

    The bias is added to the contiguous result after the copy, while it is in cache: numpy's
    ``add`` reading the transposed ``values`` runs at half the copy's speed (LeNet-5's first
    layer: 0.49 against 0.23 ms). LeNet-5's train step, four runs: 0.17-0.43 ms faster this way
    than with a separate bias op; ``add(values, bias, out=out)`` varied from 0.05 slower to 0.58
    faster."""
    out[...] = values
    if bias is not None:
        xp.add(out, bias, out=out)


def _sum_of_products(lefts, rights, out, partial):
    """The sum of ``grouped_matmul(lefts[i], rights[i])`` over i, in ``out``; ``partial`` holds
    each further product."""
    grouped_matmul(lefts[0], rights[0], out)
    for left, right in zip(lefts[1:], rights[1:]):
        out += grouped_matmul(left, right, partial)
    return out


def _weight_grad(xp, x, grad, w_shape, geometry):
    """dL/dw of the convolution: the sum over chunks of (columns @ grad^T)^T (this orientation
    of the product is BLAS's faster one, as in ``_conv_forward``: 1.3-1.7x at ResNet sizes).

    The columns are rebuilt rather than kept from the forward: rebuilding a chunk in cache is
    cheaper than writing the whole batch's columns out to memory and reading them back.
    """
    if xp is not np:
        return whole_batch_weight_grad(xp, x, grad, w_shape, geometry)
    if single_channel_fits(x.shape, w_shape, geometry):
        return single_channel_weight_grad(xp, x, grad, w_shape, geometry)
    plan = ColumnPlan(xp, x.shape, w_shape, geometry)
    source = plan.source(xp, x)
    total = xp.zeros((plan.parts, plan.groups, math.prod(w_shape[1:]) // plan.parts,
                      plan.o // plan.groups), grad.dtype)  # dL/dw^T, split as the columns
    partial = xp.empty_like(total[0])
    cols_scratch = plan.columns_scratch(xp, x.dtype)
    grad_scratch = plan.scratch(xp, "conv.grad_columns", plan.o, grad.dtype)
    for first, end in plan.chunks():
        g = plan.grad_columns(xp, grad, first, end, grad_scratch)
        for part, cols in zip(total, plan.columns(xp, source, first, end, cols_scratch)):
            part += grouped_matmul(plan.grouped(cols), g, partial)
    return plan.weight_from_parts(xp, total, w_shape)


def _flipped(weight, groups: int):
    """The kernel of the adjoint stride-1 convolution: in/out channels swapped, taps reversed.

    Its own inverse: ``_flipped(_flipped(w, g), g)`` is ``w``.
    """
    o, cg, kh, kw = weight.shape
    swapped = weight.reshape(groups, o // groups, cg, kh, kw).transpose(0, 2, 1, 3, 4)
    return swapped.reshape(groups * cg, o // groups, kh, kw)[:, :, ::-1, ::-1]


def _adjoint_geometry(w_shape, geometry):
    """The geometry of the stride-1 convolution of the output gradient with ``_flipped(w)``
    that gives the input gradient, or None where col2im is the better (or only) adjoint."""
    stride, padding, dilation, groups = geometry
    o, cg, kh, kw = w_shape
    full = (dilation[0] * (kh - 1) - padding[0], dilation[1] * (kw - 1) - padding[1])
    # The flipped convolution is the faster adjoint unless it has far fewer output channels
    # (rows of its matrix product) than inputs: then banded products (stride 1) or W^T @ grad
    # and col2im are.
    if stride == (1, 1) and min(full) >= 0 and ((kh, kw) == (1, 1) or o <= 2 * cg * groups):
        return ((1, 1), full, dilation, groups)
    return None


def _input_grad(xp, grad, weight, x_shape, geometry):
    """dL/dx of the convolution (a transposed convolution of grad with the weight)."""
    if xp is not np:
        return whole_batch_input_grad(xp, grad, weight, x_shape, geometry)
    adjoint = _adjoint_geometry(weight.shape, geometry)
    if adjoint is not None:
        return _conv_forward(xp, grad, _flipped(weight, geometry[3]), adjoint)
    return scattered_input_grad(xp, grad, weight, x_shape, geometry)


def _both_grads(xp, x, weight, grad, adjoint):
    """(dL/dx, dL/dw) from one pass over the columns of the output gradient.

    dL/dx is the flipped convolution of ``grad`` (``adjoint`` geometry); the same columns give
    the flipped kernel's gradient, (columns @ x^T)^T, which ``_flipped`` turns back into dL/dw.
    Each chunk's columns are built once and used twice while in cache.
    """
    groups = adjoint[3]
    flipped = _flipped(weight, groups)
    plan = ColumnPlan(xp, grad.shape, flipped.shape, adjoint)  # the one _conv_forward makes
    x_scratch = plan.scratch(xp, "conv.grad_columns", plan.o, x.dtype)
    grad_flipped = xp.zeros((plan.parts, groups, math.prod(flipped.shape[1:]) // plan.parts,
                             plan.o // groups), dtype=grad.dtype)  # transposed, split
    partial = xp.empty_like(grad_flipped[0])

    def accumulate(first, end, parts):
        xs = plan.grad_columns(xp, x, first, end, x_scratch)
        for total, cols in zip(grad_flipped, parts):
            xp.add(total, grouped_matmul(cols, xs, partial), out=total)

    grad_x = _conv_forward(xp, grad, flipped, adjoint, each_chunk=accumulate)
    grad_w = _flipped(plan.weight_from_parts(xp, grad_flipped, flipped.shape), groups)
    return grad_x, xp.ascontiguousarray(grad_w)


@primitive("conv2d")
class Conv2d(Function):
    """Cross-correlation of x (N, C, H, W) with w (O, C/groups, kh, kw), plus an optional bias
    (O,) added as the result is written, as in PyTorch's convolution primitive."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, geometry):
        ctx.save_for_backward(x, weight)
        return _conv_forward(ctx.xp, x, weight, geometry, bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        geometry = ctx.attrs["geometry"]
        needs = ctx.needs_input_grad
        grad_x = ConvInputGrad.apply(grad, weight, x_shape=x.shape, geometry=geometry) \
            if needs[0] else None
        grad_w = ConvWeightGrad.apply(x, grad, w_shape=weight.shape, geometry=geometry) \
            if needs[1] else None
        grad_b = Sum.apply(grad, axes=(0, 2, 3), keepdim=False, dtype=None) \
            if len(needs) > 2 and needs[2] else None
        return grad_x, grad_w, grad_b

    @staticmethod
    def backward_arrays(ctx, grad):
        x, weight = ctx.saved_arrays
        geometry = ctx.attrs["geometry"]
        needs = ctx.needs_input_grad
        xp = ctx.xp
        # einsum's per-channel sums: twice as fast as sum(axis=(0, 2, 3)) at LeNet-5's sizes
        grad_b = xp.einsum("nchw->c", grad) if len(needs) > 2 and needs[2] else None
        if xp is not np and needs[0] and needs[1]:
            return whole_batch_both_grads(xp, x, weight, grad, geometry) + (grad_b,)
        adjoint = _adjoint_geometry(weight.shape, geometry) if needs[0] and needs[1] else None
        if adjoint is not None:
            return _both_grads(xp, x, weight, grad, adjoint) + (grad_b,)
        grad_x = _input_grad(xp, grad, weight, x.shape, geometry) if needs[0] else None
        grad_w = _weight_grad(xp, x, grad, weight.shape, geometry) if needs[1] else None
        return grad_x, grad_w, grad_b


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


def _check(op_name, x: Tensor, weight: Tensor, dims: int, groups: int, transposed=False,
           bias=None):
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
    if min(weight.shape[2:]) <= 0:
        raise RuntimeError(
            f"{op_name}: kernel size must be greater than zero, but got weight of shape "
            f"{tuple(weight.shape)}"
        )
    if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
        raise RuntimeError(f"{op_name}: non-positive groups is not supported, got {groups!r}")
    count = weight.shape[1] * groups if transposed else weight.shape[0]
    if count % groups:
        raise RuntimeError(f"{op_name}: output channels {count} not divisible by groups={groups}")
    if x._array.dtype != weight._array.dtype:
        raise RuntimeError(
            f"{op_name}: input ({x.dtype}) and weight ({weight.dtype}) must have the same dtype"
        )
    if bias is not None:
        if tuple(bias.shape) != (count,):
            raise RuntimeError(
                f"{op_name}: weight of shape {tuple(weight.shape)} expects a bias of shape "
                f"({count},), got bias of shape {tuple(bias.shape)}"
            )
        if bias._array.dtype != x._array.dtype:
            raise RuntimeError(
                f"{op_name}: input ({x.dtype}) and bias ({bias.dtype}) must have the same dtype"
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
    _check("conv2d", input, weight, 2, groups, bias=bias)
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
    geometry = (stride, padding, dilation, groups)
    if bias is None:
        out = Conv2d.apply(input, weight, geometry=geometry)
    else:
        out = Conv2d.apply(input, weight, bias, geometry=geometry)
    return out.squeeze(0) if unbatched else out


def _pad_extra(input: Tensor, extra_h: int, extra_w: int) -> Tensor:
    """Zero rows/columns at the bottom/right: the odd part of 'same' padding."""
    from ember.tensor.registry import lookup

    return lookup("pad")(input, (0, extra_w, 0, extra_h))


@op("conv1d")
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation: input (N, C, L) or (C, L), weight (O, C / groups, k)."""
    _check("conv1d", input, weight, 1, groups, bias=bias)
    for name, value in (("stride", stride), ("dilation", dilation)) + (
            () if isinstance(padding, str) else (("padding", padding),)):
        pair(value, name, "conv1d")  # checked here so that errors name conv1d
    if not isinstance(padding, str):
        padding = (0, padding if isinstance(padding, int) else padding[0])
    stride = (1, stride if isinstance(stride, int) else stride[0])
    dilation = (1, dilation if isinstance(dilation, int) else dilation[0])
    out = conv2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias, stride, padding, dilation,
                 groups)
    return out.squeeze(-2)


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


@op("conv_transpose1d")
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 1-D convolution: input (N, C_in, L) or (C_in, L), weight
    (C_in, C_out / groups, k), as in PyTorch; computed as a 2-D one of height 1."""
    _check("conv_transpose1d", input, weight, 1, groups, transposed=True)
    values = (("stride", stride), ("padding", padding), ("output_padding", output_padding),
              ("dilation", dilation))
    one, zero = {}, {}
    for name, value in values:
        pair(value, name, "conv_transpose1d")  # checked here so that errors name this op
        value = value if isinstance(value, int) else value[0]
        one[name], zero[name] = (1, value), (0, value)
    out = conv_transpose2d(input.unsqueeze(-2), weight.unsqueeze(-2), None, one["stride"],
                           zero["padding"], zero["output_padding"], groups, one["dilation"])
    return _add_bias(out.squeeze(-2), bias, 1)
