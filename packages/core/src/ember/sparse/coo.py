"""``SparseTensor``: a tensor in coordinate (COO) format, made of an index tensor and a values
tensor; every computation on it is a composite of differentiable dense ops."""

from __future__ import annotations

import numpy as np

from ember.backend import xp_of
from ember.ops.join import cat
from ember.tensor.creation import as_tensor, tensor, zeros
from ember.tensor.dtypes import promote_types
from ember.tensor.tensor import Tensor


class SparseTensor:
    """A sparse COO tensor: ``values[k]`` sits at ``indices[:, k]`` in a tensor of ``shape``.

    Build one with ``ember.sparse_coo_tensor`` or ``Tensor.to_sparse()``.
    """

    __slots__ = ("_coo_indices", "_coo_values", "shape", "_coalesced")

    is_sparse = True
    layout = "sparse_coo"

    def __init__(self, indices: Tensor, values: Tensor, shape: tuple, coalesced: bool = False):
        self._coo_indices = indices
        self._coo_values = values
        self.shape = shape
        self._coalesced = coalesced

    # ---- metadata, as a Tensor answers ------------------------------------------------------

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return len(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self):
        return self._coo_values.dtype

    @property
    def device(self):
        return self._coo_values.device

    @property
    def is_cuda(self) -> bool:
        return self._coo_values.is_cuda

    def sparse_dim(self) -> int:
        return len(self.shape)

    def dense_dim(self) -> int:
        return 0

    def _nnz(self) -> int:
        return self._coo_values.shape[0]

    def indices(self) -> Tensor:
        """The ``(sparse_dim, nnz)`` indices; PyTorch requires a coalesced tensor for this."""
        if not self._coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call "
                               ".coalesce() first")
        return self._coo_indices

    def values(self) -> Tensor:
        if not self._coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call "
                               ".coalesce() first")
        return self._coo_values

    def _indices(self) -> Tensor:
        """The indices as stored, coalesced or not (PyTorch's ``_indices()``)."""
        return self._coo_indices

    def _values(self) -> Tensor:
        """The values as stored, coalesced or not (PyTorch's ``_values()``)."""
        return self._coo_values

    def is_coalesced(self) -> bool:
        return self._coalesced

    # ---- autograd: through the values ---------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        return self._coo_values.requires_grad

    def requires_grad_(self, requires_grad: bool = True) -> SparseTensor:
        self._coo_values.requires_grad_(requires_grad)
        return self

    @property
    def grad(self):
        """The gradient as a sparse tensor at the same indices (None before a backward)."""
        grad = self._coo_values.grad
        return None if grad is None else SparseTensor(self._coo_indices, grad, self.shape,
                                                      self._coalesced)

    def detach(self) -> SparseTensor:
        return SparseTensor(self._coo_indices, self._coo_values.detach(), self.shape,
                            self._coalesced)

    # ---- conversions -------------------------------------------------------------------------

    def to_dense(self) -> Tensor:
        """The dense tensor; duplicate indices add up, as PyTorch's."""
        dense = zeros(self.shape, dtype=self._coo_values.dtype, device=self._coo_values.device)
        return dense.index_put(tuple(self._coo_indices.unbind(0)), self._coo_values,
                               accumulate=True)

    def coalesce(self) -> SparseTensor:
        """Indices sorted and unique, the values of duplicates summed (differentiably)."""
        if self._coalesced:
            return self
        array = self._coo_indices._array
        xp = xp_of(array)
        linear = xp.ravel_multi_index(tuple(array), self.shape) if array.shape[1] else \
            xp.zeros(0, dtype=np.int64)
        unique, inverse = xp.unique(linear, return_inverse=True)
        indices = Tensor(xp.stack(xp.unravel_index(unique, self.shape)).astype(np.int64)
                         .reshape(len(self.shape), -1))
        summed = zeros(unique.shape[0], dtype=self.dtype, device=self.device)
        values = summed.index_add(0, Tensor(inverse.reshape(-1)), self._coo_values)
        return SparseTensor(indices, values, self.shape, coalesced=True)

    def to(self, *args, **kwargs) -> SparseTensor:
        values = self._coo_values.to(*args, **kwargs)
        indices = self._coo_indices.to(values.device)
        return SparseTensor(indices, values, self.shape, self._coalesced)

    def cpu(self) -> SparseTensor:
        return self.to("cpu")

    def cuda(self, device=None) -> SparseTensor:
        return self.to("cuda" if device is None else device)

    def float(self) -> SparseTensor:  # noqa: A003
        return self.to(np.float32)

    def double(self) -> SparseTensor:
        return self.to(np.float64)

    def t(self) -> SparseTensor:
        """The transpose of a sparse matrix."""
        if len(self.shape) != 2:
            raise RuntimeError(f"t() expects a sparse matrix (2-D), got {len(self.shape)}-D")
        return SparseTensor(self._coo_indices.flip(0), self._coo_values, self.shape[::-1])

    # ---- products ----------------------------------------------------------------------------

    def mm(self, dense: Tensor) -> Tensor:
        """``self (n, k) @ dense (k, m)``: each stored value scales a row of ``dense`` that is
        added into its output row, so gradients flow to ``dense`` and to the values."""
        if len(self.shape) != 2 or not isinstance(dense, Tensor) or dense.ndim != 2:
            raise RuntimeError(
                f"sparse.mm: expected a sparse matrix and a dense matrix, got a sparse tensor of "
                f"shape {self.shape} and {_describe(dense)}")
        if dense.shape[0] != self.shape[1]:
            raise RuntimeError(
                f"sparse.mm: mat1 and mat2 shapes cannot be multiplied ({self.shape[0]}x"
                f"{self.shape[1]} and {dense.shape[0]}x{dense.shape[1]})")
        if dense.dtype != self.dtype or dense.device != self.device:
            raise RuntimeError(
                f"sparse.mm: expected mat1 and mat2 to have the same dtype and device, but got "
                f"{self.dtype} on {self.device} and {dense.dtype} on {dense.device}")
        rows, cols = self._coo_indices.unbind(0)
        contributions = dense[cols] * self._coo_values.unsqueeze(1)
        out = zeros(self.shape[0], dense.shape[1], dtype=dense.dtype, device=dense.device)
        return out.index_add(0, rows, contributions)

    def __matmul__(self, other: Tensor) -> Tensor:
        if isinstance(other, Tensor) and other.ndim == 1:
            return self.mm(other.unsqueeze(1)).squeeze(1)
        return self.mm(other)

    matmul = __matmul__

    def __mul__(self, scalar) -> SparseTensor:
        if isinstance(scalar, Tensor) and scalar.ndim > 0:
            raise RuntimeError("sparse * tensor: only scalars are supported (Ember's sparse "
                               f"tensors), got {_describe(scalar)}")
        return SparseTensor(self._coo_indices, self._coo_values * scalar, self.shape,
                            self._coalesced)

    __rmul__ = __mul__

    def __add__(self, other):
        """``sparse + dense`` is a dense tensor, ``sparse + sparse`` a sparse one (the entries of
        both, uncoalesced), as PyTorch's; the dtypes promote and the sizes must be equal.
        Differentiable in the dense operand and in the values."""
        if not isinstance(other, (SparseTensor, Tensor)):
            return NotImplemented
        if tuple(other.shape) != tuple(self.shape):
            raise RuntimeError(
                f"add: expected the sparse tensor and the other operand to have the same size, "
                f"but got {tuple(self.shape)} and {tuple(other.shape)}")
        if other.device != self.device:
            raise RuntimeError(f"add: expected both operands on the same device, but got "
                               f"{self.device} and {other.device}")
        dtype = promote_types(self.dtype, other.dtype)
        values = self._coo_values.to(dtype)
        if isinstance(other, SparseTensor):
            return SparseTensor(cat([self._coo_indices, other._coo_indices], 1),
                                cat([values, other._coo_values.to(dtype)]), self.shape)
        return other.to(dtype).index_put(tuple(self._coo_indices.unbind(0)), values,
                                         accumulate=True)

    __radd__ = __add__

    def __repr__(self) -> str:
        return (f"tensor(indices={self._coo_indices!r},\n       values={self._coo_values!r},"
                f"\n       size={self.shape}, nnz={self._nnz()}, layout=ember.sparse_coo)")


