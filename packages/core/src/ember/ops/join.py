"""Joining and splitting: cat/stack and split/chunk/unbind/narrow, each the other's gradient.

``cat`` and ``split`` are adjoint (the backward of one is the other), as are ``stack`` and
``unbind``, and ``narrow`` and zero padding. Pieces of a split are views of the input.
"""

from __future__ import annotations

from ember.autograd.function import Function
from ember.ops._dims import normalize_dim
from ember.ops._promotion import cast, promote_all
from ember.ops.op import op, primitive
from ember.ops.rearrange import Pad
from ember.ops.shape import _as_1d, _as_2d, _as_3d, view_of
from ember.tensor import dtypes
from ember.tensor.tensor import Tensor


def _views_of(pieces: tuple, base: Tensor) -> tuple:
    for piece in pieces:
        view_of(piece, base)
    return pieces


# ---- primitives ------------------------------------------------------------------------------


def _pieces(a, sizes, axis: int) -> tuple:
    """Consecutive views of ``sizes`` along ``axis``."""
    lead = (slice(None),) * axis
    pieces = []
    start = 0
    for size in sizes:
        pieces.append(a[lead + (slice(start, start + size),)])
        start += size
    return tuple(pieces)


def _slices(a, axis: int) -> tuple:
    """Every slice along ``axis`` (views); the trailing Ellipsis keeps 0-d slices arrays."""
    lead = (slice(None),) * axis
    return tuple([a[lead + (i, Ellipsis)] for i in range(a.shape[axis])])


@primitive("cat")
class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        return ctx.xp.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        axis = ctx.attrs["axis"]
        return Split.apply(grad, sizes=tuple([shape[axis] for shape in ctx.shapes]), axis=axis)

    @staticmethod
    def backward_arrays(ctx, grad):
        axis = ctx.attrs["axis"]
        return _pieces(grad, [shape[axis] for shape in ctx.shapes], axis)


@primitive("split")
class Split(Function):
    """Consecutive pieces of ``sizes`` along ``axis`` (views)."""

    @staticmethod
    def forward(ctx, a, sizes, axis):
        return _pieces(a, sizes, axis)

    # The engine has filled pieces that got no gradient with zeros.
    @staticmethod
    def backward(ctx, *grads):
        return Cat.apply(*grads, axis=ctx.attrs["axis"])

    @staticmethod
    def backward_arrays(ctx, *grads):
        return ctx.xp.concatenate(grads, axis=ctx.attrs["axis"])


@primitive("stack")
class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        # concatenate of [..., None, ...] views is twice as fast as numpy's stack.
        index = (slice(None),) * axis + (None,)
        return ctx.xp.concatenate([a[index] for a in arrays], axis=axis)

    @staticmethod
    def backward(ctx, grad):
        return Unbind.apply(grad, axis=ctx.attrs["axis"])

    @staticmethod
    def backward_arrays(ctx, grad):
        return _slices(grad, ctx.attrs["axis"])


@primitive("unbind")
class Unbind(Function):
    """Every slice along ``axis``, that dimension removed (views)."""

    @staticmethod
    def forward(ctx, a, axis):
        return _slices(a, axis)

    @staticmethod
    def backward(ctx, *grads):
        return Stack.apply(*grads, axis=ctx.attrs["axis"])

    @staticmethod
    def backward_arrays(ctx, *grads):
        return ctx.xp.stack(grads, axis=ctx.attrs["axis"])


@primitive("narrow")
class Narrow(Function):
    @staticmethod
    def forward(ctx, a, axis, start, length):
        return a[(slice(None),) * axis + (slice(start, start + length),)]

    @staticmethod
    def backward(ctx, grad):
        return Pad.apply(grad, widths=_narrow_widths(ctx), mode="constant", value=0)

    @staticmethod
    def backward_arrays(ctx, grad):
        return Pad.forward(ctx, grad, widths=_narrow_widths(ctx), mode="constant", value=0)


def _narrow_widths(ctx) -> tuple:
    """The zero padding that puts a narrowed gradient back in place."""
    attrs = ctx.attrs
    shape = ctx.shapes[0]
    axis, start = attrs["axis"], attrs["start"]
    widths = [(0, 0)] * len(shape)
    widths[axis] = (start, shape[axis] - start - attrs["length"])
    return tuple(widths)


# ---- cat and stack ---------------------------------------------------------------------------


def _check_tensors(tensors, op_name: str) -> None:
    for index, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"{op_name}(): expected Tensor as element {index} in argument 0, but got "
                f"{type(t).__name__}"
            )


