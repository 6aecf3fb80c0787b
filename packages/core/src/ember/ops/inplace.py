"""In-place ops (``add_``, ``exp_``, ``copy_``, ``x += y`` ...) and the mechanism they share.

Every in-place op is an out-of-place computation whose result is written into ``self``'s memory.
When autograd records it (grad mode on and ``self`` or an operand requires grad), the tensor is
rebased as in PyTorch: ``self`` gets the new node as its ``grad_fn``, whose inputs are the old
history and the operands, and its version counter is bumped, so nodes that saved the old value
raise at backward. On a view, the base's history is rewritten instead (PyTorch's CopySlices):
the base becomes ``strided_scatter(old_base, f(strided_view(old_base)))``, and every live view of
the base is re-derived from that new history.
"""

from __future__ import annotations

import numpy as np

from ember.autograd import function as fn_state
from ember.autograd.function import Function
from ember.backend import xp_of
from ember.ops._promotion import cast, tensor_operand
from ember.ops._views import StridedScatter, StridedView, geometry, live_views
from ember.ops.op import op, primitive
from ember.tensor import dtypes
from ember.tensor.registry import OPS
from ember.tensor.tensor import Tensor

_TYPE_NAMES = {
    "bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
    "int64": "Long", "float16": "Half", "float32": "Float", "float64": "Double",
}


def check_cast(result_dtype, self: Tensor) -> None:
    """PyTorch's rule for in-place results: no float into an integer, nothing into a bool."""
    target = self.dtype
    if result_dtype.category > target.category:
        raise RuntimeError(
            f"result type {_TYPE_NAMES[result_dtype.name]} can't be cast to the desired output "
            f"type {_TYPE_NAMES[target.name]}"
        )


def _check_writable(self: Tensor) -> None:
    data = self._array
    if 0 in data.strides and any(s == 0 and n > 1 for s, n in zip(data.strides, data.shape)):
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location. Please clone() the tensor before performing the operation."
        )


def _check_leaf(self: Tensor) -> None:
    if self._rg and self.grad_fn is None and self._base is None:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )
    base = self._base
    if base is not None and base._rg and base.grad_fn is None:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation."
        )


def _recording(self: Tensor, args) -> bool:
    if not fn_state.grad_enabled():
        return False
    if self._rg or (self._base is not None and self._base._rg):
        return True
    for arg in args:
        if isinstance(arg, Tensor) and arg._rg:
            return True
    return False


def _conform(result: Tensor, self: Tensor, any_cast: bool) -> Tensor:
    """``result`` checked against ``self``'s shape, and cast to its dtype (differentiably)."""
    if result._array.shape != self._array.shape:
        raise RuntimeError(
            f"output with shape {list(self._array.shape)} doesn't match the broadcast shape "
            f"{list(result._array.shape)}"
        )
    if result._array.dtype != self._array.dtype:
        if not any_cast:
            check_cast(result.dtype, self)
        result = cast(result, self._array.dtype)
    return result


def apply_inplace(self: Tensor, compute, args=(), saves_self: bool = True,
                  any_cast: bool = False) -> Tensor:
    """Writes ``compute(self, *args)`` into ``self`` and records it for autograd; returns self.

    ``compute`` is an out-of-place op on Tensors (it may instead write into its first argument's
    array and return a Tensor over that same array). ``saves_self`` says whether it keeps its
    first input for backward: then the recorded old value is a copy. ``any_cast`` allows any
    dtype conversion (copy semantics) instead of PyTorch's in-place promotion rule.
    """
    _check_writable(self)
    if _recording(self, args):
        _check_leaf(self)
        root = self._base
        where = geometry(self, root) if root is not None else None
        if where is None:
            _record_plain(self, compute, args, saves_self, any_cast)
        else:
            _record_view(self, root, where, compute, args, any_cast)
        return self
    result = _conform(compute(self, *args), self, any_cast)
    if result._array is not self._array:
        self._array[...] = result._array
    self._bump_version()
    return self


def _stand_in(tensor: Tensor, data) -> Tensor:
    """A tensor with ``tensor``'s current history over ``data``: the value before the change."""
    return Tensor(data, tensor._rg, tensor.grad_fn, tensor._output_nr)


def _substitute(args, self, old) -> tuple:
    """``args`` with ``self`` replaced by its old value (``x.mul_(x)`` reads x before writing)."""
    return tuple(old if arg is self else arg for arg in args)


def _record_plain(self, compute, args, saves_self, any_cast) -> None:
    old = _stand_in(self, self._array.copy() if saves_self else self._array)
    result = _conform(compute(old, *_substitute(args, self, old)), self, any_cast)
    if result._array is not self._array:
        self._array[...] = result._array
    _rebase(self, result)
    self._bump_version()
    _refresh_views(self)


def _record_view(self, root, where, compute, args, any_cast) -> None:
    old_root = _stand_in(root, root._array)
    old = StridedView.apply(old_root, **where)  # a copy: the region is overwritten below
    result = _conform(compute(old, *_substitute(args, self, old)), self, any_cast)
    new_root = StridedScatter.apply(old_root, result, inplace=True, **where)
    _rebase(root, new_root)
    self._bump_version()
    _refresh_views(root, self)