def _describe(value) -> str:
    if isinstance(value, Tensor):
        return f"a dense tensor of shape {value.shape}"
    return f"a {type(value).__name__}"


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None,
                      requires_grad: bool = False, is_coalesced: bool | None = None
                      ) -> SparseTensor:
    """A sparse COO tensor with ``values[k]`` at ``indices[:, k]``, as ``torch.sparse_coo_tensor``.

    Args:
        indices: ``(ndim, nnz)`` integer indices (a tensor, array or nested list).
        values: ``(nnz,)`` values; a tensor that requires grad stays in the graph.
        size: the dense shape; by default one more than the largest index in each dimension.
        dtype, device: of the values (and the device of the indices).
        requires_grad: makes the values a leaf that requires grad.
        is_coalesced: declares the indices already sorted and unique.
    """
    values = values if isinstance(values, Tensor) else tensor(values, dtype=dtype, device=device)
    if dtype is not None or device is not None:
        values = values.to(device=device, dtype=dtype)
    indices = as_tensor(indices, device=values.device)
    if indices.dtype.name not in ("int64", "int32") or indices.ndim != 2:
        raise RuntimeError(
            f"sparse_coo_tensor: indices must be a 2-D int64 tensor of shape (ndim, nnz), got "
            f"{indices.dtype} of shape {indices.shape}")
    indices = indices.long()
    if values.ndim != 1 or values.shape[0] != indices.shape[1]:
        raise RuntimeError(
            f"sparse_coo_tensor: values must be a 1-D tensor with one value per index column "
            f"(nnz={indices.shape[1]}), got shape {values.shape} (Ember has no hybrid sparse "
            "tensors)")
    largest = indices._array.max(axis=1) + 1 if indices.shape[1] else None
    if size is None:
        if largest is None:
            raise RuntimeError("sparse_coo_tensor: size is needed when there are no indices")
        size = tuple(int(n) for n in largest.tolist())
    size = tuple(int(n) for n in size)
    if len(size) != indices.shape[0]:
        raise RuntimeError(f"sparse_coo_tensor: {indices.shape[0]}-D indices for a size of "
                           f"{len(size)} dimensions {size}")
    if largest is not None and (any(int(n) > s for n, s in zip(largest.tolist(), size))
                                or int(indices._array.min()) < 0):
        raise RuntimeError(f"sparse_coo_tensor: indices out of bounds for size {size}")
    if requires_grad:
        values = values.detach().requires_grad_(True)
    return SparseTensor(indices, values, size, coalesced=bool(is_coalesced))


def to_sparse(self: Tensor, sparse_dim: int | None = None) -> SparseTensor:
    """This dense tensor in COO format (its nonzero entries); differentiable in the values."""
    if sparse_dim not in (None, self.ndim):
        raise RuntimeError(f"to_sparse: Ember has no hybrid sparse tensors (sparse_dim must be "
                           f"{self.ndim}, got {sparse_dim})")
    if self.ndim == 0:
        raise RuntimeError("to_sparse: a 0-d tensor has no sparse form in Ember")
    positions = self.detach().nonzero().T
    values = self[tuple(positions.unbind(0))]
    return SparseTensor(positions.contiguous(), values, tuple(self.shape), coalesced=True)


__all__ = ["SparseTensor", "sparse_coo_tensor", "to_sparse"]
