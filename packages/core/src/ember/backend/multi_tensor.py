"""Work on lists of arrays at once (PyTorch's multi-tensor apply, its ``foreach`` paths).

On cupy one kernel reads and writes every array of a list in place, through a table of their data
pointers and the flat offset where each begins: an optimizer update of a whole parameter group,
the scaling and clamping of all gradients, copying them into one flat array and back. On numpy
the same functions loop over the arrays.

The optimizer kernels follow ``ember.optim._functional`` operation for operation and are compiled
without fused multiply-adds, so each rounding is numpy's: on the GPU they give the CPU's values.
"""

from __future__ import annotations

import numpy as np

_CTYPES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}
_C_NAMES = {"float32": "float", "float64": "double"}

# Finds the array that holds flat element i: the last k with offsets[k] <= i (this skips empty
# arrays), by bisection over the count + 1 offsets; j is the element's index inside array k.
_LOCATE = """
int k = 0, last = count - 1;
while (k < last) {
  const int middle = (k + last + 1) / 2;
  if (offsets[middle] <= i) k = middle; else last = middle - 1;
}
const long long j = i - offsets[k];
"""

# The parameter (written in place) and its gradient, and the direction ``g = ±grad + wd * p`` of
# ``_functional._direction``: (-grad) + p*wd is p*wd - grad exactly.
_PARAM_AND_GRAD = _LOCATE + """
T& p = reinterpret_cast<T*>(params[k])[j];
const T grad = reinterpret_cast<const T*>(grads[k])[j];
T d = maximize ? -grad : grad;
"""
_L2_DECAY = "if (decay) d = d + p * weight_decay;\n"
# Adam's (and RAdam's, NAdam's) weight decay, L2 or decoupled, and moments m and v.
_ADAM_MOMENTS = _PARAM_AND_GRAD + """
if (decoupled) { if (decay) p = p * decay_factor; }
else if (decay) d = d + p * weight_decay;
const T m = exp_avg[i] + (d - exp_avg[i]) * one_minus_beta1;
const T v = exp_avg_sq[i] * beta2 + (d * d) * one_minus_beta2;
exp_avg[i] = m;
exp_avg_sq[i] = v;
"""
_ADAM_SCALARS = "weight_decay decay_factor one_minus_beta1 beta2 one_minus_beta2 eps "


class _Kernel:
    """One optimizer update as CUDA: its scalar options (of the parameters' type), its int flags,
    its flat state buffers, and the loop body run once per element (``i``)."""

    def __init__(self, scalars: str, flags: str, buffers: str, body: str) -> None:
        self.scalars, self.flags, self.buffers = scalars.split(), flags.split(), buffers.split()
        self.body = body


