"""cupy.ndarray as a wrapper of a numpy array, with CuPy's behaviours where they differ from
numpy: no implicit conversion to numpy, 0-d arrays (views) instead of scalars, reads of values
counted as host synchronisations, numpy arrays refused as operands, out-of-bound integer-array
indices wrapped, views reporting their owner as ``.base``."""

import numpy as np

from cupy import _launches
from cupy._memory import POOL
from cupy._signatures import API, check_call

# ---- wrapping --------------------------------------------------------------------------------


def _owner(a):
    """The numpy array that owns ``a``'s memory."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def wrap(x, src=None):
    """numpy results as emulated cupy arrays (tuples and lists of them too); views of ``src``
    get its owner as their ``.base``."""
    if isinstance(x, np.generic):
        x = np.asarray(x)
    t = type(x)
    if t is np.ndarray:
        obj = object.__new__(ndarray)
        obj._a = x
        obj._base = None
        if src is not None and x.base is not None and _owner(x) is _owner(src._a):
            obj._base = src._base if src._base is not None else src
        POOL.account(x)
        return obj
    if isinstance(x, tuple):  # numpy's named results are plain tuples in cupy
        return tuple(wrap(v, src) for v in x)
    if t is list and x and all(isinstance(v, (np.ndarray, np.generic)) for v in x):
        return [wrap(v, src) for v in x]
    return x


def unwrap(x, strict=True):
    """The numpy arrays inside emulated cupy arrays; ``strict`` refuses numpy arrays, as CuPy's
    functions do."""
    t = type(x)
    if t is ndarray:
        return x._a
    if t is np.ndarray:
        if strict:
            raise TypeError(f"Unsupported type {t} [emulated GPU: cupy refuses numpy arrays as "
                            "operands]")
        return x
    if t is list or t is tuple:
        return t(unwrap(v, strict) for v in x)
    return x


def _unwrap_kwargs(kwargs, strict=True):
    return {k: unwrap(v, strict) for k, v in kwargs.items()}


# ---- the array -------------------------------------------------------------------------------

_NO_KERNEL = {"cupy.empty", "cupy.empty_like"}


def _launched(name, result, source=None):
    """Counts a kernel launch for a call that gave ``result`` (None: it wrote in place), unless
    the result is not an array or only a view of ``source`` (reshape, a slice)."""
    if name in _NO_KERNEL:
        return
    if isinstance(result, (tuple, list)):
        if any(isinstance(r, (np.ndarray, np.generic)) for r in result):
            _launches.count(name)
        return
    if result is not None and not isinstance(result, (np.ndarray, np.generic)):
        return
    if (isinstance(result, np.ndarray) and source is not None and result.base is not None
            and _owner(result) is _owner(source)):
        return
    _launches.count(name)


def _method(name):
    sig = API["ndarray"].get(name, {}).get("sig")

    def method(self, *args, **kwargs):
        check_call(f"cupy.ndarray.{name}", sig, args, kwargs)
        if name == "nonzero":
            _launches.sync("nonzero (result size)")
        r = getattr(self._a, name)(*unwrap(args), **_unwrap_kwargs(kwargs))
        _launched(f"ndarray.{name}", None if kwargs.get("out") is not None else r, self._a)
        if kwargs.get("out") is not None:
            return kwargs["out"]
        return wrap(r, self)

    method.__name__ = name
    return method


def _binary(name):
    def op(self, other):
        if type(other) is np.ndarray:
            raise TypeError(f"Unsupported type {type(other)} [emulated GPU: numpy operand]")
        if type(other) is not ndarray and not np.isscalar(other) and not isinstance(
                other, np.generic):
            return NotImplemented
        r = getattr(self._a, name)(unwrap(other))
        if r is NotImplemented:
            return r
        _launches.count(name)
        if name.startswith("__i"):
            return self
        return wrap(r)

    op.__name__ = name
    return op


class Device:
    """cupy.cuda.Device (one fake GPU, id 0)."""

    _stack = []

    def __init__(self, device=None):
        if device is None:
            device = Device._stack[-1] if Device._stack else 0
        self.id = int(device)
        if self.id != 0:
            from cupy.cuda import runtime
            raise runtime.CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")

    def __enter__(self):
        Device._stack.append(self.id)
        return self

    def __exit__(self, *exc):
        Device._stack.pop()
        return False

    def use(self):
        pass

    def synchronize(self):
        _launches.sync("device.synchronize")

    @property
    def compute_capability(self):
        return "90"

    @property
    def mem_info(self):
        return (80 * 2**30 - POOL.used_bytes(), 80 * 2**30)

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


class Flags:
    """CuPy's flags: contiguity and ownership only (CuPy arrays are always writeable)."""

    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, numpy_flags):
        self.c_contiguous = numpy_flags.c_contiguous
        self.f_contiguous = numpy_flags.f_contiguous
        self.owndata = numpy_flags.owndata

    def __getitem__(self, name):
        return getattr(self, {"C_CONTIGUOUS": "c_contiguous", "F_CONTIGUOUS": "f_contiguous",
                              "OWNDATA": "owndata"}[name])


