"""Views: marking op outputs as views of their input, and locating a view inside its base.

A view shares its base's memory and version counter, so an in-place change through either is
seen by every saved-tensor check. In-place ops on a view rewrite the base's history (PyTorch's
CopySlices): for that they need where the view lies in the base's memory (its *geometry*: size,
strides and offset in elements, relative to the base's dense memory order) and the live views of
a base, whose histories go stale when the memory they show changes. The three ``_strided_*``
primitives read and write such a region; each one's backward is another of them, so gradients
through in-place view updates stay differentiable to any order.
"""

from __future__ import annotations

import weakref

from ember.autograd import function as fn_state
from ember.autograd.function import Function
from ember.ops.op import primitive
from ember.tensor.tensor import Tensor


def as_view(result: Tensor, base: Tensor) -> Tensor:
    """Marks ``result`` (an op output sharing ``base``'s memory) as a view of ``base``."""
    root = base._base if base._base is not None else base
    result._base = root
    result._version = base._share_version()
    # Only views that can carry gradients need their history refreshed after an in-place change.
    if result._array.dtype.kind == "f" and fn_state.grad_enabled():
        _register(root, result)
    return result


# ---- the live views of each base -------------------------------------------------------------


class _Family:
    """Weak references to the views of one base (the base keeps this entry alive)."""

    __slots__ = ("root_ref", "views", "limit")

    def __init__(self, root_ref) -> None:
        self.root_ref = root_ref
        self.views = []
        self.limit = 16


_FAMILIES: dict = {}  # id(root) -> _Family; removed when the root is collected


def _forget(key):
    return lambda _ref: _FAMILIES.pop(key, None)


def _register(root: Tensor, view: Tensor) -> None:
    family = _FAMILIES.get(id(root))
    if family is None:  # the root's weakref callback drops the entry before its id is reused
        key = id(root)
        family = _FAMILIES[key] = _Family(weakref.ref(root, _forget(key)))
    views = family.views
    views.append(weakref.ref(view))
    if len(views) > family.limit:  # prune the dead ones, amortised over many registrations
        views[:] = [ref for ref in views if ref() is not None]
        family.limit = max(16, 2 * len(views))


def live_views(root: Tensor) -> list:
    """The views of ``root`` still alive (registered while grad mode was on)."""
    family = _FAMILIES.get(id(root))
    if family is None:
        return []
    return [view for view in (ref() for ref in family.views) if view is not None]


# ---- where a view lies in its base ------------------------------------------------------------


def _dense_order(array) -> tuple | None:
    """The permutation of axes that makes ``array`` C-contiguous, or None if it has gaps or
    negative or overlapping strides."""
    ndim = array.ndim
    if array.flags.c_contiguous:
        return tuple(range(ndim))
    strides = array.strides
    shape = array.shape
    order = sorted(range(ndim), key=lambda axis: (-strides[axis], axis))
    expected = array.itemsize
    for axis in reversed(order):
        if shape[axis] != 1 and strides[axis] != expected:
            return None
        expected *= shape[axis]
    return tuple(order)


