"""Rearranging elements: flip, roll, repeat/tile, tril/triu, diagonals, and padding.

These return new memory, as in PyTorch, except ``diagonal`` which is a view. Each primitive's
backward is another linear op of this file (flip by flip, pad by its adjoint and back), so
gradients of every order come for free.
"""

from __future__ import annotations

from ember.autograd.function import Function
from ember.ops._dims import normalize_dim, normalize_dims
from ember.ops.conversion import Clone
from ember.ops.op import op, primitive
from ember.ops.shape import _shape_arg, view_of
from ember.tensor.tensor import Tensor

# ---- flip and roll ---------------------------------------------------------------------------


@primitive("flip")
class Flip(Function):
    @staticmethod
    def forward(ctx, a, axes):
        # numpy's flip is a negative-stride view; PyTorch's flip owns its memory.
        return ctx.xp.flip(a, axes).copy()

    @staticmethod
    def backward(ctx, grad):
        return Flip.apply(grad, axes=ctx.attrs["axes"])

    @staticmethod
    def backward_arrays(ctx, grad):
        return ctx.xp.flip(grad, ctx.attrs["axes"])


@op("flip", method=True)
def flip(input: Tensor, *dims_args, dims=None) -> Tensor:
    """Reverses the order of elements along ``dims`` (a copy).

    Example:
        >>> ember.tensor([1, 2, 3]).flip(0)
        tensor([3, 2, 1])
    """
    dims = _shape_arg(dims_args) if dims is None else dims
    axes = normalize_dims(dims, input._array.ndim, "flip") if dims != () else ()
    return Flip.apply(input, axes=axes)


@op("fliplr", method=True)
def fliplr(input: Tensor) -> Tensor:
    """Flips the second dimension (columns) of a tensor with at least 2 dimensions."""
    if input._array.ndim < 2:
        raise RuntimeError("fliplr(): input must be >= 2-d.")
    return Flip.apply(input, axes=(1,))


@op("flipud", method=True)
def flipud(input: Tensor) -> Tensor:
    """Flips the first dimension (rows) of a tensor with at least 1 dimension."""
    if input._array.ndim < 1:
        raise RuntimeError("flipud(): input must be >= 1-d.")
    return Flip.apply(input, axes=(0,))


@op("rot90", method=True)
def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotates by ``k`` quarter turns in the plane of ``dims``, from the first dim to the second."""
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(
            f"rot90(): expected total rotation dims == 2, but got dims = {len(dims)}"
        )
    ndim = input._array.ndim
    if ndim < 2:
        raise RuntimeError(f"rot90(): expected total dims >= 2, but got total dims = {ndim}")
    first, second = (normalize_dim(d, ndim, "rot90") for d in dims)
    if first == second:
        raise RuntimeError(
            f"rot90(): expected rotation dims to be different, but got dims = {dims}"
        )
    k %= 4
    if k == 0:
        return Clone.apply(input)
    if k == 2:
        return Flip.apply(input, axes=tuple(sorted((first, second))))
    flipped = Flip.apply(input, axes=(second if k == 1 else first,))
    return flipped.transpose(first, second)


@primitive("roll")
class Roll(Function):
    @staticmethod
    def forward(ctx, a, shifts, axes):
        return ctx.xp.roll(a, shifts, axes)

    @staticmethod
    def backward(ctx, grad):
        attrs = ctx.attrs
        return Roll.apply(grad, shifts=tuple(-s for s in attrs["shifts"]), axes=attrs["axes"])

    @staticmethod
    def backward_arrays(ctx, grad):
        attrs = ctx.attrs
        return ctx.xp.roll(grad, tuple(-s for s in attrs["shifts"]), attrs["axes"])


@op("roll", method=True)
def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Shifts elements cyclically by ``shifts`` along ``dims`` (the flattened tensor when None)."""
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(
                f"roll(): shifts and dimensions must align. shifts: {len(shifts)}, dims:0"
            )
        return Roll.apply(input, shifts=shifts, axes=None)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"roll(): shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}"
        )
    ndim = input._array.ndim
    axes = tuple(normalize_dim(d, ndim, "roll") for d in dims)
    return Roll.apply(input, shifts=shifts, axes=axes if ndim else None)


# ---- repeat and tile -------------------------------------------------------------------------


@primitive("repeat")
class Repeat(Function):
    """numpy's ``tile`` with ``len(repeats) >= ndim`` (PyTorch's ``Tensor.repeat``)."""

    @staticmethod
    def forward(ctx, a, repeats):
        return ctx.xp.tile(a, repeats)

    @staticmethod
    def backward(ctx, grad):
        interleaved, axes = _repeat_layout(ctx)
        return grad.reshape(interleaved).sum(dim=axes).reshape(ctx.shapes[0])

    @staticmethod
    def backward_arrays(ctx, grad):
        interleaved, axes = _repeat_layout(ctx)
        return grad.reshape(interleaved).sum(axis=axes).reshape(ctx.shapes[0])


