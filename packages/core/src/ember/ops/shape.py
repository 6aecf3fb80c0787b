"""Shape ops: reshape/view, squeeze/unsqueeze, transpose/permute, expand/broadcast and friends.

Every op here is a view in PyTorch. numpy gives a view whenever the memory layout allows one;
``view_of`` then marks the result so that it shares its base's version counter.
"""

from __future__ import annotations

import math

import numpy as np

from ember.autograd.function import Function
from ember.ops._dims import normalize_dim
from ember.ops._views import as_view
from ember.ops.op import op, primitive
from ember.tensor import dtypes
from ember.tensor.tensor import Tensor


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def view_of(out: Tensor, base: Tensor) -> Tensor:
    """Marks ``out`` as a view of ``base`` when its array really shares ``base``'s memory.

    numpy and cupy point a view's ``.base`` at the array owning the memory (``base._array`` or
    its own ``.base``); a reshape that had to copy points at a fresh array instead.
    """
    owner = out._array.base
    if owner is not None:
        data = base._array
        if owner is data or owner is data.base:
            as_view(out, base)
    return out


# ---- reshape and view ------------------------------------------------------------------------


@primitive("reshape")
class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shapes[0])

    backward_arrays = backward  # the same call on arrays


def _reshape_error(op_name: str, shape: tuple, size: int) -> RuntimeError:
    if sum(1 for n in shape if n == -1) > 1:
        return RuntimeError(f"{op_name}: only one dimension can be inferred")
    for n in shape:
        if not isinstance(n, (int, np.integer)) or n < -1:
            return RuntimeError(f"{op_name}: invalid shape dimension {n}")
    return RuntimeError(f"{op_name}: shape {list(shape)} is invalid for input of size {size}")


def _reshape(input: Tensor, shape: tuple, op_name: str) -> Tensor:
    # numpy takes any negative size for the inferred one, PyTorch only a single -1
    if shape and min(shape) < 0 and (min(shape) < -1 or shape.count(-1) > 1):
        raise _reshape_error(op_name, shape, input._array.size)
    try:
        out = Reshape.apply(input, shape=shape)
    except RuntimeError:  # numpy's ValueError, restated by Function.apply
        raise _reshape_error(op_name, shape, input._array.size) from None
    return view_of(out, input)


@op("reshape", method=True)
def reshape(input: Tensor, *sizes, shape=None) -> Tensor:
    """The same elements in a new shape (a view when the memory layout allows); -1 is inferred.

    Example:
        >>> ember.arange(6).reshape(2, -1).shape
        (2, 3)
    """
    if shape is None:
        shape = sizes
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
    else:
        shape = tuple(shape)
    if shape == input._array.shape:
        return input
    return _reshape(input, shape, "reshape")


@op("view", method=True, function=False)
def view(self: Tensor, *shape) -> Tensor:
    """A view with a new shape (-1 inferred); raises when the elements' strides do not allow one.

    ``view(dtype)`` reinterprets the bytes as another dtype of the same size; that result is
    outside autograd (no gradient flows through a reinterpretation).
    """
    if len(shape) == 1 and isinstance(shape[0], dtypes.dtype):
        return _view_dtype(self, shape[0])
    shape = _shape_arg(shape)
    if shape == self._array.shape:
        return self
    out = _reshape(self, shape, "view")
    if out._base is None and out._array.size:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
        )
    return out


def _view_dtype(self: Tensor, dtype) -> Tensor:
    if dtype.itemsize != self._array.itemsize:
        raise RuntimeError(
            f"view: viewing a tensor of {self.dtype} as {dtype} needs elements of the same size "
            f"({self._array.itemsize} vs {dtype.itemsize} bytes)"
        )
    return as_view(Tensor(self._array.view(dtype.numpy)), self)


@op("view_as", method=True, function=False)
def view_as(self: Tensor, other: Tensor) -> Tensor:
    """``self.view(other.shape)``."""
    return view(self, other._array.shape)


@op("reshape_as", method=True, function=False)
def reshape_as(self: Tensor, other: Tensor) -> Tensor:
    """``self.reshape(other.shape)``."""
    return reshape(self, other._array.shape)