def geometry(view: Tensor, root: Tensor) -> dict | None:
    """The region of ``root``'s memory that ``view`` shows, as attrs of the ``_strided_*`` ops.

    Returns None when ``view`` does not share memory with ``root`` (or is empty), and raises a
    RuntimeError for layouts an in-place update of the base cannot be expressed over. A
    broadcast (stride 0) dimension gets size 1 in the region: expand it to ``view``'s shape.
    """
    data, base = view._array, root._array
    if data.size == 0 or base.size == 0:
        return None
    itemsize = base.itemsize
    offset = view.data_ptr() - root.data_ptr()
    if not 0 <= offset < base.size * itemsize:
        return None
    order = _dense_order(base)
    if data.dtype != base.dtype or order is None or offset % itemsize:
        raise RuntimeError(
            f"in-place update of a view of shape {tuple(data.shape)} ({data.dtype}) of a tensor "
            f"of shape {tuple(base.shape)} ({base.dtype}) with strides {root.stride()} cannot be "
            "recorded for autograd (the view reinterprets the dtype, or the base is not dense); "
            "clone() the view, or the base, before modifying it in place"
        )
    size, stride = [], []
    last = offset // itemsize
    for n, s in zip(data.shape, data.strides):
        if s == 0:  # a broadcast dimension shows one element: the caller expands the region
            n = 1
        size.append(n)
        if n == 1:
            s = 0
        if s < 0 or s % itemsize:
            raise RuntimeError(
                f"in-place update of a view with strides {view.stride()} (negative or "
                "unaligned) cannot be recorded for autograd; clone() it first"
            )
        stride.append(s // itemsize)
        last += (n - 1) * (s // itemsize)
    if last >= base.size:
        return None
    return {
        "shape": tuple(base.shape),
        "size": tuple(size),
        "stride": tuple(stride),
        "offset": offset // itemsize,
        "order": order,
    }


def _region(xp, dense, size, stride, offset):
    """The strided window of the C-contiguous array ``dense`` (a writable view)."""
    itemsize = dense.itemsize
    flat = dense.reshape(-1)[offset:]
    return xp.lib.stride_tricks.as_strided(flat, size, tuple(s * itemsize for s in stride))


def _dense(array, order):
    """``array`` with its axes in dense memory order (C-contiguous when ``array`` is dense)."""
    return array if order == tuple(range(len(order))) else array.transpose(order)


def _inverse(order: tuple) -> tuple:
    inverse = [0] * len(order)
    for position, axis in enumerate(order):
        inverse[axis] = position
    return tuple(inverse)


@primitive("_strided_view")
class StridedView(Function):
    """A copy of the region ``geometry`` of an input of the base's shape."""

    @staticmethod
    def forward(ctx, a, shape, size, stride, offset, order):
        dense = ctx.xp.ascontiguousarray(_dense(a, order))
        return _region(ctx.xp, dense, size, stride, offset).copy()

    @staticmethod
    def backward(ctx, grad):
        return StridedEmbed.apply(grad, **ctx.attrs)


@primitive("_strided_embed")
class StridedEmbed(Function):
    """Zeros of the base's shape with the region filled from the input (of the region's size)."""

    @staticmethod
    def forward(ctx, src, shape, size, stride, offset, order):
        xp = ctx.xp
        dense = xp.zeros(tuple(shape[axis] for axis in order), dtype=src.dtype)
        _region(xp, dense, size, stride, offset)[...] = src
        return _dense(dense, _inverse(order))

    @staticmethod
    def backward(ctx, grad):
        return StridedView.apply(grad, **ctx.attrs)


@primitive("_strided_scatter")
class StridedScatter(Function):
    """The first input with the region replaced by the second; ``inplace`` writes into the
    first input's memory (which must be the dense base the geometry was taken from)."""

    @staticmethod
    def forward(ctx, a, src, shape, size, stride, offset, order, inplace=False):
        xp = ctx.xp
        if inplace:
            _region(xp, _dense(a, order), size, stride, offset)[...] = src
            return a
        dense = _dense(a, order).copy()
        _region(xp, dense, size, stride, offset)[...] = src
        return _dense(dense, _inverse(order))

    @staticmethod
    def backward(ctx, grad):
        attrs = dict(ctx.attrs, inplace=False)
        needs = ctx.needs_input_grad
        grad_a = grad_src = None
        if needs[0]:
            zeros = Tensor(ctx.xp.zeros(attrs["size"], dtype=grad._array.dtype))
            grad_a = StridedScatter.apply(grad, zeros, **attrs)
        if needs[1]:
            attrs.pop("inplace")
            grad_src = StridedView.apply(grad, **attrs)
        return grad_a, grad_src