def _uniform(tensors) -> bool:
    """Whether all tensors have the first one's dtype and number of dimensions (the fast path)."""
    first = tensors[0]._array
    ndim, dtype = first.ndim, first.dtype
    try:
        for t in tensors:
            data = t._array
            if data.ndim != ndim or data.dtype != dtype:
                return False
    except AttributeError:
        return False
    return True


def _size_error(tensors, axis: int, op_name: str):
    """PyTorch's error for the first size that differs outside ``axis``, or None."""
    first = tensors[0]._array.shape
    for index, t in enumerate(tensors):
        for d, (n, m) in enumerate(zip(first, t._array.shape)):
            if d != axis and n != m:
                return RuntimeError(
                    f"{op_name}(): Sizes of tensors must match except in dimension {axis}. "
                    f"Expected size {n} but got size {m} for tensor number {index} in the list."
                )
    return None


@op("cat")
def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenates ``tensors`` along an existing dimension ``dim``.

    Dtypes are promoted to a common one. As in PyTorch, 1-d empty tensors (shape (0,)) are
    skipped whatever the others' shape.

    Example:
        >>> ember.cat([ember.zeros(2, 3), ember.ones(1, 3)]).shape
        (3, 3)
    """
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    if not _uniform(tensors):
        tensors = _prepare_cat(tensors)
    ndim = tensors[0]._array.ndim
    if ndim == 0:
        raise RuntimeError("cat(): zero-dimensional tensor (at position 0) cannot be concatenated")
    axis = dim if 0 <= dim < ndim else normalize_dim(dim, ndim, "cat")
    try:
        return Cat.apply(*tensors, axis=axis)
    except RuntimeError:  # numpy's ValueError, restated by Function.apply
        mismatch = _size_error(tensors, axis, "cat")
        if mismatch is None:
            raise
        raise mismatch from None


def _prepare_cat(tensors) -> list:
    """Drops legacy 1-d empty tensors, checks dimensions and promotes dtypes."""
    _check_tensors(tensors, "cat")
    kept = [t for t in tensors if t._array.shape != (0,)] or [tensors[0]]
    ndim = kept[0]._array.ndim
    for index, t in enumerate(kept):
        if t._array.ndim == 0:
            raise RuntimeError(
                f"cat(): zero-dimensional tensor (at position {index}) cannot be concatenated"
            )
        if t._array.ndim != ndim:
            raise RuntimeError(
                f"cat(): Tensors must have same number of dimensions: got {ndim} and "
                f"{t._array.ndim}"
            )
    if len({t._array.dtype for t in tensors}) > 1:
        # Skipped empty tensors still take part in the promotion, as in PyTorch.
        target = dtypes.result_type(*tensors).numpy
        kept = [cast(t, target) for t in kept]
    return kept


@op("concat")
def concat(tensors, dim: int = 0) -> Tensor:
    """Alias of ``cat``."""
    return cat(tensors, dim)


@op("concatenate")
def concatenate(tensors, axis: int = 0) -> Tensor:
    """Alias of ``cat`` (numpy's name and argument)."""
    return cat(tensors, axis)


@op("stack")
def stack(tensors, dim: int = 0) -> Tensor:
    """Joins equally shaped ``tensors`` along a new dimension ``dim``.

    Example:
        >>> ember.stack([ember.zeros(2, 3), ember.ones(2, 3)], dim=1).shape
        (2, 2, 3)
    """
    if not tensors:
        raise RuntimeError("stack(): expected a non-empty list of Tensors")
    if not _uniform(tensors):
        _check_tensors(tensors, "stack")
        tensors = promote_all(tensors)
    shape = tensors[0]._array.shape
    ndim = len(shape) + 1
    axis = dim + ndim if -ndim <= dim < 0 else dim
    if not 0 <= axis < ndim:
        normalize_dim(dim, ndim, "stack")
    try:
        return Stack.apply(*tensors, axis=axis)
    except RuntimeError:
        for index, t in enumerate(tensors):
            if t._array.shape != shape:
                raise RuntimeError(
                    f"stack expects each tensor to be equal size, but got {list(shape)} at entry "
                    f"0 and {list(t._array.shape)} at entry {index}"
                ) from None
        raise


@op("hstack")
def hstack(tensors) -> Tensor:
    """Concatenates along the first dimension of 1-d tensors, else the second."""
    tensors = [_as_1d(t) for t in tensors]
    return cat(tensors, 0 if tensors and tensors[0]._array.ndim == 1 else 1)


@op("vstack")
def vstack(tensors) -> Tensor:
    """Concatenates rows: 1-d tensors of shape (N,) count as (1, N)."""
    return cat([_as_2d(t) for t in tensors], 0)


@op("row_stack")
def row_stack(tensors) -> Tensor:
    """Alias of ``vstack``."""
    return vstack(tensors)


@op("dstack")
def dstack(tensors) -> Tensor:
    """Concatenates along the third dimension (after ``atleast_3d``)."""
    return cat([_as_3d(t) for t in tensors], 2)


@op("column_stack")
def column_stack(tensors) -> Tensor:
    """Columns side by side: 0-d and 1-d tensors of N elements count as (N, 1)."""
    columns = [t.reshape(t._array.size, 1) if t._array.ndim <= 1 else t for t in tensors]
    return cat(columns, 1)


# ---- splitting -------------------------------------------------------------------------------


def _split_axis(input: Tensor, dim: int, op_name: str) -> int:
    ndim = input._array.ndim
    if ndim == 0:
        raise RuntimeError(f"{op_name}() expects at least a 1-dimensional tensor")
    return dim if 0 <= dim < ndim else normalize_dim(dim, ndim, op_name)


def _split_sizes(input: Tensor, sizes, axis: int) -> tuple:
    return _views_of(Split.apply(input, sizes=tuple(sizes), axis=axis), input)


@op("split", method=True)
def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the given sizes.

    Example:
        >>> [p.shape for p in ember.arange(5).split(2)]
        [(2,), (2,), (1,)]
    """
    axis = _split_axis(tensor, dim, "split")
    length = tensor._array.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size < 0:
            raise RuntimeError(
                f"split expects split_size be non-negative, but got split_size={size}"
            )
        if size == 0 and length:
            raise RuntimeError(
                f"split_size can only be 0 if dimension size is 0, but got dimension size of "
                f"{length}"
            )
        if length == 0:
            return _split_sizes(tensor, (0,), axis)
        full, rest = divmod(length, size)
        return _split_sizes(tensor, (size,) * full + ((rest,) if rest else ()), axis)
    sizes = tuple(split_size_or_sections)
    if sum(sizes) != length or any(n < 0 for n in sizes):
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {length} (input tensor's "
            f"size at dimension {axis}), but got split_sizes={list(sizes)}"
        )
    return _split_sizes(tensor, sizes, axis)


@op("chunk", method=True)
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Splits into ``chunks`` pieces of equal size but the last (fewer when they do not fill)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    axis = _split_axis(input, dim, "chunk")
    length = input._array.shape[axis]
    if length == 0:
        return _split_sizes(input, (0,) * chunks, axis)
    size = -(-length // chunks)
    full, rest = divmod(length, size)
    return _split_sizes(input, (size,) * full + ((rest,) if rest else ()), axis)


@op("tensor_split", method=True)
def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple:
    """numpy's ``array_split``: ``sections`` nearly equal pieces, or pieces between ``indices``."""
    axis = _split_axis(input, dim, "tensor_split")
    length = input._array.shape[axis]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        sections = indices_or_sections
        if sections <= 0:
            raise RuntimeError(
                f"tensor_split(): number of sections must be larger than 0, got {sections}"
            )
        small, extra = divmod(length, sections)
        return _split_sizes(input, [small + 1] * extra + [small] * (sections - extra), axis)
    bounds = [0]
    for index in indices_or_sections:
        index = index + length if index < 0 else index
        bounds.append(min(max(index, 0), length))
    bounds.append(length)
    if all(a <= b for a, b in zip(bounds, bounds[1:])):
        return _split_sizes(input, [b - a for a, b in zip(bounds, bounds[1:])], axis)
    # Decreasing indices give overlapping (Python-slice) pieces: take each separately.
    return tuple(
        narrow(input, axis, start, max(stop - start, 0)) for start, stop in zip(bounds, bounds[1:])
    )


@op("unbind", method=True)
def unbind(input: Tensor, dim: int = 0) -> tuple:
    """Every slice along ``dim``, with that dimension removed (views)."""
    ndim = input._array.ndim
    if ndim == 0:
        raise IndexError("unbind(): Dimension specified as 0 but tensor has no dimensions")
    axis = dim if 0 <= dim < ndim else normalize_dim(dim, ndim, "unbind")
    return _views_of(Unbind.apply(input, axis=axis), input)


@op("narrow", method=True)
def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The view ``input[..., start:start + length, ...]`` along ``dim``; ``start`` may be < 0."""
    ndim = input._array.ndim
    if ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    axis = normalize_dim(dim, ndim, "narrow")
    size = input._array.shape[axis]
    start, length = int(start), int(length)
    if not -size <= start <= size:
        raise IndexError(
            f"narrow(): start out of range (expected to be in range of [{-size}, {size}], but "
            f"got {start})"
        )
    if start < 0:
        start += size
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > size:
        raise RuntimeError(
            f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({size})."
        )
    return view_of(Narrow.apply(input, axis=axis, start=start, length=length), input)
