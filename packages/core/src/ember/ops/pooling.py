"""Pooling over (N, C, H, W): max, average and adaptive forms (1-D through the 2-D code).

Max pooling records, for every output, which tap of its window holds the maximum (int8); its
gradient writes each value there through a view of every tap's slots when windows do not
overlap, or scatters through flat input indices (h * W + w, also what ``return_indices``
gives) with ``pool_scatter``, whose own gradient gathers (``pool_gather``). Average pooling is
linear: its adjoint spreads each gradient over its window.
"""

from __future__ import annotations

import math

import numpy as np

from ember.autograd.function import Function
from ember.backend import index_add, masked, max_pool, max_pool_backward, reading_waits, xp_of
from ember.ops._blocks import sample_blocks
from ember.ops._windows import output_size, padded, pair, tap
from ember.ops._workspace import workspace
from ember.ops.op import op, primitive
from ember.tensor.tensor import Tensor


def _geometry(op_name, x: Tensor, kernel_size, stride, padding, dilation, ceil_mode):
    if x.ndim not in (3, 4):
        raise RuntimeError(
            f"{op_name}: expected 3-D (unbatched) or 4-D (batched) input, got shape "
            f"{tuple(x.shape)}"
        )
    kernel = pair(kernel_size, "kernel_size", op_name)
    stride = kernel if stride is None or stride == [] or stride == () else pair(
        stride, "stride", op_name)
    padding = pair(padding, "padding", op_name)
    dilation = pair(dilation, "dilation", op_name)
    for k, p, d in zip(kernel, padding, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(
                f"{op_name}: pad should be at most half of effective kernel size, but got "
                f"pad={padding}, kernel_size={kernel} and dilation={dilation}"
            )
    h, w = x.shape[-2:]
    out_hw = tuple(
        output_size(n, k, s, p, d, ceil_mode)
        for n, k, s, p, d in zip((h, w), kernel, stride, padding, dilation)
    )
    if min(out_hw) <= 0:
        raise RuntimeError(
            f"{op_name}: output size is too small: input {tuple(x.shape)} with kernel {kernel}, "
            f"stride {stride}, padding {padding}, dilation {dilation} gives {out_hw}"
        )
    return kernel, stride, padding, dilation, out_hw


def _check_1d(op_name, kernel_size, stride, padding, dilation) -> None:
    """The 1-D pools' arguments checked before they become pairs (errors name the 1-D op)."""
    pair(kernel_size, "kernel_size", op_name)
    if stride is not None and stride != [] and stride != ():
        pair(stride, "stride", op_name)
    pair(padding, "padding", op_name)
    pair(dilation, "dilation", op_name)


def _needed(kernel, stride, dilation, out_hw):
    return tuple((o - 1) * s + d * (k - 1) + 1
                 for o, k, s, d in zip(out_hw, kernel, stride, dilation))


def _flat_gather(xp, x, indices):
    n, c = x.shape[:2]
    flat = x.reshape(n, c, -1)
    return xp.take_along_axis(flat, indices.reshape(n, c, -1), axis=2).reshape(indices.shape)


def _flat_scatter(xp, grad, indices, input_hw, unique: bool):
    n, c = grad.shape[:2]
    out = xp.zeros((n, c, input_hw[0] * input_hw[1]), dtype=grad.dtype)
    flat_idx = indices.reshape(n, c, -1)
    flat_grad = grad.reshape(n, c, -1)
    if unique:
        xp.put_along_axis(out, flat_idx, flat_grad, axis=2)
    else:
        rows = xp.arange(n * c).reshape(n, c, 1)
        index_add(out.reshape(n * c, -1), (rows.reshape(n * c, 1), flat_idx.reshape(n * c, -1)),
                  flat_grad.reshape(n * c, -1))
    return out.reshape(n, c, *input_hw)


@primitive("pool_gather")
class PoolGather(Function):
    """``x.flatten(2).gather(2, indices)``: the values at recorded positions."""

    @staticmethod
    def forward(ctx, x, indices, unique):
        ctx.save_for_backward(indices)
        ctx.input_hw = x.shape[2:]
        return _flat_gather(ctx.xp, x, indices)

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        return PoolScatter.apply(grad, indices, input_hw=ctx.input_hw,
                                 unique=ctx.attrs["unique"]), None


@primitive("pool_scatter")
class PoolScatter(Function):
    """Adds each gradient into a zero (N, C, H, W) array at its recorded position."""

    @staticmethod
    def forward(ctx, grad, indices, input_hw, unique):
        ctx.save_for_backward(indices)
        return _flat_scatter(ctx.xp, grad, indices, input_hw, unique)

    @staticmethod
    def backward(ctx, grad_input):
        (indices,) = ctx.saved_tensors
        return PoolGather.apply(grad_input, indices, unique=ctx.attrs["unique"]), None


@primitive("max_pool2d")
class MaxPool2d(Function):
    """Returns (values, taps): ``taps`` is the window position (i * kw + j) of each maximum, not
    differentiable; ``_flat_indices`` turns it into PyTorch's flat input positions."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, out_hw):
        xp = ctx.xp
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        source = padded(xp, x, padding, _needed(kernel, stride, dilation, out_hw), fill)
        count = kernel[0] * kernel[1]
        tap_dtype = np.int8 if count <= 127 else np.int64
        ctx.input_hw = x.shape[2:]
        if reading_waits(x):  # a GPU: one kernel (the blocks below are for the CPU's caches)
            best, taps = max_pool(source, kernel, stride, dilation, out_hw, tap_dtype)
            ctx.save_for_backward(taps)
            ctx.mark_non_differentiable(taps)
            return best, taps
        best = _empty_like_layout(xp, x, (), out_hw)
        taps = _empty_like_layout(xp, x, (), out_hw, tap_dtype)
        reads = _tap_view(xp, source, kernel, stride, dilation, out_hw)
        blocks = sample_blocks(xp, source, _BLOCK_BYTES)
        # every tap's window copied out once (one copy a block): the reductions below then read
        # contiguous memory
        scratch = _empty_like_layout(xp, x, kernel, out_hw, samples=blocks[0].stop,
                                     scratch="max_pool2d.windows")
        by_tap = scratch.reshape((count,) + scratch.shape[2:])
        for block in blocks:
            samples = block.stop - block.start
            scratch[:, :, :samples] = reads[:, :, block]
            windows = by_tap[:, :samples]
            # propagates NaN, as PyTorch's max pooling does
            block_best = windows.max(axis=0, out=best[block])
            _first_match(xp, windows, block_best, out=taps[block])
        if best.dtype.kind == "f" and xp.isnan(best).any():
            # a NaN is its window's maximum too: the taps counted again, NaN matching NaN (rare:
            # the windows are copied out whole)
            _first_match(xp, reads.reshape((count,) + reads.shape[2:]), best, out=taps,
                         nan=True)
        ctx.save_for_backward(taps)
        ctx.mark_non_differentiable(taps)
        return best, taps

    @staticmethod
    def backward(ctx, grad, _grad_taps):
        (taps,) = ctx.saved_arrays
        attrs = ctx.attrs
        indices = Tensor(_flat_indices(ctx.xp, taps, ctx.input_hw[1], attrs["kernel"],
                                      attrs["stride"], attrs["padding"], attrs["dilation"]))
        return PoolScatter.apply(grad, indices, input_hw=ctx.input_hw,
                                 unique=_non_overlapping(attrs["kernel"], attrs["stride"],
                                                         attrs["dilation"]))

    @staticmethod
    def backward_arrays(ctx, grad, _grad_taps):
        (taps,) = ctx.saved_arrays
        attrs = ctx.attrs
        kernel, stride, padding, dilation = (attrs["kernel"], attrs["stride"], attrs["padding"],
                                             attrs["dilation"])
        if not _non_overlapping(kernel, stride, dilation):
            indices = _flat_indices(ctx.xp, taps, ctx.input_hw[1], kernel, stride, padding,
                                   dilation)
            return _flat_scatter(ctx.xp, grad, indices, ctx.input_hw, unique=False)
        if reading_waits(grad):
            return max_pool_backward(grad, taps, grad.shape[:2] + tuple(ctx.input_hw), kernel,
                                     stride, padding, dilation)
        return _tap_scatter(ctx.xp, grad, taps, ctx.input_hw, kernel, stride, padding, dilation)


def _empty_like_layout(xp, x, lead: tuple, hw: tuple, dtype=None, samples=None,
                       scratch=None):
    """An empty (*lead, N, C, *hw) array laid out channels first in memory when ``x`` is;
    ``samples`` replaces N, ``scratch`` names a workspace to take it from."""
    n, c = x.shape[:2]
    n = n if samples is None else samples
    dtype = x.dtype if dtype is None else dtype
    channels_first = x.transpose(1, 0, 2, 3).flags.c_contiguous
    shape = lead + ((c, n) if channels_first else (n, c)) + hw
    if scratch is None:
        out = xp.empty(shape, dtype=dtype)
    else:
        out = workspace(xp, scratch, math.prod(shape), dtype).reshape(shape)
    if channels_first:
        order = tuple(range(len(lead))) + (len(lead) + 1, len(lead))
        return out.transpose(order + (-2, -1))
    return out


# Pooling goes a block of samples at a time (``sample_blocks``), so that the input block that
# every tap reads again and the windows copied from it stay in the core's cache (LeNet-5's two
# 2x2 pools inside its training step, forward and backward: 2.3-2.4 -> 2.0 ms with the one-call
# copies of a block; blocks of 256 KB and 1 MB measured slower).
_BLOCK_BYTES = 1 << 19


def _tap_view(xp, array, kernel, stride, dilation, out_hw):
    """A (kh, kw, N, C, Ho, Wo) view of ``array`` (N, C, H, W): [i, j] is what kernel tap
    (i, j) of every output's window reads (or writes)."""
    step_n, step_c, step_h, step_w = array.strides
    return xp.lib.stride_tricks.as_strided(
        array, tuple(kernel) + array.shape[:2] + tuple(out_hw),
        (dilation[0] * step_h, dilation[1] * step_w, step_n, step_c, stride[0] * step_h,
         stride[1] * step_w))


def _tap_scatter(xp, grad, taps, input_hw, kernel, stride, padding, dilation):
    """Each gradient written at its window's maximum through a (kh, kw, N, C, Ho, Wo) view of the
    result (windows that do not overlap write disjoint positions); the result has ``grad``'s
    memory layout."""
    (h, w), (ph, pw), out_hw = input_hw, padding, grad.shape[2:]
    need = _needed(kernel, stride, dilation, out_hw)
    full_hw = (max(need[0], h + 2 * ph), max(need[1], w + 2 * pw))
    out = _empty_like_layout(xp, grad, (), full_hw)
    gaps = full_hw != need or need != (out_hw[0] * kernel[0], out_hw[1] * kernel[1])
    writes = _tap_view(xp, out, kernel, stride, dilation, out_hw)
    index = xp.arange(kernel[0] * kernel[1], dtype=taps.dtype).reshape(tuple(kernel) + (1,) * 4)
    for block in sample_blocks(xp, out, _BLOCK_BYTES):
        if gaps:
            out[block] = 0  # some positions are in no window
        # straight into every tap's strided slots, one call a block: a third faster than
        # copying masked temporaries after a zero fill (LeNet-5's 2x2 pools, 128x6x14x14:
        # 1.39 -> 0.91 ms)
        masked(taps[block] == index, grad[block], out=writes[:, :, block])
    return out[:, :, ph:ph + h, pw:pw + w]


def _flat_indices(xp, taps, width: int, kernel, stride, padding, dilation):
    """The flat input position (h * W + w) of each maximum, from its window position."""
    out_hw = taps.shape[2:]
    rows = (xp.arange(out_hw[0]) * stride[0] - padding[0]).reshape(-1, 1)
    cols = (xp.arange(out_hw[1]) * stride[1] - padding[1]).reshape(1, -1)
    taps = taps.astype(np.int64)
    tap_row, tap_col = taps // kernel[1], taps % kernel[1]
    return (rows + tap_row * dilation[0]) * width + cols + tap_col * dilation[1]


def _first_match(xp, windows, best, out, nan: bool = False):
    """For every output, the first window (tap) holding its maximum, written into ``out`` (an
    integer array); with ``nan``, a NaN window matches a NaN maximum.

    Counted as the number of leading windows that miss: boolean and integer passes only
    (numpy's masked copies and ``where`` are several times slower), every miss from one
    comparison.
    """
    if len(windows) == 1:
        out[...] = 0
        return out
    if nan:
        missing = ~((windows[:-1] == best) | (xp.isnan(best) & xp.isnan(windows[:-1])))
    else:
        missing = windows[:-1] != best
    for k in range(1, len(missing)):  # missing[k]: windows 0..k all miss
        xp.logical_and(missing[k - 1], missing[k], out=missing[k])
    counts = missing.view(np.int8)  # booleans are bytes of 0 and 1
    if len(counts) == 1:
        out[...] = counts[0]
        return out
    xp.add(counts[0], counts[1], out=out)
    for count in counts[2:]:
        xp.add(out, count, out=out)
    return out


def _non_overlapping(kernel, stride, dilation) -> bool:
    return all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))