def _repeat_layout(ctx) -> tuple:
    """Each output dimension of ``repeat`` as (repeat, size) row-major, and the repeat axes (the
    gradient sums over those)."""
    repeats = ctx.attrs["repeats"]
    shape = ctx.shapes[0]
    padded = (1,) * (len(repeats) - len(shape)) + tuple(shape)
    interleaved = tuple([n for pair in zip(repeats, padded) for n in pair])
    return interleaved, tuple(range(0, len(interleaved), 2))


@op("repeat", method=True, function=False)
def repeat(self: Tensor, *sizes, repeats=None) -> Tensor:
    """Tiles the tensor ``sizes[i]`` times along dimension ``i`` (extra leading sizes add dims).

    Example:
        >>> ember.tensor([1, 2]).repeat(2, 2)
        tensor([[1, 2, 1, 2],
                [1, 2, 1, 2]])
    """
    sizes = _shape_arg(sizes) if repeats is None else tuple(repeats)
    if len(sizes) < self._array.ndim:
        raise RuntimeError(
            "repeat(): Number of dimensions of repeat dims can not be smaller than number of "
            f"dimensions of tensor (got {len(sizes)} and {self._array.ndim})"
        )
    if any(n < 0 for n in sizes):
        raise RuntimeError(
            f"repeat(): Trying to create tensor with negative dimension: {list(sizes)}"
        )
    return Repeat.apply(self, repeats=sizes)


@op("tile", method=True)
def tile(input: Tensor, dims) -> Tensor:
    """``repeat`` that also accepts fewer ``dims`` than the tensor has (leading ones assumed)."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    lead = input._array.ndim - len(dims)
    return repeat(input, (1,) * lead + dims if lead > 0 else dims)


# ---- triangles and diagonals -----------------------------------------------------------------


@primitive("trilu")
class Trilu(Function):
    """Keeps the lower (``upper`` False) or upper triangle of the last two dims, from
    ``diagonal`` on; zeros the rest."""

    @staticmethod
    def forward(ctx, a, diagonal, upper):
        xp = ctx.xp
        return xp.triu(a, diagonal) if upper else xp.tril(a, diagonal)

    @staticmethod
    def backward(ctx, grad):
        return Trilu.apply(grad, **ctx.attrs)

    @staticmethod
    def backward_arrays(ctx, grad):
        return Trilu.forward(ctx, grad, **ctx.attrs)


def _triangle(input: Tensor, diagonal: int, upper: bool, op_name: str) -> Tensor:
    if input._array.ndim < 2:
        raise RuntimeError(
            f"{op_name}: input tensor must have at least 2 dimensions (got {input._array.ndim})"
        )
    return Trilu.apply(input, diagonal=int(diagonal), upper=upper)


@op("tril", method=True)
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims: ``out[..., i, j] = 0`` for ``j > i + diagonal``."""
    return _triangle(input, diagonal, False, "tril")


@op("triu", method=True)
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims: ``out[..., i, j] = 0`` for ``j < i + diagonal``."""
    return _triangle(input, diagonal, True, "triu")


def _writable(view):
    # numpy marks diagonal views read-only (a legacy guard); PyTorch's diagonal is writable.
    flags = view.flags
    if not getattr(flags, "writeable", True):
        try:
            flags.writeable = True
        except ValueError:  # the base itself is read-only (an expanded tensor)
            pass
    return view


@primitive("diagonal")
class Diagonal(Function):
    """The diagonal of dims ``axis1``/``axis2`` (removed), appended as the last dimension."""

    @staticmethod
    def forward(ctx, a, offset, axis1, axis2):
        return _writable(a.diagonal(offset, axis1, axis2))

    @staticmethod
    def backward(ctx, grad):
        return DiagonalEmbed.apply(grad, shape=ctx.shapes[0], **ctx.attrs)

    @staticmethod
    def backward_arrays(ctx, grad):
        return DiagonalEmbed.forward(ctx, grad, shape=ctx.shapes[0], **ctx.attrs)


@primitive("diagonal_embed")
class DiagonalEmbed(Function):
    """Zeros of ``shape`` with the last dimension of the input written onto a diagonal (the
    adjoint of ``diagonal``)."""

    @staticmethod
    def forward(ctx, a, shape, offset, axis1, axis2):
        xp = ctx.xp
        out = xp.zeros(shape, dtype=a.dtype)
        plane = xp.moveaxis(out, (axis1, axis2), (-2, -1))
        index = xp.arange(a.shape[-1])
        plane[..., index + max(-offset, 0), index + max(offset, 0)] = a
        return out

    @staticmethod
    def backward(ctx, grad):
        attrs = ctx.attrs
        return Diagonal.apply(
            grad, offset=attrs["offset"], axis1=attrs["axis1"], axis2=attrs["axis2"]
        )

    @staticmethod
    def backward_arrays(ctx, grad):
        attrs = ctx.attrs
        return grad.diagonal(attrs["offset"], attrs["axis1"], attrs["axis2"])


def _diagonal_axes(dim1: int, dim2: int, ndim: int, op_name: str) -> tuple:
    axis1 = normalize_dim(dim1, ndim, op_name)
    axis2 = normalize_dim(dim2, ndim, op_name)
    if axis1 == axis2:
        raise RuntimeError(f"{op_name}: diagonal dimensions cannot be identical {dim1}, {dim2}")
    return axis1, axis2


@op("diagonal", method=True)
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The view of elements ``input[..., i, i + offset]`` of dims ``dim1``/``dim2``, which are
    removed; the diagonal becomes the last dimension.

    Example:
        >>> ember.arange(9).reshape(3, 3).diagonal(1)
        tensor([1, 5])
    """
    axis1, axis2 = _diagonal_axes(dim1, dim2, input._array.ndim, "diagonal")
    out = Diagonal.apply(input, offset=int(offset), axis1=axis1, axis2=axis2)
    return view_of(out, input)


