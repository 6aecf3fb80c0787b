"""Indexing: ``x[key]``, ``x[key] = value``, masked_select, take, nonzero.

A key is split the way PyTorch applies it: first the *basic* part (integers, slices, None,
Ellipsis) on the tensor, which gives a view, then the *advanced* part (integer index arrays and
boolean masks, which become integer arrays) on that view, with numpy's rules for where the
advanced dimensions go. Integers are always basic, so ``x[0, :, [1, 2]]`` has shape ``(B, 2)``
as in PyTorch (numpy would give ``(2, B)``). Python bools and 0-d bool tensors add a dimension
and index it, as in PyTorch.
"""

from __future__ import annotations

import warnings

import numpy as np

from ember.autograd.function import Function
from ember.backend import check_extremes, index_add, to_device, xp_of
from ember.ops._promotion import cast
from ember.ops._views import as_view
from ember.ops.conversion import Clone
from ember.ops.inplace import apply_inplace
from ember.ops.op import op, primitive
from ember.tensor.tensor import Tensor

_BASIC_TYPES = frozenset({int, slice, type(None), type(Ellipsis)})


def _fill(adv, indices) -> tuple:
    """The advanced key with its index slots (ints) replaced by the index arrays."""
    return tuple(indices[e] if e.__class__ is int else e for e in adv)


def _as_view_key(basic):
    """``basic`` with a trailing Ellipsis, so that a full integer key gives a 0-d view in numpy
    instead of a scalar."""
    key = basic if basic.__class__ is tuple else (basic,)
    return key if Ellipsis in key else key + (Ellipsis,)


class _ArrayContext:
    """What a forward needs when it is run for its arrays alone (array backwards)."""

    __slots__ = ("xp",)

    def __init__(self, xp) -> None:
        self.xp = xp

    def save_for_backward(self, *arrays) -> None:
        pass


def forward_arrays(cls, xp, *arrays, **attrs):
    """``cls.forward`` on raw arrays, recording nothing: the array backward of its companion."""
    return cls.forward(_ArrayContext(xp), *arrays, **attrs)


@primitive("index")
class Index(Function):
    """``a[basic][advanced]``; index arrays are the extra inputs, ``adv`` refers to them by
    position."""

    @staticmethod
    def forward(ctx, a, *indices, basic, adv):
        out = a[basic]
        if out.__class__ is not a.__class__:
            out = a[_as_view_key(basic)]
        if adv is None:
            return out
        ctx.save_for_backward(*indices)
        return out[_fill(adv, indices)]

    @staticmethod
    def backward(ctx, grad):
        attrs = ctx.attrs
        indices = ctx.saved_tensors if attrs["adv"] is not None else ()
        embedded = IndexEmbed.apply(grad, *indices, shape=ctx.shapes[0], **attrs)
        return (embedded,) + (None,) * len(indices)

    @staticmethod
    def backward_arrays(ctx, grad):
        attrs = ctx.attrs
        indices = ctx.saved_arrays if attrs["adv"] is not None else ()
        embedded = forward_arrays(IndexEmbed, ctx.xp, grad, *indices, shape=ctx.shapes[0],
                                  **attrs)
        return (embedded,) + (None,) * len(indices)


@primitive("index_embed")
class IndexEmbed(Function):
    """Zeros of ``shape`` with ``grad`` added at ``[basic][advanced]`` (repeats accumulate)."""

    @staticmethod
    def forward(ctx, grad, *indices, shape, basic, adv):
        out = ctx.xp.zeros(shape, dtype=grad.dtype)
        if adv is None:
            out[basic] = grad
        else:
            ctx.save_for_backward(*indices)
            index_add(out[basic], _fill(adv, indices), grad)
        return out

    @staticmethod
    def backward(ctx, grad):
        attrs = ctx.attrs
        indices = ctx.saved_tensors if attrs["adv"] is not None else ()
        picked = Index.apply(grad, *indices, basic=attrs["basic"], adv=attrs["adv"])
        return (picked,) + (None,) * len(indices)


