"""Normalization: batch, layer and group norm over one fused ``standardize`` primitive.

``standardize(x, axes, eps)`` returns ``(x - mean) / sqrt(var + eps)`` over ``axes`` (biased
variance) plus the mean and variance it used. Its fast array backward is the closed form; its
Tensor backward recomputes the same formula from the saved input, so it is differentiable again.
The affine part (weight, bias) is ordinary broadcasting arithmetic.
"""

from __future__ import annotations

from functools import reduce
from operator import add

import numpy as np

from ember.autograd import observe
from ember.autograd.function import Function
from ember.autograd.grad_mode import no_grad
from ember.backend import channel_sums, fused
from ember.ops._blocks import sample_blocks
from ember.ops.op import op, primitive
from ember.tensor.tensor import Tensor


@primitive("standardize")
class Standardize(Function):
    @staticmethod
    def forward(ctx, x, axes, eps):
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)
        inv_std = 1.0 / ctx.xp.sqrt(var + eps)
        x_hat = centered * inv_std
        ctx.save_for_backward(x, x_hat, inv_std)
        ctx.mark_non_differentiable(mean, var)
        return x_hat, mean, var

    @staticmethod
    def backward(ctx, grad, _grad_mean, _grad_var):
        x, _, _ = ctx.saved_tensors
        return _standardize_grad(x, grad, ctx.attrs["axes"], ctx.attrs["eps"])[0]

    @staticmethod
    def backward_arrays(ctx, grad, _grad_mean, _grad_var):
        _, x_hat, inv_std = ctx.saved_arrays
        axes = ctx.attrs["axes"]
        parts = (grad, x_hat, inv_std, grad.mean(axis=axes, keepdims=True),
                 (grad * x_hat).mean(axis=axes, keepdims=True))
        return fused("standardize_backward", parts, _standardize_backward, *parts)


def _standardize_grad(x: Tensor, grad: Tensor, axes, eps):
    """(dL/dx, x_hat) of x_hat = standardize(x) given dL/dx_hat, recomputed from x with Tensor
    ops (differentiable again)."""
    centered = x - x.mean(dim=axes, keepdim=True)
    inv_std = ((centered * centered).mean(dim=axes, keepdim=True) + eps).rsqrt()
    x_hat = centered * inv_std
    grad_x = inv_std * (grad - grad.mean(dim=axes, keepdim=True)
                        - x_hat * (grad * x_hat).mean(dim=axes, keepdim=True))
    return grad_x, x_hat


