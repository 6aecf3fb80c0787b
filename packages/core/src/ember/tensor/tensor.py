"""The Tensor: one numpy or cupy array plus what autograd needs to know about it.

Methods that are ops (``add``, ``sum``, ``reshape`` ...) are bound here by ``ember.ops`` through
the registry; graph methods (``backward``, ``register_hook`` ...) by ``ember.autograd``.
"""

from __future__ import annotations

import copy

import numpy as np

from ember.backend import CPU, device_of, shared
from ember.tensor import dtypes

_ndarray = np.ndarray


class Tensor:
    """An n-dimensional array on a device, with reverse-mode autograd.

    Create tensors with ``ember.tensor``, ``ember.zeros`` and friends; ``Tensor(array)`` wraps an
    existing numpy or cupy array without copying (its dtype kept: PyTorch would convert it to the
    default dtype). Anything else is PyTorch's legacy constructor, as ``ember.FloatTensor`` but
    of the default dtype: ``Tensor(2, 3)`` uninitialised of that shape, ``Tensor([1, 2])`` a
    copy of the data, ``Tensor()`` empty (a fourth size of 0, ``Tensor(a, b, c, 0)``, is read
    as omitted).

    Example:
        >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4.])
    """

    __slots__ = (
        "_array",  # the numpy or cupy array (``.data`` is the PyTorch-style detached view)
        "_rg",  # requires_grad
        "grad",
        "grad_fn",  # the node that made this tensor (None for leaves)
        "_output_nr",  # which output of grad_fn this is
        "_version",  # [count] shared with views, or None while never modified in place
        "_acc",  # a leaf's gradient accumulator node, made on first use in a graph
        "_base",  # the tensor this one is a view of, or None
        "__weakref__",
    )

    def __init__(self, data=None, requires_grad: bool = False, grad_fn=None, output_nr: int = 0):
        if data.__class__ is not _ndarray and not hasattr(data, "__cuda_array_interface__"):
            data = _legacy_array(data, requires_grad, grad_fn, output_nr)
            requires_grad, grad_fn, output_nr = False, None, 0
        self._array = data
        self._rg = requires_grad
        self.grad = None
        self.grad_fn = grad_fn
        self._output_nr = output_nr
        self._version = None
        self._acc = None
        self._base = None

    __hash__ = object.__hash__

    # ---- metadata -------------------------------------------------------------------------

    @property
    def shape(self) -> tuple:
        return self._array.shape

    def size(self, dim: int | None = None):
        if dim is None:
            return self._array.shape
        return self._array.shape[self._dim(dim)]

    def _dim(self, dim: int) -> int:
        """``dim`` wrapped into [0, ndim), with PyTorch's IndexError when out of range."""
        ndim = max(self._array.ndim, 1)
        if not -ndim <= dim < ndim:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but "
                f"got {dim})"
            )
        return dim % ndim

    @property
    def dtype(self) -> dtypes.dtype:
        return dtypes.from_numpy(self._array.dtype)

    @property
    def device(self):
        return device_of(self._array)

    @property
    def is_cuda(self) -> bool:
        return type(self._array) is not np.ndarray

    @property
    def is_cpu(self) -> bool:
        return type(self._array) is np.ndarray

    # Ember has no MPS, meta, sparse, quantized, MKL-DNN, XPU or nested tensors: PyTorch's queries
    # for them answer False, so scripts that branch on them take the dense CPU/CUDA path.
    is_mps = is_meta = is_sparse = is_sparse_csr = is_quantized = is_mkldnn = is_xpu = \
        is_nested = property(lambda self: False)

    @property
    def ndim(self) -> int:
        return self._array.ndim

    def dim(self) -> int:
        return self._array.ndim

    def numel(self) -> int:
        return self._array.size

    nelement = numel

    def element_size(self) -> int:
        return self._array.itemsize

    @property
    def itemsize(self) -> int:
        return self._array.itemsize

    @property
    def nbytes(self) -> int:
        return self._array.nbytes

    def stride(self, dim: int | None = None):
        """Strides in elements, as PyTorch counts them (numpy counts bytes)."""
        strides = tuple(s // self._array.itemsize for s in self._array.strides)
        return strides if dim is None else strides[self._dim(dim)]

    def is_contiguous(self) -> bool:
        return bool(self._array.flags.c_contiguous)

    def get_device(self) -> int:
        """The CUDA device index, or -1 on the CPU."""
        return -1 if type(self._array) is np.ndarray else self._array.device.id

    def ndimension(self) -> int:
        return self._array.ndim

    def is_floating_point(self) -> bool:
        return self._array.dtype.kind == "f"

    def data_ptr(self) -> int:
        if type(self._array) is np.ndarray:
            return self._array.__array_interface__["data"][0]
        return self._array.data.ptr

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if requires_grad and self._array.dtype.kind != "f":
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients (got "
                f"{self.dtype})"
            )
        self._rg = bool(requires_grad)
        return self

    @property
    def is_view(self) -> bool:
        return self._base is not None

    def _bump_version(self) -> None:
        """Records an in-place change; views share the counter with their base."""
        if self._version is None:
            self._share_version()
        self._version[0] += 1

    def _share_version(self) -> list:
        if self._version is None:
            self._version = self._base._share_version() if self._base is not None else [0]
        return self._version

    # ---- shared memory (ember.multiprocessing) ----------------------------------------------

    def share_memory_(self) -> Tensor:
        """Moves the values into shared memory, in place, so that processes that receive this
        tensor (``ember.multiprocessing``) read and write the same memory. A no-op when already
        shared and for CUDA tensors, as PyTorch's.

        The tensor keeps its identity, flags and gradient; tensors that were views of it before
        keep the old memory (share before making views, as ``Module.share_memory()`` does).

        Example:
            >>> t = ember.zeros(3).share_memory_()
            >>> t.is_shared()
            True
        """
        if type(self._array) is np.ndarray and shared.segment_of(self._array) is None:
            self._array = shared.share_array(self._array)
            self._base = None
        return self

    def is_shared(self) -> bool:
        """True for tensors in shared memory (after ``share_memory_()``, or received from
        another process) and for CUDA tensors, as PyTorch answers."""
        return type(self._array) is not np.ndarray or shared.segment_of(self._array) is not None

    # ---- detaching ------------------------------------------------------------------------

    @property
    def data(self) -> Tensor:
        """The values as a new Tensor sharing this one's memory, outside autograd (PyTorch's).

        Unlike ``detach()``, it does not share the version counter either: changing it in place
        (``p.data.add_(1)``, ``w.data.normal_()``) is invisible to autograd's checks, exactly as
        in PyTorch. Assigning ``p.data = t`` makes ``p`` use ``t``'s memory (any shape, dtype or
        device) while ``p`` keeps its identity, flags and gradient. For the numpy array itself
        use ``numpy()`` (``t.detach().numpy()``, ``t.cpu().numpy()`` for GPU tensors).

        Example:
            >>> p = ember.ones(2, requires_grad=True)
            >>> p.data.mul_(3)
            tensor([3., 3.])
            >>> p
            tensor([3., 3.], requires_grad=True)
        """
        return Tensor(self._array)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(value).__name__}")
        if value._array is self._array:  # ``p.data += 1`` assigns back what it changed in place
            return
        if self._rg and value._array.dtype.kind != "f":
            raise RuntimeError(
                "data set to a tensor that requires gradients must be floating point or complex "
                f"dtype (got {value.dtype})"
            )
        self._array = value._array
        # New memory: no longer a view of anything, and a counter of its own (not bumped, as
        # PyTorch's set_data, so graphs that saved this tensor do not raise)
        self._base = None
        self._version = None

    def detach(self) -> Tensor:
        """A tensor sharing this one's memory (and version counter) with no autograd history."""
        out = Tensor(self._array)
        out._version = self._share_version()
        return out

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._rg = False
        return self

    def __deepcopy__(self, memo) -> Tensor:
        """A copy with its own memory, ``requires_grad`` and ``grad`` (leaves only, as PyTorch)."""
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                "protocol at the moment"
            )
        copied = object.__new__(type(self))
        memo[id(self)] = copied
        Tensor.__init__(copied, self._array.copy(), self._rg)
        if self.grad is not None:
            copied.grad = self.grad.__deepcopy__(memo)
        for name in getattr(type(self), "__dict__", {}).get("__slots__", ()):
            if name != "__weakref__" and hasattr(self, name):  # subclass slots (Parameter ...)
                setattr(copied, name, copy.deepcopy(getattr(self, name), memo))
        if hasattr(self, "__dict__"):
            copied.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return copied

    # ---- conversion to Python and numpy ---------------------------------------------------

    def item(self):
        if self._array.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._array.size} elements cannot be converted to Scalar"
            )
        return self._array.item()

    def tolist(self):
        return self._array.tolist()

    def numpy(self, force: bool = False) -> np.ndarray:
        """The numpy array behind a CPU tensor (shared memory); ``force`` also copies from GPU.

        This is the way to get an array (``.data`` is a Tensor, as in PyTorch).
        """
        if self._rg and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        if type(self._array) is not np.ndarray:
            if not force:
                raise TypeError(
                    f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() "
                    "to copy the tensor to host memory first."
                )
            return self._array.get()
        return self._array

    def __array__(self, dtype=None, copy=None):
        """numpy's view of a CPU tensor (as PyTorch, refused while it requires grad)."""
        array = self.numpy()
        if dtype is not None and array.dtype != dtype:
            if copy is False:
                raise ValueError(f"__array__: converting {self.dtype} to {dtype} needs a copy")
            return array.astype(dtype)
        return array.copy() if copy else array

    def __dlpack__(self, *args, **kwargs):
        """Exports the memory through DLPack (shared, not copied)."""
        if self._rg:
            raise RuntimeError(
                "Can't export tensors that require gradient, use tensor.detach()"
            )
        return self._array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()

    def _scalar(self, convert):
        if self._array.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._array.size} elements cannot be converted to Scalar"
            )
        return convert(self._array.item())

    def __bool__(self) -> bool:
        if self._array.size != 1:
            amount = "no values" if self._array.size == 0 else "more than one value"
            raise RuntimeError(
                f"Boolean value of Tensor with {amount} is ambiguous (shape {self._array.shape})"
            )
        return bool(self._array.item())

    def __float__(self) -> float:
        return self._scalar(float)

    def __int__(self) -> int:
        return self._scalar(int)

    def __index__(self) -> int:
        if self._array.dtype.kind not in "iub" or self._array.size != 1:
            raise TypeError(
                "only integer tensors of a single element can be converted to an index, got "
                f"{self.dtype} of shape {self._array.shape}"
            )
        return int(self._array.item())

    def __complex__(self) -> complex:
        return self._scalar(complex)

    def __len__(self) -> int:
        if self._array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._array.shape[0]

    def __iter__(self):
        if self._array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __format__(self, spec: str) -> str:
        if self._array.ndim == 0:
            return format(self._array.item(), spec)
        return repr(self) if not spec else format(str(self), spec)

    def __repr__(self) -> str:
        return _format_tensor(self)

    __str__ = __repr__


