"""The graph-facing API: ``backward``, ``grad``, tensor hooks and ``retain_grad``."""

from __future__ import annotations

import weakref

from ember.autograd import function as _state
from ember.autograd.engine import run_backward, run_post_accumulate_hooks
from ember.autograd.function import accumulator
from ember.tensor.tensor import Tensor

_RETAIN = "retain_grad"


def _as_tuple(value) -> tuple:
    if value is None:
        return ()
    if isinstance(value, Tensor):
        return (value,)
    return tuple(value)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulates gradients of ``tensors`` into the ``.grad`` of the leaves they depend on."""
    tensors = _as_tuple(tensors)
    grads = _as_tuple(grad_tensors) or (None,) * len(tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(
            f"backward: got {len(tensors)} tensors and {len(grads)} gradients"
        )
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_tuple(inputs)
        found = run_backward(tensors, grads, retain_graph, create_graph, inputs, "backward")
        for tensor, grad in zip(inputs, found):
            if grad is not None:
                grad = grad if create_graph else grad.detach()
                tensor.grad = grad if tensor.grad is None else tensor.grad + grad
                acc = tensor._acc if tensor.grad_fn is None else None
                if acc is not None and acc._post_hooks is not None:
                    run_post_accumulate_hooks(acc)
        return
    run_backward(tensors, grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, without touching any ``.grad``.

    Example:
        >>> x = ember.tensor(3.0, requires_grad=True)
        >>> (dx,) = ember.autograd.grad(x ** 2, x, create_graph=True)
        >>> ember.autograd.grad(dx, x)[0].item()
        2.0
    """
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    grads = _as_tuple(grad_outputs) or (None,) * len(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    found = run_backward(outputs, grads, retain_graph, create_graph, inputs, "grad")
    result = []
    for index, (tensor, value) in enumerate(zip(inputs, found)):
        if value is None:
            if materialize_grads:
                value = Tensor(tensor._array * 0)
            elif not allow_unused:
                raise RuntimeError(
                    f"grad: one of the differentiated Tensors (input {index}, shape "
                    f"{tuple(tensor._array.shape)}) appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior."
                )
        elif not create_graph:
            value = value.detach()
        result.append(value)
    return tuple(result)


class RemovableHandle:
    """Returned by ``register_hook``: ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict) -> None:
        self._hooks_ref = weakref.ref(hooks) if hooks is not None else None
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        hooks = self._hooks_ref() if self._hooks_ref is not None else None
        if hooks is not None:
            hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class _HookDict(dict):
    """A dict that can be weakly referenced by handles."""

    __slots__ = ("__weakref__",)


def _hook_slot(tensor: Tensor) -> dict:
    node = tensor.grad_fn if tensor.grad_fn is not None else accumulator(tensor)
    if node._pre_hooks is None:
        node._pre_hooks = {}
    return node._pre_hooks.setdefault(tensor._output_nr if tensor.grad_fn else 0, _HookDict())


def register_hook(self: Tensor, hook) -> RemovableHandle:
    """Calls ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces
    the gradient."""
    if not self._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    hooks = _hook_slot(self)
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def register_post_accumulate_grad_hook(self: Tensor, hook) -> RemovableHandle:
    """Calls ``hook(tensor)`` after a backward has accumulated this leaf's gradient into
    ``.grad``; the hook returns nothing (it may read or change ``tensor.grad`` in place)."""
    if not self._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is not None:
        raise RuntimeError(
            "register_post_accumulate_grad_hook: post accumulate grad hooks cannot be "
            "registered on non-leaf tensors"
        )
    node = accumulator(self)
    if node._post_hooks is None:
        node._post_hooks = _HookDict()
    handle = RemovableHandle(node._post_hooks)
    node._post_hooks[handle.id] = hook
    return handle


def retain_grad(self: Tensor) -> None:
    """Keeps this non-leaf tensor's gradient in ``.grad`` after backward."""
    if not self._rg:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if self.grad_fn is None:
        return
    hooks = _hook_slot(self)
    if _RETAIN in hooks:
        return
    ref = weakref.ref(self)

    def keep(grad):
        tensor = ref()
        if tensor is not None:
            kept = grad if _state.grad_enabled() else grad.detach()
            tensor.grad = kept if tensor.grad is None else tensor.grad + kept

    hooks[_RETAIN] = keep


def retains_grad(self: Tensor) -> bool:
    node = self.grad_fn
    if node is None or node._pre_hooks is None:
        return False
    return _RETAIN in node._pre_hooks.get(self._output_nr, {})


def tensor_backward(self: Tensor, gradient=None, retain_graph=None, create_graph=False,
                    inputs=None) -> None:
    """Computes the gradient of this tensor with respect to the graph leaves.

    ``gradient`` is required unless the tensor holds a single element.
    """
    backward(self, gradient, retain_graph, create_graph, inputs)


def check_fill(self: Tensor, op_name: str) -> None:
    """Before an in-place op overwrites every element of ``self`` (``uniform_``, ``fill_`` ...).

    A leaf that requires grad (or a view of one) may not be changed in grad mode, as in PyTorch.
    A non-leaf forgets its history: the new values do not depend on the old ones, so no gradient
    flows back through them.
    """
    if not (self._rg and _state.grad_enabled()):
        return
    base = self._base
    if base is not None and base.grad_fn is None and base._rg:
        raise RuntimeError(
            f"{op_name}: a view of a leaf Variable that requires grad is being used in an "
            "in-place operation."
        )
    if self.grad_fn is None:
        raise RuntimeError(
            f"{op_name}: a leaf Variable that requires grad is being used in an in-place "
            "operation."
        )
    if base is not None:
        raise RuntimeError(
            f"{op_name}: overwriting a view that requires grad in place is not supported; "
            "clone it first, or fill it under ember.no_grad()"
        )
    self.grad_fn = None
    self._rg = False


def _bind() -> None:
    Tensor._check_fill = check_fill
    Tensor.backward = tensor_backward
    Tensor.register_hook = register_hook
    Tensor.register_post_accumulate_grad_hook = register_post_accumulate_grad_hook
    Tensor.retain_grad = retain_grad
    Tensor.retains_grad = property(retains_grad)


_bind()