@op("diag_embed", method=True)
def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices whose ``offset`` diagonal (in dims ``dim1``/``dim2`` of the result) holds the last
    dimension of ``input``: (..., N) -> (..., N + |offset|, N + |offset|) for the defaults."""
    shape = input._array.shape
    if not shape:
        raise RuntimeError("diag_embed(): input must have at least 1 dimension")
    axis1, axis2 = _diagonal_axes(dim1, dim2, len(shape) + 1, "diag_embed")
    size = shape[-1] + abs(int(offset))
    out_shape = list(shape[:-1])
    for axis in sorted((axis1, axis2)):
        out_shape.insert(axis, size)
    return DiagonalEmbed.apply(
        input, shape=tuple(out_shape), offset=int(offset), axis1=axis1, axis2=axis2
    )


@op("diag", method=True)
def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-d tensor put on the ``diagonal`` of a square matrix, or a 2-d tensor's diagonal (a
    copy)."""
    ndim = input._array.ndim
    if ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if ndim == 2:
        return Clone.apply(Diagonal.apply(input, offset=int(diagonal), axis1=0, axis2=1))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {ndim}D")


# ---- padding ---------------------------------------------------------------------------------

_NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@primitive("pad")
class Pad(Function):
    """Pads each axis by ``widths[axis] = (before, after)`` (non-negative) in ``mode``."""

    @staticmethod
    def forward(ctx, a, widths, mode, value):
        xp = ctx.xp
        if mode != "constant":
            return xp.pad(a, widths, mode=_NUMPY_PAD_MODES[mode])
        shape = tuple([n + before + after for n, (before, after) in zip(a.shape, widths)])
        out = xp.full(shape, value, dtype=a.dtype) if value else xp.zeros(shape, dtype=a.dtype)
        out[tuple([slice(before, before + n) for n, (before, _) in zip(a.shape, widths)])] = a
        return out

    @staticmethod
    def backward(ctx, grad):
        attrs = ctx.attrs
        return PadAdjoint.apply(grad, widths=attrs["widths"], mode=attrs["mode"])

    @staticmethod
    def backward_arrays(ctx, grad):
        attrs = ctx.attrs
        return PadAdjoint.forward(ctx, grad, widths=attrs["widths"], mode=attrs["mode"])


@primitive("pad_adjoint")
class PadAdjoint(Function):
    """The adjoint of ``pad``: crops the border (constant mode) or adds it back onto the
    elements it was copied from."""

    @staticmethod
    def forward(ctx, a, widths, mode):
        if mode == "constant":
            return a[tuple([slice(before, n - after) for n, (before, after) in
                            zip(a.shape, widths)])]
        for axis, (before, after) in enumerate(widths):
            if before or after:
                a = _fold(a, axis, before, after, mode)
        return a

    @staticmethod
    def backward(ctx, grad):
        attrs = ctx.attrs
        return Pad.apply(grad, widths=attrs["widths"], mode=attrs["mode"], value=0)

    @staticmethod
    def backward_arrays(ctx, grad):
        attrs = ctx.attrs
        return Pad.forward(ctx, grad, widths=attrs["widths"], mode=attrs["mode"], value=0)