def _batched(fn):
    """Runs a 4-D pooling function on 3-D (unbatched) input too."""

    def run(input, *args, **kwargs):
        if input.ndim == 3:
            result = fn(input.unsqueeze(0), *args, **kwargs)
            if isinstance(result, tuple):
                return tuple(r.squeeze(0) for r in result)
            return result.squeeze(0)
        return fn(input, *args, **kwargs)

    run.__name__, run.__doc__ = fn.__name__, fn.__doc__
    return run


@op("max_pool2d")
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over sliding windows of (N, C, H, W); ``return_indices`` also returns the flat
    (h * W + w) input positions, as PyTorch."""
    kernel, stride, padding, dilation, out_hw = _geometry(
        "max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)
    return _batched(_max_pool)(input, kernel, stride, padding, dilation, out_hw, return_indices)


def _max_pool(input, kernel, stride, padding, dilation, out_hw, return_indices):
    values, taps = MaxPool2d.apply(input, kernel=kernel, stride=stride, padding=padding,
                                   dilation=dilation, out_hw=out_hw)
    if not return_indices:
        return values
    taps_array = taps._array
    indices = _flat_indices(xp_of(taps_array), taps_array, input.shape[-1], kernel, stride,
                            padding, dilation)
    return values, Tensor(indices)


@op("max_pool1d")
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling over (N, C, L)."""
    _check_1d("max_pool1d", kernel_size, stride, padding, dilation)
    one = lambda v: (1, v if isinstance(v, int) else v[0])  # noqa: E731
    result = max_pool2d(input.unsqueeze(-2), one(kernel_size),
                        None if stride is None else one(stride), (0, one(padding)[1]),
                        one(dilation), ceil_mode, return_indices)
    if return_indices:
        return result[0].squeeze(-2), result[1].squeeze(-2)
    return result.squeeze(-2)


