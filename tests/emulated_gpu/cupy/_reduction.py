"""cupy.ReductionKernel on the host: for each output element, g++-built code maps every input
element of the reduced axes (``map_expr``), folds them with ``reduce_expr`` from ``identity`` in
``reduce_type``, in the order of a block of CuPy's threads (strided partial folds, then a tree),
and writes ``post_map_expr`` (``_in_ind.size()`` and ``_out_ind.size()`` count elements as in
CuPy).
Arguments are checked as CuPy's: non-raw input arrays, broadcast together."""

import ctypes

import numpy as np

from cupy import _launches
from cupy._kernel import _C, _PRELUDE, _TYPES, _params, build

# The order CuPy sums in: a block of threads each folding every _THREADS-th element, then a tree.
_THREADS = 512


class ReductionKernel:
    def __init__(self, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity,
                 name="reduce_kernel", reduce_type=None, reduce_dims=True, preamble="",
                 options=()):
        self.in_params = _params(in_params, True)
        self.out_params = _params(out_params, False)
        if len(self.out_params) != 1 or any(p.raw for p in self.in_params + self.out_params):
            raise NotImplementedError("emulated GPU: ReductionKernel with one output and no raw "
                                      "parameters only")
        self.map_expr, self.reduce_expr, self.post_map_expr = map_expr, reduce_expr, post_map_expr
        self.identity, self.name, self.reduce_type = identity, name, reduce_type
        self.preamble, self.options = preamble, options
        self._built = {}

    def __call__(self, *args, out=None, axis=None, keepdims=False, stream=None):
        from cupy._array import ndarray, wrap
        if len(args) != len(self.in_params):
            raise TypeError(f"Wrong number of arguments for {self.name!r}")
        if any(type(a) is not ndarray for a in args):
            raise NotImplementedError("emulated GPU: ReductionKernel over arrays only")
        types = {}
        for a, p in zip(args, self.in_params):
            want = p.dtype if p.dtype is not None else types.setdefault(p.ctype, a.dtype)
            if a.dtype != want:
                raise TypeError(f"Type is mismatched. {p.name} {a.dtype} {want}")
        shape = np.broadcast_shapes(*[a.shape for a in args])
        ndim = len(shape)
        axes = tuple(range(ndim)) if axis is None else tuple(
            d % ndim for d in ((axis,) if np.isscalar(axis) else axis))
        kept = [d for d in range(ndim) if d not in axes]
        out_shape = tuple(1 if d in axes else shape[d] for d in range(ndim)) if keepdims else \
            tuple(shape[d] for d in kept)
        out_param = self.out_params[0]
        out_dtype = out_param.dtype if out_param.dtype is not None else types[out_param.ctype]
        if out is None:
            out = wrap(np.empty(out_shape, out_dtype))
        elif out.shape != out_shape:
            raise ValueError("Out shape is mismatched")
        _launches.count(self.name)
        views = [np.broadcast_to(a._a, shape) for a in args]
        result = np.empty(tuple(shape[d] for d in kept), out_dtype)
        if result.size:
            self._run(views, result, types, out_dtype, kept, list(axes), shape)
        out._a[...] = result.reshape(out_shape)
        return out

    def _run(self, views, result, types, out_dtype, kept, axes, shape):
        key = (tuple(sorted((k, str(v)) for k, v in types.items())), len(kept), len(axes))
        lib = self._built.get(key) or self._build(key, types, out_dtype)
        n_in = len(views)
        ptrs = (ctypes.c_void_p * n_in)(*[v.ctypes.data for v in views])
        kept_shape = [shape[d] for d in kept]
        axes_shape = [shape[d] for d in axes]
        strides = []
        for v in views:
            strides += [v.strides[d] for d in kept] + [v.strides[d] for d in axes]
        longs = ctypes.c_longlong

        def array(values):
            return (longs * max(1, len(values)))(*values)
        lib.run(ptrs, ctypes.c_void_p(result.ctypes.data), array(kept_shape), array(axes_shape),
                array(strides), longs(int(np.prod(kept_shape))), longs(int(np.prod(axes_shape))))

    def _build(self, key, types, out_dtype):
        typedefs = "".join(f"typedef {_C[np.dtype(t)]} {name};\n" for name, t in types.items()
                           if name not in _TYPES)
        out_c = _C[np.dtype(out_dtype)]
        reduce_type = self.reduce_type or out_c
        n_kept, n_axes = key[1], key[2]
        reads = []
        for j, p in enumerate(self.in_params):
            ct = _C[p.dtype] if p.dtype is not None else p.ctype
            at = j * (n_kept + n_axes)
            reads.append(f"const {ct} {p.name} = *(const {ct}*) ((const char*) ptrs[{j}] + "
                         f"ember_offset(o, {n_kept}, kept_shape, strides + {at}) + "
                         f"ember_offset(r, {n_axes}, axes_shape, strides + {at + n_kept}));")
        src = (_PRELUDE + typedefs + self.preamble + "\n"
               + f"typedef {reduce_type} _type_reduce;\n"
               + 'extern "C" void run(void** ptrs, void* result, const long long* kept_shape, '
               "const long long* axes_shape, const long long* strides, long long n_out, "
               "long long n_reduce) {\n"
               "  const Ind _in_ind{(ptrdiff_t) (n_out * n_reduce)}, _out_ind{(ptrdiff_t) n_out};\n"
               "  for (ptrdiff_t o = 0; o < n_out; ++o) {\n"
               f"    _type_reduce _part[{_THREADS}];\n"
               f"    for (int t = 0; t < {_THREADS}; ++t) {{\n"
               f"      _part[t] = _type_reduce({self.identity});\n"
               f"      for (ptrdiff_t r = t; r < n_reduce; r += {_THREADS}) {{\n        "
               + "\n        ".join(reads)
               + f"\n        _type_reduce _mapped = _type_reduce({self.map_expr});\n"
               "        { _type_reduce a = _part[t], b = _mapped; "
               f"_part[t] = _type_reduce({self.reduce_expr}); }}\n      }}\n    }}\n"
               f"    for (int width = {_THREADS // 2}; width > 0; width /= 2)\n"
               "      for (int t = 0; t < width; ++t) { _type_reduce a = _part[t], "
               f"b = _part[t + width]; _part[t] = _type_reduce({self.reduce_expr}); }}\n"
               f"    {{ _type_reduce a = _part[0]; {out_c} &{self.out_params[0].name} = "
               f"(({out_c}*) result)[o]; {self.post_map_expr}; }}\n  }}\n}}\n")
        fma = "-ffp-contract=off" if "--fmad=false" in self.options else "-ffp-contract=fast"
        lib = ctypes.CDLL(build(self.name, src, fma))
        lib.run.restype = None
        self._built[key] = lib
        return lib
