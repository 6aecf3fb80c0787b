"""RMSprop."""

from __future__ import annotations

from ember.backend import multi_tensor, xp_of
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
    ``grad_avg`` (centered). ``foreach`` as in :class:`SGD`; keyword-only here, where PyTorch's
    position for it follows ``capturable``, which Ember does not have.

    Example:
        >>> model = ember.nn.Linear(4, 2)
        >>> opt = ember.optim.RMSprop(model.parameters(), lr=1e-2, alpha=0.99)
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False):
        check_option(lr, "learning rate")
        check_option(eps, "epsilon value")
        check_option(momentum, "momentum value")
        check_option(weight_decay, "weight_decay value")
        check_option(alpha, "alpha value")
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    _host_scalars = ("step",)

    @staticmethod
    def _buffers(group: dict) -> tuple:
        """The state buffers an update with ``group``'s options reads."""
        return (("square_avg",) + (("momentum_buffer",) if group["momentum"] > 0 else ())
                + (("grad_avg",) if group["centered"] else ()))

    def _update(self, param: Tensor, grad, state: dict, group: dict) -> None:
        if not state:
            state["step"] = new_step()
        for name in self._buffers(group):
            if name not in state:
                state[name] = zeros_state(param)
        momentum = group["momentum"]
        advance_step(state["step"])
        _functional.rmsprop(
            xp_of(param._array), param._array, grad, state["square_avg"]._array,
            state["grad_avg"]._array if group["centered"] else None,
            state["momentum_buffer"]._array if momentum > 0 else None,
            lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
            weight_decay=group["weight_decay"], momentum=momentum, maximize=group["maximize"],
        )

    def _fused_update(self, params, grads: list, state: dict, group: dict) -> bool:
        """The update of flattened ``params`` (a ``multi_tensor.PointerTable``) as one kernel,
        once the state exists (the first step takes the flat path)."""
        names = self._buffers(group)
        if not all(name in state for name in names):
            return False
        advance_step(state["step"])
        alpha, weight_decay = group["alpha"], group["weight_decay"]
        multi_tensor.fused_update(
            "rmsprop", params, grads, {name: state[name]._array for name in names},
            lr=group["lr"], alpha=alpha, one_minus_alpha=1 - alpha, eps=group["eps"],
            weight_decay=weight_decay, momentum=group["momentum"], maximize=group["maximize"],
            decay=bool(weight_decay), centered=group["centered"],
            has_momentum=group["momentum"] > 0)
        return True