def _avg_divisor(xp, shape_hw, kernel, stride, padding, out_hw, count_include_pad,
                 divisor_override, dtype):
    """How many elements each output averages (PyTorch's rules), as an (Ho, Wo) array."""
    if divisor_override:
        return divisor_override
    h, w = shape_hw
    ph, pw = padding
    rows = np.arange(out_hw[0]) * stride[0] - ph
    cols = np.arange(out_hw[1]) * stride[1] - pw
    if count_include_pad:
        # Windows are clipped to the padded input (only ceil_mode can overhang it).
        row_count = np.minimum(rows + kernel[0], h + ph) - rows
        col_count = np.minimum(cols + kernel[1], w + pw) - cols
    else:
        row_count = np.minimum(rows + kernel[0], h) - np.maximum(rows, 0)
        col_count = np.minimum(cols + kernel[1], w) - np.maximum(cols, 0)
    return xp.asarray(np.outer(row_count, col_count), dtype=dtype)


def _window_sum(xp, source, kernel, stride, out_hw):
    total = None
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            rows, cols = tap(i, j, stride, (1, 1), out_hw)
            window = source[:, :, rows, cols]
            total = window.copy() if total is None else total + window
    return total


def _window_spread(xp, grad, input_hw, kernel, stride, padding):
    ph, pw = padding
    out_hw = grad.shape[2:]
    need = _needed(kernel, stride, (1, 1), out_hw)
    h, w = input_hw
    total = xp.zeros(grad.shape[:2] + (max(need[0], h + 2 * ph), max(need[1], w + 2 * pw)),
                     dtype=grad.dtype)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            rows, cols = tap(i, j, stride, (1, 1), out_hw)
            total[:, :, rows, cols] += grad
    return total[:, :, ph:ph + h, pw:pw + w]


