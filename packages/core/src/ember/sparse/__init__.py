"""``ember.sparse``: sparse COO tensors and their products with dense matrices, as PyTorch's.

A sparse tensor holds ``indices`` (an int64 ``(sparse_dim, nnz)`` tensor) and ``values`` (an
``(nnz,)`` tensor) for a tensor of ``size``; ``to_dense()``, ``coalesce()``, ``t()``, and
``sparse.mm(sparse, dense)`` (also ``ember.spmm``, ``ember.mm``, ``ember.matmul`` and
``sparse @ dense``) are built from
differentiable ops, so gradients reach both the dense operand and the sparse ``values``, which
is what a graph network's layer needs.

Where Ember differs: a sparse tensor is its own class (``SparseTensor``), not a ``Tensor``: the
products above take it as their first operand, other ops take dense tensors only (``to_dense()``);
and every value is a scalar (no hybrid sparse-dense values). Its gradient is the
sparse tensor of ``values.grad`` at the same indices.

Example:
    >>> adjacency = ember.sparse_coo_tensor([[0, 1, 1], [1, 0, 2]], [1.0, 2.0, 3.0], (2, 3))
    >>> ember.sparse.mm(adjacency, ember.ones(3, 2))
    tensor([[1., 1.],
            [5., 5.]])
"""

from __future__ import annotations

import numpy as np

from ember.sparse.coo import SparseTensor, sparse_coo_tensor, to_sparse
from ember.tensor.tensor import Tensor

__all__ = ["DoubleTensor", "FloatTensor", "LongTensor", "SparseTensor", "mm", "sparse_coo_tensor",
           "spmm", "sum"]


def mm(sparse: SparseTensor, dense: Tensor) -> Tensor:
    """The product of a sparse ``(n, k)`` matrix and a dense ``(k, m)`` one: a dense ``(n, m)``.

    Differentiable with respect to ``dense`` and to the sparse matrix's ``values``.
    """
    return sparse.mm(dense)


spmm = mm


def sum(input: SparseTensor, dim=None):  # noqa: A001  (PyTorch's name)
    """The sum of all values (a dense 0-d tensor), or along ``dim`` as a dense tensor."""
    if dim is None:
        return input._values().sum()
    return input.to_dense().sum(dim)


def _legacy(dtype_name: str):
    def constructor(indices, values, size=None):
        return sparse_coo_tensor(indices, values, size, dtype=getattr(np, dtype_name))

    constructor.__doc__ = f"Legacy ``torch.sparse.*Tensor(indices, values, size)``: {dtype_name}."
    return constructor


FloatTensor = _legacy("float32")
DoubleTensor = _legacy("float64")
LongTensor = _legacy("int64")

Tensor.to_sparse = to_sparse
Tensor.to_sparse_coo = to_sparse