class MemoryPointer:
    def __init__(self, array):
        self._array = array
        self.ptr = array._a.ctypes.data
        self.device_id = 0

    def _host(self, mem):
        return mem if isinstance(mem, int) else mem.value

    def copy_to_host_async(self, mem, size, stream=None):
        import ctypes
        ctypes.memmove(self._host(mem), self.ptr, size)

    copy_to_host = copy_to_host_async

    def copy_from_host_async(self, mem, size, stream=None):
        import ctypes
        ctypes.memmove(self.ptr, self._host(mem), size)

    copy_from_host = copy_from_host_async

    def copy_from_device_async(self, src, size, stream=None):
        import ctypes
        ctypes.memmove(self.ptr, src.ptr, size)

    copy_from_device = copy_from_device_async

    def memset_async(self, value, size, stream=None):
        import ctypes
        ctypes.memset(self.ptr, value, size)

    memset = memset_async


def _wrap_index(key, shape):
    """cupy wraps out-of-bound integer-array indices instead of raising (advanced indexing)."""
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        return key
    out, dim = [], 0
    for k in key:
        if k is None:
            out.append(k)
            continue
        if isinstance(k, np.ndarray) and k.dtype.kind in "iu" and dim < len(shape):
            n = shape[dim]
            out.append(np.mod(k, n) if n else k)
            dim += 1
        elif isinstance(k, np.ndarray) and k.dtype == np.bool_:
            out.append(k)
            dim += k.ndim
        else:
            out.append(k)
            dim += 1
    return tuple(out)


def _index(key, shape):
    key = unwrap(key, strict=False)
    if isinstance(key, list):
        key = np.asarray(key)
    if isinstance(key, tuple):
        key = tuple(np.asarray(k) if isinstance(k, list) else k for k in key)
    return _wrap_index(key, shape)