# ---- printing, as PyTorch prints ----------------------------------------------------------------

_LINE_WIDTH = 80
_THRESHOLD = 1000  # more elements than this are summarised with "..."
_EDGE_ITEMS = 3
_PRECISION = 4


class _Formatter:
    """PyTorch's element formatter: one width for all elements; floats in fixed point with four
    decimals, as integers with a trailing dot when all are whole, or in scientific notation when
    their magnitudes span too much."""

    def __init__(self, values: np.ndarray) -> None:
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        if not self.floating:
            self.width = max((len(str(v)) for v in values.ravel().tolist()), default=1)
            return
        finite = values[np.isfinite(values) & (values != 0)].astype(np.float64)
        if finite.size == 0:
            return
        magnitude = np.abs(finite)
        low, high = magnitude.min(), magnitude.max()
        self.int_mode = bool((finite == np.ceil(finite)).all())
        spread = high / low > 1000.0 or high > 1.0e8
        self.sci_mode = spread if self.int_mode else spread or low < 1.0e-4
        if self.sci_mode:
            texts = [f"{v:.{_PRECISION}e}" for v in finite.tolist()]
        elif self.int_mode:
            texts = [f"{v:.0f}." for v in finite.tolist()]
        else:
            texts = [f"{v:.{_PRECISION}f}" for v in finite.tolist()]
        self.width = max(len(t) for t in texts)

    def format(self, value) -> str:
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:.{_PRECISION}e}"
        elif self.int_mode:
            text = f"{value:.0f}" + ("" if value != value or value in (np.inf, -np.inf) else ".")
        else:
            text = f"{value:.{_PRECISION}f}"
        return text.rjust(self.width)