@primitive("batch_norm_affine")
class BatchNormAffine(Function):
    """Training-mode batch norm with weight and bias in one op: (y, batch mean, batch var).

    The same math as standardize followed by ``* weight + bias``, in fewer passes over the
    activations, forward and backward (each pass is a trip through memory at CNN sizes).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, axes, eps):
        xp = ctx.xp
        channels = x.shape[1]
        count = x.size // channels
        rows = _rows(xp, x)
        if xp is np:  # centered into the output, then scaled and shifted there in place
            mean = _channel_sums(xp, channels, x) / count
            centre = _spread(xp, mean, x)
            out = rows - centre
            squares = _channel_sums(xp, channels, out, out)
        else:  # fewer launches: the squares straight from x, the output in one kernel
            mean = channel_sums("mean", rows)
            centre = _spread(xp, mean, x)
            squares = channel_sums("centered_square", rows, centre)
        per_channel = (squares, count, weight, eps)
        var, inv_std, scale = fused("batch_norm_scale", per_channel, _batch_norm_scale, xp,
                                    *per_channel)
        scale, shift = _spread(xp, scale, x), _spread(xp, bias, x)
        if xp is np:
            _scale_shift_(scale, shift, out)
        else:
            out = fused("batch_norm_normalize", (rows, centre, scale, shift), _normalize, rows,
                        centre, scale, shift)
        # x - mean again in backward rather than a saved copy: one activation less held per
        # layer (a ResNet-20 step page-faults a quarter less)
        ctx.save_for_backward(x, weight, mean, inv_std)
        shape = _channel_shape(x)
        mean, var = mean.reshape(shape), var.reshape(shape)
        ctx.mark_non_differentiable(mean, var)
        return out.reshape(x.shape), mean, var

    @staticmethod
    def backward(ctx, grad, _grad_mean, _grad_var):
        x, weight, _, _ = ctx.saved_tensors
        axes, eps = ctx.attrs["axes"], ctx.attrs["eps"]
        shape = _channel_shape(x)
        grad_x, x_hat = _standardize_grad(x, grad * weight.reshape(shape), axes, eps)
        return grad_x, (grad * x_hat).sum(dim=axes), grad.sum(dim=axes)

    @staticmethod
    def backward_arrays(ctx, grad, _grad_mean, _grad_var):
        x, weight, mean, inv_std = ctx.saved_arrays
        xp = ctx.xp
        if xp is not np:
            return _batch_norm_backward_gpu(xp, grad, x, weight, mean, inv_std)
        channels = x.shape[1]
        count = x.size // channels
        rows, grad_rows = _rows(xp, x), _rows(xp, grad)
        grad_x = xp.empty(rows.shape, dtype=xp.result_type(x, mean))
        blocks = sample_blocks(xp, rows, _BLOCK_BYTES)
        centre = _spread(xp, mean, x)
        # centered into grad_x, then turned into dL/dx in place: no temporaries
        bias_parts, weight_parts = [], []
        for block in blocks:
            centered = grad_x[block]
            xp.subtract(rows[block], centre, out=centered)
            bias_parts.append(_channel_sums(xp, channels, grad_rows[block]))
            weight_parts.append(_channel_sums(xp, channels, grad_rows[block], centered))
        # summed without a first 0 + part (a launch each on a GPU, where there is one block)
        grad_bias, grad_weight = reduce(add, bias_parts), reduce(add, weight_parts)
        # dx = scale * (g - mean(g) - x_hat * mean(g * x_hat)), x_hat = centered * inv_std
        per_channel = (grad_weight, grad_bias, inv_std, weight, count)
        grad_weight, slope, offset, scale = fused(
            "batch_norm_grad_coefficients", per_channel, _grad_coefficients, *per_channel)
        slope, offset, scale = (_spread(xp, v, x) for v in (slope, offset, scale))
        for block in blocks:
            _input_grad_(xp, grad_rows[block], slope, offset, scale, grad_x[block])
        return grad_x.reshape(x.shape), grad_weight, grad_bias


def _batch_norm_backward_gpu(xp, grad, x, weight, mean, inv_std):
    """``BatchNormAffine.backward_arrays`` in four launches: two per-channel sums, the
    per-channel coefficients and dL/dx, each reading x - mean from x (no centered copy)."""
    channels = x.shape[1]
    count = x.size // channels
    rows, grad_rows, centre = _rows(xp, x), _rows(xp, grad), _spread(xp, mean, x)
    grad_bias = _channel_sums(xp, channels, grad_rows)
    grad_weight = channel_sums("centered_dot", grad_rows, rows, centre)
    per_channel = (grad_weight, grad_bias, inv_std, weight, count)
    grad_weight, slope, offset, scale = fused(
        "batch_norm_grad_coefficients", per_channel, _grad_coefficients, *per_channel)
    parts = (grad_rows, rows, centre, *(_spread(xp, v, x) for v in (slope, offset, scale)))
    grad_x = fused("batch_norm_input_grad", parts, _input_grad, xp, *parts)
    return grad_x.reshape(x.shape), grad_weight, grad_bias


# ---- batch norm's array code: the CPU path of its fused kernels (ember.backend.fused) --------


def _standardize_backward(grad, x_hat, inv_std, grad_mean, projection):
    """``inv_std * (grad - mean(grad) - x_hat * mean(grad * x_hat))`` from the two means."""
    return inv_std * (grad - grad_mean - x_hat * projection)


def _batch_norm_scale(xp, squares, count, weight, eps):
    """Per channel, from the sums of squared deviations: (var, 1 / sqrt(var + eps),
    weight / sqrt(var + eps))."""
    var = squares / count
    inv_std = 1.0 / xp.sqrt(var + eps)
    return var, inv_std, weight * inv_std


def _grad_coefficients(grad_weight_centered, grad_bias, inv_std, weight, count):
    """Per channel, from the sums of grad * (x - mean) and of grad: (dL/dweight, and the slope,
    offset and scale of ``_input_grad_``)."""
    grad_weight = grad_weight_centered * inv_std
    return grad_weight, inv_std * grad_weight / count, grad_bias / count, weight * inv_std


def _update_running_(mean, var, keep, factor, correction, running_mean, running_var):
    """The running statistics, in place: ``keep * running + factor * batch`` (the variance's
    batch value times ``correction``, unbiased)."""
    running_mean *= keep
    running_mean += factor * mean
    running_var *= keep
    running_var += factor * var * correction


def _scale_shift_(scale, shift, out):
    out *= scale
    out += shift


def _normalize(x, centre, scale, shift):
    """``(x - centre) * scale + shift``."""
    out = x - centre
    _scale_shift_(scale, shift, out)
    return out


def _input_grad(xp, grad, x, centre, slope, offset, scale):
    """``scale * (grad - ((x - centre) * slope + offset))``."""
    centered = x - centre
    _input_grad_(xp, grad, slope, offset, scale, centered)
    return centered


def _input_grad_(xp, grad, slope, offset, scale, centered):
    """``scale * (grad - (centered * slope + offset))``, in place in ``centered``."""
    centered *= slope
    centered += offset
    xp.subtract(grad, centered, out=centered)
    centered *= scale


def _rows(xp, a):
    """``a`` (N, C, ...) as (N, C * S) rows, S the positions per channel; on a GPU as
    (N, C, S), which ``_spread``'s (C, 1) values broadcast over."""
    return a.reshape(a.shape[0], -1) if xp is np else a.reshape(a.shape[0], a.shape[1], -1)


