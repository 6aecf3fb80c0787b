"""``unfold`` (im2col: sliding blocks as columns) and ``fold`` (col2im: its adjoint, summing
overlapping blocks back into an image).

Both are the convolution machinery with an identity kernel: ``unfold`` is ``conv2d`` of each
channel with the ``kh * kw`` one-hot kernels, ``fold`` the adjoint of that convolution (a
transposed convolution). Gradients of every order follow from the convolution's.
"""

from __future__ import annotations

from ember.backend import xp_of
from ember.ops._windows import output_size as _window_count
from ember.ops._windows import pair
from ember.ops.conv import ConvInputGrad, conv2d
from ember.tensor.tensor import Tensor


def _one_hot_kernels(input: Tensor, kernel: tuple) -> Tensor:
    """``(kh * kw, 1, kh, kw)``: kernel ``t`` picks tap ``t`` of the window (row-major)."""
    taps = kernel[0] * kernel[1]
    xp = xp_of(input._array)
    return Tensor(xp.eye(taps, dtype=input._array.dtype).reshape(taps, 1, *kernel))


def _geometry(name: str, kernel_size, dilation, padding, stride) -> tuple:
    return (pair(kernel_size, "kernel_size", name), pair(dilation, "dilation", name),
            pair(padding, "padding", name), pair(stride, "stride", name))


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extracts sliding blocks: ``(N, C, H, W)`` -> ``(N, C * kh * kw, L)`` (or unbatched
    ``(C, H, W)`` -> ``(C * kh * kw, L)``), ``L`` blocks in row-major order, as
    ``torch.nn.functional.unfold``.

    Example:
        >>> F.unfold(ember.ones(1, 2, 3, 3), kernel_size=2).shape
        (1, 8, 4)
    """
    if input.ndim not in (3, 4):
        raise RuntimeError(f"unfold: Input Error: Only 3D or 4D input Tensors are supported "
                           f"(got {input.ndim}D input of shape {tuple(input.shape)})")
    kernel, dilation, padding, stride = _geometry("unfold", kernel_size, dilation, padding,
                                                  stride)
    unbatched = input.ndim == 3
    batch = input.unsqueeze(0) if unbatched else input
    n, c, h, w = batch.shape
    cols = conv2d(batch.reshape(n * c, 1, h, w), _one_hot_kernels(input, kernel), None, stride,
                  padding, dilation)
    cols = cols.reshape(n, c * kernel[0] * kernel[1], -1)
    return cols.squeeze(0) if unbatched else cols


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sums sliding blocks into an image: ``(N, C * kh * kw, L)`` -> ``(N, C, *output_size)``
    (or unbatched ``(C * kh * kw, L)`` -> ``(C, *output_size)``), as
    ``torch.nn.functional.fold``; the adjoint of ``unfold``.

    Example:
        >>> F.fold(ember.ones(1, 4, 4), (3, 3), kernel_size=2)[0, 0]
        tensor([[1., 2., 1.],
                [2., 4., 2.],
                [1., 2., 1.]])
    """
    if input.ndim not in (2, 3):
        raise RuntimeError(f"fold: Input Error: Only unbatched (2D) or batched (3D) input "
                           f"Tensors are supported (got {input.ndim}D input of shape "
                           f"{tuple(input.shape)})")
    size = pair(output_size, "output_size", "fold")
    kernel, dilation, padding, stride = _geometry("fold", kernel_size, dilation, padding, stride)
    unbatched = input.ndim == 2
    batch = input.unsqueeze(0) if unbatched else input
    n, rows, length = batch.shape
    taps = kernel[0] * kernel[1]
    if rows % taps:
        raise RuntimeError(f"fold: Expected size of input's dimension 1 to be divisible by the "
                           f"product of kernel_size, but got input.size(1)={rows} and "
                           f"kernel_size={kernel}")
    blocks = [_window_count(s, k, st, p, d) for s, k, st, p, d in
              zip(size, kernel, stride, padding, dilation)]
    if min(blocks) <= 0 or blocks[0] * blocks[1] != length:
        raise RuntimeError(
            f"fold: Given output_size={size}, kernel_size={kernel}, dilation={dilation}, "
            f"padding={padding}, stride={stride}, expected size of input's dimension 2 to "
            f"match the calculated number of sliding blocks {blocks[0]} * {blocks[1]} = "
            f"{blocks[0] * blocks[1]}, but got input.size(2)={length}."
        )
    c = rows // taps
    grad = batch.reshape(n * c, taps, *blocks)
    image = ConvInputGrad.apply(grad, _one_hot_kernels(input, kernel), x_shape=(n * c, 1, *size),
                                geometry=(stride, padding, dilation, 1))
    image = image.reshape(n, c, *size)
    return image.squeeze(0) if unbatched else image