KERNELS = {
    "sgd": _Kernel(
        "lr weight_decay momentum one_minus_dampening",
        "maximize decay has_momentum first_step dampened nesterov",
        "momentum_buffer",
        _PARAM_AND_GRAD + _L2_DECAY + """
if (has_momentum) {
  T b = momentum_buffer[i];
  if (first_step) b = d;
  else { b = b * momentum; b = dampened ? b + one_minus_dampening * d : b + d; }
  momentum_buffer[i] = b;
  d = nesterov ? b * momentum + d : b;
}
p = p - lr * d;
"""),
    "adam": _Kernel(
        _ADAM_SCALARS + "bias_correction2_sqrt step_size",
        "maximize decay decoupled amsgrad",
        "exp_avg exp_avg_sq max_exp_avg_sq",
        _ADAM_MOMENTS + """
T second = v;
if (amsgrad) {  // numpy's maximum: NaN wins
  const T top = max_exp_avg_sq[i];
  second = (top > v || top != top) ? top : v;
  max_exp_avg_sq[i] = second;
}
p = p - m / (sqrt(second) / bias_correction2_sqrt + eps) * step_size;
"""),
    "rmsprop": _Kernel(
        "lr alpha one_minus_alpha eps weight_decay momentum",
        "maximize decay centered has_momentum",
        "square_avg grad_avg momentum_buffer",
        _PARAM_AND_GRAD + _L2_DECAY + """
const T v = square_avg[i] * alpha + (d * d) * one_minus_alpha;
square_avg[i] = v;
T avg;
if (centered) {
  const T mean = grad_avg[i] + (d - grad_avg[i]) * one_minus_alpha;
  grad_avg[i] = mean;
  avg = sqrt(v - mean * mean);
} else {
  avg = sqrt(v);
}
avg = d / (avg + eps);
if (has_momentum) {
  const T b = momentum_buffer[i] * momentum + avg;
  momentum_buffer[i] = b;
  avg = b;
}
p = p - avg * lr;
"""),
    "radam": _Kernel(
        _ADAM_SCALARS + "step_size",
        "maximize decay decoupled rectified",
        "exp_avg exp_avg_sq",
        _ADAM_MOMENTS + """
p = rectified ? p - m / (sqrt(v) + eps) * step_size : p - m * step_size;
"""),
    "nadam": _Kernel(
        _ADAM_SCALARS + "bias_correction2 grad_step momentum_step",
        "maximize decay decoupled",
        "exp_avg exp_avg_sq",
        _ADAM_MOMENTS + """
const T denom = sqrt(v / bias_correction2) + eps;
p = p - d / denom * grad_step;
p = p - m / denom * momentum_step;
"""),
    "adamax": _Kernel(
        "weight_decay one_minus_beta1 beta2 eps clr",
        "maximize decay",
        "exp_avg exp_inf",
        _PARAM_AND_GRAD + _L2_DECAY + """
const T m = exp_avg[i] + (d - exp_avg[i]) * one_minus_beta1;
exp_avg[i] = m;
const T decayed = exp_inf[i] * beta2;
const T bound = fabs(d) + eps;
const T u = (decayed > bound || decayed != decayed) ? decayed : bound;  // numpy's maximum
exp_inf[i] = u;
p = p - m / u * clr;
"""),
    "adadelta": _Kernel(
        "lr rho one_minus_rho eps weight_decay",
        "maximize decay",
        "square_avg acc_delta",
        _PARAM_AND_GRAD + _L2_DECAY + """
const T v = square_avg[i] * rho + one_minus_rho * (d * d);
square_avg[i] = v;
const T delta = sqrt(acc_delta[i] + eps) / sqrt(v + eps) * d;
acc_delta[i] = acc_delta[i] * rho + one_minus_rho * (delta * delta);
p = p - delta * lr;
"""),
    "asgd": _Kernel(
        "weight_decay shrink eta mu",
        "maximize decay averaging",
        "ax",
        _PARAM_AND_GRAD + _L2_DECAY + """
p = p * shrink;
p = p - eta * d;
ax[i] = averaging ? ax[i] + (p - ax[i]) * mu : p;
"""),
    "adagrad": _Kernel(
        "clr eps weight_decay",
        "maximize decay",
        "state_sum",
        _PARAM_AND_GRAD + _L2_DECAY + """
const T s = state_sum[i] + d * d;
state_sum[i] = s;
p = p - d / (sqrt(s) + eps) * clr;
"""),
}

_SCALE = _LOCATE + "T& x = reinterpret_cast<T*>(arrays[k])[j];\nx = x * factor[0];\n"
# numpy's clip: NaN stays NaN (both comparisons are false).
_CLAMP = _LOCATE + """
T& x = reinterpret_cast<T*>(arrays[k])[j];
x = x < low ? low : (x > high ? high : x);
"""
_GATHER = _LOCATE + "flat[i] = reinterpret_cast<const T*>(arrays[k])[j];\n"
_SCATTER = _LOCATE + "reinterpret_cast<T*>(arrays[k])[j] = flat[i];\n"
_TABLE = "raw uint64 {arrays}, raw int64 offsets, int32 count"


def _signatures() -> dict:
    """Every kernel's (in_params, out_params, body) by name, ``T`` standing for the dtype."""
    signatures = {
        name: (", ".join([_TABLE.format(arrays="params"), "raw uint64 grads"]
                         + [f"T {s}" for s in spec.scalars] + [f"int32 {f}" for f in spec.flags]),
               ", ".join(f"raw T {b}" for b in spec.buffers), spec.body)
        for name, spec in KERNELS.items()
    }
    signatures["scale"] = (_TABLE.format(arrays="arrays") + ", raw T factor", "", _SCALE)
    signatures["clamp"] = (_TABLE.format(arrays="arrays") + ", T low, T high", "", _CLAMP)
    signatures["gather"] = (_TABLE.format(arrays="arrays"), "raw T flat", _GATHER)
    signatures["scatter"] = (_TABLE.format(arrays="arrays") + ", raw T flat", "", _SCATTER)
    return signatures


SIGNATURES = _signatures()
_compiled: dict = {}


# The four touch points with cupy. The kernels' test runs the same sources on the CPU by replacing
# them (tests/core/test_multi_tensor_kernels.py).


