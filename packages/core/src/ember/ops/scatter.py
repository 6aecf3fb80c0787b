"""Gather and scatter along a dimension, index_select/index_add/index_fill, masked_fill.

Each primitive's backward is made of the others (gather <-> scatter_add, index_select <->
index_add), so gradients of any order exist. Repeated indices accumulate in every backward.
"""

from __future__ import annotations

import functools

import numpy as np

from ember.autograd.function import Function
from ember.backend import check_extremes, xp_of
from ember.backend import index_add as backend_index_add
from ember.ops._dims import normalize_dim
from ember.ops._promotion import cast
from ember.ops.indexing import IndexEmbed, check_bounds
from ember.ops.inplace import inplace_method
from ember.ops.op import op, primitive
from ember.tensor.tensor import Tensor

# ---- argument checks -----------------------------------------------------------------------------


def _check_index(index, name: str, vector: bool = False) -> None:
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index._array.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int32 or int64 for index, got {index.dtype}")
    if vector and index._array.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector, got shape "
                         f"{list(index._array.shape)}")


def _check_bounds(index, size: int, dim: int, name: str, error=RuntimeError,
                  hint: str = "") -> None:
    """Indices must lie in ``[0, size)``: unlike tensor indexing, these ops do not wrap negative
    indices around (PyTorch raises, and so do we)."""
    def failure(low, high):
        if low < 0 or high >= size:
            return error(f"{name}(): {hint}index {low if low < 0 else high} is out of bounds "
                         f"for dimension {dim} with size {size}")
        return None

    if index._array.size:  # on a GPU, checked once the extremes reach the host, unwaited
        check_extremes(index._array, failure)


def _check_along(input, dim, index, src, name: str) -> None:
    """The shape rules of gather/scatter: same ndim; index no larger than input (but along
    ``dim``) and than src."""
    shape, ishape = input._array.shape, index._array.shape
    if len(ishape) != len(shape) or (src is not None and src._array.ndim != len(shape)):
        raise RuntimeError(f"{name}(): Index tensor must have the same number of dimensions as "
                           f"input tensor ({len(ishape)} vs {len(shape)})")
    for d, n in enumerate(ishape):
        if d != dim and n > shape[d]:
            raise RuntimeError(
                f"{name}(): Size does not match at dimension {d} expected index {list(ishape)} "
                f"to be smaller than self {list(shape)} apart from dimension {dim}"
            )
        if src is not None and n > src._array.shape[d]:
            raise RuntimeError(
                f"{name}(): Expected index {list(ishape)} to be smaller than src "
                f"{list(src._array.shape)} at dimension {d}"
            )
    _check_bounds(index, shape[dim], dim, name)


def _leading(shape: tuple, dim: int) -> tuple:
    """Slices taking the first ``shape`` elements of every dimension but ``dim``."""
    return tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(shape))


def _along(xp, index, dim: int) -> tuple:
    """The full advanced index addressing ``out[..., index[i, j, k], ...]`` at dimension ``dim``
    for every position of ``index``."""
    ndim = index.ndim
    key = []
    for d, n in enumerate(index.shape):
        if d == dim:
            key.append(index)
        else:
            shape = [1] * ndim
            shape[d] = n
            key.append(xp.arange(n).reshape(shape))
    return tuple(key)


def _fit(grad: Tensor, shape: tuple) -> Tensor:
    """``grad`` (shaped like an index) zero-padded to ``shape`` (a src larger than the index)."""
    if grad._array.shape == tuple(shape):
        return grad
    key = _leading(grad._array.shape, -1) + (Ellipsis,)
    return IndexEmbed.apply(grad, shape=tuple(shape), basic=key, adv=None)


# ---- gather / scatter ---------------------------------------------------------------------------


def _scatter_add_into(xp, out, index, src, dim: int) -> None:
    """``out[index[i][j]][j] += src[i][j]`` (``dim == 0``) in place; repeats sum."""
    backend_index_add(out, _along(xp, index, dim), src[_leading(index.shape, -1)])


