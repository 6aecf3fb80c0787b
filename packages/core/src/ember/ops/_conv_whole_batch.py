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


def whole_batch_forward(xp, x, weight, geometry, bias=None):
    """conv2d of x (N, C, H, W) with weight (O, C/G, kh, kw), plus ``bias`` (O,) if given."""
    stride, padding, dilation, groups = geometry
    n = x.shape[0]
    o, _, kh, kw = weight.shape
    out_size = tuple(output_size(x.shape[2 + a], weight.shape[2 + a], stride[a], padding[a],
                                 dilation[a]) for a in (0, 1))
    columns = im2col(x, (kh, kw), geometry, out_size).reshape(groups, -1, n * out_size[0]
                                                              * out_size[1])
    product = _products(xp, weight.reshape(groups, o // groups, -1), columns)
    by_image = product.reshape(o, n, *out_size).transpose(1, 0, 2, 3)
    out = xp.empty((n, o) + out_size, dtype=x.dtype)
    if bias is None:
        out[...] = by_image
    else:
        xp.add(by_image, bias.reshape(o, 1, 1), out=out)
    return out


def whole_batch_weight_grad(xp, x, grad, w_shape, geometry, rows=None):
    """dL/dw (``w_shape``) of the convolution of x with output gradient ``grad``; ``rows``:
    ``grad_rows(xp, grad, groups)`` if already made."""
    groups = geometry[3]
    n, o = grad.shape[:2]
    positions = n * math.prod(grad.shape[2:])
    columns = im2col(x, w_shape[2:], geometry, grad.shape[2:]).reshape(groups, -1, positions)
    if groups == 1:
        rows = grad_rows(xp, grad, groups) if rows is None else rows
        return xp.matmul(rows[0], columns[0].T).reshape(w_shape)
    by_position = xp.ascontiguousarray(grad.reshape(n, groups, o // groups, -1).transpose(
        1, 0, 3, 2)).reshape(groups, -1, o // groups)
    transposed = xp.matmul(columns, by_position)  # (G, K, O/G)
    return xp.ascontiguousarray(transposed.transpose(0, 2, 1)).reshape(w_shape)


def whole_batch_input_grad(xp, grad, weight, x_shape, geometry, rows=None):
    """dL/dx (``x_shape``) of the convolution with ``weight`` whose output gradient is
    ``grad``: the transposed convolution of ``grad``."""
    groups = geometry[3]
    n, o = grad.shape[:2]
    rows = grad_rows(xp, grad, groups) if rows is None else rows
    weight_t = weight.reshape(groups, o // groups, -1).transpose(0, 2, 1)  # (G, K, O/G)
    columns = _products(xp, weight_t, rows)
    return col2im(columns.reshape(-1, n, rows.shape[2] // n), x_shape, weight.shape[2:],
                  geometry, grad.shape[2:])


def whole_batch_both_grads(xp, x, weight, grad, geometry):
    """(dL/dx, dL/dw), sharing the transposed output gradient."""
    rows = grad_rows(xp, grad, geometry[3])
    return (whole_batch_input_grad(xp, grad, weight, x.shape, geometry, rows),
            whole_batch_weight_grad(xp, x, grad, weight.shape, geometry, rows))


def grad_rows(xp, grad, groups: int):
    """The output gradient (N, O, Ho, Wo) as (G, O/G, N * Ho * Wo): one transposing copy."""
    o = grad.shape[1]
    return xp.ascontiguousarray(grad.transpose(1, 0, 2, 3)).reshape(groups, o // groups, -1)


def _products(xp, a, b):
    """a[g] @ b[g] for every group g; one group as a 2-D product (see the module docstring)."""
    if a.shape[0] == 1:
        return xp.matmul(a[0], b[0])[None]
    return xp.matmul(a, b)
