"""Adamax."""

from __future__ import annotations

from ember.backend import multi_tensor, xp_of
from ember.optim import _functional
from ember.optim.adam import check_adam_options
from ember.optim.optimizer import Optimizer, advance_step, init_state
from ember.tensor import Tensor


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, 2015): Adam with the infinity norm in place of the second moment.

    PyTorch's algorithm at step ``t``: ``g = ±grad + weight_decay * p``;
    ``m = beta1 * m + (1 - beta1) * g``; ``u = max(beta2 * u, |g| + eps)``;
    ``p -= lr / (1 - beta1^t) * m / u``.

    State per parameter: ``step``, ``exp_avg``, ``exp_inf``. ``foreach`` as in :class:`SGD`.

    Example:
        >>> opt = ember.optim.Adamax([ember.zeros(3, requires_grad=True)], lr=2e-3)
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, foreach: bool | None = None, *,
                 maximize: bool = False):
        check_adam_options(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    _host_scalars = ("step",)

    def _update(self, param: Tensor, grad, state: dict, group: dict) -> None:
        init_state(state, param, "exp_avg", "exp_inf")
        beta1, beta2 = group["betas"]
        _functional.adamax(
            xp_of(param._array), param._array, grad, state["exp_avg"]._array,
            state["exp_inf"]._array, advance_step(state["step"]),
            lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=group["weight_decay"], maximize=group["maximize"],
        )

    def _fused_update(self, params, grads: list, state: dict, group: dict) -> bool:
        """The update of flattened ``params`` (a ``multi_tensor.PointerTable``) as one kernel,
        once the state exists (the first step takes the flat path)."""
        if not state:
            return False
        beta1, beta2 = group["betas"]
        weight_decay = group["weight_decay"]
        multi_tensor.fused_update(
            "adamax", params, grads, {n: state[n]._array for n in ("exp_avg", "exp_inf")},
            weight_decay=weight_decay, one_minus_beta1=1 - beta1, beta2=beta2, eps=group["eps"],
            clr=group["lr"] / (1 - beta1 ** advance_step(state["step"])),
            maximize=group["maximize"], decay=bool(weight_decay))
        return True
