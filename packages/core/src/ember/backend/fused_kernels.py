"""Fused elementwise kernels: on a GPU, a chain of ufunc calls as one kernel launch.

Every numpy-style call on cupy arrays is a kernel launch and a trip through GPU memory. Ops whose
forward or array backward is a chain of such calls go through ``fused``: on numpy arrays it runs
the op's own code (the CPU path, unchanged), on cupy arrays one ``cupy.ElementwiseKernel`` of
this module, compiled on first use. The kernels take float16, float32 and float64 arrays of one
dtype and return that dtype; float16 computes in float and is rounded once per stored value
(as PyTorch does), the others in their own precision. They give the CPU path's values up to
float rounding, NaN and infinities included.
"""

from __future__ import annotations

import numpy as np

# A kernel body runs in ``A``: float for float16 inputs, else the inputs' own type ``T``.
_PREAMBLE = """
template <typename T> struct ember_acc { typedef T type; };
template <> struct ember_acc<float16> { typedef float type; };
template <typename A> __device__ A ember_sigmoid(A x) { return A(1) / (A(1) + exp(-x)); }
// the recurrent cells' logistic function, as ops/recurrent.py computes it: 0.5 (tanh(x/2) + 1)
template <typename A> __device__ A ember_half_tanh(A x) {
  return A(0.5) * (tanh(A(0.5) * x) + A(1));
}
__device__ float ember_normcdf(float x) { return normcdff(x); }
__device__ double ember_normcdf(double x) { return normcdf(x); }
"""
_ACC = "typedef typename ember_acc<T>::type A;\n"

_GELU_TANH_SCALE = "A(0.7978845608028654)"  # sqrt(2 / pi)
_GELU_TANH_CUBIC = "A(0.044715)"
_INV_SQRT_2PI = "A(0.3989422804014327)"