@primitive("index_put")
class IndexPut(Function):
    """``a`` with ``value`` (broadcast) written at ``[basic][advanced]``; ``inplace`` writes into
    ``a`` itself (what ``x[key] = value`` records)."""

    @staticmethod
    def forward(ctx, a, value, *indices, basic, adv, inplace=False):
        out = a if inplace else a.copy()
        try:
            if adv is None:
                out[basic] = value
            else:
                ctx.save_for_backward(*indices)
                out[basic][_fill(adv, indices)] = value
        except ValueError as error:
            if "broadcast" not in str(error):
                raise
            region = out[basic] if adv is None else out[basic][_fill(adv, indices)]
            raise RuntimeError(
                f"shape mismatch: value tensor of shape {list(value.shape)} cannot be broadcast "
                f"to indexing result of shape {list(np.shape(region))}"
            ) from None
        return out

    @staticmethod
    def backward(ctx, grad):
        basic, adv = ctx.attrs["basic"], ctx.attrs["adv"]
        indices = ctx.saved_tensors if adv is not None else ()
        needs = ctx.needs_input_grad
        grad_a = grad_value = None
        if needs[0]:
            zero = Tensor(ctx.xp.zeros((), dtype=grad._array.dtype))
            grad_a = IndexPut.apply(grad, zero, *indices, basic=basic, adv=adv)
        if needs[1]:
            grad_value = _fit_value(Index.apply(grad, *indices, basic=basic, adv=adv), ctx)
        return (grad_a, grad_value) + (None,) * len(indices)

    @staticmethod
    def backward_arrays(ctx, grad):
        basic, adv = ctx.attrs["basic"], ctx.attrs["adv"]
        indices = ctx.saved_arrays if adv is not None else ()
        needs = ctx.needs_input_grad
        xp = ctx.xp
        grad_a = grad_value = None
        if needs[0]:
            zero = xp.zeros((), dtype=grad.dtype)
            grad_a = forward_arrays(IndexPut, xp, grad, zero, *indices, basic=basic, adv=adv)
        if needs[1]:
            picked = forward_arrays(Index, xp, grad, *indices, basic=basic, adv=adv)
            grad_value = _fit_value(picked, ctx)
        return (grad_a, grad_value) + (None,) * len(indices)


def _fit_value(grad, ctx):
    """The gradient of a set value (a Tensor or an array), given back the value's leading 1s."""
    value_shape = ctx.shapes[1]
    if grad.ndim < len(value_shape):
        grad = grad.reshape((1,) * (len(value_shape) - grad.ndim) + tuple(grad.shape))
    return grad


# ---- parsing keys -----------------------------------------------------------------------------


def _index_error(item) -> IndexError:
    return IndexError(
        "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
        f"valid indices (got {type(item).__name__})"
    )


def _check_step(item) -> None:
    if item.step is not None and item.step <= 0:
        raise ValueError("step must be greater than zero")


def _classify(item):
    """One key entry as (kind, payload, dims consumed)."""
    kind = item.__class__
    if kind is int:
        return "int", item, 1
    if kind is slice:
        _check_step(item)
        return "slice", item, 1
    if item is None:
        return "none", None, 0
    if item is Ellipsis:
        return "ellipsis", None, 0
    if kind is bool or isinstance(item, np.bool_):
        return "bool", bool(item), 0
    if isinstance(item, (int, np.integer)):
        return "int", int(item), 1
    if isinstance(item, Tensor):
        array = item._array
    elif isinstance(item, (np.ndarray, list, tuple, range)) or hasattr(
            item, "__cuda_array_interface__"):
        array = item if isinstance(item, np.ndarray) or hasattr(
            item, "__cuda_array_interface__") else np.asarray(item)
        if array.size == 0 and array.dtype.kind == "f":  # an empty list indexes nothing
            array = array.astype(np.int64)
    else:
        raise _index_error(item)
    dtype = array.dtype
    if dtype == np.uint8:
        warnings.warn("indexing with dtype uint8 is deprecated, please use a dtype bool instead",
                      UserWarning, stacklevel=4)
        dtype = np.dtype(np.bool_)
        array = array.astype(np.bool_)
    if dtype.kind == "b":
        if array.ndim == 0:
            return "bool", bool(array), 0
        return "mask", array, array.ndim
    if dtype.kind not in "iu":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    if array.ndim == 0:
        return "int", int(array), 1
    return "index", array, 1


def _on_device(array, xp, device):
    return array if array.__class__ is xp.ndarray else to_device(array, device)


def check_bounds(array, size: int, dim: int, error=IndexError, prefix: str = "") -> None:
    """Raises ``error`` for an index outside ``[-size, size)`` (cupy would wrap it around); on
    a GPU once the extremes have reached the host, without waiting for them
    (``backend.check_extremes``)."""
    if array.size:
        check_extremes(array, lambda low, high: _out_of_bounds(low, high, size, dim, error,
                                                               prefix))


def _out_of_bounds(low: int, high: int, size: int, dim: int, error, prefix: str):
    if high >= size or low < -size:
        bad = high if high >= size else low
        return error(f"{prefix}index {bad} is out of bounds for dimension {dim} with size {size}")
    return None