def _on_gpu(array) -> bool:
    return type(array) is not np.ndarray


def _upload(host):
    """A small host array (pointer and offset tables) as a cupy array on the current device."""
    import cupy

    return cupy.asarray(host)


def _address(array) -> int:
    return array.data.ptr


def _launch(name: str, dtype, args: list, size: int) -> None:
    """Runs kernel ``name`` for ``dtype`` over ``size`` elements."""
    _kernel(name, dtype)(*args, size=size)


def _kernel(name: str, dtype):
    """The cupy ElementwiseKernel ``name`` with ``T`` set to ``dtype``, built once. Every array
    is raw, so each launch gives the size."""
    key = (name, dtype)
    kernel = _compiled.get(key)
    if kernel is None:
        import cupy

        in_params, out_params, body = SIGNATURES[name]
        type_name = _CTYPES[dtype]
        kernel = cupy.ElementwiseKernel(
            in_params.replace("T ", f"{type_name} "), out_params.replace("T ", f"{type_name} "),
            body, f"ember_multi_tensor_{name}", preamble=f"typedef {_C_NAMES[type_name]} T;",
            options=("--fmad=false",), no_return=True)
        _compiled[key] = kernel
    return kernel


def one_kernel_fits(arrays) -> bool:
    """Whether one kernel can address every array: cupy, C-contiguous, all float32 or all
    float64 (the caller keeps them on one device)."""
    first = arrays[0]
    if not _on_gpu(first) or first.dtype not in _CTYPES:
        return False
    dtype = first.dtype
    return all(a.dtype == dtype and a.flags.c_contiguous for a in arrays)


class PointerTable:
    """The device table of the data pointers and flat offsets of cupy arrays of one dtype
    (C-contiguous, on the current device). It keeps the arrays alive."""

    __slots__ = ("arrays", "dtype", "offsets", "pointers", "total")

    def __init__(self, arrays) -> None:
        self.arrays = list(arrays)
        self.dtype = self.arrays[0].dtype
        sizes = [a.size for a in self.arrays]
        self.total = int(sum(sizes))
        self.pointers = _pointers(self.arrays)
        self.offsets = _upload(np.cumsum([0, *sizes], dtype=np.int64))

    def head(self) -> list:
        """The kernel's first arguments: pointers, offsets, count."""
        return [self.pointers, self.offsets, len(self.arrays)]


def _pointers(arrays):
    return _upload(np.array([_address(a) for a in arrays], np.uint64))


def fused_update(name: str, params: PointerTable, grads: list, buffers: dict, **scalars) -> None:
    """Runs the optimizer kernel ``name`` (a key of ``KERNELS``) once over all ``params``: reads
    each of ``grads`` (C-contiguous, in params' dtype and order), updates the params and the flat
    state ``buffers`` (name -> array of ``params.total`` elements; a buffer left out is never
    read) in place. ``scalars`` holds the kernel's scalar options and flags by name."""
    spec = KERNELS[name]
    unused = _upload(np.empty(0, params.dtype))
    args = [*params.head(), _pointers(grads), *[scalars[s] for s in spec.scalars],
            *[int(scalars[f]) for f in spec.flags], *[buffers.get(b, unused) for b in spec.buffers]]
    _launch(name, params.dtype, args, params.total)


def gather(table: PointerTable, flat) -> None:
    """Copies the table's arrays one after the other into ``flat`` (a concatenate)."""
    _launch("gather", table.dtype, [*table.head(), flat], table.total)


def scatter(flat, table: PointerTable) -> None:
    """Copies the slices of ``flat`` back into the table's arrays (gather's inverse)."""
    _launch("scatter", table.dtype, [*table.head(), flat], table.total)


def scale_(arrays: list, factor) -> None:
    """Multiplies every array in place by the 0-d array ``factor`` (cast to their dtype), on its
    device: no host synchronisation."""
    if not one_kernel_fits(arrays):
        for array in arrays:
            array *= factor.astype(array.dtype, copy=False)
        return
    table = PointerTable(arrays)
    _launch("scale", table.dtype, [*table.head(), factor.astype(table.dtype).reshape(1)],
            table.total)


def clamp_(arrays: list, low: float, high: float) -> None:
    """Clamps every array in place into ``[low, high]`` (numpy's ``clip``: NaN stays NaN)."""
    if not one_kernel_fits(arrays):
        for array in arrays:
            array.clip(low, high, out=array)
        return
    table = PointerTable(arrays)
    _launch("clamp", table.dtype, [*table.head(), low, high], table.total)
