"""``ember.nn.utils.prune``: masking entries of a parameter, as ``torch.nn.utils.prune``.

Pruning ``module.<name>`` moves the parameter to ``<name>_orig``, adds the buffer
``<name>_mask`` and a forward pre-hook that sets ``module.<name> = <name>_orig * <name>_mask``
before each forward (the state_dict keys are PyTorch's). Pruning the same tensor again prunes
among the entries (or, structured, the channels) still unpruned; ``remove`` makes the pruning
permanent.
"""

from __future__ import annotations

import numbers

from ember.autograd.grad_mode import no_grad
from ember.nn.modules.module import Module
from ember.nn.utils.convert_parameters import parameters_to_vector
from ember.tensor.creation import ones_like, zeros_like
from ember.tensor.random import rand, rand_like
from ember.tensor.tensor import Tensor

__all__ = ["BasePruningMethod", "CustomFromMask", "Identity", "L1Unstructured", "LnStructured",
           "PruningContainer", "RandomStructured", "RandomUnstructured", "custom_from_mask",
           "global_unstructured", "identity", "is_pruned", "l1_unstructured", "ln_structured",
           "random_structured", "random_unstructured", "remove"]


def _validate_amount_init(amount) -> None:
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount!r}. Must be int or float.")
    integral = isinstance(amount, numbers.Integral)
    if (integral and amount < 0) or (not integral and not 0.0 <= float(amount) <= 1.0):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a "
                         "non-negative integer")


def _entries_to_prune(amount, size: int) -> int:
    """An int amount as it is (at most ``size``), a float one as round(amount * size)."""
    if isinstance(amount, numbers.Integral):
        if amount > size:
            raise ValueError(f"amount={amount} should be smaller than the number of parameters "
                             f"to prune={size}")
        return int(amount)
    return round(amount * size)


def _zero_at(mask: Tensor, scores: Tensor, count: int, largest: bool) -> Tensor:
    """A copy of ``mask`` with zeros where the ``count`` smallest (or largest) scores are."""
    mask = mask.clone()
    if count:
        indices = scores.reshape(-1).topk(count, largest=largest).indices
        mask.reshape(-1)[indices] = 0
    return mask


class BasePruningMethod:
    """A pruning rule: ``compute_mask(t, default_mask)``, applied by the classmethod ``apply``
    and re-applied before every forward (it is the module's forward pre-hook)."""

    PRUNING_TYPE = "unstructured"
    _tensor_name: str | None = None

    def __call__(self, module: Module, inputs) -> None:
        setattr(module, self._tensor_name, self.apply_mask(module))

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        raise NotImplementedError

    def apply_mask(self, module: Module) -> Tensor:
        orig = getattr(module, self._tensor_name + "_orig")
        mask = getattr(module, self._tensor_name + "_mask")
        return mask.to(dtype=orig.dtype) * orig

    @classmethod
    def apply(cls, module: Module, name: str, *args, importance_scores=None, **kwargs):
        """Prunes ``module.<name>`` with ``cls(*args, **kwargs)`` (combined with an earlier
        pruning of the same tensor)."""
        method = cls(*args, **kwargs)
        method._tensor_name = name
        earlier = [(key, hook) for key, (hook, _) in module._forward_pre_hooks.items()
                   if isinstance(hook, BasePruningMethod) and hook._tensor_name == name]
        for key, _ in earlier:
            del module._forward_pre_hooks[key]
        if earlier:
            previous = earlier[0][1]
            container = previous if isinstance(previous, PruningContainer) else \
                PruningContainer(previous)
            container.add_pruning_method(method)
            method = container
        orig = getattr(module, name)
        if importance_scores is None:
            importance_scores = orig
        elif tuple(importance_scores.shape) != tuple(orig.shape):
            raise ValueError(f"importance_scores should have the same shape as parameter "
                             f"{name} of {type(module).__name__}: {tuple(orig.shape)}, got "
                             f"{tuple(importance_scores.shape)}")
        if not earlier:
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = ones_like(orig)
        else:
            default_mask = getattr(module, name + "_mask").detach().clone()
        with no_grad():
            mask = method.compute_mask(importance_scores.detach(), default_mask=default_mask)
        module.register_buffer(name + "_mask", mask)
        setattr(module, name, method.apply_mask(module))
        module.register_forward_pre_hook(method)
        return method

    def remove(self, module: Module) -> None:
        """Makes the pruning permanent: ``<name>`` becomes a parameter holding orig * mask."""
        with no_grad():
            weight = self.apply_mask(module)
        module.__dict__.pop(self._tensor_name, None)
        orig = module._parameters[self._tensor_name + "_orig"]
        with no_grad():
            orig.copy_(weight)
        del module._parameters[self._tensor_name + "_orig"]
        del module._buffers[self._tensor_name + "_mask"]
        setattr(module, self._tensor_name, orig)


