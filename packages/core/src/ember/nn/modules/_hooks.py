"""Module hooks: the slow path of ``Module.__call__`` (forward pre/post hooks, full backward
hooks).

Full backward hooks put identity nodes around the forward: one on the module's positional
tensor inputs, one on its outputs. The output node sees ``grad_output`` (and runs the backward
pre-hooks); the input node sees ``grad_input`` and runs the backward hooks, whose results replace
the gradients flowing further back.
"""

from __future__ import annotations

from ember.autograd import function as _autograd_state
from ember.autograd.custom import Function
from ember.tensor.tensor import Tensor


class HookDict(dict):
    """Hooks by handle id, in call order; weakly referenced by their ``RemovableHandle``."""

    __slots__ = ("__weakref__",)

    def add(self, key, entry, prepend: bool) -> None:
        if not prepend:
            self[key] = entry
            return
        rest = list(self.items())
        self.clear()
        self[key] = entry
        self.update(rest)


def call_with_hooks(module, args: tuple, kwargs: dict):
    """``module(*args, **kwargs)`` with its hooks run around ``forward``."""
    pre_hooks = module._forward_pre_hooks
    hooks = module._forward_hooks
    backward_hooks = module._backward_hooks
    backward_pre_hooks = module._backward_pre_hooks
    if not (pre_hooks or hooks or backward_hooks or backward_pre_hooks):
        module.__dict__["_hooked"] = False  # every hook was removed: back to the fast path
        return module.forward(*args, **kwargs)

    for hook, with_kwargs in list(pre_hooks.values()):
        if with_kwargs:
            result = hook(module, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(
                        "forward pre-hook must return None or a tuple of (new_args, new_kwargs), "
                        f"but got {result}."
                    )
                args, kwargs = result
        else:
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)

    state = None
    if (backward_hooks or backward_pre_hooks) and _autograd_state.grad_enabled():
        state = _BackwardHookState(module)
        args = state.wrap_inputs(args)

    output = module.forward(*args, **kwargs)

    for hook, with_kwargs in list(hooks.values()):
        result = hook(module, args, kwargs, output) if with_kwargs else hook(module, args, output)
        if result is not None:
            output = result

    if state is not None:
        output = state.wrap_outputs(output)
    return output


class _Identity(Function):
    """Passes tensors through unchanged; its backward hands the gradients to ``ctx.on_grads``."""

    @staticmethod
    def forward(ctx, on_grads, *tensors):
        ctx.on_grads = on_grads
        return tuple(tensors)

    @staticmethod
    def backward(ctx, *grads):
        return (None, *ctx.on_grads(grads))


def _tensor_positions(values) -> list:
    return [i for i, v in enumerate(values) if isinstance(v, Tensor) and v._rg]


class _BackwardHookState:
    """The gradients seen around one call of a module with full backward hooks."""

    def __init__(self, module) -> None:
        self.module = module
        self.grad_output = None
        self.num_inputs = 0
        self.input_positions: list = []
        self.output_positions: list = []
        self.output_count = 0

    def wrap_inputs(self, args: tuple) -> tuple:
        self.num_inputs = len(args)
        self.input_positions = _tensor_positions(args)
        if not self.input_positions:
            return args
        wrapped = _Identity.apply(self._on_grad_input, *[args[i] for i in self.input_positions])
        args = list(args)
        for position, tensor in zip(self.input_positions, wrapped):
            args[position] = tensor
        return tuple(args)

    def wrap_outputs(self, output):
        single = isinstance(output, Tensor)
        values = (output,) if single else output
        if not isinstance(values, (tuple, list)):
            return output
        self.output_count = len(values)
        self.output_positions = _tensor_positions(values)
        if not self.output_positions:
            return output
        wrapped = _Identity.apply(self._on_grad_output,
                                  *[values[i] for i in self.output_positions])
        values = list(values)
        for position, tensor in zip(self.output_positions, wrapped):
            values[position] = tensor
        if single:
            return values[0]
        return type(output)(values) if isinstance(output, tuple) else values

    @staticmethod
    def _spread(positions, grads, size) -> tuple:
        """Gradients at their argument positions, None for non-tensor arguments."""
        full = [None] * size
        for position, grad in zip(positions, grads):
            full[position] = grad
        return tuple(full)

    def _on_grad_output(self, grads):
        module = self.module
        grad_output = self._spread(self.output_positions, grads, self.output_count)
        for hook in list(module._backward_pre_hooks.values()):
            result = hook(module, grad_output)
            if result is not None:
                grad_output = _checked(result, len(grad_output), "backward pre-hook")
        self.grad_output = grad_output
        if not self.input_positions:
            # No input needs a gradient: the hooks still run, with grad_input all None.
            self._run_backward_hooks((None,) * self.num_inputs)
        return tuple(grad_output[i] for i in self.output_positions)

    def _on_grad_input(self, grads):
        grad_input = self._run_backward_hooks(
            self._spread(self.input_positions, grads, self.num_inputs))
        return tuple(grad_input[i] for i in self.input_positions)

    def _run_backward_hooks(self, grad_input: tuple) -> tuple:
        module = self.module
        for hook in list(module._backward_hooks.values()):
            result = hook(module, grad_input, self.grad_output)
            if result is not None:
                grad_input = _checked(result, len(grad_input), "backward hook")
        return grad_input


def _checked(result, expected: int, what: str) -> tuple:
    result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    if len(result) != expected:
        raise RuntimeError(
            f"{what} returned an invalid number of grads: expected {expected}, but got "
            f"{len(result)}"
        )
    return result
