"""conv2d of one input channel at stride 1 on small images (LeNet-5's first layer): full tap
columns image by image, built in cache, and one product per image written straight into the
NCHW result. ``ColumnPlan``'s products over one kernel row at a time (K = kw) are thin there."""

from __future__ import annotations

import numpy as np

from ember.ops._conv_columns import pad_into
from ember.ops._windows import output_size
from ember.ops._workspace import workspace

TAP_IMAGE_LIMIT = 1 << 17  # see single_channel_fits
TAP_CHUNK_ELEMENTS = 1 << 17  # see _tap_columns


def single_channel_fits(x_shape, w_shape, geometry) -> bool:
    """Whether ``single_channel_forward`` is the faster way: one input channel at stride 1,
    an image's columns at most ``TAP_IMAGE_LIMIT`` elements. ``ColumnPlan``'s products over one
    kernel row at a time (K = kw) are thin there. Measured (forward, weight gradient): LeNet-5's
    first layer 1.3, 1.2 against 1.9, 2.3 ms; 1 -> 10, 20, 32, 64 channels on 28 x 28 images
    and 1 -> 16 on 64 x 64 1.5-6x faster; 80 x 80 images (160K elements an image) no faster,
    larger ones slower (the columns of one image no longer stay in cache)."""
    stride, padding, dilation, groups = geometry
    _, _, kh, kw = w_shape
    positions = (output_size(x_shape[2], kh, 1, padding[0], dilation[0])
                 * output_size(x_shape[3], kw, 1, padding[1], dilation[1]))
    return (x_shape[1] == 1 and groups == 1 and stride == (1, 1)
            and kh * kw * positions <= TAP_IMAGE_LIMIT)


def _tap_columns(xp, x, kernel, geometry, out_size, ones=False):
    """Yields (first, end, columns) for chunks of images of the single-channel ``x``: columns
    (images, kw * kh [+ 1], Ho * Wo), row (j, i) the input under kernel tap (i, j) at each output
    position, and with ``ones`` a last row of ones (the bias's). The buffers are reused: each
    chunk's columns are overwritten by the next.

    Two copies that run along whole rows build them: the padded images shifted by each kernel
    column, (images, kw, Hp, Wo), then each kernel row's window of those, Ho * Wo contiguous
    elements (LeNet-5's first layer: 0.58 -> 0.46 ms against one copy in runs of Wo). A chunk
    is about ``TAP_CHUNK_ELEMENTS``, so that it is still in cache when multiplied (in the
    LeNet-5 step 4-12 images took 1.1-1.3 ms forward, 2 images 1.6, the whole batch 1.5). On a
    GPU the chunk is the whole batch: there each chunk costs kernel launches, not cache."""
    _, (ph, pw), (dh, dw), _ = geometry
    (kh, kw), (ho, wo) = kernel, out_size
    n, _, h, w = x.shape
    hp = h + 2 * ph
    depth = kh * kw + ones
    images = max(1, min(n, TAP_CHUNK_ELEMENTS // (depth * ho * wo))) if xp is np else n
    source = workspace(xp, "conv.tap_source", n * hp * (w + 2 * pw), x.dtype).reshape(
        n, hp, w + 2 * pw)
    pad_into(source, x[:, 0], (ph, pw))
    shifted = workspace(xp, "conv.tap_shifted", images * kw * hp * wo, x.dtype).reshape(
        images, kw, hp, wo)
    columns = workspace(xp, "conv.tap_columns", images * depth * ho * wo, x.dtype).reshape(
        images, depth, ho * wo)
    if ones:
        columns[:, -1] = 1
    image, row, column = source.strides
    windows = xp.lib.stride_tricks.as_strided(  # [n, j, r, x] = source[n, r, x + j * dw]
        source, (n, kw, hp, wo), (image, dw * column, row, column))
    image, shift, row, column = shifted.strides
    windows_by_row = xp.lib.stride_tricks.as_strided(  # [n, j, i, y * Wo + x]: shifted[n, j,
        shifted, (images, kw, kh, ho * wo), (image, shift, dh * row, column))  # y + i * dh, x]
    taps = columns[:, :kh * kw].reshape(images, kw, kh, ho * wo)
    for first in range(0, n, images):  # the views made once: as_strided costs 5 us a call
        count = min(n - first, images)
        shifted[:count] = windows[first:first + count]
        taps[:count] = windows_by_row[:count]
        yield first, first + count, columns[:count]


def single_channel_forward(xp, x, weight, geometry, bias=None):
    """A single-channel convolution image by image: W (O, kh * kw [+ 1]) @ columns (kh * kw [+ 1],
    Ho * Wo), written straight into the NCHW result, the bias as a column of W against a row of
    ones in the columns.

    LeNet-5's first layer in its train step: 1.65-1.8 -> 0.9-1.0 ms against one product of a
    banded matrix with the rows each output row reads (five times the arithmetic, and a
    transposed copy of its product into NCHW).
    """
    _, padding, dilation, _ = geometry
    o, _, kh, kw = weight.shape
    n, _, h, w = x.shape
    ho = output_size(h, kh, 1, padding[0], dilation[0])
    wo = output_size(w, kw, 1, padding[1], dilation[1])
    taps = weight[:, 0].transpose(0, 2, 1).reshape(o, kw * kh)  # the columns' (j, i) order
    if bias is not None:
        taps = xp.concatenate([taps, bias[:, None]], axis=1)
    out = xp.empty((n, o, ho, wo), dtype=x.dtype)
    flat = out.reshape(n, o, ho * wo)
    for first, end, columns in _tap_columns(xp, x, (kh, kw), geometry, (ho, wo),
                                            ones=bias is not None):
        xp.matmul(taps, columns, out=flat[first:end])
    return out


def single_channel_weight_grad(xp, x, grad, w_shape, geometry):
    """dL/dw of ``single_channel_forward``'s convolution: grad (O, Ho * Wo) @ columns^T image by
    image, summed (LeNet-5's first layer in its train step: 1.7-1.9 -> 1.0-1.1 ms against the
    gradient of the banded matrix summed along its diagonals)."""
    n, o, ho, wo = grad.shape
    kh, kw = w_shape[2:]
    per_image = xp.empty((n, o, kw * kh), dtype=grad.dtype)
    g = grad.reshape(n, o, ho * wo)
    for first, end, columns in _tap_columns(xp, x, (kh, kw), geometry, (ho, wo)):
        xp.matmul(g[first:end], columns.transpose(0, 2, 1), out=per_image[first:end])
    taps = per_image.sum(axis=0).reshape(o, 1, kw, kh)
    return xp.ascontiguousarray(taps.transpose(0, 1, 3, 2))