def _sequence_as_tuple(key) -> bool:
    """PyTorch's (and old numpy's) rule for a list key: one holding a tensor, a sequence, a slice,
    Ellipsis or None (and shorter than 32) is read as a tuple of keys, with PyTorch's warning."""
    if key.__class__ is not list or len(key) >= 32:
        return False
    for item in key:
        if isinstance(item, (Tensor, list, tuple, range, np.ndarray, slice)) or item is None \
                or item is Ellipsis:
            warnings.warn(
                "Using a non-tuple sequence for multidimensional indexing is deprecated and will be"
                " changed in pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this"
                " will be interpreted as tensor index, x[torch.tensor(seq)], which will result "
                "either in an error or a different result", UserWarning, stacklevel=4)
            return True
    return False


def parse_key(tensor: Tensor, key):
    """Splits ``key`` into (basic key, advanced key or None, index arrays)."""
    data = tensor._array
    xp = xp_of(data)
    items = key if key.__class__ is tuple or _sequence_as_tuple(key) else (key,)
    entries = [_classify(item) for item in items]
    consumed = sum(entry[2] for entry in entries)
    ndim = data.ndim
    if consumed > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    if sum(entry[0] == "ellipsis" for entry in entries) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    basic, adv, indices = [], [], []
    dim = 0
    full = slice(None)
    for kind, payload, width in entries:
        if kind == "int" or kind == "slice":
            basic.append(payload)
            if kind == "slice":
                adv.append(full)
        elif kind == "none":
            basic.append(None)
            adv.append(full)
        elif kind == "ellipsis":
            width = ndim - consumed
            basic.extend([full] * width)
            adv.extend([full] * width)
        elif kind == "bool":
            basic.append(None)
            adv.append(len(indices))
            indices.append(xp.zeros(1 if payload else 0, dtype=np.int64))
        elif kind == "index":
            check_bounds(payload, data.shape[dim], dim)
            basic.append(full)
            adv.append(len(indices))
            indices.append(_on_device(payload, xp, tensor.device))
        else:  # a mask: its nonzero positions index the dimensions it covers
            mask_shape = tuple(payload.shape)
            if mask_shape != data.shape[dim:dim + width]:
                raise IndexError(
                    f"The shape of the mask {list(mask_shape)} at index {dim} does not match the "
                    f"shape of the indexed tensor {list(data.shape[dim:dim + width])} at index "
                    f"{dim}"
                )
            basic.extend([full] * width)
            for positions in xp.nonzero(_on_device(payload, xp, tensor.device)):
                adv.append(len(indices))
                indices.append(positions)
        dim += width
    basic = tuple(basic) + (Ellipsis,)
    if not indices:
        return basic, None, ()
    return basic, tuple(adv), tuple(Tensor(index) for index in indices)


def _is_basic(key) -> bool:
    kind = key.__class__
    if kind is slice:
        _check_step(key)
        return True
    if kind in _BASIC_TYPES:
        return True
    if kind is not tuple:
        return False
    for item in key:
        if item.__class__ not in _BASIC_TYPES:
            return False
        if item.__class__ is slice:
            _check_step(item)
    return True


# ---- Tensor.__getitem__ / __setitem__ ------------------------------------------------------------


def _split(self: Tensor, key):
    if _is_basic(key):
        return key, None, ()
    return parse_key(self, key)


def _restated(error: IndexError, ndim: int) -> IndexError:
    """numpy's IndexError for a basic key, in PyTorch's words."""
    message = str(error)
    if message.startswith("too many indices"):
        return IndexError(f"too many indices for tensor of dimension {ndim}")
    return IndexError(message.replace(" for axis ", " for dimension "))


def getitem(self: Tensor, key) -> Tensor:
    """``self[key]``: a view for basic keys, a copy when the key has index arrays or masks."""
    if _is_basic(key):
        try:
            return as_view(Index.apply(self, basic=key, adv=None), self)
        except IndexError as error:
            raise _restated(error, self._array.ndim) from None
    basic, adv, indices = parse_key(self, key)
    out = Index.apply(self, *indices, basic=basic, adv=adv)
    return as_view(out, self) if adv is None else out


def _value_tensor(value, self: Tensor) -> Tensor:
    if isinstance(value, Tensor):
        if value.device != self.device:
            value = value.to(self.device)
        return cast(value, self._array.dtype)
    xp = xp_of(self._array)
    try:
        return Tensor(xp.asarray(value, dtype=self._array.dtype))
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"can't assign a {type(value).__name__} to a {self.dtype} tensor ({error})"
        ) from None


