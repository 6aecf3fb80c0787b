"""The emulated GPU's ``cupy``: a numpy-backed stand-in for CuPy 14.2 that runs Ember's GPU code
paths on the CPU (see README.md beside this package). Not CuPy: one device, a synchronisation
model instead of concurrency, kernels built with g++."""

import builtins
import sys

import numpy as np

from cupy import _cuda, _random
from cupy._array import POOL, ndarray, unwrap, wrap
from cupy._functions import populate
from cupy._kernel import ElementwiseKernel  # noqa: F401
from cupy._reduction import ReductionKernel  # noqa: F401

__version__ = "14.2.0"
cuda = _cuda.cuda
random = _cuda.module("cupy.random", **{name: getattr(_random, name) for name in dir(_random)
                                         if not name.startswith("_")})
_pin = _cuda.pin


# ---- constructors and transfers ------------------------------------------------------------

def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):  # noqa: A001
    return wrap(np.array(unwrap(obj, strict=False), dtype=dtype, copy=copy, order=order,
                         ndmin=ndmin))


def asarray(a, dtype=None, order=None, *, copy=None, blocking=False):
    if type(a) is ndarray and (dtype is None or np.dtype(dtype) == a.dtype) and not copy:
        return a
    source = unwrap(a, strict=False)
    result = np.array(source, dtype=dtype, order=order or "K", copy=True if copy else None)
    if type(a) is ndarray:
        return wrap(result, a)
    # from the host: a copy, never the host memory itself
    return wrap(result.copy() if np.may_share_memory(result, source) else result)


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    if type(a) is ndarray:
        return a.get(stream=stream, order=order, out=out, blocking=blocking)
    result = np.asarray(a, order=order)
    if out is not None:
        out[...] = result
        return out
    return result


def get_array_module(*args):
    # builtins: the namespace's own any is cupy.any
    return sys.modules[__name__] if builtins.any(type(a) is ndarray for a in args) else np


class _HostView:
    """A DLPack producer's capsule (host memory in this emulation) presented to numpy."""

    def __init__(self, producer):
        self.producer = producer

    def __dlpack__(self, **kwargs):
        return self.producer.__dlpack__()

    def __dlpack_device__(self):
        return (1, 0)


def from_dlpack(x, *, device=None, copy=None):
    return wrap(np.from_dlpack(_HostView(x)))


def get_default_memory_pool():
    return POOL


class _PinnedMemoryPool:
    def free_all_blocks(self):
        pass

    def n_free_blocks(self):
        return 0


_PINNED_POOL = _PinnedMemoryPool()


def get_default_pinned_memory_pool():
    return _PINNED_POOL


# ---- CuPy wraps out-of-bound indices where numpy raises --------------------------------------

def take(a, indices, axis=None, out=None):
    result = np.take(unwrap(a), unwrap(indices, strict=False), axis=axis, out=unwrap(out),
                     mode="wrap")
    return out if out is not None else wrap(result)


def take_along_axis(a, indices, axis):
    index = unwrap(indices)
    size = a.size if axis is None else a.shape[axis]
    return wrap(np.take_along_axis(unwrap(a), np.mod(index, size) if size else index, axis))


def put(a, ind, v, mode="wrap"):
    np.put(unwrap(a), unwrap(ind, strict=False), unwrap(v, strict=False), mode=mode)


ndarray.take = lambda self, indices, axis=None, out=None: take(self, indices, axis, out)


# ---- submodules and the rest of the namespace ------------------------------------------------

def _as_strided(x, shape=None, strides=None):
    return wrap(np.lib.stride_tricks.as_strided(x._a, shape, strides), x)


def _sliding_window_view(x, window_shape, axis=None, *, subok=False, writeable=False):
    return wrap(np.lib.stride_tricks.sliding_window_view(x._a, window_shape, axis,
                                                         writeable=writeable), x)


lib = _cuda.module("cupy.lib", stride_tricks=_cuda.module(
    "cupy.lib.stride_tricks", as_strided=_as_strided, sliding_window_view=_sliding_window_view))
linalg = _cuda.module("cupy.linalg")
populate(linalg.__dict__, "cupy.linalg", np.linalg, "cupy.linalg")
fft = _cuda.module("cupy.fft")
populate(fft.__dict__, "cupy.fft", np.fft, "cupy.fft")
# Everything else CuPy 14.2 has and numpy has too, with CuPy's signatures checked.
populate(globals(), "cupy", np, "cupy", skip={"fuse"})
for _name in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
              "uint16", "uint32", "uint64", "bool_", "complex64", "complex128", "dtype", "finfo",
              "iinfo", "newaxis", "inf", "nan", "pi", "e"):
    globals()[_name] = getattr(np, _name)
globals()["bool"] = np.bool_
del _name
