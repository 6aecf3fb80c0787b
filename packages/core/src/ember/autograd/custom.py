"""``ember.autograd.Function``: user-defined ops with PyTorch's semantics.

Unlike Ember's built-in ops (forward on raw arrays), a custom Function's forward receives the
Tensors themselves and runs without recording; its backward returns one gradient per forward
argument (None for non-tensors).
"""

from __future__ import annotations

import functools

import numpy as np

from ember.autograd import function as _state
from ember.autograd.function import Function as _Function
from ember.autograd.function import _saved_output, accumulator
from ember.backend import xp_of
from ember.tensor.tensor import Tensor


class Function(_Function):
    """Base class for custom differentiable ops.

    Example:
        >>> class Cube(ember.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x ** 3
        ...     @staticmethod
        ...     def backward(ctx, grad):
        ...         (x,) = ctx.saved_tensors
        ...         return grad * 3 * x ** 2
        >>> Cube.apply(ember.tensor(2.0, requires_grad=True)).item()
        8.0
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__

    @staticmethod
    def setup_context(ctx, inputs: tuple, output) -> None:
        """Optional (PyTorch 2 style): with it, ``forward(*args)`` takes no ctx, and this saves
        what backward needs from the inputs and the output."""
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        # Observers (ember.autograd.observe) see a custom Function as one op when its
        # positional arguments are all Tensors (what their ``op`` hook expects).
        if _state._observer is not None and all(isinstance(a, Tensor) for a in args):
            observed = _state._observer(cls, args, kwargs)
            if observed is not None:
                return observed
        ctx = cls.__new__(cls)
        needs = tuple(isinstance(a, Tensor) and a._rg for a in args)
        ctx.needs_input_grad = needs
        first = next((a for a in args if isinstance(a, Tensor)), None)
        ctx.xp = xp_of(first._array) if first is not None else np
        previous = _state.set_grad_mode(False)
        try:
            if cls.setup_context is Function.setup_context:
                outputs = cls.forward(ctx, *args, **kwargs)
            else:
                outputs = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, outputs)
        finally:
            _state.set_grad_mode(previous)
        if not (previous and any(needs)):
            return outputs
        return _connect(ctx, args, outputs)


def _connect(ctx, args, outputs):
    single = not isinstance(outputs, tuple)
    raw = (outputs,) if single else outputs
    non_diff = ctx._non_differentiable or ()
    edges, shapes, generation = [], [], 0
    for arg, need in zip(args, ctx.needs_input_grad):
        if not need:
            edges.append(None)
            shapes.append(None)
            continue
        node = arg.grad_fn if arg.grad_fn is not None else accumulator(arg)
        edges.append((node, arg._output_nr if arg.grad_fn is not None else 0))
        shapes.append(arg._array.shape)
        generation = max(generation, node.generation)
    ctx.next_functions = tuple(edges)
    ctx.shapes = tuple(shapes)
    ctx.generation = generation + 1
    ctx.attrs = {}
    wrapped = []
    meta = []
    for index, out in enumerate(raw):
        if not isinstance(out, Tensor):
            wrapped.append(out)
            meta.append(None)
            continue
        differentiable = out._array.dtype.kind == "f" and not any(out is n for n in non_diff)
        wrapped.append(Tensor(out._array, True, ctx, index) if differentiable else out)
        meta.append((out._array.shape, out._array.dtype))
    ctx._num_outputs = len(raw)
    ctx._out_meta = meta
    saved = ctx._saved
    if saved:
        ctx._saved = tuple(_pack(ctx, item, args, raw, wrapped) for item in saved)
    return wrapped[0] if single else tuple(wrapped)


def _pack(ctx, item, args, raw, wrapped):
    if not isinstance(item, Tensor):
        if isinstance(item, (list, tuple)):  # the node's own markers for saved tensors
            raise TypeError(
                f"{ctx.name}.save_for_backward: can only save tensors or None, got a "
                f"{type(item).__name__}"
            )
        return item
    for arg in args:
        if item is arg:
            return (arg, arg._version[0] if arg._version is not None else 0)
    for index, out in enumerate(raw):
        if item is out:
            return _saved_output(item._array, index, wrapped[index]._share_version())
    return item.detach()


def once_differentiable(backward):
    """Marks a custom ``backward`` as not differentiable itself: it runs without recording, so
    asking for a higher-order gradient through it gives no graph instead of a wrong one."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        previous = _state.set_grad_mode(False)
        try:
            return backward(ctx, *grads)
        finally:
            _state.set_grad_mode(previous)

    return wrapper


class FunctionCtx:
    """The type of ``ctx`` for type annotations; the ctx is the Function instance itself."""
