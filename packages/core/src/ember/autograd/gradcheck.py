"""Numerical gradient checks (finite differences in float64), public like PyTorch's.

Small inputs get their full Jacobian compared; large ones (``fast_mode``, automatic above
``full_limit`` elements) are compared along random directions: ``v^T J u`` both ways.
"""

from __future__ import annotations

import numpy as np

from ember.autograd.graph import _as_tuple
from ember.autograd.graph import grad as autograd_grad
from ember.tensor.tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised when analytical and numerical gradients disagree."""


def _outputs(fn, inputs):
    outputs = _as_tuple(fn(*inputs))
    return [o for o in outputs if isinstance(o, Tensor) and o._array.dtype.kind == "f"]


def _flat_outputs(fn, inputs):
    """All differentiable outputs of ``fn`` flattened into one float64 numpy vector."""
    outs = _outputs(fn, inputs)
    arrays = [np.asarray(o._array.get() if hasattr(o._array, "get") else o._array, dtype=np.float64)
              for o in outs]
    return np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0)


def _to_host(array):
    return np.asarray(array.get() if hasattr(array, "get") else array)


def _check_inputs(inputs):
    for index, t in enumerate(inputs):
        if isinstance(t, Tensor) and t._rg and t._array.dtype != np.float64:
            raise GradcheckError(
                f"gradcheck: input {index} requiring grad is {t.dtype}; gradients are checked "
                "in float64 only (finite differences in float32 are too coarse)"
            )


def _numerical_directional(fn, inputs, direction, eps):
    """(f(x + eps*u) - f(x - eps*u)) / 2eps for u spread over the differentiable inputs."""
    for t, u in zip(inputs, direction):
        if u is not None:
            t._array += eps * u
    plus = _flat_outputs(fn, inputs)
    for t, u in zip(inputs, direction):
        if u is not None:
            t._array -= 2 * eps * u
    minus = _flat_outputs(fn, inputs)
    for t, u in zip(inputs, direction):
        if u is not None:
            t._array += eps * u
    return (plus - minus) / (2 * eps)


def _analytical_vjp(fn, inputs, targets, weights):
    """The gradient of sum(weights * outputs) with respect to each target input."""
    outs = _outputs(fn, inputs)
    grad_outputs = []
    offset = 0
    for out in outs:
        size = out._array.size
        chunk = weights[offset:offset + size].reshape(out._array.shape)
        offset += size
        xp_array = out._array.__class__
        grad_outputs.append(Tensor(chunk if xp_array is np.ndarray else _device_like(out, chunk)))
    wanted = [o for o in outs if o._rg]
    if not wanted:
        return [None] * len(targets)
    kept = [g for o, g in zip(outs, grad_outputs) if o._rg]
    found = autograd_grad(wanted, targets, kept, allow_unused=True)
    return [None if g is None else _to_host(g._array).astype(np.float64) for g in found]


def _device_like(tensor, array):
    from ember.backend import to_device

    return to_device(array, tensor.device)


def gradcheck(fn, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, fast_mode: bool | None = None,
              full_limit: int = 300, seed: int = 0) -> bool:
    """Checks the gradients of ``fn`` at ``inputs`` against central finite differences.

    Example:
        >>> x = ember.randn(3, dtype=ember.float64, requires_grad=True)
        >>> ember.autograd.gradcheck(ember.tanh, (x,))
        True
    """
    inputs = _as_tuple(inputs)
    _check_inputs(inputs)
    targets = [t for t in inputs if isinstance(t, Tensor) and t._rg]
    if not targets:
        raise GradcheckError("gradcheck: no input requires grad")
    rng = np.random.default_rng(seed)
    out_size = _flat_outputs(fn, inputs).size
    in_size = sum(t._array.size for t in targets)
    if fast_mode is None:
        fast_mode = in_size * out_size > full_limit * full_limit or in_size > full_limit
    if out_size == 0 or in_size == 0:
        return True
    if fast_mode:
        probes = 4
        for _ in range(probes):
            v = rng.standard_normal(out_size)
            direction = [rng.standard_normal(t._array.shape)
                         if isinstance(t, Tensor) and t._rg else None for t in inputs]
            direction = [_place(d, t) for d, t in zip(direction, inputs)]
            numerical = float(_numerical_directional(fn, inputs, direction, eps) @ v)
            grads = _analytical_vjp(fn, inputs, targets, v)
            analytical = 0.0
            for g, t in zip(grads, targets):
                u = _to_host(direction[_index_of(inputs, t)])
                if g is not None:
                    analytical += float((g * u).sum())
            if not np.isclose(analytical, numerical, atol=atol, rtol=rtol):
                return _fail(raise_exception, f"directional derivative mismatch: analytical "
                             f"{analytical!r} vs numerical {numerical!r}")
        return True
    for position, target in enumerate(targets):
        size = target._array.size
        numerical = np.zeros((size, out_size))
        for k in range(size):
            unit = np.zeros(size)
            unit[k] = 1.0
            direction = [_place(unit.reshape(target._array.shape), t) if t is target else None
                         for t in inputs]
            numerical[k] = _numerical_directional(fn, inputs, direction, eps)
        analytical = np.zeros((size, out_size))
        for j in range(out_size):
            unit = np.zeros(out_size)
            unit[j] = 1.0
            g = _analytical_vjp(fn, inputs, targets, unit)[position]
            if g is not None:
                analytical[:, j] = g.ravel()
        if not np.allclose(analytical, numerical, atol=atol, rtol=rtol):
            worst = np.unravel_index(np.abs(analytical - numerical).argmax(), analytical.shape)
            return _fail(
                raise_exception,
                f"Jacobian mismatch for input {_index_of(inputs, target)} (shape "
                f"{tuple(target._array.shape)}) at (input element, output element) {worst}: "
                f"analytical {analytical[worst]!r} vs numerical {numerical[worst]!r}\n"
                f"analytical:\n{analytical}\nnumerical:\n{numerical}",
            )
    return True


def _index_of(inputs, target):
    return next(i for i, t in enumerate(inputs) if t is target)


def _place(array, tensor):
    if array is None or not isinstance(tensor, Tensor) or tensor._array.__class__ is np.ndarray:
        return array
    return _device_like(tensor, array)


def _fail(raise_exception: bool, message: str) -> bool:
    if raise_exception:
        raise GradcheckError("gradcheck: " + message)
    return False


def gradgradcheck(fn, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True,
                  fast_mode: bool | None = None, seed: int = 0) -> bool:
    """Checks second-order gradients: gradcheck of ``(inputs, v) -> grad(fn(inputs), inputs, v)``.

    ``grad_outputs`` default to random float64 tensors that require grad.
    """
    inputs = _as_tuple(inputs)
    _check_inputs(inputs)
    outs = _outputs(fn, inputs)
    rng = np.random.default_rng(seed + 1)
    if grad_outputs is None:
        grad_outputs = tuple(
            Tensor(_place(np.asarray(rng.standard_normal(o._array.shape)), o), requires_grad=True)
            for o in outs
        )
    grad_outputs = _as_tuple(grad_outputs)
    targets_mask = [isinstance(t, Tensor) and t._rg for t in inputs]
    n_inputs = len(inputs)

    def first_order(*args):
        values, vs = args[:n_inputs], args[n_inputs:]
        results = [o for o in _outputs(fn, values) if o._rg]
        targets = [t for t, m in zip(values, targets_mask) if m]
        grads = autograd_grad(results, targets, list(vs)[: len(results)], create_graph=True,
                              allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_order, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, fast_mode=fast_mode, seed=seed)
