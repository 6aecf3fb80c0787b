"""RMSprop."""

from __future__ import annotations

from ember.backend import xp_of
from ember.optim import _functional
from ember.optim.optimizer import Optimizer, advance_step, check_option, new_step, zeros_state
from ember.tensor import Tensor


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture notes), optionally centered and with momentum.

    PyTorch's algorithm: ``g = ±grad + weight_decay * p``; ``v = alpha * v + (1 - alpha) * g^2``;
    centered: ``a = alpha * a + (1 - alpha) * g`` and ``v~ = v - a^2``;
    ``d = g / (sqrt(v~) + eps)``; with momentum ``b = momentum * b + d`` and ``p -= lr * b``,
    else ``p -= lr * d``.

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (``momentum > 0``),
    ``grad_avg`` (centered).

    Example:
        >>> model = ember.nn.Linear(4, 2)
        >>> opt = ember.optim.RMSprop(model.parameters(), lr=1e-2, alpha=0.99)
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False):
        check_option(lr, "learning rate")
        check_option(eps, "epsilon value")
        check_option(momentum, "momentum value")
        check_option(weight_decay, "weight_decay value")
        check_option(alpha, "alpha value")
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param: Tensor, grad, state: dict, group: dict) -> None:
        if not state:
            state["step"] = new_step()
            state["square_avg"] = zeros_state(param)
        momentum = group["momentum"]
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = zeros_state(param)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = zeros_state(param)
        advance_step(state["step"])
        _functional.rmsprop(
            xp_of(param._array), param._array, grad, state["square_avg"]._array,
            state["grad_avg"]._array if group["centered"] else None,
            state["momentum_buffer"]._array if momentum > 0 else None,
            lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
            weight_decay=group["weight_decay"], momentum=momentum, maximize=group["maximize"],
        )