def _rebase(tensor: Tensor, result: Tensor) -> None:
    tensor.grad_fn = result.grad_fn
    tensor._output_nr = result._output_nr
    tensor._rg = result._rg


def _refresh_views(root: Tensor, changed: Tensor | None = None) -> None:
    """Re-derives the history of every live view of ``root`` (and of the ``changed`` view, even
    if it was made without grad mode) from the root's new history."""
    if not root._rg:
        return
    views = live_views(root)
    if changed is not None and all(view is not changed for view in views):
        views.append(changed)
    for view in views:
        try:
            where = geometry(view, root)
        except RuntimeError:
            continue  # a dtype-reinterpreting view carries no gradient
        if where is not None:
            region = StridedView.apply(root, **where)
            if where["size"] != view._array.shape:
                region = region.expand(view._array.shape)
            _rebase(view, region)


def inplace_method(name: str, fn=None, saves_self: bool = True):
    """``Tensor.<name>_``: the op ``fn`` (by default the registered op ``name``, looked up when
    called, so ops of any module qualify) with its result written into ``self``."""

    def inplace(self, *args, **kwargs):
        target = fn if fn is not None else OPS.get(name)
        if target is None:
            raise NotImplementedError(f"{name}_: the op {name!r} is not available")
        tensors = tuple(a for a in (*args, *kwargs.values()) if isinstance(a, Tensor))

        def compute(a, *operands):
            # The operands come back with ``self`` replaced by its old value.
            it = iter(operands)
            new_args = [next(it) if isinstance(v, Tensor) else v for v in args]
            new_kwargs = {k: next(it) if isinstance(v, Tensor) else v for k, v in kwargs.items()}
            return target(a, *new_args, **new_kwargs)

        return apply_inplace(self, compute, tensors, saves_self)

    inplace.__name__ = inplace.__qualname__ = f"{name}_"
    inplace.__doc__ = f"In-place ``{name}``: writes the result into ``self`` and returns it."
    return inplace


# ---- arithmetic ---------------------------------------------------------------------------------


def _operand(other, self: Tensor, name: str):
    """``other`` as a Tensor on ``self``'s device, or as a Python number."""
    if isinstance(other, Tensor):
        if other._array.__class__ is not self._array.__class__ and other._array.ndim == 0:
            return other.to(self.device)
        return other
    if isinstance(other, (bool, int, float)):
        return other
    if isinstance(other, np.generic):
        return other.item()
    return tensor_operand(other, self, name)


def _broadcast_error(shape, other_shape) -> RuntimeError:
    """PyTorch's message for an in-place operand that does not broadcast to ``self``."""
    try:
        broadcast = np.broadcast_shapes(shape, other_shape)
    except ValueError:
        for dim in range(1, min(len(shape), len(other_shape)) + 1):
            a, b = shape[-dim], other_shape[-dim]
            if a != b and a != 1 and b != 1:
                return RuntimeError(
                    f"The size of tensor a ({a}) must match the size of tensor b ({b}) at "
                    f"non-singleton dimension {len(shape) - dim}"
                )
        broadcast = other_shape
    return RuntimeError(
        f"output with shape {list(shape)} doesn't match the broadcast shape {list(broadcast)}"
    )


def _arithmetic(name: str, ufunc_name: str, saves_self: bool):
    """The in-place form of a binary arithmetic op: a ufunc writing into ``self`` when nothing is
    recorded, the registered op otherwise."""

    general = inplace_method(name, saves_self=saves_self)
    divides = name == "div"

    def inplace(self, other, **kwargs):
        other = _operand(other, self, name)
        alpha = kwargs.get("alpha", 1)
        if (len(kwargs) > (1 if "alpha" in kwargs else 0) or isinstance(alpha, Tensor)
                or _recording(self, (other,))):
            return general(self, other, **kwargs)
        _check_writable(self)
        data = self._array
        kind = data.dtype.kind
        if isinstance(other, Tensor):
            array = other._array
            if array.__class__ is not data.__class__:
                raise RuntimeError(
                    f"{name}_: expected all tensors to be on the same device, but found tensors "
                    f"on {self.device} and {other.device}"
                )
            promotes = array.dtype is not data.dtype
        else:
            array = other
            promotes = (other.__class__ is float and kind != "f") or kind == "b"
        if promotes or (divides and kind != "f"):
            result = dtypes.result_type(self, other)
            check_cast(dtypes.get_default_dtype() if divides and result.category < 2 else result,
                       self)
        if alpha != 1:
            array = array * alpha
        xp = np if data.__class__ is np.ndarray else xp_of(data)
        try:
            getattr(xp, ufunc_name)(data, array, out=data, casting="unsafe")
        except ValueError:
            raise _broadcast_error(data.shape, getattr(array, "shape", ())) from None
        self._bump_version()
        return self

    inplace.__name__ = inplace.__qualname__ = f"{name}_"
    inplace.__doc__ = f"In-place ``{name}``: writes the result into ``self`` and returns it."
    return inplace


