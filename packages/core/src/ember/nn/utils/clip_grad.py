"""Gradient clipping by total norm and by value, in place on ``.grad``.

As PyTorch's, ``clip_grad_norm_`` keeps the total norm on the gradients' device and multiplies
them there by ``min(max_norm / (total + 1e-6), 1)``: clipping never waits on the GPU. Only
``error_if_nonfinite=True`` reads the norm on the host (PyTorch synchronises there too).

``foreach`` (None or True: the default; False: one array at a time) works on the gradients of one
device and dtype together: the small ones are concatenated and reduced once, the large ones one
by one, and one cupy kernel scales or clamps them all (``ember.backend.multi_tensor``). On the
CPU, PPO's 12 gradients: 41 -> 29 us a call (23 us when nothing is clipped).
"""

from __future__ import annotations

import math

import numpy as np

from ember.backend import device_context, device_of, multi_tensor, to_device, xp_of
from ember.tensor.tensor import Tensor

# Gradients up to this size are concatenated before the norm: below it a reduction per array
# costs more than the copy.
_CONCATENATED_MAX_ELEMENTS = 4096


def _grads(parameters) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _by_device_and_dtype(grads: list) -> dict:
    """The gradients' arrays grouped by (device, dtype), in order."""
    groups: dict = {}
    for grad in grads:
        array = grad._array  # keyed by the GPU's number: cheaper than hashing a Device
        key = (array.dtype, None if type(array) is np.ndarray else array.device.id)
        groups.setdefault(key, []).append(array)
    return {(device_of(arrays[0]), dtype): arrays for (dtype, _), arrays in groups.items()}


def _partial(xp, array, norm_type: float):
    """The reduction of one array that the total norm combines: ``sum |x|^p`` (the sum of
    squares for p = 2), the count of non-zeros for p = 0, ``max |x|`` / ``min |x|`` for ±inf."""
    if norm_type == 2.0:  # one BLAS dot product: no abs, no temporary
        return xp.vdot(array, array)
    if norm_type == 0.0:
        return xp.count_nonzero(array)
    if math.isinf(norm_type):
        if array.size == 0:
            return xp.zeros((), array.dtype) if norm_type > 0 else xp.full((), xp.inf, array.dtype)
        magnitude = xp.abs(array)
        return magnitude.max() if norm_type > 0 else magnitude.min()
    return (xp.abs(array) ** norm_type).sum()


def _combine(xp, partials: list, norm_type: float):
    """The total norm from the partial reductions (0-d arrays)."""
    if len(partials) == 1:
        total = partials[0]
    elif math.isinf(norm_type):
        stacked = xp.stack(partials)
        return stacked.max() if norm_type > 0 else stacked.min()
    else:
        total = xp.stack(partials).sum()
    if norm_type == 2.0:
        return xp.sqrt(total)
    return total if norm_type in (0.0, 1.0) or math.isinf(norm_type) else total ** (1 / norm_type)


def _total_norm(groups: dict, norm_type: float, foreach):
    """The ``norm_type`` norm of all gradients together (``groups`` from
    ``_by_device_and_dtype``), a 0-d array in the first one's dtype on its device."""
    device, dtype = next(iter(groups))
    parts = []
    for (group_device, _), arrays in groups.items():
        xp = xp_of(arrays[0])
        with device_context(group_device):
            if foreach is not False:
                small = [a.reshape(-1) for a in arrays if a.size <= _CONCATENATED_MAX_ELEMENTS]
                arrays = [a for a in arrays if a.size > _CONCATENATED_MAX_ELEMENTS]
                if len(small) > 1:
                    arrays.append(xp.concatenate(small))
                else:
                    arrays.extend(small)
            parts.extend(
                to_device(xp.asarray(_partial(xp, a, norm_type), dtype=dtype), device)
                for a in arrays)
    xp = xp_of(parts[0])
    with device_context(device):
        return xp.asarray(_combine(xp, parts, norm_type))  # 0-d array, not a scalar


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Scales all gradients together so that their total ``norm_type`` norm is at most
    ``max_norm``; returns the total norm before clipping (a 0-d tensor on the first gradient's
    device). ``norm_type`` may be any p, 0 and ``inf`` or ``-inf``.

    Raises:
        RuntimeError: with ``error_if_nonfinite=True``, when the total norm is NaN or infinite.

    Example:
        >>> p = nn.Parameter(ember.ones(4)); p.grad = ember.full((4,), 3.0)
        >>> nn.utils.clip_grad_norm_([p], 1.0).item()
        6.0
    """
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return Tensor(np.zeros((), np.float32))
    groups = _by_device_and_dtype(grads)
    total = _total_norm(groups, norm_type, foreach)
    if error_if_nonfinite and not bool(xp_of(total).isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
            "by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    xp = xp_of(total)
    with device_context(device_of(total)):
        coefficient = xp.asarray(xp.minimum(max_norm / (total + 1e-6), 1.0))
    for (device, dtype), arrays in groups.items():
        with device_context(device):
            factor = to_device(coefficient, device).astype(dtype)
            if type(factor) is np.ndarray and factor == 1.0:
                continue  # x * 1 is x for every float; on the host the check costs no sync
            if foreach is False:
                for array in arrays:
                    array *= factor
            else:
                multi_tensor.scale_(arrays, factor)
    for grad in grads:
        grad._bump_version()
    return Tensor(total)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamps every gradient element into ``[-clip_value, clip_value]``, in place; with
    ``foreach`` (the default) one cupy kernel per device and dtype clamps them all."""
    clip_value = float(clip_value)
    grads = _grads(parameters)
    for (device, _), arrays in _by_device_and_dtype(grads).items():
        with device_context(device):
            if foreach is False:
                for array in arrays:
                    array.clip(-clip_value, clip_value, out=array)
            else:
                multi_tensor.clamp_(arrays, -clip_value, clip_value)
    for grad in grads:
        grad._bump_version()