@primitive("gather")
class Gather(Function):
    """``out[i][j] = a[index[i][j]][j]`` for ``dim == 0`` (and likewise for other dims)."""

    @staticmethod
    def forward(ctx, a, index, dim):
        ctx.save_for_backward(index)
        if a.shape != index.shape:
            a = a[_leading(index.shape, dim)]
        return ctx.xp.take_along_axis(a, index, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        zeros = Tensor(ctx.xp.zeros(ctx.shapes[0], dtype=grad._array.dtype))
        return ScatterAdd.apply(zeros, index, grad, dim=ctx.attrs["dim"]), None

    @staticmethod
    def backward_arrays(ctx, grad):
        (index,) = ctx.saved_arrays
        out = ctx.xp.zeros(ctx.shapes[0], dtype=grad.dtype)
        _scatter_add_into(ctx.xp, out, index, grad, ctx.attrs["dim"])
        return out, None


@primitive("scatter_add")
class ScatterAdd(Function):
    """``a`` with ``src[i][j]`` added at ``[index[i][j]][j]`` (``dim == 0``); repeats sum."""

    @staticmethod
    def forward(ctx, a, index, src, dim):
        ctx.save_for_backward(index)
        out = a.copy()
        _scatter_add_into(ctx.xp, out, index, src, dim)
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        dim = ctx.attrs["dim"]
        grad_src = None
        if ctx.needs_input_grad[2]:
            grad_src = _fit(Gather.apply(grad, index, dim=dim), ctx.shapes[2])
        return grad, None, grad_src


@primitive("scatter")
class Scatter(Function):
    """``a`` with ``src[i][j]`` written at ``[index[i][j]][j]`` (``dim == 0``); ``src`` may be a
    0-d tensor (the ``value`` form). Which of repeated indices wins is unspecified, as in
    PyTorch."""

    @staticmethod
    def forward(ctx, a, index, src, dim):
        ctx.save_for_backward(index)
        out = a.copy()
        out[_along(ctx.xp, index, dim)] = src[_leading(index.shape, -1)] if src.ndim else src
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        dim = ctx.attrs["dim"]
        needs = ctx.needs_input_grad
        grad_a = grad_src = None
        if needs[0]:
            zero = Tensor(ctx.xp.zeros((), dtype=grad._array.dtype))
            grad_a = Scatter.apply(grad, index, zero, dim=dim)
        if needs[2]:
            picked = Gather.apply(grad, index, dim=dim)
            grad_src = picked.sum() if len(ctx.shapes[2]) == 0 else _fit(picked, ctx.shapes[2])
        return grad_a, None, grad_src


def _same_dtype(input: Tensor, src: Tensor, name: str) -> None:
    if src._array.dtype != input._array.dtype:
        raise RuntimeError(f"{name}(): Expected self.dtype to be equal to src.dtype "
                           f"({input.dtype} vs {src.dtype})")


def _scalar_tensor(value, like: Tensor) -> Tensor:
    """A number (or 0-d tensor) as a 0-d tensor of ``like``'s dtype and device."""
    if isinstance(value, Tensor):
        if value._array.ndim:
            raise RuntimeError(f"expected a 0-dimensional value tensor, got {value._array.ndim} "
                               "dimension(s)")
        return cast(value.to(like.device), like._array.dtype)
    return Tensor(xp_of(like._array).asarray(value, dtype=like._array.dtype))


def _zero_d(fn):
    """Runs a dim-wise op on 0-d tensors as on 1-element 1-d ones (PyTorch accepts 0-d)."""

    def wrapper(input, dim, index, *rest, **kwargs):
        if input._array.ndim or index._array.ndim:
            return fn(input, dim, index, *rest, **kwargs)
        rest = tuple(r.reshape(1) if isinstance(r, Tensor) and r._array.ndim == 0 else r
                     for r in rest)
        return fn(input.reshape(1), dim, index.reshape(1), *rest, **kwargs).reshape(())

    return functools.wraps(fn)(wrapper)


@op("gather", method=True)
@_zero_d
def gather(input, dim, index, *, sparse_grad: bool = False):
    """``out[i][j][k] = input[index[i][j][k]][j][k]`` for ``dim=0`` (likewise for other dims);
    ``out`` has ``index``'s shape, which must not exceed ``input``'s but along ``dim``.

    Example:
        >>> ember.tensor([[1, 2], [3, 4]]).gather(1, ember.tensor([[0, 0], [1, 0]]))
        tensor([[1, 1],
                [4, 3]])
    """
    _check_index(index, "gather")
    dim = normalize_dim(dim, input._array.ndim, "gather")
    _check_along(input, dim, index, None, "gather")
    return Gather.apply(input, index, dim=dim)


@op("take_along_dim", method=True)
def take_along_dim(input, indices, dim=None):
    """``input`` picked at ``indices`` along ``dim`` (numpy's ``take_along_axis``): ``gather``
    after broadcasting the other dims of the two; with ``dim=None`` both are flattened first.

    Example:
        >>> x = ember.tensor([[10.0, 30.0, 20.0], [60.0, 40.0, 50.0]])
        >>> ember.take_along_dim(x, x.argmax(dim=1, keepdim=True), dim=1)
        tensor([[30.],
                [60.]])
    """
    _check_index(indices, "take_along_dim")
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    shape, index_shape = input._array.shape, indices._array.shape
    if len(shape) != len(index_shape):
        raise RuntimeError(
            f"take_along_dim(): input and indices should have the same number of dimensions, "
            f"but got {len(shape)} dimensions for input, and {len(index_shape)} dimensions for "
            "indices"
        )
    dim = normalize_dim(dim, len(shape), "take_along_dim")
    try:
        common = list(np.broadcast_shapes(shape[:dim] + (1,) + shape[dim + 1:],
                                          index_shape[:dim] + (1,) + index_shape[dim + 1:]))
    except ValueError:
        raise RuntimeError(f"take_along_dim(): input {list(shape)} and indices "
                           f"{list(index_shape)} do not broadcast apart from dim {dim}") from None
    input = input.expand(tuple(common[:dim] + [shape[dim]] + common[dim + 1:]))
    indices = indices.expand(tuple(common[:dim] + [index_shape[dim]] + common[dim + 1:]))
    return gather(input, dim, indices)


@op("scatter_add", method=True)
@_zero_d
def scatter_add(input, dim, index, src):
    """``input`` with ``src[i][j]`` added at ``[index[i][j]][j]`` for ``dim=0``; repeats sum."""
    _check_index(index, "scatter_add")
    dim = normalize_dim(dim, input._array.ndim, "scatter_add")
    _same_dtype(input, src, "scatter_add")
    _check_along(input, dim, index, src, "scatter_add")
    return ScatterAdd.apply(input, index, src, dim=dim)


@op("scatter", method=True)
@_zero_d
def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """``input`` with ``src[i][j]`` (or the number ``value``) written at ``[index[i][j]][j]``
    for ``dim=0``. ``reduce="add"`` adds instead (see ``scatter_add``)."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter(): expected a src tensor or a value")
    if reduce is not None:
        if reduce != "add":
            raise RuntimeError(f"scatter(): reduce argument must be 'add' (got {reduce!r}); "
                               "'multiply' is not supported by Ember")
        if not isinstance(src, Tensor):
            src = _scalar_tensor(src, input).expand(index._array.shape)
        return scatter_add(input, dim, index, src)
    _check_index(index, "scatter")
    dim = normalize_dim(dim, input._array.ndim, "scatter")
    if isinstance(src, Tensor) and src._array.ndim:
        _same_dtype(input, src, "scatter")
        _check_along(input, dim, index, src, "scatter")
    else:
        src = _scalar_tensor(src, input)
        _check_along(input, dim, index, None, "scatter")
    return Scatter.apply(input, index, src, dim=dim)


# ---- index_select / index_add / index_fill -------------------------------------------------------


def _at(dim: int, index) -> tuple:
    return (slice(None),) * dim + (index,)


@primitive("index_select")
class IndexSelect(Function):
    @staticmethod
    def forward(ctx, a, index, dim):
        ctx.save_for_backward(index)
        return ctx.xp.take(a, index, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        zeros = Tensor(ctx.xp.zeros(ctx.shapes[0], dtype=grad._array.dtype))
        return IndexAdd.apply(zeros, index, grad, dim=ctx.attrs["dim"]), None

    @staticmethod
    def backward_arrays(ctx, grad):
        (index,) = ctx.saved_arrays
        out = ctx.xp.zeros(ctx.shapes[0], dtype=grad.dtype)
        backend_index_add(out, _at(ctx.attrs["dim"], index), grad)
        return out, None


@primitive("index_add")
class IndexAdd(Function):
    """``a`` with the slices of ``source`` added at ``index`` along ``dim`` (repeats sum)."""

    @staticmethod
    def forward(ctx, a, index, source, dim):
        ctx.save_for_backward(index)
        out = a.copy()
        backend_index_add(out, _at(dim, index), source)
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        grad_source = None
        if ctx.needs_input_grad[2]:
            grad_source = IndexSelect.apply(grad, index, dim=ctx.attrs["dim"])
        return grad, None, grad_source


@primitive("index_fill")
class IndexFill(Function):
    """``a`` with the slices at ``index`` along ``dim`` set to the 0-d ``value``."""

    @staticmethod
    def forward(ctx, a, index, value, dim):
        ctx.save_for_backward(index)
        out = a.copy()
        out[_at(dim, index)] = value
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        dim = ctx.attrs["dim"]
        needs = ctx.needs_input_grad
        grad_a = grad_value = None
        if needs[0]:
            zero = Tensor(ctx.xp.zeros((), dtype=grad._array.dtype))
            grad_a = IndexFill.apply(grad, index, zero, dim=dim)
        if needs[2]:
            # A repeated index fills one slice: count it once.
            unique = Tensor(ctx.xp.unique(index._array))
            grad_value = IndexSelect.apply(grad, unique, dim=dim).sum()
        return grad_a, None, grad_value


def _prepare_dim_index(input, dim, index, name, wraps: bool = False):
    """Checks ``index`` (a vector, or a 0-d tensor) and returns (dim, 1-d index). Out of range
    is PyTorch's IndexError; only ``wraps`` ops (index_fill) take negative indices."""
    _check_index(index, name, vector=True)
    if index._array.ndim == 0:
        index = index.reshape(1)
    dim = normalize_dim(dim, input._array.ndim, name)
    size = input._array.shape[dim] if input._array.ndim else 1
    if wraps:
        check_bounds(index._array, size, dim, IndexError, f"{name}(): ")
    else:
        _check_bounds(index, size, dim, name, IndexError, "index out of range in self: ")
    return dim, index


@op("index_select", method=True)
def index_select(input, dim, index):
    """The slices of ``input`` at positions ``index`` (a vector) along ``dim``."""
    dim, index = _prepare_dim_index(input, dim, index, "index_select")
    if input._array.ndim == 0:
        out = IndexSelect.apply(input.reshape(1), index, dim=0)
        return out.reshape(()) if out._array.size == 1 else out
    return IndexSelect.apply(input, index, dim=dim)


@op("index_add", method=True)
def index_add(input, dim, index, source, *, alpha=1):
    """``input`` with ``alpha * source[..., i, ...]`` added at ``input[..., index[i], ...]``
    along ``dim``; repeated indices sum."""
    dim, index = _prepare_dim_index(input, dim, index, "index_add")
    _same_dtype(input, source, "index_add")
    expected = input._array.shape[:dim] + (index._array.shape[0],) + input._array.shape[dim + 1:]
    if input._array.ndim and source._array.shape != expected:
        raise RuntimeError(
            f"index_add(): Source/destination tensor must have same slice shapes: source "
            f"{list(source._array.shape)}, expected {list(expected)} for index of length "
            f"{index._array.shape[0]} along dim {dim}"
        )
    if alpha != 1:
        source = source * alpha
    if input._array.ndim == 0:
        return IndexAdd.apply(input.reshape(1), index, source.reshape(-1), dim=0).reshape(())
    return IndexAdd.apply(input, index, source, dim=dim)


@op("index_fill", method=True)
def index_fill(input, dim, index, value):
    """``input`` with the slices at ``index`` along ``dim`` set to ``value`` (a number or 0-d
    tensor, whose gradient is the sum over the filled slices)."""
    dim, index = _prepare_dim_index(input, dim, index, "index_fill", wraps=True)
    value = _scalar_tensor(value, input)
    if input._array.ndim == 0:
        return IndexFill.apply(input.reshape(1), index, value, dim=0).reshape(())
    return IndexFill.apply(input, index, value, dim=dim)


# ---- masked_fill --------------------------------------------------------------------------------


@primitive("masked_fill")
class MaskedFill(Function):
    """``value`` (0-d) where ``mask`` is True, ``a`` elsewhere (broadcast together)."""

    @staticmethod
    def forward(ctx, a, mask, value):
        ctx.save_for_backward(mask)
        return ctx.xp.where(mask, value, a)

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_a = grad_value = None
        zero = Tensor(ctx.xp.zeros((), dtype=grad._array.dtype))
        if needs[0]:
            grad_a = MaskedFill.apply(grad, mask, zero)
        if needs[2]:
            kept = Tensor(ctx.xp.logical_not(mask._array))
            grad_value = MaskedFill.apply(grad, kept, zero).sum()
        return grad_a, None, grad_value

    @staticmethod
    def backward_arrays(ctx, grad):
        (mask,) = ctx.saved_arrays
        xp = ctx.xp
        needs = ctx.needs_input_grad
        zero = xp.zeros((), dtype=grad.dtype)
        grad_a = xp.where(mask, zero, grad) if needs[0] else None
        grad_value = xp.asarray(xp.where(mask, grad, zero).sum()) if needs[2] else None
        return grad_a, None, grad_value


@op("masked_fill", method=True)
def masked_fill(input, mask, value):
    """``input`` with ``value`` (a number or a 0-d tensor) where the bool ``mask`` is True;
    ``mask`` broadcasts with ``input``.

    Example:
        >>> ember.tensor([1.0, 2.0, 3.0]).masked_fill(ember.tensor([True, False, True]), 0.0)
        tensor([0., 2., 0.])
    """
    if not isinstance(mask, Tensor) or mask._array.dtype != np.bool_:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{got}")
    if isinstance(value, Tensor) and value._array.ndim:
        raise RuntimeError(
            "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
            f"{value._array.ndim} dimension(s)."
        )
    try:
        np.broadcast_shapes(input._array.shape, mask._array.shape)
    except ValueError:
        raise RuntimeError(
            f"masked_fill: the shape of the mask {list(mask._array.shape)} must be broadcastable "
            f"with the shape of the input {list(input._array.shape)}"
        ) from None
    if mask.device != input.device:
        mask = mask.to(input.device)
    return MaskedFill.apply(input, mask, _scalar_tensor(value, input))


# ---- in-place forms -----------------------------------------------------------------------------


# None of these primitives keeps its first input for backward, so self is not copied.
for _name, _fn in [("scatter", scatter), ("scatter_add", scatter_add), ("index_add", index_add),
                   ("index_fill", index_fill), ("masked_fill", masked_fill)]:
    op(f"{_name}_", method=True, function=False)(inplace_method(_name, _fn, saves_self=False))