class PruningContainer(BasePruningMethod):
    """Successive prunings of one tensor: each new unstructured one prunes among the entries
    still kept; a 'global' one (a custom mask) sees the whole tensor."""

    def __init__(self, *methods: BasePruningMethod) -> None:
        self._pruning_methods: tuple = ()
        for method in methods:
            self.add_pruning_method(method)

    def add_pruning_method(self, method: BasePruningMethod) -> None:
        if method.PRUNING_TYPE not in ("unstructured", "structured", "global"):
            raise ValueError(f"Unrecognized PRUNING_TYPE {method.PRUNING_TYPE!r} of "
                             f"{type(method).__name__}")
        if self._tensor_name is None:
            self._tensor_name = method._tensor_name
        elif method._tensor_name != self._tensor_name:
            raise ValueError(f"Can only add pruning methods acting on the parameter named "
                             f"'{self._tensor_name}' to PruningContainer. Found "
                             f"'{method._tensor_name}'")
        self._pruning_methods += (method,)

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        method = self._pruning_methods[-1]
        if method.PRUNING_TYPE == "global":  # sees the whole tensor
            return method.compute_mask(t, default_mask=default_mask)
        mask = default_mask.to(dtype=t.dtype).clone()
        if method.PRUNING_TYPE == "unstructured":  # among the entries still kept
            kept = default_mask == 1
            mask[kept] = method.compute_mask(t[kept], default_mask=default_mask[kept]).to(
                dtype=mask.dtype)
            return mask
        # structured: among the channels (slices along method.dim) not wholly pruned
        dim = _checked_dim(t, method.dim)
        others = tuple(d for d in range(t.dim()) if d != dim)
        kept = (default_mask.sum(dim=others) != 0) if others else default_mask != 0
        index = (slice(None),) * dim + (kept,)
        mask[index] = method.compute_mask(t[index], default_mask=default_mask[index]).to(
            dtype=mask.dtype)
        return mask


def _checked_dim(t: Tensor, dim: int) -> int:
    if t.dim() <= 1:
        raise ValueError(f"Structured pruning can only be applied to multidimensional tensors. "
                         f"Found tensor of shape {tuple(t.shape)} with {t.dim()} dims")
    if not -t.dim() <= dim < t.dim():
        raise IndexError(f"Invalid index {dim} for tensor of size {tuple(t.shape)}")
    return dim % t.dim()


class Identity(BasePruningMethod):
    """Prunes nothing (a mask of ones)."""

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        return default_mask

    @classmethod
    def apply(cls, module: Module, name: str):
        return super().apply(module, name)


class _ByAmount(BasePruningMethod):
    """A method that prunes ``amount`` entries: an int count, or a fraction of the tensor."""

    def __init__(self, amount) -> None:
        _validate_amount_init(amount)
        self.amount = amount


