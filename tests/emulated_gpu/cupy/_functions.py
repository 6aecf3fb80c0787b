"""cupy's functions and ufuncs over numpy's, with cupy 14.2's signatures checked."""
import numpy as np

from cupy import _launches
from cupy._array import _launched, ndarray, unwrap, wrap
from cupy._signatures import API, check_call


def _first_array(args):
    for a in args:
        if type(a) is ndarray:
            return a
        if isinstance(a, (list, tuple)):
            for b in a:
                if type(b) is ndarray:
                    return b
    return None


# Functions whose result's size depends on the values: cupy reads a count back to the host.
_SIZED_BY_VALUES = {"nonzero", "argwhere", "flatnonzero", "unique", "compress", "extract"}


def function(qualname, np_fn, sig, strict=True):
    def fn(*args, **kwargs):
        check_call(qualname, sig, args, kwargs)
        out = kwargs.get("out")
        if fn.__name__ in _SIZED_BY_VALUES:
            _launches.sync(f"{qualname} (result size)")
        r = np_fn(*unwrap(args, strict), **{k: unwrap(v, strict) for k, v in kwargs.items()})
        if type(out) is ndarray:
            _launches.count(qualname)
            return out
        first = _first_array(args)
        _launched(qualname, r, None if first is None else first._a)
        return wrap(r, first)

    fn.__name__ = qualname.rsplit(".", 1)[-1]
    fn.__qualname__ = qualname
    return fn


class ufunc:  # noqa: N801 (CuPy's name)
    def __init__(self, name, np_ufunc, methods):
        self.__name__ = self.name = name
        self._u = np_ufunc
        self.nin, self.nout = np_ufunc.nin, np_ufunc.nout
        self._methods = methods

    def __repr__(self):
        return f"<ufunc 'cupy_{self.name}'>"

    def __call__(self, *args, **kwargs):
        bad = set(kwargs) - {"out", "dtype", "casting", "_where"}
        if bad:
            raise TypeError(f"Wrong arguments {bad} [emulated GPU: cupy ufunc {self.name}]")
        for a in args:
            if type(a) is np.ndarray:
                raise TypeError(f"Unsupported type {type(a)} [emulated GPU: numpy operand to "
                                f"cupy.{self.name}]")
        out = kwargs.get("out")
        if (self.name in _LIBM and len(args) == 1 and set(kwargs) <= {"out"}
                and type(args[0]) is ndarray and args[0].dtype.kind == "f"):
            return _libm(self.name, args[0], out)
        kw = {k: unwrap(v) for k, v in kwargs.items() if k != "_where"}
        if isinstance(out, tuple):
            kw["out"] = tuple(unwrap(o) for o in out)
        r = self._u(*unwrap(args), **kw)
        _launches.count(self.name)
        if out is not None:
            return out
        if len(args) > self.nin:
            return args[self.nin] if self.nout == 1 else tuple(args[self.nin:])
        return wrap(r)

    def _need(self, method):
        if method not in self._methods:
            raise NotImplementedError(f"`{self.name}.{method}` is not supported [emulated GPU]")

    def at(self, a, indices, b=None):
        from cupy._array import _index
        self._need("at")
        if self.name not in ("add", "subtract", "maximum", "minimum", "bitwise_and",
                             "bitwise_or", "bitwise_xor"):
            raise NotImplementedError(f"`{self.name}.at` is not supported yet")
        self._u.at(a._a, _index(indices, a.shape), unwrap(b))

    def reduce(self, array, axis=0, dtype=None, out=None, keepdims=False):
        self._need("reduce")
        r = self._u.reduce(unwrap(array), axis=axis, dtype=dtype, out=unwrap(out),
                           keepdims=keepdims)
        return out if out is not None else wrap(r)

    def accumulate(self, array, axis=0, dtype=None, out=None):
        self._need("accumulate")
        r = self._u.accumulate(unwrap(array), axis=axis, dtype=dtype, out=unwrap(out))
        return out if out is not None else wrap(r)

    def outer(self, a, b, **kwargs):
        self._need("outer")
        return wrap(self._u.outer(unwrap(a), unwrap(b), **kwargs))

    def reduceat(self, array, indices, axis=0, dtype=None, out=None):
        self._need("reduceat")
        return wrap(self._u.reduceat(unwrap(array), unwrap(indices), axis=axis, dtype=dtype))


def populate(namespace, api_key, np_module, prefix, skip=()):
    for name, info in API[api_key].items():
        if name in skip or name in namespace:
            continue
        kind = info["kind"]
        np_obj = getattr(np_module, name, None)
        if info.get("ufunc"):
            if isinstance(np_obj, np.ufunc):
                namespace[name] = ufunc(name, np_obj, info.get("methods", []))
            elif callable(np_obj):
                namespace[name] = function(f"{prefix}.{name}", np_obj, None)
            continue
        if kind == "module":
            continue
        if "sig" in info and callable(np_obj) and not isinstance(np_obj, type):
            namespace[name] = function(f"{prefix}.{name}", np_obj, info["sig"])
        elif np_obj is not None:
            namespace[name] = np_obj


# cupy's transcendental ufuncs are CUDA's math functions, as are those inside kernels: run both
# through the same (host libm) code so that a kernel and a chain of ufuncs agree as on a GPU.
_LIBM = {"exp": "exp", "expm1": "expm1", "log": "log", "log1p": "log1p", "log2": "log2",
         "log10": "log10", "tanh": "tanh", "sinh": "sinh", "cosh": "cosh", "sin": "sin",
         "cos": "cos", "tan": "tan", "arctan": "atan", "arcsin": "asin", "arccos": "acos",
         "arctanh": "atanh", "arcsinh": "asinh", "arccosh": "acosh", "exp2": "exp2"}
_libm_kernels = {}


def _libm(name, x, out):
    from cupy._kernel import ElementwiseKernel
    kernel = _libm_kernels.get(name)
    if kernel is None:
        kernel = _libm_kernels[name] = ElementwiseKernel(
            "T x", "T y", f"y = T(std::{_LIBM[name]}(typename ember_acc<T>::type(x)))",
            f"cupy_{name}", preamble="template <typename T> struct ember_acc { typedef T type; };"
            " template <> struct ember_acc<float16> { typedef float type; };")
    if out is None:
        return kernel(x)
    if out.dtype != x.dtype:
        out[...] = kernel(x)
        return out
    kernel(x, out) if out.shape == x.shape else out.__setitem__(Ellipsis, kernel(x))
    return out