# name -> (input parameters, output parameters, body); ``T`` is the inputs' float dtype.
KERNELS = {
    "sigmoid": (
        "T x", "T y",
        "y = T(ember_sigmoid(A(x)));"),
    "sigmoid_backward": (
        "T grad, T y", "T grad_x",
        "A s = y; grad_x = T(A(grad) * s - A(grad) * s * s);"),
    "tanh_backward": (
        "T grad, T y", "T grad_x",
        "A t = y; grad_x = T(A(grad) - A(grad) * t * t);"),
    "leaky_relu": (
        "T x, T negative_slope", "T y",
        "A v = x; y = v > A(0) ? x : T(v * A(negative_slope));"),
    "leaky_relu_backward": (
        "T grad, T x, T negative_slope", "T grad_x",
        "grad_x = A(x) > A(0) ? grad : T(A(grad) * A(negative_slope));"),
    "elu": (
        "T x, T alpha", "T y",
        "A v = x; y = v > A(0) ? x : T(A(alpha) * expm1(v));"),
    "elu_backward": (
        "T grad, T x, T alpha", "T grad_x",
        "A v = x; grad_x = v > A(0) ? grad : T(A(grad) * (exp(v) * A(alpha)));"),
    "gelu": (
        "T x", "T y",
        "A v = x; y = T(v * ember_normcdf(v));"),
    "gelu_backward": (
        "T grad, T x", "T grad_x",
        f"A v = x; A pdf = exp(v * v * A(-0.5)) * {_INV_SQRT_2PI};"
        " grad_x = T(A(grad) * (ember_normcdf(v) + v * pdf));"),
    "gelu_tanh": (
        "T x", "T y",
        f"A v = x; A inner = {_GELU_TANH_SCALE} * (v + {_GELU_TANH_CUBIC} * v * v * v);"
        " y = T(A(0.5) * v * (A(1) + tanh(inner)));"),
    "gelu_tanh_backward": (
        "T grad, T x", "T grad_x",
        f"A v = x; A v2 = v * v;"
        f" A t = tanh({_GELU_TANH_SCALE} * v * (A(1) + {_GELU_TANH_CUBIC} * v2));"
        f" A d_inner = {_GELU_TANH_SCALE} * (A(1) + A(3) * {_GELU_TANH_CUBIC} * v2);"
        " grad_x = T(A(grad) * (A(0.5) * (A(1) + t) + A(0.5) * v * (A(1) - t * t) * d_inner));"),
    "silu": (
        "T x", "T y",
        "A v = x; y = T(v * ember_sigmoid(v));"),
    "silu_backward": (
        "T grad, T x", "T grad_x",
        "A v = x; A s = ember_sigmoid(v); grad_x = T(A(grad) * (s * (A(1) + v * (A(1) - s))));"),
    "softplus": (
        # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow for any z
        "T x, T beta, T threshold", "T y",
        "A z = A(x) * A(beta);"
        " y = z > A(threshold) ? x"
        " : T(((z > A(0) ? z : A(0)) + log1p(exp(-fabs(z)))) / A(beta));"),
    "softplus_backward": (
        "T grad, T x, T beta, T threshold", "T grad_x",
        "A z = A(x) * A(beta);"
        " grad_x = z > A(threshold) ? grad : T(A(grad) * ember_sigmoid(z));"),
    "hardtanh_backward": (
        "T grad, T x, T min_val, T max_val", "T grad_x",
        "A v = x; grad_x = (v > A(min_val) && v < A(max_val)) ? grad : T(0);"),
    "relu_backward": (
        # the gradient passes where the output is not 0 (NaN included)
        "T grad, T y", "T grad_x",
        "grad_x = A(y) == A(0) ? T(0) : grad;"),
    "dropout_mask": (
        "T draws, T p, T scale", "T mask",
        "mask = A(draws) >= A(p) ? scale : T(0);"),
    "batch_norm_scale": (
        # per channel: the variance from the sum of squares, 1 / sqrt(var + eps), and weight
        # times that
        "T squares, T count, T weight, T eps", "T var, T inv_std, T scale",
        "var = T(A(squares) / A(count)); A s = A(1) / sqrt(A(var) + A(eps)); inv_std = T(s);"
        " scale = T(A(weight) * A(inv_std));"),
    "batch_norm_normalize": (
        # (x - mean) * scale + shift, per-channel values broadcast (the GPU's forward)
        "T x, T centre, T scale, T shift", "T y",
        "y = T((A(x) - A(centre)) * A(scale) + A(shift));"),
    "batch_norm_grad_coefficients": (
        # per channel, from sum(grad * centered) and sum(grad): dL/dweight and _input_grad_'s
        # slope, offset and scale (each rounded to T between steps, as the array code)
        "T grad_weight_centered, T grad_bias, T inv_std, T weight, T count",
        "T grad_weight, T slope, T offset, T scale",
        "T gw = T(A(grad_weight_centered) * A(inv_std)); grad_weight = gw;"
        " slope = T(A(T(A(inv_std) * A(gw))) / A(count));"
        " offset = T(A(grad_bias) / A(count)); scale = T(A(weight) * A(inv_std));"),
    "batch_norm_running_": (
        # per channel, in place: keep * running + factor * batch (the variance's corrected)
        "T mean, T var, T keep, T factor, T correction", "T running_mean, T running_var",
        "running_mean = T(A(T(A(running_mean) * A(keep))) + A(T(A(factor) * A(mean))));"
        " running_var = T(A(T(A(running_var) * A(keep)))"
        " + A(T(A(T(A(factor) * A(var))) * A(correction))));"),
    "batch_norm_input_grad": (
        # scale * (grad - ((x - mean) * slope + offset)) (the GPU's backward)
        "T grad, T x, T centre, T slope, T offset, T scale", "T grad_x",
        "grad_x = T(A(scale) * (A(grad) - ((A(x) - A(centre)) * A(slope) + A(offset))));"),
    "erf": (
        "T x", "T y",
        "y = T(erf(A(x)));"),
    "erfc": (
        "T x", "T y",
        "y = T(erfc(A(x)));"),
    "exp_difference": (
        "T x, T peak", "T y",
        "y = T(exp(A(x) - A(peak)));"),
    "standardize_backward": (
        # inv_std * (grad - mean(grad) - x_hat * mean(grad * x_hat)), the means given
        "T grad, T x_hat, T inv_std, T grad_mean, T projection", "T grad_x",
        "grad_x = T(A(inv_std) * (A(grad) - A(grad_mean) - A(x_hat) * A(projection)));"),
    "softmax_backward": (
        "T weighted, T y, T total", "T grad_x",
        "grad_x = T(A(weighted) - A(y) * A(total));"),
    "log_softmax_backward": (
        "T grad, T out, T total", "T grad_x",
        "grad_x = T(A(grad) - exp(A(out)) * A(total));"),
    "scaled_softmax": (
        # cross entropy's gradient before the targets: exp(logits - peak - log_sum) * grad
        "T logits, T peak, T log_sums, T scale", "T grad_x",
        "grad_x = T(exp(A(logits) - A(peak) - A(log_sums)) * A(scale));"),
    "lstm_layer_step": (
        # gates transposed, (4H, N) blocks i, f, g, o; states (H, N); act holds W_hh h and
        # becomes the activations
        "raw T x_gates, T c", "raw T act, T c_next, T tanh_c, T h",
        "ptrdiff_t n = _ind.size();"
        " A in_gate = ember_half_tanh(A(act[i]) + A(x_gates[i]));"
        " A forget = ember_half_tanh(A(act[i + n]) + A(x_gates[i + n]));"
        " A cell = tanh(A(act[i + 2 * n]) + A(x_gates[i + 2 * n]));"
        " A out_gate = ember_half_tanh(A(act[i + 3 * n]) + A(x_gates[i + 3 * n]));"
        " act[i] = T(in_gate); act[i + n] = T(forget); act[i + 2 * n] = T(cell);"
        " act[i + 3 * n] = T(out_gate);"
        " A c_new = forget * A(c) + in_gate * cell; A tanh_new = tanh(c_new);"
        " c_next = T(c_new); tanh_c = T(tanh_new); h = T(out_gate * tanh_new);"),
    "lstm_layer_step_backward": (
        # one step back: d_h (the carried one) plus this step's output gradient; d_c carried
        # in place; the gate gradients into d_gates (4H, N) and the step's d_gates_x view
        "T grad_out, T d_h, raw T act, T tanh_c, T c", "T d_c, raw T d_gates, raw T d_gates_x",
        "ptrdiff_t n = _ind.size();"
        " A in_gate = act[i], forget = act[i + n], cell = act[i + 2 * n],"
        " out_gate = act[i + 3 * n];"
        " A dh = A(d_h) + A(grad_out); A tc = tanh_c;"
        " A dc = A(d_c) + (A(1) - tc * tc) * out_gate * dh;"
        " T d_in = T((A(1) - in_gate) * in_gate * cell * dc);"
        " T d_forget = T((A(1) - forget) * forget * A(c) * dc);"
        " T d_cell = T((A(1) - cell * cell) * in_gate * dc);"
        " T d_out = T((A(1) - out_gate) * out_gate * tc * dh);"
        " d_gates[i] = d_in; d_gates[i + n] = d_forget; d_gates[i + 2 * n] = d_cell;"
        " d_gates[i + 3 * n] = d_out;"
        " d_gates_x[i] = d_in; d_gates_x[i + n] = d_forget; d_gates_x[i + 2 * n] = d_cell;"
        " d_gates_x[i + 3 * n] = d_out;"
        " d_c = T(dc * forget);"),
    "lstm_cell": (
        # gates (..., 4H) blocks i, f, g, o; states (..., H)
        "raw T gates, T c, int64 hidden", "raw T act, T c_next, T tanh_c, T h",
        "ptrdiff_t at = (i / hidden) * 4 * hidden + i % hidden;"
        " A in_gate = ember_half_tanh(A(gates[at]));"
        " A forget = ember_half_tanh(A(gates[at + hidden]));"
        " A cell = tanh(A(gates[at + 2 * hidden]));"
        " A out_gate = ember_half_tanh(A(gates[at + 3 * hidden]));"
        " act[at] = T(in_gate); act[at + hidden] = T(forget); act[at + 2 * hidden] = T(cell);"
        " act[at + 3 * hidden] = T(out_gate);"
        " A c_new = forget * A(c) + in_gate * cell; A tanh_new = tanh(c_new);"
        " c_next = T(c_new); tanh_c = T(tanh_new); h = T(out_gate * tanh_new);"),
    "lstm_cell_backward": (
        "T grad_h, T grad_c, T c, T tanh_c, raw T act, int64 hidden", "raw T d_gates, T d_c",
        "ptrdiff_t at = (i / hidden) * 4 * hidden + i % hidden;"
        " A in_gate = act[at], forget = act[at + hidden], cell = act[at + 2 * hidden],"
        " out_gate = act[at + 3 * hidden]; A tc = tanh_c;"
        " A dc = A(grad_c) + A(grad_h) * out_gate * (A(1) - tc * tc);"
        " d_gates[at] = T(dc * cell * in_gate * (A(1) - in_gate));"
        " d_gates[at + hidden] = T(dc * A(c) * forget * (A(1) - forget));"
        " d_gates[at + 2 * hidden] = T(dc * in_gate * (A(1) - cell * cell));"
        " d_gates[at + 3 * hidden] = T(A(grad_h) * tc * out_gate * (A(1) - out_gate));"
        " d_c = T(dc * forget);"),
    "gru_cell": (
        # gates (..., 3H) blocks r, z, n; the hidden gates include the hidden bias
        "raw T gates_x, raw T gates_h, T h, int64 hidden", "raw T rz, T n, T h_next",
        "ptrdiff_t at = (i / hidden) * 3 * hidden + i % hidden;"
        " ptrdiff_t at_rz = (i / hidden) * 2 * hidden + i % hidden;"
        " A reset = ember_half_tanh(A(gates_x[at]) + A(gates_h[at]));"
        " A update = ember_half_tanh(A(gates_x[at + hidden]) + A(gates_h[at + hidden]));"
        " A fresh = tanh(A(gates_x[at + 2 * hidden]) + reset * A(gates_h[at + 2 * hidden]));"
        " rz[at_rz] = T(reset); rz[at_rz + hidden] = T(update);"
        " n = T(fresh); h_next = T(fresh + update * (A(h) - fresh));"),
    "gru_cell_backward": (
        "T grad, T h, T n, raw T rz, raw T gates_h, int64 hidden",
        "raw T d_gates_x, raw T d_gates_h, T d_h",
        "ptrdiff_t at = (i / hidden) * 3 * hidden + i % hidden;"
        " ptrdiff_t at_rz = (i / hidden) * 2 * hidden + i % hidden;"
        " A reset = rz[at_rz], update = rz[at_rz + hidden], fresh = n, g = grad;"
        " A d_n = g * (A(1) - update) * (A(1) - fresh * fresh);"
        " T d_r = T(d_n * A(gates_h[at + 2 * hidden]) * reset * (A(1) - reset));"
        " T d_z = T(g * (A(h) - fresh) * update * (A(1) - update));"
        " d_gates_x[at] = d_r; d_gates_x[at + hidden] = d_z; d_gates_x[at + 2 * hidden] = T(d_n);"
        " d_gates_h[at] = d_r; d_gates_h[at + hidden] = d_z;"
        " d_gates_h[at + 2 * hidden] = T(d_n * reset);"
        " d_h = T(g * update);"),
}