@op("flatten", method=True)
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merges dimensions ``start_dim..end_dim`` into one; a 0-d tensor becomes shape (1,)."""
    shape = input._array.shape
    ndim = len(shape)
    if ndim == 0:
        return _reshape(input, (1,), "flatten")
    start = normalize_dim(start_dim, ndim, "flatten")
    end = normalize_dim(end_dim, ndim, "flatten")
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:
        return input
    merged = math.prod(shape[start:end + 1])
    return _reshape(input, shape[:start] + (merged,) + shape[end + 1:], "flatten")


@op("ravel", method=True)
def ravel(input: Tensor) -> Tensor:
    """All elements as one dimension (a view when the layout allows)."""
    return reshape(input, -1)


@op("unflatten", method=True)
def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Splits dimension ``dim`` into ``sizes`` (one entry may be -1)."""
    shape = input._array.shape
    axis = normalize_dim(dim, len(shape), "unflatten")
    sizes = tuple(sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    known = math.prod(n for n in sizes if n != -1)
    inferred = sizes.count(-1)
    size = shape[axis] if shape else 1
    if inferred > 1:
        raise RuntimeError("unflatten: only one dimension can be inferred")
    if (known == 0 or size % known) if inferred else known != size:
        raise RuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
            f"({size}) in the input tensor"
        )
    if inferred:
        sizes = tuple(size // known if n == -1 else n for n in sizes)
    return _reshape(input, shape[:axis] + sizes + shape[axis + 1:], "unflatten")


@op("squeeze", method=True)
def squeeze(input: Tensor, dim=None) -> Tensor:
    """Removes dimensions of size 1: all of them, or those among ``dim`` (an int or tuple)."""
    shape = input._array.shape
    if dim is None:
        new_shape = tuple(n for n in shape if n != 1)
    else:
        ndim = len(shape)
        if isinstance(dim, int):
            axes = (normalize_dim(dim, ndim, "squeeze"),)
        else:
            axes = [normalize_dim(d, ndim, "squeeze") for d in dim]
            if len(set(axes)) != len(axes):
                raise RuntimeError(f"squeeze: dim {tuple(dim)} appears multiple times")
        new_shape = tuple(n for i, n in enumerate(shape) if n != 1 or i not in axes)
    if new_shape == shape:
        return input
    return view_of(Reshape.apply(input, shape=new_shape), input)


@op("unsqueeze", method=True)
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Inserts a dimension of size 1 at ``dim`` (in ``[-ndim - 1, ndim]``)."""
    shape = input._array.shape
    ndim = len(shape)
    if not -ndim - 1 <= dim <= ndim:
        normalize_dim(dim, ndim + 1, "unsqueeze")  # raises PyTorch's IndexError
    if dim < 0:
        dim += ndim + 1
    return view_of(Reshape.apply(input, shape=shape[:dim] + (1,) + shape[dim:]), input)


# ---- permutations ----------------------------------------------------------------------------


@primitive("permute")
class Permute(Function):
    @staticmethod
    def forward(ctx, a, axes):
        return a.transpose(axes)

    @staticmethod
    def backward(ctx, grad):
        return Permute.apply(grad, axes=_inverse(ctx.attrs["axes"]))

    @staticmethod
    def backward_arrays(ctx, grad):
        return grad.transpose(_inverse(ctx.attrs["axes"]))


def _inverse(axes: tuple) -> tuple:
    inverse = [0] * len(axes)
    for position, axis in enumerate(axes):
        inverse[axis] = position
    return tuple(inverse)


def _permuted(input: Tensor, axes: tuple) -> Tensor:
    return view_of(Permute.apply(input, axes=axes), input)


def _swap(input: Tensor, dim0: int, dim1: int, op_name: str) -> Tensor:
    ndim = input._array.ndim
    axis0 = dim0 + ndim if dim0 < 0 else dim0
    axis1 = dim1 + ndim if dim1 < 0 else dim1
    if not (0 <= axis0 < ndim and 0 <= axis1 < ndim):  # errors, and 0-d tensors
        axis0 = normalize_dim(dim0, ndim, op_name)
        axis1 = normalize_dim(dim1, ndim, op_name)
    if axis0 == axis1:
        return input
    axes = list(range(ndim))
    axes[axis0] = axis1
    axes[axis1] = axis0
    return view_of(Permute.apply(input, axes=tuple(axes)), input)


@op("transpose", method=True)
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """A view with dimensions ``dim0`` and ``dim1`` swapped.

    Example:
        >>> ember.zeros(2, 3, 4).transpose(0, -1).shape
        (4, 3, 2)
    """
    return _swap(input, dim0, dim1, "transpose")


@op("swapaxes", method=True)
def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:
    """Alias of ``transpose``."""
    return _swap(input, axis0, axis1, "swapaxes")


@op("swapdims", method=True)
def swapdims(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Alias of ``transpose``."""
    return _swap(input, dim0, dim1, "swapdims")


@op("permute", method=True)
def permute(input: Tensor, *dims_args, dims=None) -> Tensor:
    """A view whose dimension ``i`` is the input's dimension ``dims[i]``."""
    dims = _shape_arg(dims_args) if dims is None else tuple(dims)
    ndim = input._array.ndim
    if len(dims) != ndim:
        raise RuntimeError(
            f"permute(): number of dimensions in the tensor input does not match the length of "
            f"the desired ordering of dimensions i.e. input.dim() = {ndim} is not equal to "
            f"len(dims) = {len(dims)}"
        )
    axes = tuple([d + ndim if d < 0 else d for d in dims])
    if ndim and not (0 <= min(axes) and max(axes) < ndim):
        axes = tuple([normalize_dim(d, ndim, "permute") for d in dims])
    if len(set(axes)) != ndim:
        raise RuntimeError(f"permute(): duplicate dims are not allowed (got {list(dims)})")
    return _permuted(input, axes)


@op("t", method=True)
def t(input: Tensor) -> Tensor:
    """Transpose of a matrix; 0-d and 1-d tensors are returned as they are."""
    ndim = input._array.ndim
    if ndim > 2:
        raise RuntimeError(
            f"t() expects a tensor with <= 2 dimensions, but self is {ndim}D"
        )
    return _swap(input, 0, 1, "t") if ndim == 2 else input


def _reversed_dims(self: Tensor) -> Tensor:
    ndim = self._array.ndim
    return _permuted(self, tuple(range(ndim - 1, -1, -1))) if ndim > 1 else self


def _matrix_transpose(self: Tensor, name: str) -> Tensor:
    if self._array.ndim < 2:
        raise RuntimeError(
            f"tensor.{name} is only supported on matrices or batches of matrices. Got "
            f"{self._array.ndim}-D tensor."
        )
    return _swap(self, -2, -1, name)


@op("T", method=True, function=False, prop=True)
def T(self: Tensor) -> Tensor:  # noqa: N802  (PyTorch's name)
    """All dimensions reversed (the transpose of a matrix)."""
    return _reversed_dims(self)


@op("H", method=True, function=False, prop=True)
def H(self: Tensor) -> Tensor:  # noqa: N802
    """Conjugate transpose; the same as ``T`` for the real dtypes Ember has."""
    return _reversed_dims(self)


@op("mT", method=True, function=False, prop=True)
def mT(self: Tensor) -> Tensor:  # noqa: N802
    """The last two dimensions swapped (a batch of transposed matrices)."""
    return _matrix_transpose(self, "mT")


@op("mH", method=True, function=False, prop=True)
def mH(self: Tensor) -> Tensor:  # noqa: N802
    """Conjugate of ``mT``; the same as ``mT`` for real dtypes."""
    return _matrix_transpose(self, "mH")


@op("movedim", method=True)
def movedim(input: Tensor, source, destination) -> Tensor:
    """Moves dimensions ``source`` (int or tuple) to positions ``destination``."""
    ndim = input._array.ndim
    source = (source,) if isinstance(source, int) else tuple(source)
    destination = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(source) != len(destination):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(source)} dims) should "
            f"contain the same number of dims as destination ({list(destination)} dims)"
        )
    src = [normalize_dim(d, ndim, "movedim") for d in source]
    dst = [normalize_dim(d, ndim, "movedim") for d in destination]
    for name, dims, given in (("source", src, source), ("destination", dst, destination)):
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(given)})")
    rest = iter(d for d in range(ndim) if d not in src)
    placed = dict(zip(dst, src))
    axes = tuple(placed[i] if i in placed else next(rest) for i in range(ndim))
    return _permuted(input, axes) if ndim else input


