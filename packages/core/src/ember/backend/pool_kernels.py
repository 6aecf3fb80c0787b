"""Max pooling on a GPU, forward and backward one kernel launch each.

The forward takes each output's window maximum and the first tap (i * kw + j) holding it, a NaN
being the maximum of any window it is in (PyTorch's rule; the first NaN's tap). The backward,
for windows that do not overlap (each input element in at most one), gives every input element
its window's gradient when it is that window's maximum tap, else 0: no zero fill first, no
atomics. The CPU's blocked array code (``ops/pooling.py``) computes the same; the cuda tests of
max pooling compare the two.
"""

from __future__ import annotations

from ember.backend.conv_kernels import run_raw_kernel

# i runs over the outputs (n, c, output row, output column); ``source`` is the padded input
SIGNATURES = {
    "max_pool": (
        "raw T source, int32 height, int32 width, int32 kh, int32 kw, int32 sh, int32 sw,"
        " int32 dh, int32 dw, int32 out_h, int32 out_w",
        "raw T best, raw I taps",
        """
const int wo = (int) (i % out_w);
long long rest = i / out_w;
const int ho = (int) (rest % out_h);
rest /= out_h;  // n * channels + c
const long long corner = (rest * height + (long long) ho * sh) * width + (long long) wo * sw;
T top = source[corner];
int tap = 0;
bool nan = !(top == top);
for (int r = 0; r < kh && !nan; ++r) {
  for (int j = 0; j < kw; ++j) {
    const T value = source[corner + (long long) r * dh * width + (long long) j * dw];
    if (!(value == value)) { top = value; tap = r * kw + j; nan = true; break; }
    if (value > top) { top = value; tap = r * kw + j; }
  }
}
best[i] = top;
taps[i] = I(tap);
"""),
    # i runs over the input (n, c, y, x); windows do not overlap
    "max_pool_backward": (
        "raw T grad, raw I taps, int32 height, int32 width, int32 kh, int32 kw, int32 sh,"
        " int32 sw, int32 ph, int32 pw, int32 dh, int32 dw, int32 out_h, int32 out_w",
        "raw T dx",
        """
const int x_at = (int) (i % width);
long long rest = i / width;
const int y = (int) (rest % height);
rest /= height;  // n * channels + c
const int ho = (y + ph) / sh, wo = (x_at + pw) / sw;
const int dy = y + ph - ho * sh, dx_at = x_at + pw - wo * sw;
T value = T(0);
if (ho < out_h && wo < out_w && dy % dh == 0 && dx_at % dw == 0 && dy / dh < kh
    && dx_at / dw < kw) {
  const long long o = (rest * out_h + ho) * out_w + wo;
  if ((int) taps[o] == dy / dh * kw + dx_at / dw) value = grad[o];
}
dx[i] = value;
"""),
}
_compiled: dict = {}


def max_pool(source, kernel, stride, dilation, out_hw, tap_dtype):
    """(best, taps), each (N, C, Ho, Wo), of the padded ``source`` (N, C, H, W) (cupy)."""
    import cupy

    shape = source.shape[:2] + tuple(out_hw)
    best = cupy.empty(shape, dtype=source.dtype)
    taps = cupy.empty(shape, dtype=tap_dtype)
    run_raw_kernel(SIGNATURES, _compiled, "max_pool",
                   [source, *source.shape[2:], *kernel, *stride, *dilation, *out_hw, best, taps],
                   best.size)
    return best, taps


def max_pool_backward(grad, taps, input_shape, kernel, stride, padding, dilation):
    """dL/dx (``input_shape``) of a max pool whose windows do not overlap (cupy)."""
    import cupy

    dx = cupy.empty(input_shape, dtype=grad.dtype)
    run_raw_kernel(SIGNATURES, _compiled, "max_pool_backward",
                   [grad, taps, *input_shape[2:], *kernel, *stride, *padding, *dilation,
                    *grad.shape[2:], dx], dx.size)
    return dx
