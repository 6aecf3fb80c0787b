"""Flattening parameters into one vector and back."""

from __future__ import annotations

from ember.tensor.registry import OPS
from ember.tensor.tensor import Tensor


def _checked(parameters) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    parameters = list(parameters)
    devices = {p.device for p in parameters}
    if len(devices) > 1:
        raise TypeError(
            "Found two parameters on different devices, this is currently not supported."
        )
    return parameters


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    return OPS["cat"]([p.reshape(-1) for p in _checked(parameters)])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Sets the parameters' values from consecutive slices of the 1-D ``vec``.

    As in PyTorch, each parameter then shares ``vec``'s memory.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected Tensor, but got: {type(vec).__name__}")
    parameters = _checked(parameters)
    needed = sum(p.numel() for p in parameters)
    if vec.dim() != 1 or vec.numel() != needed:
        raise RuntimeError(
            f"vector_to_parameters: expected a 1-D vector of {needed} elements, got shape "
            f"{tuple(vec.shape)}"
        )
    offset = 0
    for param in parameters:
        count = param.numel()
        param._array = vec._array[offset:offset + count].reshape(param.shape)
        param._bump_version()
        offset += count