class RandomUnstructured(_ByAmount):
    """Prunes ``amount`` entries (a count, or a fraction) chosen at random."""

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        count = _entries_to_prune(self.amount, t.numel())
        return _zero_at(default_mask, rand_like(t), count, largest=True)

    @classmethod
    def apply(cls, module: Module, name: str, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(_ByAmount):
    """Prunes the ``amount`` entries (a count, or a fraction) of smallest absolute value."""

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        count = _entries_to_prune(self.amount, t.numel())
        return _zero_at(default_mask, t.abs(), count, largest=False)

    @classmethod
    def apply(cls, module: Module, name: str, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class _Structured(_ByAmount):
    """Prunes ``amount`` whole channels (slices along ``dim``)."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim: int = -1) -> None:
        super().__init__(amount)
        self.dim = dim

    def channels_to_keep(self, t: Tensor, dim: int, keep: int) -> Tensor:
        raise NotImplementedError

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        dim = _checked_dim(t, self.dim)
        channels = t.shape[dim]
        count = _entries_to_prune(self.amount, channels)
        if count == 0:
            return default_mask
        mask = zeros_like(t)
        mask[(slice(None),) * dim + (self.channels_to_keep(t, dim, channels - count),)] = 1
        return mask * default_mask.to(dtype=mask.dtype)


class RandomStructured(_Structured):
    """Prunes ``amount`` channels along ``dim`` chosen at random."""

    def channels_to_keep(self, t: Tensor, dim: int, keep: int) -> Tensor:
        return rand(t.shape[dim], device=t.device).topk(keep).indices

    @classmethod
    def apply(cls, module: Module, name: str, amount, dim: int = -1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(_Structured):
    """Prunes the ``amount`` channels along ``dim`` of smallest ``n``-norm."""

    def __init__(self, amount, n, dim: int = -1) -> None:
        super().__init__(amount, dim)
        self.n = n

    def channels_to_keep(self, t: Tensor, dim: int, keep: int) -> Tensor:
        others = tuple(d for d in range(t.dim()) if d != dim)
        return t.norm(self.n, dim=others).topk(keep).indices

    @classmethod
    def apply(cls, module: Module, name: str, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim,
                             importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prunes where a given mask is 0."""

    PRUNING_TYPE = "global"

    def __init__(self, mask: Tensor) -> None:
        self.mask = mask

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        if tuple(default_mask.shape) != tuple(self.mask.shape):
            raise ValueError(f"custom_from_mask: mask of shape {tuple(self.mask.shape)} does "
                             f"not match the tensor's shape {tuple(default_mask.shape)}")
        return default_mask * self.mask.to(dtype=default_mask.dtype)

    @classmethod
    def apply(cls, module: Module, name: str, mask: Tensor):
        return super().apply(module, name, mask=mask)


def identity(module: Module, name: str) -> Module:
    """Prunes nothing of ``module.<name>``, but sets up ``<name>_orig`` and ``<name>_mask``."""
    Identity.apply(module, name)
    return module


def random_unstructured(module: Module, name: str, amount) -> Module:
    """Prunes ``amount`` random entries of ``module.<name>`` (an int count or a fraction)."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module: Module, name: str, amount, importance_scores=None) -> Module:
    """Prunes the ``amount`` entries of ``module.<name>`` of smallest magnitude (or of smallest
    ``importance_scores``).

    Example:
        >>> from ember.nn.utils import prune
        >>> layer = prune.l1_unstructured(nn.Linear(4, 2), "weight", amount=0.5)
        >>> int((layer.weight == 0).sum()), sorted(layer.state_dict())
        (4, ['bias', 'weight_mask', 'weight_orig'])
    """
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module: Module, name: str, amount, dim: int) -> Module:
    """Prunes ``amount`` random channels (slices along ``dim``) of ``module.<name>``."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module: Module, name: str, amount, n, dim: int,
                  importance_scores=None) -> Module:
    """Prunes the ``amount`` channels (slices along ``dim``) of ``module.<name>`` of smallest
    ``n``-norm (``n`` as ``Tensor.norm``'s ``p``: 1, 2, ``float('inf')`` ...).

    Example:
        >>> from ember.nn.utils import prune
        >>> conv = prune.ln_structured(nn.Conv2d(2, 4, 3), "weight", amount=0.5, n=2, dim=0)
        >>> int((conv.weight_mask.sum(dim=(1, 2, 3)) == 0).sum())
        2
    """
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def custom_from_mask(module: Module, name: str, mask: Tensor) -> Module:
    """Prunes ``module.<name>`` where ``mask`` is 0."""
    CustomFromMask.apply(module, name, mask=mask)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs) -> None:
    """Prunes the ``(module, name)`` pairs together: ``pruning_method(**kwargs)`` chooses the
    entries among all of them at once (for L1: the globally smallest magnitudes)."""
    parameters = list(parameters)
    importance_scores = importance_scores or {}
    scores = parameters_to_vector([importance_scores.get((module, name), getattr(module, name))
                                   for module, name in parameters]).detach()
    default_mask = parameters_to_vector([
        getattr(module, name + "_mask") if hasattr(module, name + "_mask")
        else ones_like(getattr(module, name)) for module, name in parameters]).detach()
    method = pruning_method(**kwargs)
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError(f'Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. '
                        f"Found method {pruning_method} of type {method.PRUNING_TYPE}")
    method._tensor_name = "temp"
    container = PruningContainer(method)
    with no_grad():
        final_mask = container.compute_mask(scores, default_mask)
    start = 0
    for module, name in parameters:
        param = getattr(module, name)
        count = param.numel()
        custom_from_mask(module, name, final_mask[start:start + count].reshape(param.shape))
        start += count


def remove(module: Module, name: str) -> Module:
    """Makes the pruning of ``module.<name>`` permanent and removes its hook, mask and orig."""
    for key, (hook, _) in list(module._forward_pre_hooks.items()):
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"Parameter '{name}' of module {type(module).__name__} has to be pruned "
                     "before pruning can be removed")


def is_pruned(module: Module) -> bool:
    """Whether ``module`` or any submodule has a pruning hook."""
    return any(isinstance(hook, BasePruningMethod)
               for sub in module.modules() for hook, _ in sub._forward_pre_hooks.values())
