"""The Tensor: one numpy or cupy array plus what autograd needs to know about it.

Methods that are ops (``add``, ``sum``, ``reshape`` ...) are bound here by ``ember.ops`` through
the registry; graph methods (``backward``, ``register_hook`` ...) by ``ember.autograd``.
"""

from __future__ import annotations

import numpy as np

from ember.backend import CPU, device_of
from ember.tensor import dtypes


class Tensor:
    """An n-dimensional array on a device, with reverse-mode autograd.

    Create tensors with ``ember.tensor``, ``ember.zeros`` and friends; ``Tensor(array)`` wraps an
    existing numpy or cupy array without copying.

    Example:
        >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4.])
    """

    __slots__ = (
        "data",  # the numpy or cupy array
        "_rg",  # requires_grad
        "grad",
        "grad_fn",  # the node that made this tensor (None for leaves)
        "_output_nr",  # which output of grad_fn this is
        "_version",  # [count] shared with views, or None while never modified in place
        "_acc",  # a leaf's gradient accumulator node, made on first use in a graph
        "_base",  # the tensor this one is a view of, or None
        "__weakref__",
    )

    def __init__(self, data, requires_grad: bool = False, grad_fn=None, output_nr: int = 0):
        self.data = data
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
        return self.data.shape

    def size(self, dim: int | None = None):
        if dim is None:
            return self.data.shape
        return self.data.shape[dim]

    @property
    def dtype(self) -> dtypes.dtype:
        return dtypes.from_numpy(self.data.dtype)

    @property
    def device(self):
        return device_of(self.data)

    @property
    def is_cuda(self) -> bool:
        return type(self.data) is not np.ndarray

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return self.data.size

    nelement = numel

    def element_size(self) -> int:
        return self.data.itemsize

    @property
    def itemsize(self) -> int:
        return self.data.itemsize

    @property
    def nbytes(self) -> int:
        return self.data.nbytes

    def stride(self, dim: int | None = None):
        """Strides in elements, as PyTorch counts them (numpy counts bytes)."""
        strides = tuple(s // self.data.itemsize for s in self.data.strides)
        return strides if dim is None else strides[dim]

    def is_contiguous(self) -> bool:
        return bool(self.data.flags.c_contiguous)

    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

    def data_ptr(self) -> int:
        if type(self.data) is np.ndarray:
            return self.data.__array_interface__["data"][0]
        return self.data.data.ptr

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
        if requires_grad and self.data.dtype.kind != "f":
            raise RuntimeError(
                "only Tensors of floating point dtype can require gradients, got "
                f"{self.dtype}"
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

    # ---- detaching ------------------------------------------------------------------------

    def detach(self) -> Tensor:
        """A tensor sharing this one's memory (and version counter) with no autograd history."""
        out = Tensor(self.data)
        out._version = self._share_version()
        return out

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._rg = False
        return self

    # ---- conversion to Python and numpy ---------------------------------------------------

    def item(self):
        if self.data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self.data.size} elements cannot be converted to Scalar"
            )
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def numpy(self, force: bool = False) -> np.ndarray:
        """The numpy array behind a CPU tensor (shared memory); ``force`` also copies from GPU."""
        if self._rg and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        if type(self.data) is not np.ndarray:
            if not force:
                raise TypeError(
                    f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() "
                    "to copy the tensor to host memory first."
                )
            return self.data.get()
        return self.data

    def __array__(self, dtype=None, copy=None):
        if type(self.data) is not np.ndarray:
            raise TypeError(
                f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to "
                "copy the tensor to host memory first."
            )
        array = self.data
        if dtype is not None and array.dtype != dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def __dlpack__(self, *args, **kwargs):
        return self.data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()

    def _scalar(self, convert):
        if self.data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self.data.size} elements cannot be converted to Scalar"
            )
        return convert(self.data.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous (shape "
                f"{self.data.shape})"
            )
        return bool(self.data.item())

    def __float__(self) -> float:
        return self._scalar(float)

    def __int__(self) -> int:
        return self._scalar(int)

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError(
                "only integer tensors of a single element can be converted to an index, got "
                f"{self.dtype} of shape {self.data.shape}"
            )
        return int(self.data.item())

    def __complex__(self) -> complex:
        return self._scalar(complex)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __format__(self, spec: str) -> str:
        if self.data.ndim == 0:
            return format(self.data.item(), spec)
        return repr(self) if not spec else format(str(self), spec)

    def __repr__(self) -> str:
        array = self.data if type(self.data) is np.ndarray else self.data.get()
        floating = array.dtype.kind == "f"
        text = np.array2string(
            array,
            separator=", ",
            prefix="tensor(",
            precision=4,
            floatmode="maxprec_equal" if floating else "maxprec",
            threshold=1000,
        )
        extras = []
        if array.size == 0 and array.shape != (0,):
            extras.append(f"size={tuple(array.shape)}")
        if self.device is not CPU:
            extras.append(f"device='{self.device}'")
        if array.dtype not in (np.float32, np.int64, np.bool_) or (
            array.size == 0 and array.dtype != np.float32
        ):
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{type(self.grad_fn).__name__}Backward>")
        elif self._rg:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([text, *extras]) + ")"

    __str__ = __repr__
