"""The hook-based ``weight_norm`` / ``remove_weight_norm`` of ``torch.nn.utils`` (deprecated
there in favour of ``nn.utils.parametrizations.weight_norm``, kept for the scripts and
checkpoints that use it): parameters ``<name>_g`` and ``<name>_v``, and a forward pre-hook
that sets ``module.<name> = g * v / ||v||`` before each forward."""

from __future__ import annotations

from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter
from ember.tensor.tensor import Tensor

__all__ = ["remove_weight_norm", "weight_norm"]


def norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """PyTorch's ``norm_except_dim(v, 2, dim)``: the 2-norm over every dimension but ``dim``,
    kept as size-1 dimensions; ``dim == -1`` means the norm of the whole tensor (0-d)."""
    if dim == -1:
        return (v * v).sum().sqrt()
    dim = dim + v.dim() if dim < 0 else dim
    others = tuple(d for d in range(v.dim()) if d != dim)
    return (v * v).sum(dim=others, keepdim=True).sqrt() if others else v.abs()


def find_hook(module: Module, kind: type, name: str):
    """(key, hook) of the forward pre-hook of type ``kind`` acting on ``name``, or None."""
    for key, (hook, _) in module._forward_pre_hooks.items():
        if isinstance(hook, kind) and hook.name == name:
            return key, hook
    return None


def remove_hook(module: Module, kind: type, name: str, what: str) -> Module:
    """Undoes the reparametrization of ``name`` by its hook of type ``kind``."""
    found = find_hook(module, kind, name)
    if found is None:
        raise ValueError(f"{what} of '{name}' not found in {type(module).__name__}")
    found[1].remove(module)
    del module._forward_pre_hooks[found[0]]
    return module


class WeightNorm:
    """The forward pre-hook of ``weight_norm``."""

    def __init__(self, name: str, dim: int) -> None:
        self.name = name
        self.dim = dim

    def compute_weight(self, module: Module) -> Tensor:
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return v * (g / norm_except_dim(v, self.dim))

    def __call__(self, module: Module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module))

    def remove(self, module: Module) -> None:
        weight = self.compute_weight(module)
        module.__dict__.pop(self.name, None)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.detach()))


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Splits ``module.<name>`` into a magnitude ``<name>_g`` and a direction ``<name>_v``
    (parameters), recombined before each forward, as the deprecated
    ``torch.nn.utils.weight_norm``. ``dim=None`` gives one magnitude for the whole tensor.

    Example:
        >>> layer = nn.utils.weight_norm(nn.Linear(4, 3))
        >>> [name for name, _ in layer.named_parameters()]
        ['bias', 'weight_g', 'weight_v']
    """
    if find_hook(module, WeightNorm, name) is not None:
        raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
    hook = WeightNorm(name, -1 if dim is None else dim)
    weight = getattr(module, name)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, hook.dim).detach()))
    module.register_parameter(name + "_v", Parameter(weight.detach()))
    setattr(module, name, hook.compute_weight(module))
    module.register_forward_pre_hook(hook)
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """Makes ``module.<name>`` one parameter again, holding ``g * v / ||v||``."""
    return remove_hook(module, WeightNorm, name, "weight_norm")