# Batch norm's passes go a block of about 256 KB of samples at a time (``sample_blocks``):
# its backward inside ResNet-20 steps 15.7 -> 14.2 ms a step (64 and 128 KB blocks measured
# slower, 512 KB no better).
_BLOCK_BYTES = 1 << 18


def _spread(xp, per_channel, x):
    """Per-channel values (C of them) repeated over each channel's positions: a (C * S,) row
    that arithmetic with ``_rows(xp, x)`` broadcasts over the batch only.

    numpy runs that 1.5-2.5x faster than broadcasting (1, C, 1, 1) over (N, C, H, W) at CNN
    sizes: rows shorter than its 8192-element buffer take its slower buffered iteration. On a
    GPU broadcasting costs nothing and a repeat a launch: there the values stay (C, 1).
    """
    if xp is not np:
        return per_channel.reshape(-1, 1)
    return xp.repeat(per_channel.reshape(-1), x.size // (x.shape[0] * x.shape[1]))


def _channel_sums(xp, channels: int, a, b=None):
    """Per-channel sums (C of them) of ``a``, or of ``a * b``, whose leading axis is the batch
    and whose memory after it holds C channels in order (N, C, ... or (N, C * S) rows).

    One einsum pass without a temporary product: 2-4x numpy's ``sum(axis=(0, 2, 3))`` at CNN
    sizes (and as accurate: measured against float64 sums); one reduction kernel on a GPU.
    """
    rows = a.reshape(a.shape[0], channels, -1)
    if b is None:
        return xp.einsum("ncs->c", rows)
    return channel_sums("dot", rows, b.reshape(rows.shape))


def _affine(x_hat: Tensor, weight, bias, shape) -> Tensor:
    if weight is not None:
        x_hat = x_hat * (weight.reshape(shape) if shape else weight)
    if bias is not None:
        x_hat = x_hat + (bias.reshape(shape) if shape else bias)
    return x_hat


def _channel_shape(input: Tensor) -> tuple:
    return (1, -1) + (1,) * (input.ndim - 2)


@op("batch_norm")
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalization over (N, C, ...) per channel C, as ``F.batch_norm``.

    In training the batch statistics normalize, and the running ones (when given) are updated in
    place: ``running = (1 - momentum) * running + momentum * batch`` with the unbiased batch
    variance. In evaluation the running statistics normalize.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected at least 2-D input (N, C, ...), got shape "
                         f"{tuple(input.shape)}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (channels,):
            raise RuntimeError(f"batch_norm: {name} should have shape ({channels},) for input "
                               f"of shape {tuple(input.shape)}, got {tuple(t.shape)}")
    shape = _channel_shape(input)
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var are required in "
                               "evaluation mode")
        # weight folded into the per-channel scale: one pass over the activations less
        scale = (running_var + eps).rsqrt()
        if weight is not None:
            scale = scale * weight
        return _affine((input - running_mean.reshape(shape)) * scale.reshape(shape), None, bias,
                       shape)
    axes = (0,) + tuple(range(2, input.ndim))
    count = input.numel() // channels
    if count <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input size {tuple(input.shape)}")
    if weight is not None and bias is not None:
        out, mean, var = BatchNormAffine.apply(input, weight, bias, axes=axes, eps=eps)
    else:
        x_hat, mean, var = Standardize.apply(input, axes=axes, eps=eps)
        out = _affine(x_hat, weight, bias, shape)
    if running_mean is not None:
        with no_grad():
            factor = momentum
            if observe.active():  # a tracer records the update as ops (the same arithmetic)
                _observed_update(running_mean, mean.reshape(-1), factor, 1.0)
                _observed_update(running_var, var.reshape(-1), factor, count / (count - 1))
                return out
            update = (mean._array.reshape(-1), var._array.reshape(-1), 1 - factor, factor,
                      count / (count - 1), running_mean._array, running_var._array)
            fused("batch_norm_running_", update, _update_running_, *update)
            running_mean._bump_version()
            running_var._bump_version()
    return out


