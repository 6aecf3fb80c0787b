"""im2col and col2im of a whole batch at once, each one kernel launch on a GPU.

The columns of a convolution of x (N, C, H, W) with a (kh, kw) kernel are a (C * kh * kw, N,
Ho * Wo) array: row (c, i, j) holds, for every image and output position, the input under
kernel tap (i, j) of channel c, 0 where the tap reads padding. Groups need nothing here: group
g's rows are the g-th block of Cg * kh * kw. ``col2im`` is the adjoint: it sums every tap's
column back into the input element it read.

On cupy each is one ``ElementwiseKernel``: im2col computes each column element's source index,
col2im each input element's sum over the taps that read it (no atomics, so the result does not
depend on the order threads run in). On numpy the same layouts come from a strided view copied
once and from one add per tap: the CPU reference the kernels are tested against
(tests/core/test_conv_whole_batch.py runs the kernel bodies as host C++ against it).
"""

from __future__ import annotations

import numpy as np

from ember.backend.device import xp_of

# The geometry every kernel gets, as int32 scalars after its array input.
_GEOMETRY = ("channels height width kh kw sh sw ph pw dh dw images out_h out_w").split()
_GEOMETRY_PARAMS = ", ".join(f"int32 {name}" for name in _GEOMETRY)

# Sums accumulate in A: float for float16 (float16 converts to float in the product), else T.
_ACCUMULATOR = "typedef decltype(T(0) * 1.0f) A;\n"

SIGNATURES = {
    # i runs over the columns (c, tap row r, tap column j, image n, position p): each gets its
    # input element or 0; the slices of ops/_conv_whole_batch.py keep the quotient in int
    "im2col": (
        f"raw T x, {_GEOMETRY_PARAMS}", "raw T cols",
        """
const long long positions = (long long) out_h * out_w;
const long long above = i / positions;  // one 64-bit division; the rest fits in int
const int p = (int) (i - above * positions);
int rest = (int) above;
const int n = rest % images; rest /= images;
const int j = rest % kw; rest /= kw;
const int r = rest % kh;
const int c = rest / kh;
const int y = p / out_w * sh - ph + r * dh;
const int x_at = p % out_w * sw - pw + j * dw;
cols[i] = (y >= 0 && y < height && x_at >= 0 && x_at < width)
    ? x[(((long long) n * channels + c) * height + y) * width + x_at] : T(0);
"""),
    # i runs over the input (n, c, y, x): the sum of the columns of the taps that read it, in
    # tap order (as the numpy reference adds them)
    "col2im": (
        f"raw T cols, {_GEOMETRY_PARAMS}", "raw T x",
        _ACCUMULATOR + """
const long long positions = (long long) out_h * out_w;
const long long above = i / width;  // one 64-bit division; the rest fits in int
const int x_at = (int) (i - above * width);
int rest = (int) above;
const int y = rest % height; rest /= height;
const int c = rest % channels;
const int n = rest / channels;
A total = A(0);
for (int r = 0; r < kh; ++r) {
  const int top = y + ph - r * dh;
  if (top < 0 || top % sh != 0 || top / sh >= out_h) continue;
  for (int j = 0; j < kw; ++j) {
    const int left = x_at + pw - j * dw;
    if (left < 0 || left % sw != 0 || left / sw >= out_w) continue;
    total += A(cols[(((long long) (c * kh + r) * kw + j) * images + n) * positions
                    + (top / sh) * out_w + left / sw]);
  }
}
x[i] = T(total);
"""),
}

_compiled: dict = {}


def im2col(x, kernel, geometry, out_size):
    """The columns (C * kh * kw, N, Ho * Wo) of x (N, C, H, W) for a ``kernel`` (kh, kw) and
    ``geometry`` (stride, padding, dilation, groups), the output ``out_size`` (Ho, Wo)."""
    n, c = x.shape[:2]
    (kh, kw), (ho, wo) = kernel, out_size
    if not _on_gpu(x):
        return _im2col_numpy(x, kernel, geometry, out_size)
    xp = xp_of(x)
    x = xp.ascontiguousarray(x)
    cols = xp.empty((c * kh * kw, n, ho * wo), dtype=x.dtype)
    _launch("im2col", x.dtype, [x, *_scalars(x.shape, kernel, geometry, out_size), cols],
            cols.size)
    return cols


def col2im(cols, x_shape, kernel, geometry, out_size):
    """The adjoint of ``im2col``: an (N, C, H, W) array whose every element is the sum of the
    columns that ``im2col`` fills from it."""
    if not _on_gpu(cols):
        return _col2im_numpy(cols, x_shape, kernel, geometry, out_size)
    xp = xp_of(cols)
    cols = xp.ascontiguousarray(cols)
    x = xp.empty(x_shape, dtype=cols.dtype)
    _launch("col2im", cols.dtype, [cols, *_scalars(x_shape, kernel, geometry, out_size), x],
            x.size)
    return x


def _scalars(x_shape, kernel, geometry, out_size) -> list:
    """The ``_GEOMETRY`` values, in order."""
    n, c, h, w = x_shape
    stride, padding, dilation, _ = geometry
    return [c, h, w, *kernel, *stride, *padding, *dilation, n, *out_size]


def _windows(padded, kernel, geometry, out_size):
    """The view (N, C, kh, kw, Ho, Wo) of a padded (N, C, Hp, Wp) array: [n, c, i, j, u, v] is
    the element that tap (i, j) reads for output (u, v)."""
    (sh, sw), _, (dh, dw), _ = geometry
    image, channel, row, column = padded.strides
    return np.lib.stride_tricks.as_strided(
        padded, padded.shape[:2] + tuple(kernel) + tuple(out_size),
        (image, channel, dh * row, dw * column, sh * row, sw * column), writeable=False)


def _im2col_numpy(x, kernel, geometry, out_size):
    (ph, pw) = geometry[1]
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = _windows(padded, kernel, geometry, out_size)
    n, c = x.shape[:2]
    return np.ascontiguousarray(windows.transpose(1, 2, 3, 0, 4, 5)).reshape(
        c * kernel[0] * kernel[1], n, -1)


def _col2im_numpy(cols, x_shape, kernel, geometry, out_size):
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, geometry[0], geometry[1], geometry[2]
    (ho, wo) = out_size
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    taps = cols.reshape(c, kh, kw, n, ho, wo).transpose(3, 0, 1, 2, 4, 5)
    for i in range(kh):
        for j in range(kw):
            padded[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                   j * dw:j * dw + sw * (wo - 1) + 1:sw] += taps[:, :, i, j]
    return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])


# The two touch points with cupy; tests/core/test_conv_whole_batch.py replaces them to run the
# kernel bodies on the CPU.


def _on_gpu(array) -> bool:
    return type(array) is not np.ndarray


def _launch(name: str, dtype, args: list, size: int) -> None:
    """Runs kernel ``name`` over ``size`` elements (every array is raw: the size is given)."""
    run_raw_kernel(SIGNATURES, _compiled, name, args, size)


def run_raw_kernel(signatures: dict, compiled: dict, name: str, args: list, size: int) -> None:
    """Runs the cupy ElementwiseKernel ``name`` of ``signatures`` (name -> (in params, out
    params, body), every array raw) over ``size`` elements, built once into ``compiled``."""
    kernel = compiled.get(name)
    if kernel is None:
        import cupy

        in_params, out_params, body = signatures[name]
        kernel = cupy.ElementwiseKernel(in_params, out_params, body, f"ember_{name}",
                                        no_return=True)
        compiled[name] = kernel
    kernel(*args, size=size)
