"""``ember.nn.utils.parametrize``: a parameter or buffer computed from others on every access,
as ``torch.nn.utils.parametrize``.

``register_parametrization(module, "weight", P)`` moves the tensor into
``module.parametrizations.weight.original`` (or ``original0``, ``original1`` ... when
``P.right_inverse`` returns several tensors) and makes ``module.weight`` a property giving
``P(original)``, so the state_dict keys are PyTorch's. As in PyTorch, the module's class is
swapped for a generated subclass (``ParametrizedLinear`` ...) that holds the property;
``remove_parametrizations`` restores it.
"""

from __future__ import annotations

import contextlib

from ember.autograd.grad_mode import no_grad
from ember.nn.modules.container import ModuleDict, ModuleList
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter
from ember.tensor.tensor import Tensor

__all__ = ["ParametrizationList", "cached", "is_parametrized", "register_parametrization",
           "remove_parametrizations", "type_before_parametrizations"]

_cache: dict | None = None  # (id(module), name) -> tensor, inside ``cached()``


@contextlib.contextmanager
def cached():
    """Computes each parametrized tensor at most once inside the block (as PyTorch's)."""
    global _cache
    outer = _cache
    _cache = {} if outer is None else outer
    try:
        yield
    finally:
        _cache = outer


def _register_parameter_or_buffer(module: Module, name: str, value: Tensor) -> None:
    if isinstance(value, Parameter):
        module.register_parameter(name, value)
    else:
        module.register_buffer(name, value)


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the original tensor(s)."""

    def __init__(self, modules, original: Tensor, unsafe: bool = False) -> None:
        super().__init__(modules)
        self.unsafe = unsafe
        with no_grad():
            new = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    new = module.right_inverse(new)
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if new is not original:
                _check_same(original, new, "right_inverse", unsafe=False)
                with no_grad():
                    original.copy_(new)
            _register_parameter_or_buffer(self, "original", original)
            return
        for i, tensor in enumerate(new):
            if not isinstance(tensor, Tensor):
                raise ValueError(f"parametrize: 'right_inverse' must return a Tensor or a "
                                 f"sequence of tensors, got a {type(tensor).__name__} at index "
                                 f"{i}")
            tensor = tensor.detach().clone()
            if isinstance(original, Parameter):
                tensor = Parameter(tensor, original.requires_grad)
            _register_parameter_or_buffer(self, f"original{i}", tensor)

    def originals(self) -> tuple:
        if self.is_tensor:
            return (self.original,)
        return tuple(getattr(self, f"original{i}") for i in range(self.ntensors))

    def right_inverse(self, value: Tensor) -> None:
        """Sets the original tensor(s) so that the parametrized tensor becomes ``value``."""
        with no_grad():
            for module in reversed(list(self)):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(f"parametrize: parametrization {type(module).__name__} "
                                       "does not implement right_inverse.")
                value = module.right_inverse(value)
            values = (value,) if self.is_tensor else tuple(value)
            if len(values) != self.ntensors:
                raise ValueError(f"parametrize: 'right_inverse' must return {self.ntensors} "
                                 f"tensors, got {len(values)}")
            for original, new in zip(self.originals(), values):
                _check_same(original, new, "right_inverse", unsafe=False)
                original.copy_(new)

    def forward(self) -> Tensor:
        modules = list(self)
        value = modules[0](*self.originals())
        for module in modules[1:]:
            value = module(value)
        return value


def _check_same(reference: Tensor, value, what: str, unsafe: bool) -> None:
    if unsafe:
        return
    if not isinstance(value, Tensor):
        raise ValueError(f"parametrize: '{what}' must return a tensor, got "
                         f"{type(value).__name__}")
    if value.dtype != reference.dtype or tuple(value.shape) != tuple(reference.shape):
        raise ValueError(
            f"parametrize: '{what}' may not change the dtype or shape of the tensor, unless "
            f"`unsafe` is set: expected {reference.dtype} of shape {tuple(reference.shape)}, "
            f"got {value.dtype} of shape {tuple(value.shape)}"
        )


def _inject_new_class(module: Module) -> None:
    cls = module.__class__
    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {})


def _inject_property(module: Module, name: str) -> None:
    def get_parametrized(self) -> Tensor:
        if _cache is None:
            return self.parametrizations[name]()
        key = (id(self), name)
        if key not in _cache:
            _cache[key] = self.parametrizations[name]()
        return _cache[key]

    def set_original(self, value: Tensor) -> None:
        self.parametrizations[name].right_inverse(value)

    setattr(module.__class__, name, property(get_parametrized, set_original))


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether ``module`` has a parametrization (on ``tensor_name``, if given)."""
    parametrizations = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(parametrizations, ModuleDict):
        return False
    return len(parametrizations) > 0 if tensor_name is None else \
        tensor_name in parametrizations


def type_before_parametrizations(module: Module) -> type:
    """The module's class before ``register_parametrization`` replaced it."""
    return module.__class__.__bases__[0] if is_parametrized(module) else type(module)


def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *,
                             unsafe: bool = False) -> Module:
    """Makes ``module.<tensor_name>`` be ``parametrization(original)``; a second call on the
    same name chains the new parametrization after the first.

    Example:
        >>> from ember.nn.utils import parametrize
        >>> class Symmetric(nn.Module):
        ...     def forward(self, x):
        ...         return x.triu() + x.triu(1).mT
        >>> layer = nn.Linear(3, 3)
        >>> _ = parametrize.register_parametrization(layer, "weight", Symmetric())
        >>> bool((layer.weight == layer.weight.mT).all())
        True
    """
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            current = getattr(module, tensor_name)
            _check_same(current, parametrization(current), "forward", unsafe)
        module.parametrizations[tensor_name].append(parametrization)
        module.parametrizations[tensor_name].unsafe |= unsafe
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"Module '{type(module).__name__}' does not have a parameter, a "
                         f"buffer, or a parametrized element with name '{tensor_name}'")
    original = getattr(module, tensor_name)
    parametrizations = ParametrizationList([parametrization], original, unsafe=unsafe)
    if not unsafe:
        _check_same(original, parametrizations(), "forward", unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        _inject_new_class(module)
        module.parametrizations = ModuleDict()
    _inject_property(module, tensor_name)
    module.parametrizations[tensor_name] = parametrizations
    return module


def remove_parametrizations(module: Module, tensor_name: str,
                            leave_parametrized: bool = True) -> Module:
    """Undoes ``register_parametrization`` on ``tensor_name``: the tensor becomes a plain
    parameter (or buffer) again, holding its parametrized value (``leave_parametrized``) or
    its original one."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {type(module).__name__} does not have a parametrization on "
                         f"{tensor_name}")
    parametrizations = module.parametrizations[tensor_name]
    if parametrizations.is_tensor:
        original = parametrizations.original
        if leave_parametrized:
            with no_grad():
                value = getattr(module, tensor_name)
                _check_same(original, value, "remove_parametrizations", unsafe=False)
                original.copy_(value)
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor "
                             "that is parametrized in terms of a sequence of tensors.")
        value = getattr(module, tensor_name)
        original = Parameter(value.detach(), True) if value.requires_grad else value.detach()
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    _register_parameter_or_buffer(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]
    return module