def _writes_itself(self: Tensor, basic, value: Tensor) -> bool:
    """True for the write-back of ``x[k] += v``: ``value`` is the view ``self[k]`` itself."""
    root = self._base if self._base is not None else self
    if value._base is not root:
        return False
    region = self._array[_as_view_key(basic)]
    return (region.shape == value._array.shape and region.strides == value._array.strides
            and Tensor(region).data_ptr() == value.data_ptr())


def setitem(self: Tensor, key, value) -> None:
    """``self[key] = value``: an in-place write that autograd records (value is broadcast and
    converted to ``self``'s dtype)."""
    basic, adv, indices = _split(self, key)
    value = _value_tensor(value, self)
    if adv is None and value._base is not None and _writes_itself(self, basic, value):
        return

    def put(a, v, *index_tensors):
        return IndexPut.apply(a, v, *index_tensors, basic=basic, adv=adv, inplace=True)

    try:
        apply_inplace(self, put, (value, *indices), saves_self=False, any_cast=True)
    except IndexError as error:
        raise _restated(error, self._array.ndim) from None


Tensor.__getitem__ = getitem
Tensor.__setitem__ = setitem


# ---- ops built on indexing -------------------------------------------------------------------


@op("index_put", method=True)
def index_put(input, indices, values, accumulate: bool = False):
    """``input`` with ``values`` written at ``input[indices]`` (``indices``: a tuple of index
    tensors); with ``accumulate`` they are added, repeated indices summing."""
    if not accumulate:
        out = Clone.apply(input)
        setitem(out, tuple(indices), values)
        return out
    basic, adv, index_tensors = _split(input, tuple(indices))
    values = _value_tensor(values, input)
    region = input._array[_as_view_key(basic)]
    if adv is not None:
        region = region[_fill(adv, [t._array for t in index_tensors])]
    if values._array.shape != region.shape:
        values = values.expand(region.shape)
    added = IndexEmbed.apply(values, *index_tensors, shape=input._array.shape, basic=basic, adv=adv)
    return input + added


@op("index_put_", method=True, function=False)
def index_put_(self, indices, values, accumulate: bool = False):
    """In-place ``index_put``."""
    if accumulate:
        return apply_inplace(self, lambda a, v: index_put(a, indices, v, True), (values,),
                             saves_self=False)
    setitem(self, tuple(indices), values)
    return self


def _broadcast_pair(input: Tensor, mask: Tensor, name: str):
    if mask._array.dtype != np.bool_:
        raise RuntimeError(f"{name}: expected BoolTensor for mask, got {mask.dtype}")
    try:
        shape = np.broadcast_shapes(input._array.shape, mask._array.shape)
    except ValueError:
        raise RuntimeError(
            f"{name}: the shape of the mask {list(mask._array.shape)} must be broadcastable with "
            f"the shape of the input {list(input._array.shape)}"
        ) from None
    if input._array.shape != shape:
        input = input.expand(shape)
    if mask._array.shape != shape:
        mask = mask.expand(shape)
    return input, mask


@op("masked_select", method=True)
def masked_select(input, mask):
    """The elements of ``input`` where ``mask`` (broadcast together) is True, as a 1-D tensor."""
    input, mask = _broadcast_pair(input, mask, "masked_select")
    if input._array.ndim == 0:
        input, mask = input.reshape(1), mask.reshape(1)
    return getitem(input, mask)


@op("take", method=True)
def take(input, index):
    """``input`` as if flattened, indexed by ``index`` (the result has ``index``'s shape)."""
    return getitem(input.reshape(-1), index)


@primitive("nonzero")
class NonZero(Function):
    """The indices of the nonzero elements, one row per element: ``(n, ndim)`` int64."""

    @staticmethod
    def forward(ctx, a):
        return ctx.xp.argwhere(a).astype(np.int64, copy=False)

    @staticmethod
    def backward(ctx, grad):
        return None


@op("nonzero", method=True)
def nonzero(input, *, as_tuple: bool = False):
    """Indices of the nonzero elements: ``(n, ndim)``, or with ``as_tuple`` one 1-D tensor per
    dimension (a 0-d input counts as 1-d)."""
    positions = NonZero.apply(input)
    if not as_tuple:
        return positions
    if input._array.ndim == 0:
        return (Tensor(xp_of(input._array).zeros(positions._array.shape[0], dtype=np.int64)),)
    return tuple(Tensor(positions._array[:, d].copy()) for d in range(input._array.ndim))


@op("argwhere", method=True)
def argwhere(input):
    """``nonzero(input)``: the ``(n, ndim)`` indices of the nonzero elements."""
    return NonZero.apply(input)
