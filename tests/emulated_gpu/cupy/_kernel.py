"""cupy.ElementwiseKernel on the host: the body is built by g++ into a loop over the index space
(broadcast non-raw arrays addressed through their strides, raw arrays through CArray's C-order
flat index) and run through ctypes on the arrays' own memory, so in-place updates and aliasing
behave as on the GPU. Argument checks follow cupy 14's _kernel.pyx."""
import ctypes
import hashlib
import os
import re
import subprocess
import tempfile

import numpy as np

_TYPES = {"bool": np.bool_, "int8": np.int8, "uint8": np.uint8, "int16": np.int16,
          "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32, "int64": np.int64,
          "uint64": np.uint64, "float16": np.float16, "float32": np.float32,
          "float64": np.float64}
_C = {np.dtype(np.bool_): "bool", np.dtype(np.int8): "signed char",
      np.dtype(np.uint8): "unsigned char", np.dtype(np.int16): "short",
      np.dtype(np.uint16): "unsigned short", np.dtype(np.int32): "int",
      np.dtype(np.uint32): "unsigned int", np.dtype(np.int64): "long long",
      np.dtype(np.uint64): "unsigned long long", np.dtype(np.float16): "float16",
      np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
# Built kernels, shared by the test processes of a machine (each file is written whole).
_CACHE_DIR = os.environ.get("EMULATED_GPU_KERNEL_CACHE") or os.path.join(
    tempfile.gettempdir(), f"ember-emulated-gpu-kernels-{os.getuid()}")

_PRELUDE = r"""
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <algorithm>
using std::min; using std::max; using std::exp; using std::log; using std::sqrt; using std::tanh;
using std::expm1; using std::log1p; using std::fabs; using std::floor; using std::ceil;
using std::isnan; using std::isinf; using std::isfinite; using std::erf; using std::erfc;
#define __device__
#define __host__
#define __global__
#define __forceinline__ inline
struct float16 {
  _Float16 v;
  float16() = default;
  float16(float f) : v((_Float16) f) {}
  float16(double f) : v((_Float16) f) {}
  float16(int f) : v((_Float16) f) {}
  float16(long long f) : v((_Float16) f) {}
  operator float() const { return (float) v; }
};
inline float normcdff(float x) { return 0.5f * std::erfc(-x * 0.70710678118654752f); }
inline double normcdf(double x) { return 0.5 * std::erfc(-x * 0.70710678118654752); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
struct Ind { ptrdiff_t n; ptrdiff_t size() const { return n; } };
static inline ptrdiff_t ember_offset(ptrdiff_t k, int nd, const long long* shape,
                                     const long long* strides) {
  ptrdiff_t off = 0;
  for (int d = nd - 1; d >= 0; --d) { off += (k % shape[d]) * strides[d]; k /= shape[d]; }
  return off;
}
template <typename U> struct Raw {
  char* p; int nd; const long long* shape; const long long* strides;
  U& operator[](ptrdiff_t k) const { return *(U*)(p + ember_offset(k, nd, shape, strides)); }
  ptrdiff_t size() const { ptrdiff_t s = 1; for (int d = 0; d < nd; ++d) s *= shape[d]; return s; }
};
"""


class Param:
    def __init__(self, text, is_input):
        words = text.split()
        self.raw = words[0] == "raw"
        if self.raw:
            words = words[1:]
        if len(words) != 2:
            raise ValueError(f"Invalid parameter: {text!r}")
        self.ctype, self.name = words
        self.dtype = np.dtype(_TYPES[self.ctype]) if self.ctype in _TYPES else None
        self.is_input = is_input


def _params(spec, is_input):
    return tuple(Param(p.strip(), is_input) for p in spec.split(",") if p.strip())


def _is_device_array(a):
    from cupy._array import ndarray
    return isinstance(a, ndarray)


class ElementwiseKernel:
    def __init__(self, in_params, out_params, operation, name="kernel", reduce_dims=True,
                 preamble="", no_return=False, return_tuple=False, **kwargs):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", name):
            raise ValueError(f'Invalid kernel name: "{name}"')
        unknown = set(kwargs) - {"options", "loop_prep", "after_loop"}
        if unknown:
            raise TypeError(f"ElementwiseKernel: unexpected keyword arguments {unknown}")
        self.in_params = _params(in_params, True)
        self.out_params = _params(out_params, False)
        self.nin, self.nout = len(self.in_params), len(self.out_params)
        self.params = self.in_params + self.out_params
        if "i" in [p.name for p in self.params]:
            raise ValueError("Can not use 'i' as a parameter name")
        self.operation, self.name, self.preamble = operation, name, preamble
        self.no_return, self.return_tuple = no_return, return_tuple
        self.kwargs = kwargs
        self._built = {}

    def __call__(self, *args, **kwargs):
        from cupy import _array, _launches
        size = kwargs.pop("size", -1)
        kwargs.pop("stream", None)
        block_size = kwargs.pop("block_size", 128)
        if kwargs:
            raise TypeError(f"Wrong arguments {kwargs}")
        if block_size <= 0:
            raise ValueError("block_size must be greater than zero")
        if len(args) not in (self.nin, self.nin + self.nout):
            raise TypeError(f"Wrong number of arguments for {self.name!r}. It must be either "
                            f"{self.nin} or {self.nin + self.nout} (with outputs), but given "
                            f"{len(args)}.")
        for a in args:
            if not (_is_device_array(a) or np.isscalar(a) or isinstance(a, np.generic)):
                raise TypeError(f"Unsupported type {type(a)}")
        nonraw = [a for a, p in zip(args, self.params) if not p.raw and _is_device_array(a)]
        if size != -1:
            if nonraw:
                raise ValueError("Specified 'size' can be used only if all of the ndarray are "
                                 "'raw'.")
            shape = (size,)
        else:
            if not nonraw:
                raise ValueError("Loop size is undecided.")
            shape = np.broadcast_shapes(*[a.shape for a in nonraw])
        types = {}
        for a, p in zip(args, self.params):
            if not _is_device_array(a):
                continue
            if p.dtype is not None:
                if a.dtype != p.dtype:
                    raise TypeError(f"Type is mismatched. {p.name} {a.dtype} {p.dtype}")
            elif p.ctype in types and types[p.ctype] != a.dtype:
                raise TypeError(f"Type is mismatched. {p.name} {a.dtype} {types[p.ctype]} "
                                f"{p.ctype}")
            else:
                types[p.ctype] = a.dtype

        def resolved(p):
            if p.dtype is not None:
                return p.dtype
            if p.ctype not in types:
                raise TypeError(f"Cannot determine the type of {p.ctype} ({p.name})")
            return types[p.ctype]

        args = list(args)
        if len(args) == self.nin:
            if any(p.raw for p in self.out_params) and size == -1:
                raise ValueError("Output array size is Undecided")
            args += [_array.empty(shape, resolved(p)) for p in self.out_params]
        else:
            for a, p in zip(args[self.nin:], self.out_params):
                if not _is_device_array(a):
                    raise TypeError("Output arguments type must be cupy.ndarray")
                if not p.raw and tuple(a.shape) != tuple(shape):
                    raise ValueError("Out shape is mismatched")
        outs = args[self.nin:]
        ret = None if self.no_return else (
            outs[0] if (not self.return_tuple and self.nout == 1) else tuple(outs))
        _launches.count(self.name)
        n = int(np.prod(shape))
        if n == 0:
            return ret
        self._run(args, shape, n, types, resolved)
        return ret

    def _run(self, args, shape, n, types, resolved):
        kinds = tuple("a" if _is_device_array(a) else "s" for a in args)
        ndims = tuple(a.ndim if _is_device_array(a) and p.raw else len(shape)
                      for a, p in zip(args, self.params))
        key = (tuple(sorted((k, str(v)) for k, v in types.items())), kinds, ndims)
        lib = self._built.get(key) or self._build(key, args, resolved, ndims)
        k = len(args)
        ptrs = (ctypes.c_void_p * k)()
        shapes, strides, keep = [], [], []
        scal_f = (ctypes.c_double * k)()
        scal_i = (ctypes.c_longlong * k)()
        for j, (a, p) in enumerate(zip(args, self.params)):
            if _is_device_array(a):
                h = a._a
                if p.raw:
                    view = h
                else:
                    view = np.broadcast_to(h, shape) if h.shape != tuple(shape) else h
                ptrs[j] = view.ctypes.data
                shapes += list(view.shape) or []
                strides += list(view.strides) or []
                keep.append(view)
            else:
                dt = resolved(p)
                if dt.kind in "iub":
                    scal_i[j] = int(a)
                else:
                    scal_f[j] = float(a)
        sh = (ctypes.c_longlong * max(1, len(shapes)))(*shapes)
        st = (ctypes.c_longlong * max(1, len(strides)))(*strides)
        lsh = (ctypes.c_longlong * max(1, len(shape)))(*shape)
        lib.run(ptrs, sh, st, scal_f, scal_i, ctypes.c_longlong(n), lsh)

    def _build(self, key, args, resolved, ndims):
        typedefs = "".join(f"typedef {_C[np.dtype(t)]} {name};\n" for name, t in key[0]
                           if name not in _TYPES)
        lines, dim_at = [], 0
        for j, (a, p, nd) in enumerate(zip(args, self.params, ndims)):
            ct = _C[resolved(p)]
            if not _is_device_array(a):
                kind = resolved(p).kind
                src = f"scal_i[{j}]" if kind in "iub" else f"scal_f[{j}]"
                lines.append(f"const {ct} {p.name} = ({ct}) {src};")
                continue
            if p.raw:
                lines.append(f"Raw<{ct}> {p.name}{{(char*) ptrs[{j}], {nd}, shapes + {dim_at},"
                             f" strides + {dim_at}}};")
            else:
                addr = (f"(({ct}*) ((char*) ptrs[{j}] + ember_offset(i, {nd}, loop_shape, "
                        f"strides + {dim_at})))")
                lines.append(f"const {ct} {p.name} = *{addr};" if p.is_input
                             else f"{ct} &{p.name} = *{addr};")
            dim_at += nd
        options = self.kwargs.get("options", ())
        fma = "-ffp-contract=off" if "--fmad=false" in options else "-ffp-contract=fast"
        src = (_PRELUDE + typedefs + self.preamble + "\n"
               + 'extern "C" void run(void** ptrs, const long long* shapes, '
               "const long long* strides, const double* scal_f, const long long* scal_i, "
               "long long n, const long long* loop_shape) {\n"
               + self.kwargs.get("loop_prep", "")
               + "\n  for (ptrdiff_t i = 0; i < n; ++i) {\n    Ind _ind{(ptrdiff_t) n};\n    "
               + "\n    ".join(lines) + "\n    " + self.operation + ";\n  }\n"
               + self.kwargs.get("after_loop", "") + "\n}\n")
        path = build(self.name, src, fma)
        lib = ctypes.CDLL(path)
        lib.run.restype = None
        self._built[key] = lib
        return lib


def build(name, src, fma):
    """The path of the shared library g++ builds from ``src`` (cached by content)."""
    digest = hashlib.sha1((src + fma).encode()).hexdigest()[:20]
    os.makedirs(_CACHE_DIR, exist_ok=True)
    path = os.path.join(_CACHE_DIR, f"{name}_{digest}.so")
    if not os.path.exists(path):
        cpp = path[:-3] + f".{os.getpid()}.cpp"
        with open(cpp, "w") as f:
            f.write(src)
        tmp = path + f".{os.getpid()}.tmp"
        result = subprocess.run(["g++", "-O1", fma, "-std=c++17", "-shared", "-fPIC", "-o", tmp,
                                 cpp], capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"emulated GPU: kernel {name} failed to build:\n{result.stderr}"
                               f"\n--- source {cpp}")
        os.replace(tmp, path)
    return path