def _summarized(array: np.ndarray) -> np.ndarray:
    """Only the leading and trailing ``_EDGE_ITEMS`` along each long dimension."""
    if array.ndim == 0:
        return array
    if array.shape[0] > 2 * _EDGE_ITEMS:
        array = np.concatenate([array[:_EDGE_ITEMS], array[-_EDGE_ITEMS:]])
    return np.stack([_summarized(row) for row in array]) if array.ndim > 1 else array


def _format_array(array, indent: int, summarize: bool, formatter: _Formatter) -> str:
    if array.ndim == 0:
        return formatter.format(array.item())
    long = summarize and array.shape[0] > 2 * _EDGE_ITEMS
    if array.ndim == 1:
        if long:
            values = [formatter.format(v) for v in array[:_EDGE_ITEMS].tolist()] + [" ..."]
            values += [formatter.format(v) for v in array[-_EDGE_ITEMS:].tolist()]
        else:
            values = [formatter.format(v) for v in array.tolist()]
        per_line = max(1, (_LINE_WIDTH - indent) // (formatter.width + 2))
        lines = [", ".join(values[i:i + per_line]) for i in range(0, len(values), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = range(array.shape[0])
    if long:
        rows = [*range(_EDGE_ITEMS), None, *range(array.shape[0] - _EDGE_ITEMS, array.shape[0])]
    parts = ["..." if i is None else _format_array(array[i], indent + 1, summarize, formatter)
             for i in rows]
    return "[" + ("," + "\n" * (array.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _format_tensor(tensor: Tensor) -> str:
    """``tensor([...], dtype=..., requires_grad=True)`` exactly as PyTorch lays it out."""
    array = tensor._array if type(tensor._array) is np.ndarray else tensor._array.get()
    prefix = "tensor("
    suffixes = []
    device = tensor.device
    if device is not CPU:
        suffixes.append(f"device='{device}'")
    default = dtypes.get_default_dtype().numpy
    if array.size == 0:
        if array.ndim != 1:
            suffixes.append(f"size={tuple(array.shape)}")
        if array.dtype != default:
            suffixes.append(f"dtype={tensor.dtype}")
        body = "[]"
    else:
        if array.dtype not in (default, np.int64, np.bool_):
            suffixes.append(f"dtype={tensor.dtype}")
        summarize = array.size > _THRESHOLD
        shown = _summarized(array) if summarize else array
        if shown.dtype == np.float16:
            shown = shown.astype(np.float32)
        body = _format_array(array, len(prefix), summarize, _Formatter(shown))
    if tensor.grad_fn is not None:
        suffixes.append(f"grad_fn=<{_node_name(tensor.grad_fn)}>")
    elif tensor._rg:
        suffixes.append("requires_grad=True")
    text = prefix + body
    line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if line + len(suffix) + 2 > _LINE_WIDTH:
            text += ",\n" + " " * len(prefix) + suffix
            line = len(prefix) + len(suffix)
        else:
            text += ", " + suffix
            line += len(suffix) + 2
    return text + ")"


def _node_name(node) -> str:
    """PyTorch-style node names: ``MulBackward0`` for the op ``mul`` or ``mul_scalar``."""
    name = type(node).__name__
    if name.endswith("Scalar") and len(name) > len("Scalar"):
        name = name[: -len("Scalar")]
    return name + "Backward0"


def _legacy_array(data, *more):
    """The array of ``Tensor(data, *more)`` called as PyTorch's legacy constructor: sizes or
    data, the default dtype (the positional slots of ``__init__`` read as further sizes)."""
    if isinstance(data, np.ndarray):  # a subclass (np.memmap ...): wrapped as it is, as arrays are
        return data
    if isinstance(data, np.generic):
        return np.asarray(data)
    from ember.tensor.legacy import default_type  # legacy builds on this module

    requires_grad, grad_fn, output_nr = more
    args = () if data is None else (data,)
    if requires_grad is not False:
        args += (requires_grad,)
    if grad_fn is not None:
        args += (grad_fn,) + ((output_nr,) if output_nr != 0 else ())
    return default_type()(*args)._array