def _observed_update(running: Tensor, batch: Tensor, factor: float, correction: float) -> None:
    """``running = (1 - factor) * running + factor * batch * correction`` computed with ops and
    reported to the observers (``ember.autograd.observe.written``), then written in place."""
    scaled = batch * factor
    if correction != 1.0:
        scaled = scaled * correction
    new = running * (1 - factor) + scaled
    running._array[...] = new._array
    running._bump_version()
    observe.written(running, new)


@op("layer_norm")
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalizes over the trailing ``normalized_shape`` dimensions, as ``F.layer_norm``."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    count = len(normalized_shape)
    if tuple(input.shape[input.ndim - count:]) != normalized_shape or count > input.ndim:
        raise RuntimeError(
            f"layer_norm: given normalized_shape={list(normalized_shape)}, expected input with "
            f"shape [*, {', '.join(map(str, normalized_shape))}], but got input of size "
            f"{list(input.shape)}"
        )
    axes = tuple(range(input.ndim - count, input.ndim))
    x_hat, _, _ = Standardize.apply(input, axes=axes, eps=eps)
    return _affine(x_hat, weight, bias, None)


@op("group_norm")
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalizes (N, C, ...) over groups of C / num_groups channels, as ``F.group_norm``."""
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise RuntimeError(
            f"group_norm: expected input of shape (N, C, ...) with C divisible by "
            f"num_groups={num_groups}, got {tuple(input.shape)}"
        )
    n = input.shape[0]
    grouped = input.reshape(n, num_groups, -1)
    x_hat, _, _ = Standardize.apply(grouped, axes=(2,), eps=eps)
    return _affine(x_hat.reshape(input.shape), weight, bias, _channel_shape(input))