class ndarray:  # noqa: N801 (CuPy's name)
    __slots__ = ("_a", "_base", "__weakref__")
    __array_priority__ = 100

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        self._a = np.empty(shape, dtype, order=order)
        self._base = None
        POOL.account(self._a)

    # properties
    shape = property(lambda s: s._a.shape)
    dtype = property(lambda s: s._a.dtype)
    ndim = property(lambda s: s._a.ndim)
    size = property(lambda s: s._a.size)
    itemsize = property(lambda s: s._a.itemsize)
    nbytes = property(lambda s: s._a.nbytes)
    strides = property(lambda s: s._a.strides)
    flags = property(lambda s: Flags(s._a.flags))
    base = property(lambda s: s._base)
    device = property(lambda s: Device(0))
    data = property(lambda s: MemoryPointer(s))
    T = property(lambda s: wrap(s._a.T, s))
    mT = property(lambda s: wrap(s._a.mT, s))  # noqa: N815 (CuPy's name)
    real = property(lambda s: wrap(s._a.real, s))
    imag = property(lambda s: wrap(s._a.imag, s))

    @shape.setter
    def shape(self, value):
        self._a.shape = value

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (self._a.ctypes.data,
                                                                         False),
                "version": 3, "strides": None if self._a.flags.c_contiguous else self.strides}

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        for k in range(len(self._a)):
            yield self[k]

    def __repr__(self):
        return "emulated_gpu." + repr(self._a)

    def __str__(self):
        return str(self._a)

    # host reads
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use "
                        "`.get()` to construct a NumPy array explicitly.")

    def __bool__(self):
        _launches.sync("bool")
        return bool(self._a)

    def __float__(self):
        _launches.sync("float")
        return float(self._a)

    def __int__(self):
        _launches.sync("int")
        return int(self._a)

    def __index__(self):
        _launches.sync("index")
        return self._a.__index__()

    def __complex__(self):
        _launches.sync("complex")
        return complex(self._a)

    def item(self, *args):
        _launches.sync("item")
        return self._a.item(*args)

    def tolist(self):
        _launches.sync("tolist")
        return self._a.tolist()

    def get(self, stream=None, order="C", out=None, blocking=True):
        _launches.sync("get")
        if out is not None:
            out[...] = self._a
            return out
        return np.array(self._a, order=order)

    def set(self, arr, stream=None):
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        if arr.shape != self.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {arr.shape}")
        if arr.dtype != self.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self.dtype} array")
        self._a[...] = arr

    def tobytes(self, order="C"):
        _launches.sync("tobytes")
        return self._a.tobytes(order)

    # indexing
    def __getitem__(self, key):
        k = _index(key, self.shape)
        if any(isinstance(x, np.ndarray) and x.dtype == np.bool_ and x.ndim
               for x in (k if isinstance(k, tuple) else (k,))):
            _launches.sync("boolean mask (result size)")
        r = self._a[k]
        if isinstance(r, np.generic):  # cupy: a 0-d view, not a copied scalar
            r = self._a[(k if isinstance(k, tuple) else (k,)) + (Ellipsis,)]
        _launched("__getitem__", r, self._a)
        return wrap(r, self)

    def __setitem__(self, key, value):
        k = _index(key, self.shape)
        basic = not any(isinstance(x, np.ndarray) for x in (k if isinstance(k, tuple) else (k,)))
        if type(value) is np.ndarray and basic and value.ndim:
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill [emulated GPU: "
                             "cupy_array[...] = numpy_array]")
        self._a[k] = unwrap(value, strict=False)
        _launches.count("__setitem__")

    # numpy protocol: np.* on cupy arrays goes to cupy (as real cupy's overrides)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        import cupy
        fn = getattr(cupy, ufunc.__name__, None)
        if fn is None:
            return NotImplemented
        if method != "__call__":
            fn = getattr(fn, method, None)
            if fn is None:
                return NotImplemented
        if "out" in kwargs and isinstance(kwargs["out"], tuple) and len(kwargs["out"]) == 1:
            kwargs["out"] = kwargs["out"][0]
        return fn(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        import cupy
        mod = func.__module__ or ""
        target = cupy
        if "linalg" in mod:
            target = cupy.linalg
        elif "fft" in mod:
            target = cupy.fft
        fn = getattr(target, func.__name__, None)
        if fn is None:
            return NotImplemented
        return fn(*args, **kwargs)

    def __dlpack_device__(self):
        return (2, 0)  # kDLCUDA, device 0

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        return self._a.__dlpack__()

    def __reduce__(self):
        raise TypeError("emulated GPU arrays are not picklable")

    def view(self, *args, **kwargs):
        return wrap(self._a.view(*args, **kwargs), self)

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        kw = {} if casting is None else {"casting": casting}
        r = self._a.astype(dtype, order=order, copy=copy, **kw)
        if r is self._a:
            return self
        _launches.count("astype")
        return wrap(r)

    def copy(self, order="C"):
        _launches.count("copy")
        return wrap(self._a.copy(order=order))

    def fill(self, value):
        if isinstance(value, np.ndarray) and value.shape != ():
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        self._a.fill(unwrap(value, strict=False))
        _launches.count("fill")

    def scatter_add(self, slices, value):
        np.add.at(self._a, _index(slices, self.shape), unwrap(value))

    def scatter_max(self, slices, value):
        np.maximum.at(self._a, _index(slices, self.shape), unwrap(value))

    def scatter_min(self, slices, value):
        np.minimum.at(self._a, _index(slices, self.shape), unwrap(value))


_SKIP = {"__getitem__", "__setitem__", "__array__", "__bool__", "__float__", "__int__",
         "__index__", "__len__", "__iter__", "__dlpack__", "__cuda_array_interface__", "T", "mT",
         "base", "data", "device", "dtype", "flags", "imag", "real", "itemsize", "nbytes",
         "ndim", "shape", "size", "strides", "get", "set", "item", "tolist", "view", "astype",
         "copy", "fill", "tobytes", "scatter_add", "scatter_max", "scatter_min", "cstruct",
         "mdspan", "reduced_view", "toDlpack", "dump", "dumps", "tofile", "flat"}
for _name, _info in API["ndarray"].items():
    if _name.startswith("_") or _name in _SKIP or not hasattr(np.ndarray, _name):
        continue
    setattr(ndarray, _name, _method(_name))

for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
            "xor", "lshift", "rshift", "lt", "le", "gt", "ge", "eq", "ne"):
    for _form in (f"__{_op}__", f"__r{_op}__", f"__i{_op}__"):
        if hasattr(np.ndarray, _form):
            setattr(ndarray, _form, _binary(_form))
ndarray.__divmod__ = _binary("__divmod__")


def _unary(name):
    def op(self):
        _launches.count(name)
        return wrap(getattr(self._a, name)())
    return op


for _u in ("__neg__", "__pos__", "__abs__", "__invert__"):
    setattr(ndarray, _u, _unary(_u))
ndarray.__hash__ = None


def empty(shape, dtype=float, order="C"):
    return wrap(np.empty(shape, dtype, order=order))