@op("moveaxis", method=True)
def moveaxis(input: Tensor, source, destination) -> Tensor:
    """Alias of ``movedim``."""
    return movedim(input, source, destination)


# ---- broadcasting ----------------------------------------------------------------------------


@primitive("expand")
class Expand(Function):
    @staticmethod
    def forward(ctx, a, shape):
        return ctx.xp.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.sum_to_size(ctx.shapes[0])

    @staticmethod
    def backward_arrays(ctx, grad):
        return grad  # the engine sums a gradient down to its input's shape


@op("expand", method=True)
def expand(input: Tensor, *sizes, size=None) -> Tensor:
    """A broadcast view with singleton dimensions repeated; -1 keeps a dimension's size."""
    sizes = _shape_arg(sizes) if size is None else tuple(size)
    shape = input._array.shape
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({len(shape)})"
        )
    for i in range(lead):
        if sizes[i] < 0:
            raise RuntimeError(
                f"expand: the expanded size of the tensor ({sizes[i]}) isn't allowed in a "
                f"leading, non-existing dimension {i}"
            )
    target = tuple(shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
    if target == shape:
        return input
    for i, n in enumerate(shape):
        if n != 1 and n != target[lead + i]:
            raise RuntimeError(
                f"expand: the expanded size of the tensor ({target[lead + i]}) must match the "
                f"existing size ({n}) at non-singleton dimension {lead + i}. Target sizes: "
                f"{list(sizes)}. Tensor sizes: {list(shape)}"
            )
    return view_of(Expand.apply(input, shape=target), input)


@op("expand_as", method=True, function=False)
def expand_as(self: Tensor, other: Tensor) -> Tensor:
    """``self.expand(other.shape)``."""
    return expand(self, other._array.shape)


@op("broadcast_to", method=True)
def broadcast_to(input: Tensor, size) -> Tensor:
    """``input.expand(size)``."""
    return expand(input, tuple(size))


@op("broadcast_shapes")
def broadcast_shapes(*shapes) -> tuple:
    """The shape that tensors of ``shapes`` broadcast to (ints count as 1-d shapes)."""
    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    result: list = []
    for shape in shapes:
        lead = len(shape) - len(result)
        if lead > 0:
            result[:0] = [1] * lead
        offset = len(result) - len(shape)
        for i, n in enumerate(shape):
            current = result[offset + i]
            if current == 1:
                result[offset + i] = n
            elif n != 1 and n != current:
                raise RuntimeError(
                    f"The size of tensor a ({current}) must match the size of tensor b ({n}) at "
                    f"non-singleton dimension {offset + i}"
                )
    return tuple(result)


@op("broadcast_tensors")
def broadcast_tensors(*tensors) -> tuple:
    """Expands all ``tensors`` to their common broadcast shape (views)."""
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*(t._array.shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


def _at_least(tensors, fix):
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        return tuple(fix(t) for t in tensors[0])
    if len(tensors) == 1:
        return fix(tensors[0])
    return tuple(fix(t) for t in tensors)


def _as_1d(t: Tensor) -> Tensor:
    return _reshape(t, (1,), "atleast_1d") if t._array.ndim == 0 else t


def _as_2d(t: Tensor) -> Tensor:
    ndim = t._array.ndim
    return t if ndim >= 2 else _reshape(t, (1, t._array.size), "atleast_2d")


def _as_3d(t: Tensor) -> Tensor:
    shape = t._array.shape
    if len(shape) >= 3:
        return t
    new_shape = {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}[len(shape)]
    return _reshape(t, new_shape, "atleast_3d")


@op("atleast_1d")
def atleast_1d(*tensors):
    """Each tensor with at least one dimension (0-d becomes (1,))."""
    return _at_least(tensors, _as_1d)


@op("atleast_2d")
def atleast_2d(*tensors):
    """Each tensor with at least two dimensions: (N,) becomes (1, N)."""
    return _at_least(tensors, _as_2d)


@op("atleast_3d")
def atleast_3d(*tensors):
    """Each tensor with at least three dimensions: (N,) -> (1, N, 1), (M, N) -> (M, N, 1)."""
    return _at_least(tensors, _as_3d)
