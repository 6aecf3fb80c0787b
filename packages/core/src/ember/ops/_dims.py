"""Checking and normalising ``dim`` arguments, with errors that name the op."""

from __future__ import annotations


def normalize_dim(dim: int, ndim: int, op_name: str) -> int:
    """``dim`` as a non-negative axis of a tensor with ``ndim`` dimensions (0-d counts as 1)."""
    bound = max(ndim, 1)
    if not -bound <= dim < bound:
        raise IndexError(
            f"{op_name}: dimension out of range (expected to be in range of [{-bound}, "
            f"{bound - 1}], but got {dim})"
        )
    return dim % bound if ndim else 0


def normalize_dims(dim, ndim: int, op_name: str) -> tuple:
    """A sorted tuple of axes; ``None`` (or an empty tuple/list) means all of them."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    if isinstance(dim, int):
        return (normalize_dim(dim, ndim, op_name),) if ndim else ()
    axes = tuple(sorted(normalize_dim(d, ndim, op_name) for d in dim))
    if len(set(axes)) != len(axes):
        raise RuntimeError(
            f"{op_name}: dim {tuple(dim)} appears multiple times in the list of dims"
        )
    return axes if ndim else ()


def keepdim_shape(shape: tuple, axes: tuple) -> tuple:
    """``shape`` with the reduced ``axes`` set to 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))
