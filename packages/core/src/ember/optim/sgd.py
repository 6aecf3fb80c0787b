"""Stochastic gradient descent."""

from __future__ import annotations

from ember.backend import xp_of
from ember.optim import _functional
from ember.optim.optimizer import Optimizer, check_option
from ember.tensor import Tensor


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    PyTorch's algorithm: ``g = ±grad + weight_decay * p``; with momentum
    ``b = momentum * b + (1 - dampening) * g`` (``b = g`` on the first step) and
    ``g = g + momentum * b`` (Nesterov) or ``g = b``; then ``p -= lr * g``.

    State per parameter: ``momentum_buffer`` (only with ``momentum != 0``).

    Example:
        >>> model = ember.nn.Linear(4, 2)
        >>> opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> x, y = ember.randn(8, 4), ember.randn(8, 2)
        >>> loss_fn = ember.nn.MSELoss()
        >>> opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False):
        check_option(lr, "learning rate")
        check_option(momentum, "momentum value")
        check_option(weight_decay, "weight_decay value")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param: Tensor, grad, state: dict, group: dict) -> None:
        buffer = state.get("momentum_buffer")
        new_buffer = _functional.sgd(
            xp_of(param._array), param._array, grad, None if buffer is None else buffer._array,
            lr=group["lr"], momentum=group["momentum"], dampening=group["dampening"],
            weight_decay=group["weight_decay"], nesterov=group["nesterov"],
            maximize=group["maximize"],
        )
        if buffer is None and new_buffer is not None:
            state["momentum_buffer"] = Tensor(new_buffer)
