"""conv2d's input gradient where it is not the flipped-kernel convolution (``ops/conv.py``
takes that one for stride-1 layers with no more outputs than twice their inputs): 1x1 kernels
pixel by pixel, other stride-1 layers by banded products, strided ones by col2im."""

from __future__ import annotations

import math

from ember.backend import grouped_matmul
from ember.ops._workspace import workspace

BAND_ROWS = 64  # see _input_grad_by_bands
BAND_ELEMENTS = 1 << 20  # the largest band _input_grad_by_bands builds (it grows as W * Wo)


def scattered_input_grad(xp, grad, weight, x_shape, geometry):
    """dL/dx of the convolution where it is not the flipped-kernel convolution: 1x1 kernels pixel
    by pixel, stride 1 by banded products (while the band stays within ``BAND_ELEMENTS``), and
    otherwise W^T @ grad with the batch innermost, summed back by ``_col2im``."""
    stride, padding, dilation, groups = geometry
    if weight.shape[2:] == (1, 1):
        return _pointwise_input_grad(xp, grad, weight, x_shape, geometry)
    band = _input_band_shape(weight.shape, groups, x_shape[3], padding[1], grad.shape[3])
    if stride == (1, 1) and math.prod(band) <= BAND_ELEMENTS:
        return _input_grad_by_bands(xp, grad, weight, x_shape, geometry)
    o, cg, kh, kw = weight.shape
    n, _, ho, wo = grad.shape
    # the batch innermost: each tap's columns are then added in runs of whole output rows
    # times the batch, not of one short output row
    g = grad.transpose(1, 2, 3, 0).reshape(groups, o // groups, ho * wo * n)
    w = weight.reshape(groups, o // groups, cg * kh * kw)
    cols = grouped_matmul(w.transpose(0, 2, 1), g).reshape(groups * cg, kh, kw, ho, wo, n)
    return _col2im(xp, cols, x_shape, (kh, kw), stride, padding, dilation)


def _pointwise_input_grad(xp, grad, weight, x_shape, geometry):
    """dL/dx of a 1x1 convolution (strided, or padded, as ResNet's projection shortcuts):
    W^T @ grad image by image, written into every stride-th pixel of zeros. No tap overlaps
    another, so there is nothing for col2im to sum (ResNet-20's two shortcuts, 0.93 -> 0.31
    and 0.55 -> 0.21 ms, measured)."""
    stride, padding, _, groups = geometry
    o, cg = weight.shape[:2]
    n, _, ho, wo = grad.shape
    w_t = xp.ascontiguousarray(weight.reshape(groups, o // groups, cg).transpose(0, 2, 1))
    product = xp.matmul(w_t, grad.reshape(n, groups, o // groups, ho * wo)).reshape(
        n, groups * cg, ho, wo)
    rows, kept_rows = _pointwise_kept(x_shape[2], ho, stride[0], padding[0])
    columns, kept_columns = _pointwise_kept(x_shape[3], wo, stride[1], padding[1])
    result = xp.zeros(x_shape, dtype=grad.dtype)
    result[:, :, rows, columns] = product[:, :, kept_rows, kept_columns]
    return result


def _pointwise_kept(size, out_size, stride, pad):
    """(input positions, output positions) of a 1x1 convolution's outputs that read the input,
    not its padding: output u reads input u * stride - pad."""
    first = -(-pad // stride)
    end = max(first, min(out_size, (size - 1 + pad) // stride + 1))
    start = first * stride - pad
    return slice(start, start + (end - first) * stride, stride), slice(first, end)


def _input_grad_by_bands(xp, grad, weight, x_shape, geometry):
    """dL/dx of a stride-1 convolution as products with banded matrices, a few input columns
    at a time, then a sum over kernel rows.

    For each block of input columns x, the rows (x, kernel row i, channel c) of one product
    ``band @ grad`` hold sum over (j, o) of w[o, c, i, j] * grad[o, y', x + pw - j * dw] for
    every (y', image): the kernel columns are summed inside BLAS, and the kh shifted sums over
    i run over whole rows times the batch, on each block's product while it is in cache. The
    band's zeros cost (block + kw - 1) / kw times im2col's arithmetic, but the products write
    kh * W rows instead of kh * kw * Wo and no col2im follows. Blocks of at least
    ``BAND_ROWS`` rows were fastest (LeNet-5's second conv in its train step, 3 columns of 30
    rows: 1.7 ms against 2.3-2.7 for W^T @ grad and col2im; 1 column 1.7-1.9 ms, all 14
    columns 2.1-2.2 ms). Only at stride 1: ResNet-20's stride-2 layers measured slower this way
    in their step (with rows split by stride phase: 3.8 against 3.2 ms, 2.9 against 1.8).
    """
    _, (ph, pw), (dh, dw), groups = geometry
    o, cg, kh, kw = weight.shape
    og = o // groups
    n, _, ho, wo = grad.shape
    _, _, h, w = x_shape
    columns = workspace(xp, "conv.band_columns", grad.size, grad.dtype).reshape(
        groups, wo, og, ho, n)  # rows (x', o), columns (y', image)
    columns[...] = grad.reshape(n, groups, og, ho, wo).transpose(1, 4, 2, 3, 0)
    columns = columns.reshape(groups, wo * og, ho * n)
    band = _input_band(xp, weight, groups, w, pw, dw, wo)
    per_column = kh * cg
    block = -(-BAND_ROWS // per_column)
    product = workspace(xp, "conv.band_rows", groups * block * per_column * ho * n,
                        grad.dtype).reshape(groups, block * per_column, ho * n)
    sums = workspace(xp, "conv.band_sums", groups * w * cg * (h + 2 * ph) * n,
                     grad.dtype).reshape(groups, w, cg, h + 2 * ph, n)
    for first in range(0, w, block):
        end = min(first + block, w)
        low = max(0, first + pw - (kw - 1) * dw)  # the outputs x' these columns read
        high = min(wo, end + pw)
        out = sums[:, first:end]
        taps = grouped_matmul(band[:, first * per_column:end * per_column, low * og:high * og],
                              columns[:, low * og:high * og],
                              product[:, :(end - first) * per_column])
        taps = taps.reshape(groups, end - first, kh, cg, ho, n)
        out[:, :, :, :ho] = taps[:, :, 0]
        out[:, :, :, ho:] = 0
        for i in range(1, kh):
            out[:, :, :, i * dh:i * dh + ho] += taps[:, :, i]
    result = xp.empty(x_shape, dtype=grad.dtype)
    result.reshape(n, groups, cg, h, w)[...] = sums[:, :, :, ph:ph + h].transpose(4, 0, 2, 3, 1)
    return result


def _input_band_shape(w_shape, groups, w, pw, wo) -> tuple:
    """(G, W + 2 * pw, kh, Cg, Wo, Og): the shape ``_input_band`` builds its matrices in, over
    the padded columns."""
    o, cg, kh, _ = w_shape
    return (groups, w + 2 * pw, kh, cg, wo, o // groups)


def _input_band(xp, weight, groups, w, pw, dw, wo):
    """The banded matrices of ``_input_grad_by_bands``: (G, W * kh * Cg, Wo * Og), the element
    at row (x, i, c), column (x', o) w[o, c, i, j] where x + pw = x' + j * dw, else 0.

    Built over the padded columns x + pw, where every tap's diagonal fits, then cut."""
    o, cg, kh, kw = weight.shape
    og = o // groups
    shape = _input_band_shape(weight.shape, groups, w, pw, wo)
    band = workspace(xp, "conv.band", math.prod(shape), weight.dtype).reshape(shape)
    band[...] = 0
    group, column, row, channel, out_column, out_channel = band.strides
    diagonals = xp.lib.stride_tricks.as_strided(  # [g, j, x', i, c, o] at column x' + j * dw
        band, (groups, kw, wo, kh, cg, og),
        (group, dw * column, column + out_column, row, channel, out_channel))
    diagonals[...] = weight.reshape(groups, og, cg, kh, kw).transpose(0, 4, 3, 2, 1)[:, :, None]
    return band[:, pw:pw + w].reshape(groups, w * kh * cg, wo * og)


def _col2im(xp, cols, x_shape, kernel, stride, padding, dilation):
    """Sums every tap's columns (C, kh, kw, Ho, Wo, N) back into an input-shaped array.

    The sum is kept batch innermost and split by stride phase: padded row r = sh * u + a is row
    u of phase a, and likewise for columns, so every tap adds into one phase (sh, sw, C, u, v, N)
    in runs of Wo * N contiguous elements (LeNet-5's second conv, before it took banded
    products: 2.0 -> 1.05 ms a step against runs of Wo; ResNet-20's 16 -> 32 stride-2 layers'
    input gradients, 3x3 6.2 -> 5.4 ms and 1x1 2.4 -> 1.6, against runs of N). It is returned
    as (N, C, H, W), one copy per phase: the elementwise ops and pooling that read it next are
    slower on the batch-innermost layout than the copy costs.
    """
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (dh, dw), (ph, pw) = kernel, stride, dilation, padding
    ho, wo = cols.shape[3:5]
    phase_h, phase_w = -(-(h + 2 * ph) // sh), -(-(w + 2 * pw) // sw)
    phases = xp.zeros((sh, sw, c, phase_h, phase_w, n), dtype=cols.dtype)
    touched = {((i * dh) % sh, (j * dw) % sw) for i in range(kh) for j in range(kw)}
    for i in range(kh):
        row, top = (i * dh) % sh, (i * dh) // sh
        for j in range(kw):
            column, left = (j * dw) % sw, (j * dw) // sw
            phases[row, column, :, top:top + ho, left:left + wo] += cols[:, i, j]
    out = xp.empty(x_shape, dtype=cols.dtype)
    for first_row in range(min(sh, h)):
        row, top = (first_row + ph) % sh, (first_row + ph) // sh
        rows = len(range(first_row, h, sh))
        for first_column in range(min(sw, w)):
            column, left = (first_column + pw) % sw, (first_column + pw) // sw
            columns = len(range(first_column, w, sw))
            if (row, column) in touched:
                out[:, :, first_row::sh, first_column::sw] = phases[
                    row, column, :, top:top + rows, left:left + columns].transpose(3, 0, 1, 2)
            else:  # no tap reaches it (a kernel smaller than the stride)
                out[:, :, first_row::sh, first_column::sw] = 0
    return out
