"""``Parameter``: a Tensor that a Module registers as learnable, and ``Buffer``."""

from __future__ import annotations

from ember.tensor.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that requires grad by default and that ``Module.__setattr__`` registers.

    It shares memory and the version counter with ``data``. Ops take it wherever they take a
    Tensor and return plain Tensors.

    Args:
        data: the initial values (a Tensor); an empty float tensor when None.
        requires_grad: whether the optimizer should learn it.

    Example:
        >>> w = nn.Parameter(ember.zeros(2, 3))
        >>> w.requires_grad, isinstance(w, ember.Tensor)
        (True, True)
    """

    __slots__ = ()

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        if data is None:
            from ember.tensor.creation import empty

            data = empty(0)
        elif not isinstance(data, Tensor):
            raise TypeError(
                f"Parameter: data must be a Tensor, got {type(data).__name__}"
            )
        super().__init__(data._array)
        self._version = data._share_version()
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + Tensor.__repr__(self)

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        # copy.deepcopy of a model keeps parameters as Parameters with their flag.
        return (Parameter, (Tensor(self._array), self._rg))

    def __deepcopy__(self, memo):
        copied = Parameter(Tensor(self._array.copy()), self._rg)
        if self.grad is not None:
            copied.grad = Tensor(self.grad._array.copy())
        memo[id(self)] = copied
        return copied


class Buffer(Tensor):
    """Marks a Tensor to be registered as a buffer when assigned to a Module attribute.

    ``module.name = nn.Buffer(t, persistent=False)`` is ``module.register_buffer(name, t,
    persistent=False)``; what is stored is a plain Tensor sharing ``data``'s memory.
    """

    __slots__ = ("persistent",)

    def __init__(self, data: Tensor, *, persistent: bool = True) -> None:
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer: data must be a Tensor, got {type(data).__name__}")
        super().__init__(data._array)
        self._version = data._share_version()
        self.persistent = persistent