@primitive("avg_pool2d")
class AvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel, stride, padding, out_hw, count_include_pad, divisor_override):
        xp = ctx.xp
        ctx.input_hw = x.shape[2:]
        divisor = _avg_divisor(xp, x.shape[2:], kernel, stride, padding, out_hw,
                               count_include_pad, divisor_override, x.dtype)
        source = padded(xp, x, padding, _needed(kernel, stride, (1, 1), out_hw), 0)
        return _window_sum(xp, source, kernel, stride, out_hw) / divisor

    @staticmethod
    def backward(ctx, grad):
        return AvgPool2dAdjoint.apply(grad, input_hw=ctx.input_hw, **ctx.attrs)


@primitive("avg_pool2d_adjoint")
class AvgPool2dAdjoint(Function):
    """The transpose of average pooling: each gradient spread evenly over its window."""

    @staticmethod
    def forward(ctx, grad, input_hw, kernel, stride, padding, out_hw, count_include_pad,
                divisor_override):
        xp = ctx.xp
        divisor = _avg_divisor(xp, input_hw, kernel, stride, padding, out_hw,
                               count_include_pad, divisor_override, grad.dtype)
        return _window_spread(xp, grad / divisor, input_hw, kernel, stride, padding)

    @staticmethod
    def backward(ctx, grad_input):
        attrs = dict(ctx.attrs)
        del attrs["input_hw"]
        return AvgPool2d.apply(grad_input, **attrs)


