"""Gradient clipping by total norm and by value, in place on ``.grad``."""

from __future__ import annotations

import math

import numpy as np

from ember.backend import to_device, xp_of
from ember.tensor.tensor import Tensor


def _grads(parameters) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _total_norm(grads: list, norm_type: float):
    """The ``norm_type`` norm of all gradients together, as a 0-d array on the first's device."""
    device = grads[0].device
    dtype = grads[0]._array.dtype
    parts = []
    for grad in grads:
        xp = xp_of(grad._array)
        if norm_type == 2.0:  # one BLAS dot product: no abs, no temporary
            part = xp.vdot(grad._array, grad._array)
        elif norm_type == math.inf:
            part = xp.abs(grad._array).max() if grad._array.size else 0
        else:
            part = (xp.abs(grad._array) ** norm_type).sum()
        parts.append(to_device(xp.asarray(part, dtype=dtype), device))
    xp = xp_of(parts[0])
    stacked = xp.stack(parts)
    if norm_type == math.inf:
        total = stacked.max()
    elif norm_type == 2.0:
        total = xp.sqrt(stacked.sum())
    else:
        total = stacked.sum() ** (1.0 / norm_type)
    return xp.asarray(total)  # 0-d array, never a numpy scalar


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Scales all gradients together so that their total ``norm_type`` norm is at most
    ``max_norm``; returns the total norm before clipping (a 0-d tensor).

    ``foreach`` is accepted for PyTorch compatibility (one code path serves both).

    Example:
        >>> p = nn.Parameter(ember.ones(4)); p.grad = ember.full((4,), 3.0)
        >>> nn.utils.clip_grad_norm_([p], 1.0).item()
        6.0
    """
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return Tensor(np.zeros((), np.float32))
    total = _total_norm(grads, norm_type)
    if error_if_nonfinite and not bool(xp_of(total).isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
            "by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    xp = xp_of(total)
    coefficient = xp.asarray(xp.minimum(max_norm / (total + 1e-6), 1.0), dtype=total.dtype)
    for grad in grads:
        grad._array *= to_device(coefficient, grad.device).astype(grad._array.dtype)
        grad._bump_version()
    return Tensor(total)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamps every gradient element into ``[-clip_value, clip_value]``, in place."""
    clip_value = float(clip_value)
    for grad in _grads(parameters):
        xp_of(grad._array).clip(grad._array, -clip_value, clip_value, out=grad._array)
        grad._bump_version()