def _fold(a, axis: int, before: int, after: int, mode: str):
    """Along ``axis``: the core of ``a`` plus its ``before``/``after`` border, each element
    added onto the core element it copies in ``mode``."""
    lead = (slice(None),) * axis
    size = a.shape[axis] - before - after
    core = a[lead + (slice(before, before + size),)].copy()
    head = a[lead + (slice(0, before),)]
    tail = a[lead + (slice(before + size, None),)]
    if mode == "replicate":
        core[lead + (slice(0, 1),)] += head.sum(axis=axis, keepdims=True)
        core[lead + (slice(size - 1, size),)] += tail.sum(axis=axis, keepdims=True)
    elif mode == "reflect":  # out[j] = in[before - j] ahead, in[size - 2 - k] behind
        core[lead + (slice(1, before + 1),)] += head[lead + (slice(None, None, -1),)]
        core[lead + (slice(size - 1 - after, size - 1),)] += tail[lead + (slice(None, None, -1),)]
    else:  # circular: the head wraps from the end, the tail from the start
        core[lead + (slice(size - before, size),)] += head
        core[lead + (slice(0, after),)] += tail
    return core


def _pad_widths(pad, ndim: int) -> list:
    """PyTorch's flat pad (last dimension first) as numpy's (before, after) per axis."""
    if len(pad) % 2:
        raise RuntimeError(f"pad: Padding length must be divisible by 2 (got {len(pad)})")
    if len(pad) > 2 * ndim:
        raise RuntimeError(
            "pad: Padding length should be less than or equal to two times the input dimension "
            f"but got padding length {len(pad)} and input of dimension {ndim}"
        )
    widths = [(0, 0)] * ndim
    for k in range(len(pad) // 2):
        widths[ndim - 1 - k] = (int(pad[2 * k]), int(pad[2 * k + 1]))
    return widths


def _check_mode_pad(input: Tensor, widths: list, count: int, mode: str, value) -> None:
    if mode not in _NUMPY_PAD_MODES:
        raise NotImplementedError(
            f"pad: unrecognised padding mode {mode!r}; expected 'constant', 'reflect', "
            "'replicate' or 'circular'"
        )
    if value is not None and value != 0:
        raise RuntimeError(f'pad: Padding mode "{mode}" doesn\'t take in value argument')
    ndim = input._array.ndim
    if not 1 <= count <= 3 or ndim not in (count + 1, count + 2):
        raise NotImplementedError(
            f"pad: only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now "
            f"(got padding of {count} dimensions for a {ndim}-d input in mode {mode!r})"
        )
    shape = input._array.shape
    for axis, (before, after) in enumerate(widths):
        size = shape[axis]
        if before < 0 or after < 0:
            raise RuntimeError(f"pad: negative padding is only supported in constant mode, got "
                               f"({before}, {after}) at dimension {axis} in mode {mode!r}")
        if mode == "reflect" and (before >= size or after >= size) and (before or after):
            raise RuntimeError(
                f"pad: Padding size should be less than the corresponding input dimension, but "
                f"got: padding ({before}, {after}) at dimension {axis} of input {list(shape)}"
            )
        if mode == "circular" and (before > size or after > size):
            raise RuntimeError(
                f"pad: Padding value causes wrapping around more than once (padding "
                f"({before}, {after}) at dimension {axis} of input {list(shape)})"
            )
        if mode == "replicate" and size == 0 and (before or after):
            raise RuntimeError(f"pad: cannot replicate the edge of empty dimension {axis}")


@op("pad")
def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pads ``input``; ``pad`` lists (before, after) amounts from the LAST dimension backwards.

    ``mode`` is 'constant' (fill ``value``, default 0; negative amounts crop), 'reflect'
    (mirror without the edge), 'replicate' (repeat the edge) or 'circular' (wrap around). The
    non-constant modes pad the last 1-3 dims of a batched (N, C, ...) or (C, ...) input.

    Example:
        >>> ember.pad(ember.ones(2, 3), (1, 1, 0, 2)).shape   # last dim +2, first dim +2
        (4, 5)
    """
    pad = tuple(pad)
    widths = _pad_widths(pad, input._array.ndim)
    if mode == "constant":
        if any(before < 0 or after < 0 for before, after in widths):
            crop = tuple((max(-before, 0), max(-after, 0)) for before, after in widths)
            input = PadAdjoint.apply(input, widths=crop, mode="constant")
            widths = [(max(before, 0), max(after, 0)) for before, after in widths]
        return Pad.apply(input, widths=tuple(widths), mode="constant",
                         value=0 if value is None else value)
    _check_mode_pad(input, widths, len(pad) // 2, mode, value)
    return Pad.apply(input, widths=tuple(widths), mode=mode, value=0)
