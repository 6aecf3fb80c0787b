"""Adadelta."""

from __future__ import annotations

from ember.backend import multi_tensor, xp_of
from ember.optim import _functional
from ember.optim.optimizer import Optimizer, advance_step, check_option, init_state
from ember.tensor import Tensor


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012).

    PyTorch's algorithm: ``g = ±grad + weight_decay * p``; ``v = rho * v + (1 - rho) * g^2``;
    ``delta = sqrt(u + eps) / sqrt(v + eps) * g``; ``u = rho * u + (1 - rho) * delta^2``;
    ``p -= lr * delta``.

    State per parameter: ``step``, ``square_avg``, ``acc_delta``. ``foreach`` as in
    :class:`SGD`.

    Example:
        >>> opt = ember.optim.Adadelta([ember.zeros(3, requires_grad=True)], rho=0.9)
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, foreach: bool | None = None, *,
                 maximize: bool = False):
        check_option(lr, "learning rate")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_option(eps, "epsilon value")
        check_option(weight_decay, "weight_decay value")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    _host_scalars = ("step",)

    def _update(self, param: Tensor, grad, state: dict, group: dict) -> None:
        init_state(state, param, "square_avg", "acc_delta")
        advance_step(state["step"])
        _functional.adadelta(
            xp_of(param._array), param._array, grad, state["square_avg"]._array,
            state["acc_delta"]._array, lr=group["lr"], rho=group["rho"], eps=group["eps"],
            weight_decay=group["weight_decay"], maximize=group["maximize"],
        )

    def _fused_update(self, params, grads: list, state: dict, group: dict) -> bool:
        """The update of flattened ``params`` (a ``multi_tensor.PointerTable``) as one kernel,
        once the state exists (the first step takes the flat path)."""
        if not state:
            return False
        advance_step(state["step"])
        rho, weight_decay = group["rho"], group["weight_decay"]
        multi_tensor.fused_update(
            "adadelta", params, grads, {n: state[n]._array for n in ("square_avg", "acc_delta")},
            lr=group["lr"], rho=rho, one_minus_rho=1 - rho, eps=group["eps"],
            weight_decay=weight_decay, maximize=group["maximize"], decay=bool(weight_decay))
        return True
