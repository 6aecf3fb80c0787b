"""conv2d and its two adjoints over the whole batch at once: the GPU path of ``ops/conv.py``.

On a GPU every array call is a kernel launch costing 10-20 us of host time, so a ResNet step is
bound by their number, not by arithmetic or cache: each of forward, weight gradient and input
gradient here is three launches, where the CPU path's chunked, cache-sized layouts take many.

One im2col kernel (``backend.conv_kernels``) writes the columns of the whole batch,
(C * kh * kw, N, Ho * Wo): as (G, K, N * P) with K = Cg * kh * kw and P = Ho * Wo, group g's
rows are its own block. Then:

- forward: W (G, O/G, K) @ columns -> (O, N, P), one product; one copy into the (N, O, Ho, Wo)
  result adds the bias on the way;
- weight gradient: grad as (G, O/G, N * P) (one transposing copy) @ columns^T -> (G, O/G, K):
  one product whose inner dimension runs over every image, so cuBLAS sums the batch; no
  per-image products, no (N, O, K) partials and no reduction after them;
- input gradient: W^T (G, K, O/G) @ grad as (G, O/G, N * P) -> column gradients, summed back
  into the input by one col2im kernel.

With one group the products are 2-D: cupy hands transposed 2-D operands to cuBLAS as flags.
Its batched products (groups) copy operands that are not contiguous, so there the weight
gradient is taken as columns @ grad (G, N * P, O/G) and transposed back (O * K elements), not
through columns^T (a copy of all the columns).

On numpy the same functions run with the numpy im2col/col2im: the tests check them there
against the CPU path, which stays ``ops/conv.py``'s chunked one.
"""

from __future__ import annotations

import math

from ember.backend import col2im, im2col
from ember.ops._windows import output_size

# Columns of at most this many elements (512 MB of float32) at once: larger layers (ImageNet
# shapes at large batches) go through the batch in slices of images, each its own launches.
# ResNet-20's largest, at batch 128, is 19M elements: one slice.
COLUMN_LIMIT = 1 << 27


def whole_batch_forward(xp, x, weight, geometry, bias=None):
    """conv2d of x (N, C, H, W) with weight (O, C/G, kh, kw), plus ``bias`` (O,) if given."""
    stride, padding, dilation, groups = geometry
    o, _, kh, kw = weight.shape
    out_size = tuple(output_size(x.shape[2 + a], weight.shape[2 + a], stride[a], padding[a],
                                 dilation[a]) for a in (0, 1))
    w = weight.reshape(groups, o // groups, -1)
    parts = []
    for images in _batches(x.shape[0], weight.shape, geometry, out_size):
        n = images.stop - images.start
        columns = im2col(x[images], (kh, kw), geometry, out_size)
        columns = columns.reshape(groups, -1, n * math.prod(out_size))
        by_image = _products(xp, w, columns).reshape(o, n, *out_size).transpose(1, 0, 2, 3)
        out = xp.empty((n, o) + out_size, dtype=x.dtype)
        if bias is None:
            out[...] = by_image
        else:
            xp.add(by_image, bias.reshape(o, 1, 1), out=out)
        parts.append(out)
    return parts[0] if len(parts) == 1 else xp.concatenate(parts)


def whole_batch_weight_grad(xp, x, grad, w_shape, geometry):
    """dL/dw (``w_shape``) of the convolution of x whose output gradient is ``grad``."""
    total = None
    for images in _batches(x.shape[0], w_shape, geometry, grad.shape[2:]):
        part = _weight_grad(xp, x[images], grad[images], w_shape, geometry)
        total = part if total is None else total + part
    return total


def whole_batch_input_grad(xp, grad, weight, x_shape, geometry):
    """dL/dx (``x_shape``) of the convolution with ``weight`` whose output gradient is
    ``grad``: the transposed convolution of ``grad``."""
    batches = _batches(grad.shape[0], weight.shape, geometry, grad.shape[2:])
    parts = [_input_grad(xp, grad[images], weight, x_shape, geometry) for images in batches]
    return parts[0] if len(parts) == 1 else xp.concatenate(parts)


def whole_batch_both_grads(xp, x, weight, grad, geometry):
    """(dL/dx, dL/dw), sharing the transposed output gradient."""
    grads_x, grad_w = [], None
    for images in _batches(x.shape[0], weight.shape, geometry, grad.shape[2:]):
        rows = _grad_rows(xp, grad[images], geometry[3])
        grads_x.append(_input_grad(xp, grad[images], weight, x.shape, geometry, rows))
        part = _weight_grad(xp, x[images], grad[images], weight.shape, geometry, rows)
        grad_w = part if grad_w is None else grad_w + part
    return grads_x[0] if len(grads_x) == 1 else xp.concatenate(grads_x), grad_w


def _batches(n: int, w_shape, geometry, out_size) -> list:
    """Slices of the batch whose columns (C * kh * kw * Ho * Wo elements an image) stay within
    ``COLUMN_LIMIT``: the whole batch but for huge layers."""
    per_image = math.prod(w_shape[1:]) * geometry[3] * math.prod(out_size)
    step = max(1, min(n, COLUMN_LIMIT // max(per_image, 1)))
    return [slice(first, min(n, first + step)) for first in range(0, n, step)]


def _weight_grad(xp, x, grad, w_shape, geometry, rows=None):
    """``whole_batch_weight_grad`` of one slice of images; ``rows``: ``_grad_rows`` of
    ``grad`` if already made."""
    groups = geometry[3]
    n, o = grad.shape[:2]
    positions = n * math.prod(grad.shape[2:])
    columns = im2col(x, w_shape[2:], geometry, grad.shape[2:]).reshape(groups, -1, positions)
    if groups == 1:
        rows = _grad_rows(xp, grad, groups) if rows is None else rows
        return xp.matmul(rows[0], columns[0].T).reshape(w_shape)
    by_position = grad.reshape(n, groups, o // groups, -1).transpose(1, 0, 3, 2)
    by_position = xp.ascontiguousarray(by_position).reshape(groups, -1, o // groups)
    transposed = xp.matmul(columns, by_position)  # (G, K, O/G)
    return xp.ascontiguousarray(transposed.transpose(0, 2, 1)).reshape(w_shape)


def _input_grad(xp, grad, weight, x_shape, geometry, rows=None):
    """``whole_batch_input_grad`` of one slice of images (``x_shape``'s batch size is
    ``grad``'s); ``rows`` as in ``_weight_grad``."""
    groups = geometry[3]
    n, o = grad.shape[:2]
    rows = _grad_rows(xp, grad, groups) if rows is None else rows
    weight_t = weight.reshape(groups, o // groups, -1).transpose(0, 2, 1)  # (G, K, O/G)
    columns = _products(xp, weight_t, rows)
    return col2im(columns.reshape(-1, n, rows.shape[2] // n), (n, *x_shape[1:]),
                  weight.shape[2:], geometry, grad.shape[2:])


def _grad_rows(xp, grad, groups: int):
    """The output gradient (N, O, Ho, Wo) as (G, O/G, N * Ho * Wo): one transposing copy."""
    o = grad.shape[1]
    return xp.ascontiguousarray(grad.transpose(1, 0, 2, 3)).reshape(groups, o // groups, -1)


def _products(xp, a, b):
    """a[g] @ b[g] for every group g; one group as a 2-D product (see the module docstring)."""
    if a.shape[0] == 1:
        return xp.matmul(a[0], b[0])[None]
    return xp.matmul(a, b)