@op("avg_pool2d")
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Average over sliding windows of (N, C, H, W), with PyTorch's divisor rules."""
    kernel, stride, padding, _, out_hw = _geometry(
        "avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode)
    return _batched(AvgPool2d.apply)(input, kernel=kernel, stride=stride, padding=padding,
                                     out_hw=out_hw, count_include_pad=bool(count_include_pad),
                                     divisor_override=divisor_override)


@op("avg_pool1d")
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Average pooling over (N, C, L)."""
    _check_1d("avg_pool1d", kernel_size, stride, padding, 1)
    one = lambda v: (1, v if isinstance(v, int) else v[0])  # noqa: E731
    return avg_pool2d(input.unsqueeze(-2), one(kernel_size),
                      None if stride is None else one(stride), (0, one(padding)[1]), ceil_mode,
                      count_include_pad).squeeze(-2)


def _bins(size: int, out: int):
    """PyTorch's adaptive bins: [floor(i*size/out), ceil((i+1)*size/out))."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def _adaptive_size(op_name, input, output_size):
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    h, w = input.shape[-2:]
    return tuple(n if o is None else o for o, n in zip(output_size, (h, w)))


def _averaging_matrix(xp, size: int, out: int, dtype):
    matrix = np.zeros((out, size))
    for row, (start, end) in enumerate(_bins(size, out)):
        matrix[row, start:end] = 1.0 / (end - start)
    return Tensor(xp.asarray(matrix, dtype=dtype))


@op("adaptive_avg_pool2d")
def adaptive_avg_pool2d(input, output_size):
    """Averages (N, C, H, W) over PyTorch's adaptive bins into ``output_size``.

    Computed as A_h @ x @ A_w^T with averaging matrices, so it is differentiable at any order.
    """
    if input.ndim not in (3, 4):
        raise RuntimeError(f"adaptive_avg_pool2d: expected 3-D or 4-D input, got shape "
                           f"{tuple(input.shape)}")
    oh, ow = _adaptive_size("adaptive_avg_pool2d", input, output_size)
    h, w = input.shape[-2:]
    if (oh, ow) == (1, 1):
        return input.mean(dim=(-2, -1), keepdim=True)
    xp, dtype = xp_of(input._array), input._array.dtype
    rows = _averaging_matrix(xp, h, oh, dtype)
    cols = _averaging_matrix(xp, w, ow, dtype)
    return rows @ input @ cols.mT


@op("adaptive_max_pool2d")
def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over PyTorch's adaptive bins; ``return_indices`` gives flat (h * W + w) positions."""
    if input.ndim not in (3, 4):
        raise RuntimeError(f"adaptive_max_pool2d: expected 3-D or 4-D input, got shape "
                           f"{tuple(input.shape)}")
    return _batched(_adaptive_max)(input, _adaptive_size("adaptive_max_pool2d", input,
                                                         output_size), return_indices)


def _adaptive_max(input, size, return_indices):
    xp = xp_of(input._array)
    x = input._array
    h, w = x.shape[2:]
    indices = xp.empty(x.shape[:2] + tuple(size), dtype=np.int64)
    for i, (top, bottom) in enumerate(_bins(h, size[0])):
        for j, (left, right) in enumerate(_bins(w, size[1])):
            region = x[:, :, top:bottom, left:right].reshape(x.shape[0], x.shape[1], -1)
            best = region.argmax(axis=2)
            width = right - left
            indices[:, :, i, j] = (top + best // width) * w + left + best % width
    positions = Tensor(indices)
    values = PoolGather.apply(input, positions, unique=False)
    return (values, positions) if return_indices else values