# The kernels that allocate their outputs here (raw outputs, which cupy cannot size): the shapes
# of all their outputs, from their inputs.
_OUTPUT_SHAPES = {
    "lstm_cell": lambda gates, c, hidden: (gates.shape, c.shape, c.shape, c.shape),
    "lstm_cell_backward": lambda grad_h, grad_c, c, tanh_c, act, hidden: (act.shape, c.shape),
    "gru_cell": lambda gates_x, gates_h, h, hidden: (h.shape[:-1] + (2 * hidden,), h.shape,
                                                     h.shape),
    "gru_cell_backward": lambda grad, h, n, rz, gates_h, hidden: (gates_h.shape, gates_h.shape,
                                                                  h.shape),
}

_compiled: dict = {}
_NUMPY_ARRAY = np.ndarray  # one global lookup on the CPU path instead of two


def fused(name: str, args: tuple, fallback, *fallback_args):
    """Kernel ``name`` of ``KERNELS`` over ``args`` (arrays of one float dtype and Python
    numbers, inputs then outputs written in place) when the first is a cupy array; otherwise
    (numpy arrays and scalars, other dtypes) ``fallback(*fallback_args)``, the op's own array
    code, which computes the same values.

    The kernels of ``_OUTPUT_SHAPES`` take no outputs and allocate them here; the others take
    all their outputs (then written in place) or none (then cupy allocates them). Returns the
    kernel's outputs (a tuple when it has several), or whatever the fallback returns.
    """
    first = args[0]
    if (type(first) is _NUMPY_ARRAY or not hasattr(first, "__cuda_array_interface__")
            or not _one_float_dtype(args, first.dtype)):
        return fallback(*fallback_args)
    kernel = _compiled.get(name) or _compile(name)
    shapes = _OUTPUT_SHAPES.get(name)
    if shapes is None:
        return kernel(*args)
    import cupy

    return kernel(*args, *(cupy.empty(shape, dtype=first.dtype) for shape in shapes(*args)))


class FusedByModule(dict):
    """Array module -> the function of kernel ``name``'s arguments, for ops on the per-op-cost
    path (sigmoid, tanh), where ``fused``'s one extra call per op costs 3% of a chain of small
    ops on the CPU: ``table[xp](*args)``. numpy's entry is ``array_code(numpy)`` itself; cupy's
    runs the kernel (the array code for other dtypes). Entries are built on first use."""

    def __init__(self, name: str, array_code) -> None:
        super().__init__()
        self.name, self.array_code = name, array_code

    def __missing__(self, xp):
        code = self.array_code(xp)
        if xp is np:
            entry = code
        else:
            def entry(*args):
                return fused(self.name, args, code, *args)
        self[xp] = entry
        return entry


def _one_float_dtype(args, dtype) -> bool:
    if dtype.kind != "f" or dtype.itemsize not in (2, 4, 8):
        return False
    return all(getattr(a, "dtype", dtype) == dtype for a in args)


def _compile(name: str):
    import cupy

    in_params, out_params, body = KERNELS[name]
    kernel = cupy.ElementwiseKernel(in_params, out_params, _ACC + body, f"ember_{name}",
                                    preamble=_PREAMBLE)
    _compiled[name] = kernel
    return kernel