add_ = _arithmetic("add", "add", saves_self=False)
sub_ = _arithmetic("sub", "subtract", saves_self=False)
mul_ = _arithmetic("mul", "multiply", saves_self=True)
div_ = _arithmetic("div", "true_divide", saves_self=True)

for _name, _method in [("add", add_), ("sub", sub_), ("mul", mul_), ("div", div_)]:
    op(f"{_name}_", method=True, function=False)(_method)
op("subtract_", method="subtract_", function=False)(sub_)
op("multiply_", method="multiply_", function=False)(mul_)
op("true_divide_", method=("true_divide_", "divide_"), function=False)(div_)


def _augmented(method):
    def augmented(self, other):
        return method(self, other)

    return augmented


Tensor.__iadd__ = _augmented(add_)
Tensor.__isub__ = _augmented(sub_)
Tensor.__imul__ = _augmented(mul_)
Tensor.__itruediv__ = _augmented(div_)


# ---- in-place forms of registered ops ------------------------------------------------------------

# PyTorch's in-place methods that are "the op, written back". The old value is copied for the
# backward unless the op is known not to keep its input: exp and tanh keep their output, neg
# nothing (ops of other modules may keep views of their input, so copying is the safe default).
_INPLACE_FORMS = (
    "pow", "neg", "negative", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "abs",
    "sign", "floor", "ceil", "round", "trunc", "frac", "sin", "cos", "tan", "asin", "acos",
    "atan", "sinh", "cosh", "log1p", "expm1", "log2", "log10", "reciprocal", "square", "clamp",
    "clamp_min", "clamp_max", "clip", "remainder", "fmod", "floor_divide", "hardtanh",
    "leaky_relu", "elu", "erf", "lerp", "addcmul", "addcdiv", "logical_not", "nan_to_num",
    "atan2", "exp2", "sinc", "deg2rad", "rad2deg", "hypot", "xlogy", "bitwise_and", "bitwise_or",
    "bitwise_xor", "logical_and", "logical_or", "logical_xor",
)
_KEEPS_NO_INPUT = {"exp", "tanh", "neg", "negative"}

for _name in _INPLACE_FORMS:
    if not hasattr(Tensor, f"{_name}_"):
        op(f"{_name}_", method=True, function=False)(
            inplace_method(_name, saves_self=_name not in _KEEPS_NO_INPUT)
        )
for _operator, _name in [("__ipow__", "pow_"), ("__ifloordiv__", "floor_divide_"),
                         ("__imod__", "remainder_"), ("__iand__", "bitwise_and_"),
                         ("__ior__", "bitwise_or_"), ("__ixor__", "bitwise_xor_")]:
    setattr(Tensor, _operator, _augmented(getattr(Tensor, _name)))


# ---- overwriting: fill_, zero_, copy_ -----------------------------------------------------------


@primitive("overwrite")
class Overwrite(Function):
    """``b`` replacing ``a`` (already of ``a``'s shape and dtype): no gradient reaches ``a``."""

    @staticmethod
    def forward(ctx, a, b):
        return b

    @staticmethod
    def backward(ctx, grad):
        needs = ctx.needs_input_grad
        return (grad * 0 if needs[0] else None, grad if needs[1] else None)


def _overwrite(self: Tensor, value: Tensor) -> Tensor:
    def compute(a, b):
        b = cast(b, a._array.dtype)
        if b._array.shape != a._array.shape:
            b = b.expand(a._array.shape)
        return Overwrite.apply(a, b)

    return apply_inplace(self, compute, (value,), saves_self=False, any_cast=True)


@op("fill_", method=True, function=False)
def fill_(self, value):
    """Fills ``self`` with ``value`` (a number or a 0-d tensor, whose gradient is the sum)."""
    if isinstance(value, Tensor):
        if value._array.ndim:
            raise RuntimeError(
                "fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value._array.ndim} dimensions."
            )
        return _overwrite(self, _operand(value, self, "fill_"))
    if not _recording(self, ()):
        _check_writable(self)
        self._array.fill(value)
        self._bump_version()
        return self
    xp = xp_of(self._array)
    return _overwrite(self, Tensor(xp.asarray(value, dtype=self._array.dtype)))


@op("zero_", method=True, function=False)
def zero_(self):
    """Fills ``self`` with zeros."""
    return fill_(self, 0)


@op("copy_", method=True, function=False)
def copy_(self, src, non_blocking: bool = False):
    """Copies ``src`` into ``self`` (broadcast to ``self``'s shape, converted to its dtype and
    device); gradients flow to ``src``. ``non_blocking`` as ``Tensor.to``'s: from pinned host
    memory to a GPU, the copy is queued on the current stream and returns at once."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    if src.device != self.device:
        src = src.to(self.device, non_blocking=non_blocking)
    try:
        shape = np.broadcast_shapes(src._array.shape, self._array.shape)
    except ValueError:
        shape = None
    if shape != self._array.shape:
        raise RuntimeError(
            f"copy_: the src tensor of shape {list(src._array.shape)} cannot be broadcast to the "
            f"destination of shape {list(self._array.shape)}"
        )
    return _overwrite(self, src)
